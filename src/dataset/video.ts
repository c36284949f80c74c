/**
 * Videos for a dataset, with ffmpeg child processes: the recorded JPEGs of a camera, one per
 * dataset frame, become one MP4 (LeRobot's defaults, lerobot src/lerobot/configs/video.py:
 * libsvtav1, yuv420p, g=2, crf 30; libx264 offered for players without AV1), and a sample of them
 * is decoded back to RGB for the feature's stats.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type VideoCodec = 'libsvtav1' | 'libx264';

/**
 * Encoder settings: lerobot's VideoEncoderConfig defaults for AV1 (g 2, crf 30, preset 12 =
 * LIBSVTAV1_DEFAULT_PRESET, lerobot src/lerobot/configs/video.py); for H.264 the same GOP with
 * x264's default crf and a fast preset (embody's choice).
 */
export const ENCODER: Record<VideoCodec, { g: number; crf: number; preset: number | string }> = {
  libsvtav1: { g: 2, crf: 30, preset: 12 },
  libx264: { g: 2, crf: 23, preset: 'veryfast' },
};

/** The codec name ffprobe and PyAV report for what each encoder writes (info.json video.codec). */
export const codecName: Record<VideoCodec, string> = { libsvtav1: 'av1', libx264: 'h264' };

function run(args: string[], input: Buffer[], what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', (error) => reject(new Error(`${what}: could not start ffmpeg (${error.message}); install it (Debian: apt-get install ffmpeg)`)));
    child.on('exit', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${what}: ffmpeg exited with ${code}: ${err.trim()}`))));
    child.stdin.on('error', () => undefined);
    void (async () => {
      for (const chunk of input) if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      child.stdin.end();
    })();
  });
}

/**
 * One MP4 from JPEGs (one per frame) at `fps`, written as they come: the ffmpeg child stays open
 * across episodes, so only one episode's images are in memory at a time.
 */
export class VideoEncoder {
  readonly file: string;
  readonly #child: ChildProcess;
  readonly #done: Promise<void>;
  #stderr = '';

  constructor(file: string, fps: number, codec: VideoCodec) {
    this.file = file;
    const { g, crf, preset } = ENCODER[codec];
    const args = ['-hide_banner', '-loglevel', 'error', '-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'mjpeg', '-i', 'pipe:0', '-fps_mode', 'passthrough', '-c:v', codec, '-pix_fmt', 'yuv420p', '-g', String(g), '-crf', String(crf), '-preset', String(preset), '-an', '-y', file];
    this.#child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child.stderr?.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    this.#child.stdin?.on('error', () => undefined);
    this.#done = new Promise((resolve, reject) => {
      this.#child.on('error', (error) => reject(new Error(`${file}: could not start ffmpeg (${error.message}); install it (Debian: apt-get install ffmpeg)`)));
      this.#child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file}: ffmpeg exited with ${code}: ${this.#stderr.trim()}`))));
    });
    this.#done.catch(() => undefined); // reported by write() or close()
  }

  async write(jpegs: Buffer[]): Promise<void> {
    const stdin = this.#child.stdin!;
    for (const jpeg of jpegs) {
      if (stdin.destroyed) return this.#done;
      if (!stdin.write(jpeg)) await Promise.race([new Promise((r) => stdin.once('drain', r)), this.#done]);
    }
  }

  async close(): Promise<void> {
    this.#child.stdin?.end();
    await this.#done;
  }

  /** Stop an unfinished encoder (an export that failed). */
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}

/** Decode JPEGs to packed RGB24 frames. */
export async function decodeJpegs(jpegs: Buffer[], width: number, height: number, what: string): Promise<Uint8Array[]> {
  const raw = await run(['-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], jpegs, what);
  const size = width * height * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= raw.length; o += size) frames.push(raw.subarray(o, o + size));
  if (frames.length !== jpegs.length) throw new Error(`${what}: decoded ${frames.length} of ${jpegs.length} frames at ${width}x${height}`);
  return frames;
}
