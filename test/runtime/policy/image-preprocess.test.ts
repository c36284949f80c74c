import { describe, expect, it } from 'vitest';
import { createImagePreprocessor } from '../../../src/runtime/policy/image-preprocess.js';
import type { CameraInput } from '../../../src/runtime/policy/manifest.js';

// A 4x2 RGB frame: left half (x 0-1) pure red 200, right half pure blue 100.
const frame = new Uint8Array(4 * 2 * 3);
for (let y = 0; y < 2; y++) {
  for (let x = 0; x < 4; x++) {
    const o = 3 * (y * 4 + x);
    if (x < 2) frame[o] = 200;
    else frame[o + 2] = 100;
  }
}

function spec(overrides: Partial<CameraInput>): CameraInput {
  return { kind: 'camera', name: 'image', camera: 'wrist', width: 2, height: 1, layout: 'NCHW', channels: 'rgb', scale: 1, ...overrides };
}

describe('image preprocessing from the manifest', () => {
  it('area-averages into NCHW planes in RGB order', () => {
    const pre = createImagePreprocessor(spec({}));
    expect(pre.dims).toEqual([1, 3, 1, 2]);
    const out = new Float32Array(pre.size);
    pre.apply(frame, 4, 2, out);
    expect(Array.from(out)).toEqual([200, 0, 0, 0, 0, 100]);
  });

  it('swaps channels for BGR, interleaves for NHWC, and normalises per channel', () => {
    const pre = createImagePreprocessor(spec({ layout: 'NHWC', channels: 'bgr', scale: 1 / 100, normalize: { mean: [0, 0, 1], std: [1, 1, 0.5] } }));
    expect(pre.dims).toEqual([1, 1, 2, 3]);
    const out = new Float32Array(pre.size);
    pre.apply(frame, 4, 2, out);
    // Pixel 0: B=0, G=0, R=2 -> (2-1)/0.5 = 2 ; pixel 1: B=1, G=0, R=0 -> (0-1)/0.5 = -2
    expect(Array.from(out)).toEqual([0, 0, 2, 1, 0, -2]);
  });

  it('converts to grey with luma weights', () => {
    const pre = createImagePreprocessor(spec({ channels: 'gray' }));
    const out = new Float32Array(pre.size);
    pre.apply(frame, 4, 2, out);
    expect(out[0]).toBeCloseTo(0.299 * 200, 4);
    expect(out[1]).toBeCloseTo(0.114 * 100, 4);
  });
});
