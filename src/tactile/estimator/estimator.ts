/**
 * Touch from the wrist camera. Per fingertip ROI, each frame goes through these stages (one
 * file each, in this folder):
 *
 *  1. pad.ts: area-average the ROI into a grey working image (at most `workingSize` cells a
 *     side) and count clipped pixels;
 *  2. gain.ts: global gain against the no-contact reference, clipped to [1/gainClip, gainClip];
 *     outside the clip the frame is a lighting fault and the outputs hold;
 *  3. motion.ts: patch displacements against the reference and the whole-image (camera) motion,
 *     subtracted from shear and compensated in the difference map;
 *  4. difference.ts: frame minus the motion-compensated reference, box filtered over the
 *     marker pitch;
 *  5. contact.ts: the thresholded patch (threshold from noise.ts), its area, centroid, ellipse
 *     and force; the contact probability and the hysteresis state;
 *  6. shear.ts: shear net of the camera motion, and slip;
 *  7. noise.ts and reference.ts: without contact the noise is tracked and the reference adapts
 *     (frozen in contact and for releaseHoldMs after); DRIFT from the factory reference.
 *
 * Hand-written because no library estimates touch from pad deformation and the estimator must
 * allocate nothing per frame: every buffer is made at construction, and every per-frame double
 * lives in a typed array (V8 boxes doubles stored in object fields and context variables, and
 * doubles passed to or returned from calls it did not inline), one named array per quantity,
 * one slot per pad (see each stage's state).
 */
import type { FingertipDescription } from '../../robot/index.js';
import type { Frame } from '../../hal/types.js';
import { TouchFlag } from '../flags.js';
import { FrameClock } from './clock.js';
import { ContactStage } from './contact.js';
import { differenceMap } from './difference.js';
import { GainStage } from './gain.js';
import { MotionStage } from './motion.js';
import { NoiseStage } from './noise.js';
import { Tunables, type TouchEstimatorOptions } from './options.js';
import { Pad, sample } from './pad.js';
import { TouchReadoutArrays, type TouchReadout } from './readout.js';
import { ReferenceStage } from './reference.js';
import { shearAndSlip } from './shear.js';

export interface TouchEstimator extends TouchReadout {
  /** Estimate from packed RGB24 pixels; time advances one nominal frame period (options.fps). */
  update(frame: Uint8Array): void;
  /** Estimate from a frame: its timestamp drives the time constants, its sequence the DROPPED flag. */
  updateFrame(frame: Frame): void;
  /** Raise STALE on every pad when the last frame is older than staleAfterMs; true when stale. */
  checkStale(nowMs: number): boolean;
  /** Set or clear CAMERA_STALL on every pad (from the camera supervisor). */
  setCameraStalled(stalled: boolean): void;
  /** Collect a new no-contact reference from the next frames (the factory reference is kept). */
  resetReference(): void;
  /** Go back to the factory reference (the first one collected). */
  restoreFactoryReference(): void;
  readonly ready: boolean;
  /** Frames processed, frames reported missing by sequence gaps. */
  readonly frames: number;
  readonly dropped: number;
  /** Pads, in order, and their ROIs clamped to the image. */
  readonly pads: readonly { readonly name: string; readonly roi: readonly [number, number, number, number] }[];
}

class Estimator extends TouchReadoutArrays implements TouchEstimator {
  readonly pads: readonly { readonly name: string; readonly roi: readonly [number, number, number, number] }[];

  readonly #pads: Pad[];
  readonly #width: number;
  readonly #t: Tunables;
  readonly #clock = new FrameClock();
  readonly #gain: GainStage;
  readonly #motion: MotionStage;
  readonly #contact: ContactStage;
  readonly #noise: NoiseStage;
  readonly #reference: ReferenceStage;
  #frames = 0;
  #dropped = 0;
  #lastSequence = -1;
  #stalled = 0;

  constructor(fingertips: readonly FingertipDescription[], width: number, height: number, options: TouchEstimatorOptions) {
    super(fingertips.length);
    const t = new Tunables(fingertips, options);
    this.#t = t;
    this.#width = width;
    this.#pads = fingertips.map((f, i) => new Pad(f, width, height, t.workingSize, t.patches, t.searchRadius, t.calibration[i]));
    const pads = fingertips.length;
    this.#gain = new GainStage(t);
    this.#motion = new MotionStage(pads, t.searchRadius);
    this.#contact = new ContactStage(pads, t);
    this.#noise = new NoiseStage(pads);
    this.#reference = new ReferenceStage(pads, t);
    this.pads = this.#pads.map((p) => ({ name: p.name, roi: [p.roiX, p.roiY, p.roiWidth, p.roiHeight] as const }));
  }

  get ready(): boolean {
    return this.#reference.ready;
  }

  get frames(): number {
    return this.#frames;
  }

  get dropped(): number {
    return this.#dropped;
  }

  update(frame: Uint8Array): void {
    this.#clock.now[0] = this.#frames * this.#t.periodMs;
    this.#process(frame, -1);
  }

  updateFrame(frame: Frame): void {
    this.#clock.now[0] = frame.timestampMs;
    this.#process(frame.data, frame.sequence);
  }

  checkStale(nowMs: number): boolean {
    const stale = this.#frames === 0 || nowMs - this.#clock.lastFrame[0] > this.#t.staleAfterMs;
    for (let p = 0; p < this.flags.length; p++) this.flags[p] = stale ? this.flags[p] | TouchFlag.STALE : this.flags[p] & ~TouchFlag.STALE;
    return stale;
  }

  setCameraStalled(stalled: boolean): void {
    this.#stalled = stalled ? 1 : 0;
    for (let p = 0; p < this.flags.length; p++) {
      this.flags[p] = stalled ? this.flags[p] | TouchFlag.CAMERA_STALL : this.flags[p] & ~TouchFlag.CAMERA_STALL;
    }
  }

