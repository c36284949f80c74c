/**
 * Starts scripts/feetech-bus-model.py (STS3215 servos behind a real pseudo-terminal, with 1 Mbps
 * byte timing) and talks to its command channel. The driver under test opens `port` like a tty.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';

export const MODEL_SCRIPT = path.resolve(import.meta.dirname, '../../scripts/feetech-bus-model.py');

export interface BusModel {
  readonly port: string;
  readonly process: ChildProcessWithoutNullStreams;
  command(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * The model runs under SCHED_FIFO (chrt, as root here): it stands in for servos that have their own
 * microcontrollers and always answer within microseconds. Under SCHED_OTHER on a loaded 2-core
 * host it was once descheduled long enough (> 3 ticks) for the driver to fault correctly on
 * "silent" servos that a real bus would not have had.
 */
export async function startBusModel(ids: readonly number[] = [1, 2, 3, 4, 5, 6], extra: readonly string[] = []): Promise<BusModel> {
  const child = spawn('chrt', ['-f', '30', '/usr/bin/python3', MODEL_SCRIPT, '--ids', ids.join(','), ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  lines.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  });
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = queued.shift();
      if (line !== undefined) return resolve(line);
      const timer = setTimeout(() => reject(new Error(`bus model did not answer within 5 s; stderr: ${stderr}`)), 5000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  const ready = JSON.parse(await nextLine()) as { port: string };
  return {
    port: ready.port,
    process: child,
    async command(cmd) {
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      return JSON.parse(await nextLine()) as Record<string, unknown>;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}
