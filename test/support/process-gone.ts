/**
 * Whether a process ends within a time limit. A zombie still answers signal 0 until its parent
 * reaps it, so its state in /proc counts: 'Z' is gone. A process still alive at the deadline is
 * killed, so a failing test leaves nothing behind.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await sleep(20);
    try {
      process.kill(pid, 0);
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    } catch {
      return true;
    }
  }
  process.kill(pid, 'SIGKILL');
  return false;
}