  resetReference(): void {
    this.#reference.reset(this.#pads);
  }

  restoreFactoryReference(): void {
    this.#reference.restoreFactory(this.#pads);
  }

  #process(data: Uint8Array, sequence: number): void {
    const clock = this.#clock;
    const now = clock.now[0];
    // Two stores, not one of a conditional: a merge of the field and a computed double may be
    // boxed when the field's representation is tagged.
    if (this.#frames === 0) clock.dt[0] = this.#t.periodMs;
    else clock.dt[0] = Math.max(0, now - clock.lastFrame[0]);
    clock.lastFrame[0] = now;
    this.#frames++;
    let frameFlags = this.#stalled ? TouchFlag.CAMERA_STALL : 0;
    if (sequence >= 0) {
      if (this.#lastSequence >= 0 && sequence > this.#lastSequence + 1) {
        this.#dropped += sequence - this.#lastSequence - 1;
        frameFlags |= TouchFlag.DROPPED;
      }
      this.#lastSequence = sequence;
    }
    if (this.#reference.ready) {
      for (let p = 0; p < this.#pads.length; p++) this.#estimate(p, data, frameFlags);
    } else {
      this.#collect(data, frameFlags);
    }
  }

  /** One frame of a reference being collected: outputs flagged NOT_READY. */
  #collect(data: Uint8Array, frameFlags: number): void {
    const pads = this.#pads;
    const reference = this.#reference;
    for (let p = 0; p < pads.length; p++) {
      const pad = pads[p];
      const saturated = sample(pad, data, this.#width) / pad.sampledPixels;
      this.flags[p] = frameFlags | TouchFlag.NOT_READY | (saturated > this.#t.saturationFraction ? TouchFlag.SATURATED : 0);
      reference.collect(pad, p, this.#motion, this.#contact.state[p]);
    }
    reference.seen++;
    if (!reference.ready) return;
    for (let p = 0; p < pads.length; p++) {
      reference.finish(pads[p], p, this.#noise);
      this.flags[p] = 0;
    }
  }

  /** One frame of pad p through the stages (numbered as in the header). */
  #estimate(p: number, data: Uint8Array, frameFlags: number): void {
    const pad = this.#pads[p];
    const t = this.#t;
    const motion = this.#motion;
    const contact = this.#contact;
    // 1. Sample.
    const saturated = sample(pad, data, this.#width) / pad.sampledPixels;
    let flags = frameFlags;
    if (saturated > t.saturationFraction) flags |= TouchFlag.SATURATED;

    // 2. Gain.
    this.#gain.estimate(pad, this.gain, p);
    const gain = this.gain[p];
    if (!(gain >= 1 / t.gainClip && gain <= t.gainClip)) flags |= TouchFlag.LIGHTING;
    if (this.drift[p] > t.driftWarn) flags |= TouchFlag.DRIFT;
    // Untrustworthy frame: hold the outputs, freeze the reference and the noise estimate.
    if ((flags & TouchFlag.LIGHTING) !== 0 || saturated > 0.1) {
      this.flags[p] = flags | (this.slip[p] ? TouchFlag.SLIP : 0);
      return;
    }
    this.#gain.compensate(pad, this.gain, p);

    // 3. Camera motion; 4. the difference map against the reference shifted by it, the gain
    // refined first against that reference.
    if (motion.measure(pad, p, this.#reference.cellNoise, contact.state[p]) === 0) motion.rebaseShear(p);
    this.motionX[p] = motion.u[p] * pad.cell;
    this.motionY[p] = motion.v[p] * pad.cell;
    motion.shiftReference(pad, p);
    this.#gain.refine(pad, motion.reach(p), this.gain, p);
    const margin = motion.border(p);
    differenceMap(pad, margin);

    // 5. Contact; 6. shear and slip.
    const patchFound = contact.patch(pad, p, margin, this.#noise.level, this);
    contact.hysteresis(p, this.#clock, this);
    shearAndSlip(pad, p, patchFound, contact, motion, t, this);
    if (this.slip[p]) flags |= TouchFlag.SLIP;

    // 7. Noise and reference.
    this.#settle(pad, p, margin, flags);
    pad.prevMask.set(pad.mask);
    this.flags[p] = flags;
  }

  /** Noise and reference: tracked and adapted only without contact. */
  #settle(pad: Pad, p: number, margin: number, flags: number): void {
    const contact = this.#contact;
    const noise = this.#noise;
    const clock = this.#clock;
    const adapting = clock.now[0] - contact.lastContactMs[p] >= this.#t.adaptAfterMs;
    if (contact.settled(p, clock, this)) {
      noise.track(pad, p, margin, adapting);
      // The camera still enough for the reference to adapt. Written out, not a method: a call
      // first made long after this function was optimized runs unoptimized and boxes.
      const still = Math.abs(this.#motion.u[p]) < 0.1 && Math.abs(this.#motion.v[p]) < 0.1;
      if (adapting && still && (flags & TouchFlag.SATURATED) === 0) {
        this.#reference.adapt(pad, p, contact.threshold, clock, this.drift);
      }
    } else {
      noise.rise(pad, p, margin, contact.state[p]);
    }
    if (contact.state[p] === 0 && this.contact[p] <= 0.5) noise.atOnset[p] = 0;
    this.noise[p] = noise.level[p];
  }
}

export function createTouchEstimator(
  fingertips: readonly FingertipDescription[],
  width: number,
  height: number,
  options: TouchEstimatorOptions = {},
): TouchEstimator {
  return new Estimator(fingertips, width, height, options);
}
