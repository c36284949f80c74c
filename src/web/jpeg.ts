/**
 * Camera frames for the page: packed RGB24 in, a JPEG out, downscaled (nearest pixel) to at most
 * `maxWidth` first. jpeg-js is pure JavaScript (no native addon to build for the robot); it runs on
 * the main thread at the page's camera rate only, never in the control worker, and only while a
 * page is open. `npm run bench web` measures it.
 */
import jpeg from 'jpeg-js';

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
