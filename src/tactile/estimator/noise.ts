/**
 * Noise of the filtered difference map: its robust spread (median |filtered| / 0.6745),
 * tracked exponentially while the pad is out of contact. In contact only the cells outside the
 * patch are measured, the noise may only rise, and never above 1.5x its value when the contact
 * began: a noise step cannot latch a false contact, and a long grip cannot inflate the threshold.
 */
import { selectMedian } from './median.js';
import type { Pad } from './pad.js';

export class NoiseStage {
  /** Per pad: the noise, grey levels (0 until the first reference is finished). */
  readonly level: Float64Array;
  /** Per pad: the noise when the current contact began (0 out of contact). */
  readonly atOnset: Float64Array;

  constructor(pads: number) {
    this.level = new Float64Array(pads);
    this.atOnset = new Float64Array(pads);
  }

  /** Out of contact: follow the spread of the interior (`margin` from the border), faster once `adapting`. */
  track(pad: Pad, p: number, margin: number, adapting: boolean): void {
    const rate = adapting ? 0.05 : 0.02;
    const scratch = pad.scratch;
    const db = pad.filtered;
    const cols = pad.cols;
    let m = 0;
    for (let y = margin; y < pad.rows - margin; y++) for (let x = margin; x < cols - margin; x++) scratch[m++] = Math.abs(db[y * cols + x]);
    if (m < 9) return;
    const sigma = scratch[selectMedian(scratch, m)] / 0.6745;
    this.level[p] = Math.max(0.05, this.level[p] + rate * (sigma - this.level[p]));
  }

  /** In contact (state `inContact`) or just released: only rise, from the interior cells outside the patch. */
  rise(pad: Pad, p: number, margin: number, inContact: number): void {
    if (inContact === 0 || this.atOnset[p] === 0) this.atOnset[p] = this.level[p];
    const scratch = pad.scratch;
    const db = pad.filtered;
    const mask = pad.mask;
    const cols = pad.cols;
    let m = 0;
    for (let y = margin; y < pad.rows - margin; y++) {
      for (let x = margin; x < cols - margin; x++) if (mask[y * cols + x] === 0) scratch[m++] = Math.abs(db[y * cols + x]);
    }
    if (m >= pad.cells * 0.2) {
      const sigma = scratch[selectMedian(scratch, m)] / 0.6745;
      if (sigma > this.level[p]) this.level[p] = Math.min(1.5 * this.atOnset[p], this.level[p] + 0.02 * (sigma - this.level[p]));
    }
  }
}
