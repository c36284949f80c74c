/**
 * Raw frames from a byte stream (a camera process's stdout): fixed-size frames back to back,
 * packed RGB24 or planar YUV 4:2:0 (I420, what rpicam-vid --codec yuv420 writes). Stream chunks
 * rarely line up with frames, so RGB24 frames are assembled into two alternating buffers (one
 * copy); a frame lying whole inside one chunk is handed out as a view of the chunk (no copy).
 * I420 is converted to RGB24 (BT.601, limited range) into the same alternating buffers.
 */

export type RawPixelFormat = 'rgb24' | 'yuv420p';

export interface ParsedFrame {
  /** Packed RGB24, width * height * 3 bytes: valid until the frame after next (or a view of a chunk). */
  readonly data: Uint8Array;
  /** Frames parsed so far, this one included. */
  readonly index: number;
}

export function rawFrameBytes(width: number, height: number, format: RawPixelFormat): number {
  return format === 'rgb24' ? width * height * 3 : width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1);
}

export class RawFrameParser {
  readonly frameBytes: number;
  /** Frames handed out as views of a chunk (no copy), and assembled from pieces. */
  zeroCopy = 0;
  assembled = 0;
  readonly #width: number;
  readonly #height: number;
  readonly #format: RawPixelFormat;
  readonly #onFrame: (data: Uint8Array) => void;
  /** Where a frame split across chunks is assembled (raw bytes in the source format). */
  readonly #assembly: Uint8Array;
  readonly #rgb: Uint8Array[];
  #filled = 0;
  #count = 0;

  constructor(width: number, height: number, format: RawPixelFormat, onFrame: (data: Uint8Array) => void) {
    this.#width = width;
    this.#height = height;
    this.#format = format;
    this.#onFrame = onFrame;
    this.frameBytes = rawFrameBytes(width, height, format);
    this.#assembly = new Uint8Array(this.frameBytes);
    const rgbBytes = width * height * 3;
    // RGB24 assembles straight into the two output buffers; I420 needs its own RGB pair.
    this.#rgb = [new Uint8Array(rgbBytes), new Uint8Array(rgbBytes)];
  }

  get frames(): number {
    return this.#count;
  }

  /** Bytes of a partial frame waiting for the rest. */
  get pending(): number {
    return this.#filled;
  }

  /** Drop a partial frame (after the process restarted). */
  reset(): void {
    this.#filled = 0;
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    const size = this.frameBytes;
    while (offset < chunk.length) {
      if (this.#filled === 0 && chunk.length - offset >= size) {
        const view = chunk.subarray(offset, offset + size);
        offset += size;
        this.zeroCopy++;
        this.#emit(view, true);
        continue;
      }
      const target = this.#format === 'rgb24' ? this.#rgb[this.#count & 1] : this.#assembly;
      const take = Math.min(size - this.#filled, chunk.length - offset);
      target.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === size) {
        this.#filled = 0;
        this.assembled++;
        this.#emit(target, false);
      }
    }
  }

  #emit(raw: Uint8Array, view: boolean): void {
    const index = this.#count++;
    if (this.#format === 'rgb24') {
      this.#onFrame(raw);
      return;
    }
    if (view) this.zeroCopy--;
    const out = this.#rgb[index & 1];
    i420ToRgb(raw, this.#width, this.#height, out);
    this.#onFrame(out);
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** BT.601 limited-range I420 to packed RGB24. */
export function i420ToRgb(src: Uint8Array, width: number, height: number, out: Uint8Array): void {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const uBase = width * height;
  const vBase = uBase + cw * ch;
  for (let y = 0; y < height; y++) {
    const cRow = (y >> 1) * cw;
    for (let x = 0; x < width; x++) {
      const c = 1.164 * (src[y * width + x] - 16);
      const u = src[uBase + cRow + (x >> 1)] - 128;
      const v = src[vBase + cRow + (x >> 1)] - 128;
      const o = 3 * (y * width + x);
      out[o] = clamp(c + 1.596 * v);
      out[o + 1] = clamp(c - 0.392 * u - 0.813 * v);
      out[o + 2] = clamp(c + 2.017 * u);
    }
  }
}
