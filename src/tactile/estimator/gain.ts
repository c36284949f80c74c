/**
 * Global gain of the frame against the no-contact reference: the mode of the per-cell ratios (a
 * histogram peak, so a contact patch darkening up to ~60 % of the pad does not pull it), then,
 * once the camera motion is known, a fine correction against the shifted reference (a 1 % gain
 * error is ~2 grey levels on a bright pad).
 */
import { selectMedian } from './median.js';
import { HIST_BINS, type Tunables } from './options.js';
import type { Pad } from './pad.js';

export class GainStage {
  readonly #hist = new Float64Array(HIST_BINS);
  readonly #low: number;
  readonly #bin: number;

  constructor(t: Tunables) {
    this.#low = t.histLow;
    this.#bin = t.histBin;
  }

  /** gain[p] = mode of cur/ref over cells with a usable reference, refined by the mean around the peak. */
  estimate(pad: Pad, gain: Float64Array, p: number): void {
    const hist = this.#hist;
    hist.fill(0);
    const lo = this.#low;
    const bin = this.#bin;
    const cur = pad.cur;
    const ref = pad.ref;
    const prev = pad.prevMask;
    const n = pad.cells;
    let excluded = 0;
    for (let i = 0; i < n; i++) excluded += prev[i];
    // Last frame's contact is left out unless it covered most of the pad.
    const skipPrev = n - excluded >= n * 0.4 ? 1 : 0;
    let inRange = 0;
    let usable = 0;
    let ratioSum = 0;
    for (let i = 0; i < n; i++) {
      if (ref[i] < 12 || (skipPrev === 1 && prev[i] === 1)) continue;
      usable++;
      const r = cur[i] / ref[i];
      ratioSum += r;
      const b = Math.floor((r - lo) / bin);
      if (b >= 0 && b < HIST_BINS) {
        hist[b]++;
        inRange++;
      }
    }
    if (usable === 0) {
      gain[p] = 1;
      return;
    }
    // Most ratios outside the histogram: the light changed beyond any clip.
    if (inRange < usable * 0.25) {
      gain[p] = ratioSum / usable;
      return;
    }
    let best = 0;
    let bestScore = -1;
    for (let b = 0; b < HIST_BINS; b++) {
      const score = hist[b] * 2 + (b > 0 ? hist[b - 1] : 0) + (b < HIST_BINS - 1 ? hist[b + 1] : 0) + 0.5 * ((b > 1 ? hist[b - 2] : 0) + (b < HIST_BINS - 2 ? hist[b + 2] : 0));
      if (score > bestScore) {
        bestScore = score;
        best = b;
      }
    }
    const centre = lo + (best + 0.5) * bin;
    const halfWidth = 2.5 * bin;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (ref[i] < 12 || (skipPrev === 1 && prev[i] === 1)) continue;
      const r = cur[i] / ref[i];
      if (Math.abs(r - centre) <= halfWidth) {
        sum += r;
        count++;
      }
    }
    gain[p] = count > 0 ? sum / count : centre;
  }

  /** Divide the frame by gain[p]. */
  compensate(pad: Pad, gain: Float64Array, p: number): void {
    const inv = 1 / gain[p];
    const cur = pad.cur;
    for (let i = 0; i < pad.cells; i++) cur[i] *= inv;
  }

  /**
   * The fine correction: the median of cur/refShifted over interior cells (`margin` from the
   * border) outside last frame's contact, within 8 % of 1; the frame is divided by it and
   * gain[p] multiplied.
   */
  refine(pad: Pad, margin: number, gain: Float64Array, p: number): void {
    const scratch = pad.scratch;
    const cur = pad.cur;
    const refS = pad.refShifted;
    const prev = pad.prevMask;
    const cols = pad.cols;
    let interior = 0;
    let excluded = 0;
    for (let y = margin; y < pad.rows - margin; y++) {
      for (let x = margin; x < cols - margin; x++) {
        interior++;
        excluded += prev[y * cols + x];
      }
    }
    // Last frame's contact is left out unless it covered most of the pad.
    const skip = interior - excluded >= interior * 0.4 ? 1 : 2;
    let m = 0;
    for (let y = margin; y < pad.rows - margin; y++) {
      for (let x = margin; x < cols - margin; x++) {
        const i = y * cols + x;
        if (prev[i] === skip || refS[i] < 12) continue;
        const r = cur[i] / refS[i];
        if (r > 0.92 && r < 1.08) scratch[m++] = r;
      }
    }
    const fine = m >= 9 ? scratch[selectMedian(scratch, m)] : 1;
    gain[p] = gain[p] * fine;
    const inv = 1 / fine;
    for (let i = 0; i < pad.cells; i++) cur[i] *= inv;
  }
}
