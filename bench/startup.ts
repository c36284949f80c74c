/**
 * `embody bench startup`: from process start to READY=1 on a notify socket the bench owns
 * (as systemd would see it), and the run's peak resident memory, on the built CLI.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import unix from 'unix-dgram';

export interface StartupBench {
  readonly readyMs: number;
  readonly peakRssMb: number;
  readonly exitCode: number | null;
}

const cli = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/src/cli.js' : '../src/cli.js', import.meta.url));

export async function benchStartup(durationS = 5): Promise<StartupBench> {
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-startup-'));
  const socketPath = join(directory, 'notify.sock');
  const reportFile = join(directory, 'report.json');
  const socket = unix.createSocket('unix_dgram');
  socket.bind(socketPath);
  let readyMs = Number.NaN;
  const started = performance.now();
  socket.on('message', (message: Buffer) => {
    if (Number.isNaN(readyMs) && message.toString().split('\n').includes('READY=1')) readyMs = performance.now() - started;
  });
  const child = spawn(process.execPath, ['--single-threaded-gc', cli, 'run', '--broker', 'none', '--duration', String(durationS), '--report', reportFile], {
    env: { ...process.env, NOTIFY_SOCKET: socketPath },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  socket.close();
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { peak_rss_mb: number };
  return { readyMs, peakRssMb: report.peak_rss_mb, exitCode };
}
