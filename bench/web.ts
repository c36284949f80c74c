/**
 * `embody bench web`: what the live page costs the robot, each beside its anchor in the same run.
 *   jpeg   encoding one camera image for the page (jpeg-js): the sim arm's 96×72 wrist frame, and a
 *          640×480 frame downscaled to the default 320 px width
 *   loop   the control loop's p99 tick lateness with the HTTP face on and no page open, then with
 *          two pages open (two WebSocket clients in another process, reading everything: state
 *          at update_hz, camera at camera_fps), alternated twice (target: <= +10 %)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { createLogger } from '../src/runtime/logger.js';
import { runRobot } from '../src/runtime/run.js';
import { JpegEncoder, JpegStream } from '../src/web/index.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));

export interface WebBenchResult {
  /** jpeg-js in-process (the fallback): µs per image. */
  readonly jpegUs: { readonly sim96x72: { p50: number; p99: number; bytes: number }; readonly vga640to320: { p50: number; p99: number; bytes: number } };
  /** The ffmpeg child (the default): frame written to JPEG back, µs wall time, and the main thread's part (the pipe write). */
  readonly ffmpegUs: { readonly sim96x72: { p50: number; p99: number; bytes: number; mainThreadUs: number }; readonly vga640to320: { p50: number; p99: number; bytes: number; mainThreadUs: number } };
  readonly loop: {
    readonly seconds: number;
    /** p99 tick lateness, µs, per run, in the order run. */
    readonly noPagesP99Us: readonly number[];
    readonly twoPagesP99Us: readonly number[];
    /** Messages each page received per second (state + camera), and bytes per second. */
    readonly perPage: { readonly messagesPerSecond: number; readonly bytesPerSecond: number };
    readonly ratio: number;
  };
  readonly met: boolean;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

function testImage(width: number, height: number): Uint8Array {
  // Smooth gradients with a little noise, like a camera image (pure noise would not compress).
  const data = new Uint8Array(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 28) - 8;
      data[i] = (x * 255) / width + noise;
      data[i + 1] = (y * 255) / height + noise;
      data[i + 2] = 128 + noise;
    }
  }
  return data;
}

/** The ffmpeg child: frames in, JPEGs out, one at a time (as the page's feed runs it); µs per image, wall time. */
async function benchJpegStream(width: number, height: number, maxWidth: number): Promise<{ p50: number; p99: number; bytes: number; mainThreadUs: number }> {
  const data = testImage(width, height);
  const times: number[] = [];
  const writes: number[] = [];
  let bytes = 0;
  let done: (() => void) | undefined;
  const stream = new JpegStream({ width, height, maxWidth, onJpeg: (jpeg) => ((bytes = jpeg.length), done?.()), onError: (m) => { throw new Error(m); } });
  try {
    for (let i = 0; i < 120; i++) {
      const arrived = new Promise<void>((resolve) => (done = resolve));
      const t0 = performance.now();
      stream.offer({ width, height, data });
      const t1 = performance.now();
      await arrived;
      if (i >= 20) {
        times.push((performance.now() - t0) * 1000);
        writes.push((t1 - t0) * 1000);
      }
    }
  } finally {
    stream.close();
  }
  times.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), bytes, mainThreadUs: percentile(writes, 0.5) };
}

function benchJpeg(width: number, height: number, maxWidth: number): { p50: number; p99: number; bytes: number } {
  const data = testImage(width, height);
  const encoder = new JpegEncoder(maxWidth);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    bytes = encoder.encode({ width, height, data }).length;
    if (i >= 20) times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), bytes };
}

