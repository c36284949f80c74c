/**
 * Children that end with the runtime. A camera or GPIO tool started by embody must not outlive
 * it: after a SIGKILL (or an OOM kill, or a crash in native code) Node runs no exit handler, and
 * an orphaned `ffmpeg` keeps the camera device open (the next start cannot open it) while an
 * orphaned `gpioset` keeps driving its line. util-linux's `setpriv --pdeathsig SIG -- tool ...`
 * sets PR_SET_PDEATHSIG in the child and then execs the tool (same pid), so the kernel signals
 * the tool when the thread that spawned it exits. Node spawns from the main thread, which lives
 * as long as the process. Without a working setpriv the tool runs as before.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

let setpriv: string | null | undefined;

/**
 * setpriv, if it is there and works here. Under embody.service (AmbientCapabilities=CAP_SYS_NICE,
 * NoNewPrivileges) util-linux 2.38's setpriv exits 127 with "activate capabilities: Operation not
 * permitted" before it execs anything, so it is tried once (a few ms, at the first spawn) and
 * left out where it fails. There systemd's cgroup already ends every child with the service.
 */
function findSetpriv(): string | undefined {
  if (setpriv === undefined) {
    setpriv = null;
    for (const path of ['/usr/bin/setpriv', '/bin/setpriv']) {
      try {
        accessSync(path, constants.X_OK);
      } catch {
        continue;
      }
      const trial = spawnSync(path, ['--pdeathsig', 'KILL', '--', '/bin/sh', '-c', ':'], { stdio: 'ignore', timeout: 5000 });
      if (trial.status === 0) setpriv = path;
      break;
    }
  }
  return setpriv ?? undefined;
}

/** The command line that starts `command args` so the kernel sends it `signal` when embody dies. */
export function dieWithParent(command: string, args: readonly string[], signal: 'KILL' | 'TERM'): { command: string; args: string[] } {
  const wrapper = findSetpriv();
  return wrapper === undefined ? { command, args: [...args] } : { command: wrapper, args: ['--pdeathsig', signal, '--', command, ...args] };
}
