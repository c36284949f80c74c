/**
 * A robot stand-in for the deploy test: a copy of a debootstrap'd Debian root booted with
 * systemd-nspawn (systemd as PID 1), its sshd reachable from the host.
 *
 * Networking: the container shares the host's network namespace (no --private-network). That needs
 * no bridge, no veth addresses and no host networkd, none of which this machine has; the price is
 * that the container's sshd must not take the host's port 22, so it listens on 127.0.0.1:<free
 * port> (a drop-in in /etc/ssh/sshd_config.d written before boot).
 *
 * Cleanup: the run directory records the nspawn pid; stop() powers the container off (SIGTERM to
 * nspawn), escalates to SIGKILL, then kills anything still running with its root inside the copy,
 * and removes the copy. Runs left behind by a killed test are cleaned the same way on the next start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const RUNS_DIR = '/var/tmp';
const RUN_PREFIX = 'embody-deploy-';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function sh(command: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): CommandResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function must(result: CommandResult, what: string): string {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose root directory is inside `root` (the container's, after nspawn is gone). */
function processesRootedIn(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const r = readlinkSync(`/proc/${entry}/root`);
      if (r === root || r.startsWith(`${root}/`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function destroyRun(dir: string): Promise<void> {
  const pidFile = join(dir, 'nspawn.pid');
  const root = join(dir, 'root');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && alive(pid)) {
      process.kill(pid, 'SIGTERM'); // nspawn powers the container off
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
  for (let round = 0; round < 3; round++) {
    const left = processesRootedIn(root);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(200);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Remove runs whose test process died without cleaning up. */
export async function cleanStaleRuns(): Promise<void> {
  for (const name of readdirSync(RUNS_DIR)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = join(RUNS_DIR, name);
    const owner = Number(readFileSync(join(dir, 'owner.pid'), { encoding: 'utf8', flag: 'a+' }) || '0');
    if (owner > 0 && owner !== process.pid && alive(owner)) continue;
    await destroyRun(dir);
  }
}

export interface Robot {
  readonly name: string;
  readonly dir: string;
  readonly root: string;
  readonly sshPort: number;
  readonly keyFile: string;
  /** Run a shell command on the robot over SSH as root. */
  ssh(command: string, timeoutMs?: number): CommandResult;
  stop(): Promise<void>;
}

export async function bootRobot(rootfs: string, name: string): Promise<Robot> {
  await cleanStaleRuns();
  const dir = mkdtempSync(join(RUNS_DIR, RUN_PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const root = join(dir, 'root');
  let nspawn: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    nspawn?.removeAllListeners();
    await destroyRun(dir);
  };
  try {
    must(sh('cp', ['-a', '--reflink=auto', rootfs, root]), 'copying the root file system');
    chmodSync(root, 0o755);
    const keyFile = join(dir, 'id_ed25519');
    must(sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'embody-deploy-test', '-f', keyFile]), 'ssh-keygen');
    mkdirSync(join(root, 'root', '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, 'root', '.ssh', 'authorized_keys'), readFileSync(`${keyFile}.pub`), { mode: 0o600 });
    const sshPort = await freePort();
    writeFileSync(join(root, 'etc', 'ssh', 'sshd_config.d', '10-embody-test.conf'), `Port ${sshPort}\nListenAddress 127.0.0.1\n`);
    writeFileSync(join(root, 'etc', 'hostname'), `${name}\n`);

    const log = openSync(join(dir, 'console.log'), 'w');
    nspawn = spawn('systemd-nspawn', ['-q', '-b', '-D', root, '--register=no', '--keep-unit', '-M', name, '--console=read-only'], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    writeFileSync(join(dir, 'nspawn.pid'), String(nspawn.pid));
    nspawn.unref();

    const sshArgs = (command: string): string[] => [
      '-i', keyFile, '-p', String(sshPort),
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5',
      'root@127.0.0.1', command,
    ];
    const robot: Robot = {
      name,
      dir,
      root,
      sshPort,
      keyFile,
      ssh: (command, timeoutMs = 120_000) => sh('ssh', sshArgs(command), { timeoutMs }),
      stop,
    };
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited (${nspawn.exitCode}):\n${readFileSync(join(dir, 'console.log'), 'utf8').slice(-3000)}`);
      const probe = robot.ssh('systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active ssh', 20_000);
      if (probe.code === 0) break;
      if (Date.now() > deadline) throw new Error(`the container's sshd did not answer on 127.0.0.1:${sshPort}:\n${probe.stderr}\n${readFileSync(join(dir, 'console.log'), 'utf8').slice(-3000)}`);
      await sleep(500);
    }
    return robot;
  } catch (error) {
    await stop();
    throw error;
  }
}
