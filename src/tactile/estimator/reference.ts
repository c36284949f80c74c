/**
 * The no-contact reference: the mean of the first referenceFrames frames, each aligned to the
 * first (so a camera moving at start does not blur it, nor inflate the noise estimate). It
 * adapts exponentially (adaptTimeMs) only after adaptAfterMs without contact and only in quiet
 * cells; it is frozen in contact and for releaseHoldMs after release (pads take 0.3-0.5 s to
 * recover). The first reference is kept as the factory reference; the mean drift from it
 * raises DRIFT above driftWarn grey levels.
 */
import type { FrameClock } from './clock.js';
import { choosePitch } from './difference.js';
import type { MotionStage } from './motion.js';
import type { NoiseStage } from './noise.js';
import type { Tunables } from './options.js';
import type { Pad } from './pad.js';

export class ReferenceStage {
  /** Frames collected into the reference being built (all pads alike). */
  seen = 0;
  /** Per pad: the per-cell noise of the reference frames, grey levels (the patches' variance floor). */
  readonly cellNoise: Float64Array;
  /** Per pad: 1 once the factory reference is taken. */
  readonly hasFactory: Uint8Array;
  readonly #t: Tunables;

  constructor(pads: number, t: Tunables) {
    this.cellNoise = new Float64Array(pads);
    this.hasFactory = new Uint8Array(pads);
    this.#t = t;
  }

  get ready(): boolean {
    return this.seen >= this.#t.referenceFrames;
  }

  /** Add this frame (sampled into pad.cur) to pad p's reference, aligned to the first frame. */
  collect(pad: Pad, p: number, motion: MotionStage, inContact: number): void {
    let aligned = pad.cur;
    if (this.seen === 0) {
      pad.ref.set(pad.cur);
    } else {
      motion.measure(pad, p, this.cellNoise, inContact);
      motion.shift(pad, p, -1, pad.cur, pad.tmp);
      aligned = pad.tmp;
    }
    for (let i = 0; i < pad.cells; i++) {
      pad.refSum[i] += aligned[i];
      pad.refSq[i] += aligned[i] * aligned[i];
    }
  }

  /** The reference of pad p is complete: its mean, cell noise, box width and the starting noise. */
  finish(pad: Pad, p: number, noise: NoiseStage): void {
    const frames = this.#t.referenceFrames;
    let variance = 0;
    for (let i = 0; i < pad.cells; i++) {
      const mean = pad.refSum[i] / frames;
      pad.ref[i] = mean;
      variance += Math.max(0, pad.refSq[i] / frames - mean * mean);
    }
    // First reference after start is the factory reference (kept for drift warnings).
    if (this.hasFactory[p] === 0) {
      pad.factory.set(pad.ref);
      this.hasFactory[p] = 1;
    }
    const cellNoise = Math.sqrt((variance / pad.cells) * (frames / Math.max(1, frames - 1)));
    this.cellNoise[p] = cellNoise;
    choosePitch(pad, this.#t.smoothing);
    // The box filter of (frame - reference) averages box^2 cells, each with the frame's noise
    // plus the reference's (1/frames of it).
    noise.level[p] = Math.max(0.05, (cellNoise * Math.sqrt(1 + 1 / frames)) / pad.box);
    pad.prevMask.fill(0);
  }

  /**
   * Slow adaptation of pad p's reference in its quiet cells (|filtered| below `quiet[p]`), and
   * the drift from the factory reference into drift[p].
   */
  adapt(pad: Pad, p: number, quiet: Float64Array, clock: FrameClock, drift: Float64Array): void {
    const threshold = quiet[p];
    const alpha = Math.min(1, clock.dt[0] / this.#t.adaptTimeMs);
    const ref = pad.ref;
    const cur = pad.cur;
    const db = pad.filtered;
    const factory = pad.factory;
    let sum = 0;
    for (let i = 0; i < pad.cells; i++) {
      if (Math.abs(db[i]) < threshold) ref[i] += alpha * (cur[i] - ref[i]);
      sum += Math.abs(ref[i] - factory[i]);
    }
    drift[p] = sum / pad.cells;
  }

  /** Collect a new reference from the next frames (the factory reference is kept). */
  reset(pads: readonly Pad[]): void {
    this.seen = 0;
    for (const pad of pads) {
      pad.refSum.fill(0);
      pad.refSq.fill(0);
    }
  }

  /** Go back to the factory reference. */
  restoreFactory(pads: readonly Pad[]): void {
    for (const pad of pads) pad.ref.set(pad.factory);
  }
}
