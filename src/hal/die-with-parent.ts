/**
 * Children that end with the runtime. A camera or GPIO tool started by embody must not outlive
 * it: after a SIGKILL (or an OOM kill, or a crash in native code) Node runs no exit handler, and
 * an orphaned `ffmpeg` keeps the camera device open (the next start cannot open it) while an
 * orphaned `gpioset` keeps driving its line. util-linux's `setpriv --pdeathsig SIG -- tool ...`
 * sets PR_SET_PDEATHSIG in the child and then execs the tool (same pid), so the kernel signals
 * the tool when the thread that spawned it exits. Node spawns from the main thread, which lives
 * as long as the process. Without setpriv (not on Debian/Ubuntu, where util-linux is essential)
 * the tool runs as before.
 */
import { accessSync, constants } from 'node:fs';

let setpriv: string | null | undefined;

function findSetpriv(): string | undefined {
  if (setpriv === undefined) {
    setpriv = null;
    for (const path of ['/usr/bin/setpriv', '/bin/setpriv']) {
      try {
        accessSync(path, constants.X_OK);
        setpriv = path;
        break;
      } catch {
        // next
      }
    }
  }
  return setpriv ?? undefined;
}

/** The command line that starts `command args` so the kernel sends it `signal` when embody dies. */
export function dieWithParent(command: string, args: readonly string[], signal: 'KILL' | 'TERM'): { command: string; args: string[] } {
  const wrapper = findSetpriv();
  return wrapper === undefined ? { command, args: [...args] } : { command: wrapper, args: ['--pdeathsig', signal, '--', command, ...args] };
}
