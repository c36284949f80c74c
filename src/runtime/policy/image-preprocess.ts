/**
 * Camera frame -> model tensor, as the manifest says: area-average resize, channel order,
 * layout, scale and per-channel normalisation, written into a preallocated Float32Array.
 * Area averaging (not nearest or bilinear) because it is what a downscaled sensor sees and it
 * does not alias the fine texture of the fingertip pads.
 */
import type { CameraInput } from './manifest.js';

export interface ImagePreprocessor {
  /** Tensor element count: channels * height * width. */
  readonly size: number;
  readonly dims: readonly [number, number, number, number];
  /** Fill `out` from a packed RGB24 frame of the given size. Allocation-free. */
  apply(rgb: Uint8Array, frameWidth: number, frameHeight: number, out: Float32Array): void;
}

export function createImagePreprocessor(spec: CameraInput): ImagePreprocessor {
  const channels = spec.channels === 'gray' ? 1 : 3;
  const { width, height, layout, scale } = spec;
  const mean = new Float32Array(channels);
  const invStd = new Float32Array(channels).fill(1);
  if (spec.normalize) {
    for (let c = 0; c < channels; c++) {
      mean[c] = spec.normalize.mean[spec.normalize.mean.length === 1 ? 0 : c];
      invStd[c] = 1 / spec.normalize.std[spec.normalize.std.length === 1 ? 0 : c];
    }
  }
  // Source channel index for each output channel: rgb keeps order, bgr swaps R and B.
  const sourceChannel = spec.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const dims: [number, number, number, number] =
    layout === 'NCHW' ? [1, channels, height, width] : [1, height, width, channels];
  const sums = new Float64Array(3);
  const source = Int32Array.from(sourceChannel);

  return {
    size: channels * width * height,
    dims,
    apply(rgb, frameWidth, frameHeight, out) {
      for (let oy = 0; oy < height; oy++) {
        const y0 = Math.floor((oy * frameHeight) / height);
        const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * frameHeight) / height));
        for (let ox = 0; ox < width; ox++) {
          const x0 = Math.floor((ox * frameWidth) / width);
          const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * frameWidth) / width));
          let r = 0;
          let g = 0;
          let b = 0;
          for (let y = y0; y < y1; y++) {
            let p = (y * frameWidth + x0) * 3;
            for (let x = x0; x < x1; x++, p += 3) {
              r += rgb[p];
              g += rgb[p + 1];
              b += rgb[p + 2];
            }
          }
          sums[0] = r;
          sums[1] = g;
          sums[2] = b;
          const inv = 1 / ((y1 - y0) * (x1 - x0));
          for (let c = 0; c < channels; c++) {
            const raw =
              channels === 1
                ? (0.299 * sums[0] + 0.587 * sums[1] + 0.114 * sums[2]) * inv
                : sums[source[c]] * inv;
            const value = (raw * scale - mean[c]) * invStd[c];
            const index =
              layout === 'NCHW' ? (c * height + oy) * width + ox : (oy * width + ox) * channels + c;
            out[index] = value;
          }
        }
      }
    },
  };
}
