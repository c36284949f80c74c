/**
 * The estimator's options as users give them, and `Tunables`, the same resolved once (defaults,
 * clamps, robot.yaml calibration per pad) into the constants the stages read.
 */
import type { FingertipDescription } from '../../robot/index.js';
import type { ForceCalibration } from '../calibration.js';

/** Bins of the gain histogram (ratios between 1/(1.25 gainClip) and 1.25 gainClip). */
export const HIST_BINS = 256;

export interface TouchEstimatorOptions {
  /** Working image: at most this many cells along the ROI's longer side (area average). Default 32. */
  readonly workingSize?: number;
  /** @deprecated the first version's grid; taken as workingSize when that is not given. */
  readonly grid?: number;
  /** Frames averaged into the no-contact reference. Default 8. */
  readonly referenceFrames?: number;
  /** Mean grey-level change over the pad that counts as force proxy 1. Default 21 (~1 at a full grip in the simulator). */
  readonly forceScale?: number;
  /** Contact threshold in noise standard deviations of the filtered difference map. Default 4. */
  readonly thresholdSigma?: number;
  /** Lowest contact threshold, grey levels. Default 1.5. */
  readonly minThreshold?: number;
  /** Contact area (fraction of the pad) at which the contact probability is 0.5. Default 0.012. */
  readonly minArea?: number;
  /** Frames with probability > 0.5 before the contact state turns on. Default 2. */
  readonly onFrames?: number;
  /** Probability that turns the contact state on at once, without waiting onFrames (>= 1 disables). Default 0.99. */
  readonly instantOn?: number;
  /** Frames with probability <= 0.5 before it turns off. Default 2. */
  readonly offFrames?: number;
  /** Gain clip: global brightness ratios outside [1/gainClip, gainClip] are a lighting fault. Default 2. */
  readonly gainClip?: number;
  /** Fraction of clipped ROI pixels that raises SATURATED. Default 0.02; above 10 % the outputs hold. */
  readonly saturationFraction?: number;
  /** Reference frozen this long after release. Default 400 ms. */
  readonly releaseHoldMs?: number;
  /** No contact for this long before the reference adapts. Default 1000 ms. */
  readonly adaptAfterMs?: number;
  /** Time constant of reference adaptation. Default 2000 ms. */
  readonly adaptTimeMs?: number;
  /** Mean |adapted - factory reference| (grey levels) that raises DRIFT. Default 6. */
  readonly driftWarn?: number;
  /** No frame for this long: checkStale() raises STALE. Default 200 ms. */
  readonly staleAfterMs?: number;
  /** Frame rate assumed by update() when no timestamps are given. Default 30. */
  readonly fps?: number;
  /**
   * Box filter of the difference map, working cells: 'auto' (default) takes the marker pitch
   * from the reference's autocorrelation (3 when the pad has no periodic pattern).
   */
  readonly smoothing?: number | 'auto';
  /** Patches per side for displacement (shear, slip, camera motion). Default 4. */
  readonly patches?: number;
  /** Displacement search radius, working cells (keep it below half the marker pitch). Default 2. */
  readonly searchRadius?: number;
  /** RMS non-rigid residual of the contact patches' displacements (working cells) that flags slip. Default 0.3. */
  readonly slipResidual?: number;
  /** Per pad (in the order given): force calibration; default from each fingertip's calibration.force. */
  readonly calibration?: readonly (ForceCalibration | undefined)[];
}

/** The options resolved: every field is a constant of one estimator. */
export class Tunables {
  readonly workingSize: number;
  readonly patches: number;
  readonly searchRadius: number;
  readonly referenceFrames: number;
  readonly onFrames: number;
  readonly offFrames: number;
  /** Box filter width of the difference map, cells; 0: the marker pitch ('auto'). */
  readonly smoothing: number;
  readonly forceScale: number;
  readonly minThreshold: number;
  readonly gainClip: number;
  readonly saturationFraction: number;
  readonly releaseHoldMs: number;
  readonly adaptAfterMs: number;
  readonly adaptTimeMs: number;
  readonly driftWarn: number;
  readonly staleAfterMs: number;
  /** Nominal frame period of update(), ms. */
  readonly periodMs: number;
  readonly slipResidual: number;
  readonly instantOn: number;
  /** Gain histogram: lower edge and bin width. */
  readonly histLow: number;
  readonly histBin: number;
  /** Per pad: contact threshold in noise sigmas, and the area at contact probability 0.5. */
  readonly thresholdSigma: Float64Array;
  readonly minArea: Float64Array;
  /** Per pad: force calibration, if any. */
  readonly calibration: readonly (ForceCalibration | undefined)[];

  constructor(fingertips: readonly FingertipDescription[], options: TouchEstimatorOptions) {
    this.workingSize = Math.max(4, Math.round(options.workingSize ?? options.grid ?? 32));
    this.patches = Math.max(1, Math.round(options.patches ?? 4));
    this.searchRadius = Math.max(1, Math.round(options.searchRadius ?? 2));
    this.referenceFrames = Math.max(1, Math.round(options.referenceFrames ?? 8));
    this.onFrames = Math.max(1, Math.round(options.onFrames ?? 2));
    this.offFrames = Math.max(1, Math.round(options.offFrames ?? 2));
    this.smoothing = options.smoothing === undefined || options.smoothing === 'auto' ? 0 : Math.max(1, Math.round(options.smoothing));
    const defaultSigma = options.thresholdSigma ?? 4;
    const defaultArea = options.minArea ?? 0.012;
    this.thresholdSigma = Float64Array.from(fingertips, (f) => (options.thresholdSigma === undefined ? (f.calibration?.threshold_sigma ?? defaultSigma) : defaultSigma));
    this.minArea = Float64Array.from(fingertips, (f) => (options.minArea === undefined ? (f.calibration?.min_area ?? defaultArea) : defaultArea));
    this.calibration = fingertips.map((f, i) => (options.calibration ? options.calibration[i] : f.calibration?.force));
    const clip = Math.max(1.01, options.gainClip ?? 2);
    this.forceScale = options.forceScale ?? 21;
    this.minThreshold = options.minThreshold ?? 1.5;
    this.gainClip = clip;
    this.saturationFraction = options.saturationFraction ?? 0.02;
    this.releaseHoldMs = options.releaseHoldMs ?? 400;
    this.adaptAfterMs = options.adaptAfterMs ?? 1000;
    this.adaptTimeMs = options.adaptTimeMs ?? 2000;
    this.driftWarn = options.driftWarn ?? 6;
    this.staleAfterMs = options.staleAfterMs ?? 200;
    this.periodMs = 1000 / (options.fps ?? 30);
    this.slipResidual = options.slipResidual ?? 0.3;
    this.histLow = 1 / (clip * 1.25);
    this.histBin = (clip * 1.25 - 1 / (clip * 1.25)) / HIST_BINS;
    this.instantOn = options.instantOn ?? 0.99;
  }
}
