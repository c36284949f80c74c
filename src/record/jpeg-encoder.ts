/**
 * Camera frames to JPEG off the main thread and off the control thread: one `ffmpeg` child per
 * camera reads raw RGB24 frames on stdin and writes one JPEG per frame on stdout (image2pipe,
 * mjpeg). Frames come out in the order they went in, so each JPEG is matched to the tick of its
 * frame from a FIFO. At most MAX_IN_FLIGHT frames wait for the encoder; more are dropped and
 * counted (a slow encoder must not grow memory), never queued without bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Frames handed to ffmpeg and not yet back: beyond this a frame is dropped. */
export const MAX_IN_FLIGHT = 8;

export interface EncodedFrame {
  readonly tick: number;
  readonly jpeg: Buffer;
  /** ms from handing the frame to ffmpeg to having its JPEG. */
  readonly encodeMs: number;
}

export class JpegEncoder {
  readonly #child: ChildProcess;
  readonly #waiting: { tick: number; at: number }[] = [];
  readonly #onFrame: (frame: EncodedFrame) => void;
  #buffer: Buffer = Buffer.alloc(0);
  #dropped = 0;
  #encoded = 0;
  /** Encode times of the last ENCODE_SAMPLES frames, ms (a ring). */
  readonly #encodeMs = new Float64Array(ENCODE_SAMPLES);
  #exited = false;
  #cpuMsPerFrame: number | undefined;
  #stderr = '';
  readonly exit: Promise<void>;

  constructor(width: number, height: number, quality: number, onFrame: (frame: EncodedFrame) => void) {
    this.#onFrame = onFrame;
    // -q:v 2 (best) .. 31 (worst) for ffmpeg's mjpeg; quality 1-100 maps onto it.
    const q = Math.max(2, Math.min(31, Math.round(31 - (quality / 100) * 29)));
    this.#child = spawn(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-threads', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'image2pipe', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(q), '-flush_packets', '1', 'pipe:1'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#child.stdout?.on('data', (data: Buffer) => this.#read(data));
    this.#child.stderr?.on('data', (data: Buffer) => (this.#stderr = (this.#stderr + data.toString()).slice(-2000)));
    this.#child.stdin?.on('error', () => undefined); // an exit is reported by `exit`
    this.exit = new Promise((resolve) => {
      this.#child.once('error', () => {
        this.#exited = true;
        resolve();
      });
      this.#child.once('exit', () => {
        this.#exited = true;
        resolve();
      });
    });
  }

  get dropped(): number {
    return this.#dropped;
  }

  get encoded(): number {
    return this.#encoded;
  }

  /** p50 and p99 of the time from handing a frame to ffmpeg to having its JPEG (last ENCODE_SAMPLES frames), ms. */
  encodePercentiles(): { p50: number; p99: number } {
    const n = Math.min(this.#encoded, ENCODE_SAMPLES);
    if (n === 0) return { p50: 0, p99: 0 };
    const sorted = this.#encodeMs.slice(0, n).sort();
    return { p50: sorted[Math.floor(0.5 * (n - 1))], p99: sorted[Math.floor(0.99 * (n - 1))] };
  }

  /** CPU ms per frame measured when the encoder was closed. */
  get cpuMsPerFrameAtClose(): number | undefined {
    return this.#cpuMsPerFrame;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** ffmpeg's last words, for an error message. */
  get stderr(): string {
    return this.#stderr.trim();
  }

  /** Hand one RGB24 frame (copied) to the encoder; false when it was dropped. */
  encode(tick: number, rgb: Uint8Array): boolean {
    if (this.#exited || this.#waiting.length >= MAX_IN_FLIGHT) {
      this.#dropped++;
      return false;
    }
    this.#waiting.push({ tick, at: performance.now() });
    this.#child.stdin?.write(Buffer.from(rgb));
    return true;
  }

  /** ffmpeg's CPU time (user + system) per encoded frame so far, ms (Linux /proc; undefined elsewhere or after exit). */
  cpuMsPerFrame(): number | undefined {
    const pid = this.#child.pid;
    if (pid === undefined || this.#exited || this.#encoded === 0) return undefined;
    try {
      // /proc/<pid>/stat: fields 14 and 15 are utime and stime in clock ticks (USER_HZ, 100 on Linux).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 10) / this.#encoded;
    } catch {
      return undefined;
    }
  }

  /** Finish the frames in flight and stop ffmpeg. */
  async close(): Promise<void> {
    this.#cpuMsPerFrame = this.cpuMsPerFrame();
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await this.exit;
    clearTimeout(timer);
  }

  #read(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    // A JPEG ends with EOI (FF D9); inside the entropy-coded data every FF is followed by 00 or a
    // restart marker, and ffmpeg's mjpeg writes no thumbnails, so the first FF D9 ends the image.
    for (;;) {
      const end = this.#buffer.indexOf(EOI);
      if (end < 0) return;
      const jpeg = this.#buffer.subarray(0, end + 2);
      this.#buffer = this.#buffer.subarray(end + 2);
      const waiting = this.#waiting.shift();
      if (waiting === undefined) continue;
      const encodeMs = performance.now() - waiting.at;
      this.#encodeMs[this.#encoded % ENCODE_SAMPLES] = encodeMs;
      this.#encoded++;
      this.#onFrame({ tick: waiting.tick, jpeg: Buffer.from(jpeg), encodeMs });
    }
  }
}

const EOI = Buffer.from([0xff, 0xd9]);
const ENCODE_SAMPLES = 4096;
