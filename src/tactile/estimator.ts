/**
 * Touch from the wrist camera, first version: per fingertip ROI, an area-averaged grey
 * working image is compared with a no-contact reference (the mean of the first frames).
 * Changed cells above a noise-adaptive threshold give the contact area; their summed change
 * is the force proxy (unitless until calibrated). Hand-written because no library estimates
 * touch from pad deformation, and it must allocate nothing per frame. The touch issue adds
 * reference adaptation, shear, slip, calibration and quality flags.
 */
import type { FingertipDescription } from '../hal/robot-description.js';

export interface TouchEstimatorOptions {
  /** Working grid per pad (cells per side). */
  readonly grid?: number;
  /** Frames averaged into the no-contact reference. */
  readonly referenceFrames?: number;
  /** Force proxy that counts as 1.0 (summed grey-level change over the pad's cells). */
  readonly forceScale?: number;
}

export interface TouchEstimator {
  update(frame: Uint8Array): void;
  /** Per pad, in the order given: contact probability 0..1. */
  readonly contact: Float64Array;
  /** Force proxy, ~1 at full grip in the simulator. */
  readonly force: Float64Array;
  /** Fraction of the pad in contact, 0..1. */
  readonly area: Float64Array;
  readonly ready: boolean;
}

export function createTouchEstimator(
  fingertips: readonly FingertipDescription[],
  width: number,
  height: number,
  options: TouchEstimatorOptions = {},
): TouchEstimator {
  const grid = options.grid ?? 8;
  const cells = grid * grid;
  const referenceFrames = options.referenceFrames ?? 8;
  const forceScale = options.forceScale ?? 1500;
  const pads = fingertips.length;
  const current = new Float64Array(pads * cells);
  const reference = new Float64Array(pads * cells);
  const referenceSq = new Float64Array(pads * cells);
  const threshold = new Float64Array(pads);
  const contact = new Float64Array(pads);
  const force = new Float64Array(pads);
  const area = new Float64Array(pads);
  let seen = 0;

  const sample = (frame: Uint8Array, pad: number): void => {
    const [rx, ry, rw, rh] = fingertips[pad].roi;
    const base = pad * cells;
    for (let gy = 0; gy < grid; gy++) {
      const y0 = ry + Math.floor((gy * rh) / grid);
      const y1 = Math.min(height, ry + Math.floor(((gy + 1) * rh) / grid));
      for (let gx = 0; gx < grid; gx++) {
        const x0 = rx + Math.floor((gx * rw) / grid);
        const x1 = Math.min(width, rx + Math.floor(((gx + 1) * rw) / grid));
        let sum = 0;
        let count = 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const o = 3 * (y * width + x);
            sum += frame[o] + frame[o + 1] + frame[o + 2];
            count++;
          }
        }
        current[base + gy * grid + gx] = count > 0 ? sum / (3 * count) : 0;
      }
    }
  };

  return {
    contact,
    force,
    area,
    get ready() {
      return seen >= referenceFrames;
    },
    update(frame) {
      for (let pad = 0; pad < pads; pad++) sample(frame, pad);
      if (seen < referenceFrames) {
        for (let i = 0; i < current.length; i++) {
          reference[i] += current[i] / referenceFrames;
          referenceSq[i] += (current[i] * current[i]) / referenceFrames;
        }
        seen++;
        if (seen === referenceFrames) {
          // Threshold from the reference frames' own noise: 4 sigma, at least 3 grey levels.
          for (let pad = 0; pad < pads; pad++) {
            let variance = 0;
            for (let i = pad * cells; i < (pad + 1) * cells; i++) variance += Math.max(0, referenceSq[i] - reference[i] * reference[i]);
            threshold[pad] = Math.max(3, 4 * Math.sqrt(variance / cells));
          }
        }
        return;
      }
      for (let pad = 0; pad < pads; pad++) {
        let changed = 0;
        let total = 0;
        for (let i = pad * cells; i < (pad + 1) * cells; i++) {
          const d = Math.abs(current[i] - reference[i]);
          if (d > threshold[pad]) {
            changed++;
            total += d;
          }
        }
        const fraction = changed / cells;
        area[pad] = fraction;
        force[pad] = total / forceScale;
        contact[pad] = 1 / (1 + Math.exp(-(fraction - 0.04) / 0.01));
      }
    },
  };
}
