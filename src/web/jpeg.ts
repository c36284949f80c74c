/**
 * Camera frames for the page: packed RGB24 in, JPEG out, at most `maxWidth` wide. `JpegStream`
 * (an ffmpeg child per camera; `-threads 1`: the frame-threaded encoder held each JPEG back until
 * the next frame came) is the way; `JpegEncoder` (jpeg-js, pure JavaScript, on the main
 * thread) is the fallback where ffmpeg is missing: jpeg-js builds its tables again for every
 * image, ~10-20 ms each here even for 96×72 (`npm run bench web`).
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import jpeg from 'jpeg-js';
import { dieWithParent } from '../hal/index.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Packed RGB24, row-major. */
  readonly data: Uint8Array;
}

const QUALITY = 80;

export class JpegEncoder {
  #rgba = new Uint8Array(0);

  constructor(readonly maxWidth: number) {}

  /** The image as a JPEG, at most maxWidth wide (aspect kept). */
  encode(image: RgbImage): Buffer {
    const scale = image.width > this.maxWidth ? this.maxWidth / image.width : 1;
    const width = Math.max(1, Math.round(image.width * scale));
    const height = Math.max(1, Math.round(image.height * scale));
    if (this.#rgba.length !== width * height * 4) this.#rgba = new Uint8Array(width * height * 4);
    const out = this.#rgba;
    const src = image.data;
    for (let y = 0; y < height; y++) {
      const sy = Math.min(image.height - 1, Math.floor(y / scale));
      for (let x = 0; x < width; x++) {
        const s = (sy * image.width + Math.min(image.width - 1, Math.floor(x / scale))) * 3;
        const d = (y * width + x) * 4;
        out[d] = src[s];
        out[d + 1] = src[s + 1];
        out[d + 2] = src[s + 2];
        out[d + 3] = 255;
      }
    }
    return jpeg.encode({ width, height, data: out }, QUALITY).data;
  }
}

export interface JpegStreamOptions {
  readonly width: number;
  readonly height: number;
  readonly maxWidth: number;
  readonly onJpeg: (jpeg: Buffer) => void;
  /** The encoder process failed (once per failure; the next offer starts a new one). */
  readonly onError: (message: string) => void;
  readonly ffmpeg?: string;
}

/** Bytes of output without a complete JPEG before the stream is judged broken. */
const MAX_PENDING_BYTES = 8 << 20;

/**
 * Camera frames to JPEG in one ffmpeg child per camera (the image2pipe muxer writes one complete
 * JPEG per frame), so encoding costs the main thread only the pipe writes. One frame in flight
 * at a time: a frame offered while the last is still encoding is skipped, so nothing queues.
 * The child ends with the runtime (setpriv --pdeathsig via the HAL's dieWithParent).
 */
export class JpegStream {
  readonly #options: JpegStreamOptions;
  #child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inFlight = false;
  #closed = false;

  constructor(options: JpegStreamOptions) {
    this.#options = options;
  }

  /** Encode this frame unless the previous one is still encoding; true if taken. */
  offer(image: RgbImage): boolean {
    if (this.#closed || this.#inFlight) return false;
    if (image.width !== this.#options.width || image.height !== this.#options.height) return false;
    const child = this.#child ?? this.#start();
    this.#inFlight = true;
    child.stdin.write(image.data);
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
  }

  #start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const { width, height, maxWidth } = this.#options;
    const scale = width > maxWidth ? ['-vf', `scale=${maxWidth}:-2`] : [];
    const args = ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-i', 'pipe:0', ...scale, '-threads', '1', '-c:v', 'mjpeg', '-q:v', '4', '-flush_packets', '1', '-f', 'image2pipe', 'pipe:1'];
    const { command, args: full } = dieWithParent(this.#options.ffmpeg ?? 'ffmpeg', args, 'KILL');
    const child = spawn(command, full, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child = child;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => this.#failed(child, `ffmpeg could not start: ${error.message}`));
    child.on('exit', (code, signal) => this.#failed(child, `ffmpeg exited (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}`));
    child.stdout.on('data', (chunk: Buffer) => this.#output(chunk));
    return child;
  }

  #failed(child: ChildProcess, message: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#inFlight = false;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!this.#closed) this.#options.onError(message);
  }

  /** Split the stream at each End Of Image marker (0xFF 0xD9: entropy-coded 0xFF bytes are stuffed, so it is unique). */
  #output(chunk: Buffer): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    let data = Buffer.concat(this.#pending);
    let end = data.indexOf(EOI);
    while (end >= 0) {
      this.#inFlight = false;
      this.#options.onJpeg(data.subarray(0, end + 2));
      data = data.subarray(end + 2);
      end = data.indexOf(EOI);
    }
    this.#pending = data.length > 0 ? [data] : [];
    this.#pendingBytes = data.length;
    if (this.#pendingBytes > MAX_PENDING_BYTES) this.#child?.kill('SIGKILL');
  }
}

const EOI = Buffer.from([0xff, 0xd9]);