/** Two pages in another process: WebSocket clients that read every message, counting them. */
function twoPages(port: number): { child: ChildProcess; totals: () => { messages: number; bytes: number } } {
  const script = `
    const { WebSocket } = require(${JSON.stringify(join(root, 'node_modules/ws'))});
    let messages = 0, bytes = 0;
    function open() {
      const ws = new WebSocket('ws://127.0.0.1:${port}/live', { origin: 'http://127.0.0.1:${port}' });
      ws.on('message', (d) => { messages++; bytes += d.length; });
      ws.on('error', () => setTimeout(open, 100));
    }
    open(); open();
    setInterval(() => process.stdout.write(messages + ' ' + bytes + '\\n'), 500);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = { messages: 0, bytes: 0 };
  child.stdout!.on('data', (d: Buffer) => {
    const line = d.toString().trim().split('\n').at(-1)!.split(' ');
    last = { messages: Number(line[0]), bytes: Number(line[1]) };
  });
  return { child, totals: () => last };
}

export async function benchWeb(options: { robotFile?: string; seconds?: number } = {}): Promise<WebBenchResult> {
  const robotFile = options.robotFile ?? `${root}robots/sim-arm.yaml`;
  const seconds = options.seconds ?? 10;
  const jpegUs = { sim96x72: benchJpeg(96, 72, 320), vga640to320: benchJpeg(640, 480, 320) };
  const ffmpegUs = { sim96x72: await benchJpegStream(96, 72, 320), vga640to320: await benchJpegStream(640, 480, 320) };
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-web-'));
  try {
    const doc = parse(readFileSync(robotFile, 'utf8')) as { policy: { manifest: string }; http?: Record<string, unknown> };
    doc.policy.manifest = resolve(dirname(robotFile), doc.policy.manifest);
    doc.http = { ...(doc.http ?? {}) };
    const robot = join(directory, 'robot-web.yaml');
    writeFileSync(robot, stringify(doc));
    const log = createLogger({ level: 'warn', pretty: false });
    const noPages: number[] = [];
    const withPages: number[] = [];
    let perPage = { messagesPerSecond: 0, bytesPerSecond: 0 };
    for (let round = 0; round < 2; round++) {
      const port = await freePort();
      const off = await runRobot({ robotFile: robot, durationS: seconds, broker: 'none', http: `127.0.0.1:${port}`, autoArm: true, log });
      noPages.push(off.tick_lateness_us.p99);
      const pagesPort = await freePort();
      const pages = twoPages(pagesPort);
      try {
        const on = await runRobot({ robotFile: robot, durationS: seconds, broker: 'none', http: `127.0.0.1:${pagesPort}`, autoArm: true, log });
        withPages.push(on.tick_lateness_us.p99);
        const { messages, bytes } = pages.totals();
        perPage = { messagesPerSecond: messages / 2 / seconds, bytesPerSecond: bytes / 2 / seconds };
      } finally {
        pages.child.kill('SIGKILL');
      }
    }
    const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
    const ratio = sum(withPages) / sum(noPages);
    return { jpegUs, ffmpegUs, loop: { seconds, noPagesP99Us: noPages, twoPagesP99Us: withPages, perPage, ratio }, met: ratio <= 1.1 };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The lines `embody bench web` prints. */
export function formatWeb(r: WebBenchResult): string {
  const j = r.jpegUs;
  const f = r.ffmpegUs;
  const l = r.loop;
  return [
    `web: JPEG for the page by the ffmpeg child (default): 96x72 p50 ${f.sim96x72.p50.toFixed(0)} µs, p99 ${f.sim96x72.p99.toFixed(0)} µs wall (main thread ${f.sim96x72.mainThreadUs.toFixed(0)} µs), ${f.sim96x72.bytes} bytes; 640x480 -> 320x240 p50 ${f.vga640to320.p50.toFixed(0)} µs, p99 ${f.vga640to320.p99.toFixed(0)} µs (main thread ${f.vga640to320.mainThreadUs.toFixed(0)} µs), ${f.vga640to320.bytes} bytes`,
    `web: JPEG by jpeg-js in-process (the fallback without ffmpeg): 96x72 p50 ${j.sim96x72.p50.toFixed(0)} µs, p99 ${j.sim96x72.p99.toFixed(0)} µs, ${j.sim96x72.bytes} bytes; 640x480 -> 320x240 p50 ${j.vga640to320.p50.toFixed(0)} µs, p99 ${j.vga640to320.p99.toFixed(0)} µs, ${j.vga640to320.bytes} bytes`,
    `web: control loop p99 lateness, ${l.seconds} s each, alternated: no page ${l.noPagesP99Us.join(', ')} µs, two pages ${l.twoPagesP99Us.join(', ')} µs -> ${l.ratio.toFixed(2)}x (target <= 1.10) -> ${r.met ? 'met' : 'NOT met'}; each page got ${l.perPage.messagesPerSecond.toFixed(1)} messages/s, ${(l.perPage.bytesPerSecond / 1024).toFixed(1)} KiB/s`,
  ].join('\n');
}
