/**
 * The contact patch: the filtered difference map thresholded at max(minThreshold,
 * thresholdSigma * noise); its area, peak, centroid and ellipse (second moments); the force
 * proxy (summed change over the patch, calibrated by a power law when the pad has a
 * calibration); the contact probability from the area against minArea, and a contact state with
 * hysteresis (on after onFrames frames above 0.5, or at once above instantOn; off after
 * offFrames below).
 */
import type { FrameClock } from './clock.js';
import type { Tunables } from './options.js';
import type { Pad } from './pad.js';
import type { TouchReadout } from './readout.js';

export class ContactStage {
  /** Per pad: the hysteresis state (1 in contact) and the frames in a row above / below 0.5. */
  readonly state: Uint8Array;
  readonly onCount: Float64Array;
  readonly offCount: Float64Array;
  /** Per pad: last frame in contact (state on or probability > 0.5), and last release, ms. */
  readonly lastContactMs: Float64Array;
  readonly lastReleaseMs: Float64Array;
  /** Per pad, this frame: the contact threshold, grey levels. */
  readonly threshold: Float64Array;
  /** Per pad, this frame: the contact centroid, working cells (0, 0 without contact). */
  readonly cellX: Float64Array;
  readonly cellY: Float64Array;
  readonly #t: Tunables;

  constructor(pads: number, t: Tunables) {
    this.state = new Uint8Array(pads);
    this.onCount = new Float64Array(pads);
    this.offCount = new Float64Array(pads);
    this.lastContactMs = new Float64Array(pads).fill(-Infinity);
    this.lastReleaseMs = new Float64Array(pads).fill(-Infinity);
    this.threshold = new Float64Array(pads);
    this.cellX = new Float64Array(pads);
    this.cellY = new Float64Array(pads);
    this.#t = t;
  }

  /**
   * Threshold pad.filtered (ignoring `margin` border cells) at the noise of pad p into
   * pad.mask; write area, peak, centroid, ellipse, proxy and force. True when some cell is over
   * the threshold.
   */
  patch(pad: Pad, p: number, margin: number, noise: Float64Array, out: TouchReadout): boolean {
    const t = this.#t;
    const n = pad.cells;
    const cols = pad.cols;
    const db = pad.filtered;
    const threshold = Math.max(t.minThreshold, t.thresholdSigma[p] * noise[p]);
    this.threshold[p] = threshold;
    const mask = pad.mask;
    let count = 0;
    let peak = 0;
    let sum = 0;
    let wsum = 0;
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(db[i]);
      if (margin > 0 && pad.onBorder(i % cols, (i / cols) | 0, margin)) {
        mask[i] = 0;
        continue;
      }
      if (a > peak) peak = a;
      if (a > threshold) {
        mask[i] = 1;
        count++;
        sum += a;
        const w = a - threshold;
        wsum += w;
        mx += w * (i % cols);
        my += w * ((i / cols) | 0);
      } else {
        mask[i] = 0;
      }
    }
    out.area[p] = count / n;
    out.peak[p] = peak;
    const s = pad.cell;
    if (wsum > 0) {
      mx /= wsum;
      my /= wsum;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let i = 0; i < n; i++) {
        if (mask[i] === 0) continue;
        const w = Math.abs(db[i]) - threshold;
        const dx = (i % cols) - mx;
        const dy = ((i / cols) | 0) - my;
        sxx += w * dx * dx;
        syy += w * dy * dy;
        sxy += w * dx * dy;
      }
      sxx = sxx / wsum + 1 / 12;
      syy = syy / wsum + 1 / 12;
      sxy /= wsum;
      const mean = (sxx + syy) / 2;
      const spread = Math.sqrt(((sxx - syy) / 2) ** 2 + sxy * sxy);
      out.centroidX[p] = pad.roiX + (mx + 0.5) * s;
      out.centroidY[p] = pad.roiY + (my + 0.5) * s;
      out.major[p] = 2 * Math.sqrt(mean + spread) * s;
      out.minor[p] = 2 * Math.sqrt(Math.max(0, mean - spread)) * s;
      out.angle[p] = 0.5 * Math.atan2(2 * sxy, sxx - syy);
    } else {
      out.centroidX[p] = Number.NaN;
      out.centroidY[p] = Number.NaN;
      out.major[p] = 0;
      out.minor[p] = 0;
      out.angle[p] = 0;
    }
    this.cellX[p] = mx;
    this.cellY[p] = my;
    const proxy = sum / n / t.forceScale;
    out.proxy[p] = proxy;
    out.force[p] = pad.calibrated ? (proxy > 0 ? pad.calibration[0] * Math.pow(proxy, pad.calibration[1]) : 0) : proxy;
    return wsum > 0;
  }

  /** The contact probability of pad p from its area, and the hysteresis state from it. */
  hysteresis(p: number, clock: FrameClock, out: TouchReadout): void {
    const t = this.#t;
    const now = clock.now[0];
    const probability = 1 / (1 + Math.exp(-4 * (out.area[p] / t.minArea[p] - 1)));
    out.contact[p] = probability;
    if (probability > 0.5) {
      this.onCount[p]++;
      this.offCount[p] = 0;
      if (this.onCount[p] >= t.onFrames || probability >= t.instantOn) this.state[p] = 1;
    } else {
      this.offCount[p]++;
      this.onCount[p] = 0;
      if (this.offCount[p] >= t.offFrames && this.state[p] === 1) {
        this.state[p] = 0;
        this.lastReleaseMs[p] = now;
      }
    }
    if (probability > 0.5 || this.state[p] === 1) this.lastContactMs[p] = now;
    out.inContact[p] = this.state[p];
  }

  /** Pad p is out of contact, its probability too, and the release hold has passed. */
  settled(p: number, clock: FrameClock, out: TouchReadout): boolean {
    return this.state[p] === 0 && out.contact[p] <= 0.5 && clock.now[0] - this.lastReleaseMs[p] >= this.#t.releaseHoldMs;
  }
}
