/**
 * Touch from the wrist camera. Per fingertip ROI, each frame:
 *
 *  1. area-average the ROI into a grey working image (at most `workingSize` cells a side) and
 *     count clipped pixels;
 *  2. global gain against the no-contact reference: the mode of the per-cell ratios (a
 *     histogram peak, so a contact patch darkening up to ~60 % of the pad does not pull it),
 *     clipped to [1/gainClip, gainClip]; outside the clip the frame is a lighting fault and the
 *     outputs hold;
 *  3. patch displacements against the reference by normalized cross-correlation over a small
 *     search window with sub-cell parabola refinement (reference, not the previous frame, so
 *     nothing accumulates); the median displacement of patches outside the contact is the
 *     whole-image (camera) motion, subtracted from shear and compensated in the difference map;
 *  4. difference map = gain-compensated frame minus the motion-compensated reference, box
 *     box filtered over the marker pitch, thresholded at max(minThreshold, thresholdSigma * noise) where noise is the
 *     filtered map's robust spread (median absolute value), tracked while there is no contact;
 *  5. contact area, peak, centroid and ellipse (second moments) of the thresholded map; contact
 *     probability from the area against minArea; a contact state with hysteresis (on after
 *     onFrames frames above 0.5, or at once above instantOn; off after offFrames below); force proxy = summed change over
 *     the patch, calibrated by a power law when the pad has a calibration;
 *  6. shear = contact-weighted mean patch displacement net of the camera motion; slip when the
 *     contact patches' displacements do not fit a rigid motion (translation, rotation and the
 *     uniform spread of pressing);
 *  7. the reference adapts (exponentially, adaptTimeMs) only after adaptAfterMs without contact
 *     and only in quiet cells; it is frozen in contact and for releaseHoldMs after release (pads
 *     take 0.3-0.5 s to recover). The first reference is kept as the factory reference; the
 *     mean drift from it raises DRIFT above driftWarn grey levels.
 *
 * Hand-written because no library estimates touch from pad deformation and the estimator must
 * allocate nothing per frame: every buffer is made here, every per-frame double lives in a
 * typed array (V8 boxes doubles stored in object fields and context variables).
 */
import type { FingertipDescription } from '../../src/robot/index.js';
import type { Frame } from '../../src/hal/types.js';
import type { ForceCalibration } from '../../src/tactile/calibration.js';
import { TouchFlag } from '../../src/tactile/flags.js';

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

/** The per-pad outputs; every array has one slot per pad, in the order the pads were given. */
export interface TouchReadout {
  /** Contact probability 0..1 (what the first version called contact; > 0.5 means touching). */
  readonly contact: Float64Array;
  /** Contact state with hysteresis: 1 in contact. */
  readonly inContact: Uint8Array;
  /** Force: calibrated (unit of the calibration) when the pad has one, else the proxy. */
  readonly force: Float64Array;
  /** Uncalibrated force proxy, ~1 at a full grip in the simulator. */
  readonly proxy: Float64Array;
  /** Fraction of the pad in contact, 0..1. */
  readonly area: Float64Array;
  /** Largest change in the filtered difference map, grey levels. */
  readonly peak: Float64Array;
  /** Contact centroid, image pixels (NaN without contact). */
  readonly centroidX: Float64Array;
  readonly centroidY: Float64Array;
  /** Contact ellipse: semi-axes (image pixels; a uniform disc of radius r gives r, r) and major-axis angle (rad). */
  readonly major: Float64Array;
  readonly minor: Float64Array;
  readonly angle: Float64Array;
  /** Shear: contact-weighted displacement against the reference net of camera motion, image pixels. */
  readonly shearX: Float64Array;
  readonly shearY: Float64Array;
  /** Whole-image (camera) motion seen in the pad, image pixels. */
  readonly motionX: Float64Array;
  readonly motionY: Float64Array;
  /** 1 while slipping (also TouchFlag.SLIP). */
  readonly slip: Uint8Array;
  /** RMS non-rigid (tangential) motion of the contact patches, working cells: slip when above slipResidual. */
  readonly slipResidual: Float64Array;
  /** Global gain of this frame against the reference (before the clip). */
  readonly gain: Float64Array;
  /** Noise of the filtered difference map, grey levels. */
  readonly noise: Float64Array;
  /** Mean |reference - factory reference|, grey levels. */
  readonly drift: Float64Array;
  /** TouchFlag bits. */
  readonly flags: Uint16Array;
}

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

// Per-pad doubles, in one Float64Array per pad.
const S_GAIN = 0;
const S_NOISE = 1;
const S_LAST_CONTACT = 2;
const S_LAST_RELEASE = 3;
// slot 4 is free
const S_GU = 5;
const S_GV = 6;
const S_CELL_NOISE = 7;
const S_NOISE_AT_ONSET = 8;
const S_HELD_MOTION = 9;
const S_HU = 10;
const S_HV = 11;
// Slots that carry doubles into and out of calls (V8 boxes double arguments and return values).
const S_SAT = 12;
const S_GAIN0 = 13;
const S_FINE = 14;
const S_SU = 15;
const S_SV = 16;
const S_MX = 17;
const S_MY = 18;
const S_RATE = 19;
const S_QUIET = 20;
const S_TMP = 21;
const S_SIZE = 22;

const HIST_BINS = 256;

class Pad {
  readonly name: string;
  readonly rx: number;
  readonly ry: number;
  readonly rw: number;
  readonly rh: number;
  /** ROI pixels per working cell side. */
  readonly s: number;
  readonly gw: number;
  readonly gh: number;
  readonly n: number;
  readonly cur: Float64Array;
  readonly refSum: Float64Array;
  readonly refSq: Float64Array;
  readonly ref: Float64Array;
  readonly factory: Float64Array;
  readonly refS: Float64Array;
  readonly dd: Float64Array;
  readonly tmp: Float64Array;
  readonly db: Float64Array;
  readonly scratch: Float64Array;
  readonly mask: Uint8Array;
  readonly prevMask: Uint8Array;
  readonly st = new Float64Array(S_SIZE);
  // Patches.
  readonly patchCount: number;
  readonly hx: number;
  readonly hy: number;
  readonly pcx: Int32Array;
  readonly pcy: Int32Array;
  readonly pu: Float64Array;
  readonly pv: Float64Array;
  readonly pcov: Float64Array;
  readonly pvalid: Uint8Array;
  readonly ncc: Float64Array;
  calibrated: boolean;
  readonly calibration: Float64Array;
  /** Box filter width of the difference map, cells (the marker pitch). */
  box = 3;
  onCount = 0;
  offCount = 0;
  inContact = 0;

  constructor(
    fingertip: FingertipDescription,
    width: number,
    height: number,
    workingSize: number,
    patches: number,
    radius: number,
    calibration: ForceCalibration | undefined,
  ) {
    this.name = fingertip.name;
    const [x, y, w, h] = fingertip.roi;
    this.rx = Math.min(Math.max(0, x), width - 1);
    this.ry = Math.min(Math.max(0, y), height - 1);
    this.rw = Math.max(1, Math.min(w, width - this.rx));
    this.rh = Math.max(1, Math.min(h, height - this.ry));
    this.s = Math.max(1, Math.ceil(Math.max(this.rw, this.rh) / workingSize));
    this.gw = Math.max(1, Math.floor(this.rw / this.s));
    this.gh = Math.max(1, Math.floor(this.rh / this.s));
    this.n = this.gw * this.gh;
    const n = this.n;
    this.cur = new Float64Array(n);
    this.refSum = new Float64Array(n);
    this.refSq = new Float64Array(n);
    this.ref = new Float64Array(n);
    this.factory = new Float64Array(n);
    this.refS = new Float64Array(n);
    this.dd = new Float64Array(n);
    this.tmp = new Float64Array(n);
    this.db = new Float64Array(n);
    this.scratch = new Float64Array(Math.max(n, HIST_BINS));
    this.mask = new Uint8Array(n);
    this.prevMask = new Uint8Array(n);
    // Patch windows (2hx+1)x(2hy+1) centred on a per-side grid, inside the search margin.
    const per = (span: number): number => Math.max(2, Math.floor((span - 2 * radius) / patches / 2));
    this.hx = per(this.gw);
    this.hy = per(this.gh);
    const fitsX = this.gw >= 2 * (this.hx + radius) + 1;
    const fitsY = this.gh >= 2 * (this.hy + radius) + 1;
    const px = fitsX ? patches : 0;
    const py = fitsY ? patches : 0;
    this.patchCount = px * py;
    this.pcx = new Int32Array(this.patchCount);
    this.pcy = new Int32Array(this.patchCount);
    const place = (k: number, count: number, half: number, span: number): number => {
      const lo = radius + half;
      const hi = span - 1 - radius - half;
      return count <= 1 ? Math.round((lo + hi) / 2) : Math.round(lo + ((hi - lo) * k) / (count - 1));
    };
    for (let j = 0; j < py; j++) {
      for (let i = 0; i < px; i++) {
        this.pcx[j * px + i] = place(i, px, this.hx, this.gw);
        this.pcy[j * px + i] = place(j, py, this.hy, this.gh);
      }
    }
    this.pu = new Float64Array(this.patchCount);
    this.pv = new Float64Array(this.patchCount);
    this.pcov = new Float64Array(this.patchCount);
    this.pvalid = new Uint8Array(this.patchCount);
    this.ncc = new Float64Array((2 * radius + 1) * (2 * radius + 1));
    this.calibrated = calibration !== undefined;
    this.calibration = Float64Array.of(calibration?.scale ?? 1, calibration?.exponent ?? 1);
    this.st[S_GAIN] = 1;
    this.st[S_LAST_CONTACT] = -Infinity;
    this.st[S_LAST_RELEASE] = -Infinity;
  }
}

/**
 * Median of the first n values of `a` (reorders them) into out[slot]; quickselect. The result
 * goes through a typed array because V8 boxes a double returned from a call it did not inline.
 */
function median(a: Float64Array, n: number, out: Float64Array, slot: number): void {
  if (n <= 0) {
    out[slot] = 0;
    return;
  }
  const k = n >> 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  out[slot] = a[k];
}

class Estimator implements TouchEstimator {
  readonly contact: Float64Array;
  readonly inContact: Uint8Array;
  readonly force: Float64Array;
  readonly proxy: Float64Array;
  readonly area: Float64Array;
  readonly peak: Float64Array;
  readonly centroidX: Float64Array;
  readonly centroidY: Float64Array;
  readonly major: Float64Array;
  readonly minor: Float64Array;
  readonly angle: Float64Array;
  readonly shearX: Float64Array;
  readonly shearY: Float64Array;
  readonly motionX: Float64Array;
  readonly motionY: Float64Array;
  readonly slip: Uint8Array;
  readonly slipResidual: Float64Array;
  readonly gain: Float64Array;
  readonly noise: Float64Array;
  readonly drift: Float64Array;
  readonly flags: Uint16Array;
  readonly pads: readonly { readonly name: string; readonly roi: readonly [number, number, number, number] }[];

  readonly #pads: Pad[];
  readonly #width: number;
  readonly #referenceFrames: number;
  readonly #radius: number;
  readonly #onFrames: number;
  readonly #offFrames: number;
  readonly #smoothing: number;
  /** Tunables and per-frame times, in one typed array (see the T_ indices). */
  readonly #t: Float64Array;
  readonly #hist = new Float64Array(HIST_BINS);
  #seen = 0;
  #frames = 0;
  #dropped = 0;
  #lastSequence = -1;
  #stalled = 0;

  constructor(fingertips: readonly FingertipDescription[], width: number, height: number, options: TouchEstimatorOptions) {
    const workingSize = Math.max(4, Math.round(options.workingSize ?? options.grid ?? 32));
    const patches = Math.max(1, Math.round(options.patches ?? 4));
    this.#radius = Math.max(1, Math.round(options.searchRadius ?? 2));
    this.#width = width;
    this.#referenceFrames = Math.max(1, Math.round(options.referenceFrames ?? 8));
    this.#onFrames = Math.max(1, Math.round(options.onFrames ?? 2));
    this.#smoothing = options.smoothing === undefined || options.smoothing === 'auto' ? 0 : Math.max(1, Math.round(options.smoothing));
    this.#offFrames = Math.max(1, Math.round(options.offFrames ?? 2));
    this.#pads = fingertips.map(
      (f, i) =>
        new Pad(f, width, height, workingSize, patches, this.#radius, options.calibration ? options.calibration[i] : f.calibration?.force),
    );
    const defaultSigma = options.thresholdSigma ?? 4;
    const defaultArea = options.minArea ?? 0.012;
    this.#sigma = Float64Array.from(fingertips, (f) => (options.thresholdSigma === undefined ? (f.calibration?.threshold_sigma ?? defaultSigma) : defaultSigma));
    this.#minArea = Float64Array.from(fingertips, (f) => (options.minArea === undefined ? (f.calibration?.min_area ?? defaultArea) : defaultArea));
    const clip = Math.max(1.01, options.gainClip ?? 2);
    this.#t = Float64Array.of(
      options.forceScale ?? 21,
      options.minThreshold ?? 1.5,
      clip,
      options.saturationFraction ?? 0.02,
      options.releaseHoldMs ?? 400,
      options.adaptAfterMs ?? 1000,
      options.adaptTimeMs ?? 2000,
      options.driftWarn ?? 6,
      options.staleAfterMs ?? 200,
      1000 / (options.fps ?? 30),
      options.slipResidual ?? 0.3,
      0, // T_NOW
      -Infinity, // T_LAST_FRAME
      0, // T_DT
      1 / (clip * 1.25), // T_HIST_LO
      (clip * 1.25 - 1 / (clip * 1.25)) / HIST_BINS, // T_HIST_BIN
      options.instantOn ?? 0.99,
    );
    const pads = fingertips.length;
    this.contact = new Float64Array(pads);
    this.inContact = new Uint8Array(pads);
    this.force = new Float64Array(pads);
    this.proxy = new Float64Array(pads);
    this.area = new Float64Array(pads);
    this.peak = new Float64Array(pads);
    this.centroidX = new Float64Array(pads).fill(Number.NaN);
    this.centroidY = new Float64Array(pads).fill(Number.NaN);
    this.major = new Float64Array(pads);
    this.minor = new Float64Array(pads);
    this.angle = new Float64Array(pads);
    this.shearX = new Float64Array(pads);
    this.shearY = new Float64Array(pads);
    this.motionX = new Float64Array(pads);
    this.motionY = new Float64Array(pads);
    this.slip = new Uint8Array(pads);
    this.slipResidual = new Float64Array(pads);
    this.gain = new Float64Array(pads).fill(1);
    this.noise = new Float64Array(pads);
    this.drift = new Float64Array(pads);
    this.flags = new Uint16Array(pads).fill(TouchFlag.NOT_READY);
    this.pads = this.#pads.map((p) => ({ name: p.name, roi: [p.rx, p.ry, p.rw, p.rh] as const }));
  }

  readonly #sigma: Float64Array;
  readonly #minArea: Float64Array;

  get ready(): boolean {
    return this.#seen >= this.#referenceFrames;
  }

  get frames(): number {
    return this.#frames;
  }

  get dropped(): number {
    return this.#dropped;
  }

  update(frame: Uint8Array): void {
    const t = this.#t;
    t[T_NOW] = this.#frames * t[T_PERIOD];
    this.#process(frame, -1);
  }

  updateFrame(frame: Frame): void {
    this.#t[T_NOW] = frame.timestampMs;
    this.#process(frame.data, frame.sequence);
  }

  checkStale(nowMs: number): boolean {
    const stale = this.#frames === 0 || nowMs - this.#t[T_LAST_FRAME] > this.#t[T_STALE];
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
    this.#seen = 0;
    for (const pad of this.#pads) {
      pad.refSum.fill(0);
      pad.refSq.fill(0);
    }
  }

  restoreFactoryReference(): void {
    for (const pad of this.#pads) pad.ref.set(pad.factory);
  }

  #process(data: Uint8Array, sequence: number): void {
    const t = this.#t;
    const now = t[T_NOW];
    t[T_DT] = this.#frames === 0 ? t[T_PERIOD] : Math.max(0, now - t[T_LAST_FRAME]);
    t[T_LAST_FRAME] = now;
    this.#frames++;
    let frameFlags = this.#stalled ? TouchFlag.CAMERA_STALL : 0;
    if (sequence >= 0) {
      if (this.#lastSequence >= 0 && sequence > this.#lastSequence + 1) {
        this.#dropped += sequence - this.#lastSequence - 1;
        frameFlags |= TouchFlag.DROPPED;
      }
      this.#lastSequence = sequence;
    }
    const pads = this.#pads;
    if (this.#seen < this.#referenceFrames) {
      for (let p = 0; p < pads.length; p++) {
        this.#sample(pads[p], data);
        const saturated = pads[p].st[S_SAT];
        this.flags[p] = frameFlags | TouchFlag.NOT_READY | (saturated > t[T_SATURATION] ? TouchFlag.SATURATED : 0);
        const pad = pads[p];
        // Reference frames are aligned to the first one, so a camera moving at start does not
        // blur the reference (nor inflate the noise estimate).
        let aligned = pad.cur;
        if (this.#seen === 0) {
          pad.ref.set(pad.cur);
        } else {
          pad.st[S_GU] = 0;
          pad.st[S_GV] = 0;
          this.#displacements(pad);
          this.#cameraMotion(pad);
          this.#refineMotion(pad);
          pad.st[S_SU] = -pad.st[S_GU];
          pad.st[S_SV] = -pad.st[S_GV];
          this.#shift(pad, pad.cur, pad.tmp);
          aligned = pad.tmp;
        }
        for (let i = 0; i < pad.n; i++) {
          pad.refSum[i] += aligned[i];
          pad.refSq[i] += aligned[i] * aligned[i];
        }
      }
      this.#seen++;
      if (this.#seen === this.#referenceFrames) for (let p = 0; p < pads.length; p++) this.#finishReference(p);
      return;
    }
    for (let p = 0; p < pads.length; p++) this.#estimate(p, data, frameFlags);
  }

  #finishReference(p: number): void {
    const pad = this.#pads[p];
    const frames = this.#referenceFrames;
    let variance = 0;
    for (let i = 0; i < pad.n; i++) {
      const mean = pad.refSum[i] / frames;
      pad.ref[i] = mean;
      variance += Math.max(0, pad.refSq[i] / frames - mean * mean);
    }
    // First reference after start is the factory reference (kept for drift warnings).
    if (pad.st[S_NOISE] === 0) pad.factory.set(pad.ref);
    const cellNoise = Math.sqrt((variance / pad.n) * (frames / Math.max(1, frames - 1)));
    pad.st[S_CELL_NOISE] = cellNoise;
    this.#choosePitch(pad);
    // The box filter of (frame - reference) averages box^2 cells, each with the frame's noise
    // plus the reference's (1/frames of it).
    pad.st[S_NOISE] = Math.max(0.05, (cellNoise * Math.sqrt(1 + 1 / frames)) / pad.box);
    pad.st[S_GAIN] = 1;
    pad.prevMask.fill(0);
    this.flags[p] = 0;
  }

  /** Area-average the ROI into pad.cur (grey); the fraction of clipped pixels goes to st[S_SAT]. */
  #sample(pad: Pad, data: Uint8Array): void {
    const width = this.#width;
    const s = pad.s;
    const gw = pad.gw;
    const cur = pad.cur;
    cur.fill(0);
    let clipped = 0;
    const rows = pad.gh * s;
    const cols = gw * s;
    for (let y = 0; y < rows; y++) {
      const rowBase = (pad.ry + y) * width + pad.rx;
      const cellRow = ((y / s) | 0) * gw;
      for (let x = 0; x < cols; x++) {
        const o = 3 * (rowBase + x);
        const r = data[o];
        const g = data[o + 1];
        const b = data[o + 2];
        if (r >= 250 || g >= 250 || b >= 250) clipped++;
        cur[cellRow + ((x / s) | 0)] += r + g + b;
      }
    }
    const scale = 1 / (3 * s * s);
    for (let i = 0; i < pad.n; i++) cur[i] *= scale;
    pad.st[S_SAT] = clipped / (rows * cols);
  }

  #estimate(p: number, data: Uint8Array, frameFlags: number): void {
    const pad = this.#pads[p];
    const t = this.#t;
    const st = pad.st;
    const now = t[T_NOW];
    const n = pad.n;
    this.#sample(pad, data);
    const saturated = st[S_SAT];
    let flags = frameFlags;
    if (saturated > t[T_SATURATION]) flags |= TouchFlag.SATURATED;

    // 2. Global gain: mode of the cell ratios (outside last frame's contact when enough remain).
    this.#estimateGain(pad);
    const gain = st[S_GAIN0];
    this.gain[p] = gain;
    const clip = t[T_CLIP];
    if (!(gain >= 1 / clip && gain <= clip)) flags |= TouchFlag.LIGHTING;
    if (this.drift[p] > t[T_DRIFT_WARN]) flags |= TouchFlag.DRIFT;
    // Untrustworthy frame: hold the outputs, freeze the reference and the noise estimate.
    if ((flags & TouchFlag.LIGHTING) !== 0 || saturated > 0.1) {
      this.flags[p] = flags | (this.slip[p] ? TouchFlag.SLIP : 0);
      return;
    }
    const inv = 1 / gain;
    const cur = pad.cur;
    for (let i = 0; i < n; i++) cur[i] *= inv;

    // 3. Patch displacements and the camera motion.
    this.#displacements(pad);
    this.#cameraMotion(pad);
    this.#refineMotion(pad);
    this.#shearReferenceMotion(pad);
    const gu = st[S_GU];
    const gv = st[S_GV];
    this.motionX[p] = gu * pad.s;
    this.motionY[p] = gv * pad.s;

    // 4. Difference map against the motion-compensated reference, box filtered; the gain is
    // refined first against that reference (a 1 % gain error is ~2 grey levels on a bright pad).
    this.#shiftReference(pad);
    const dd = pad.dd;
    const refS = pad.refS;
    this.#refineGain(pad, Math.ceil(Math.max(Math.abs(gu), Math.abs(gv))) + 1);
    const fine = st[S_FINE];
    this.gain[p] = gain * fine;
    const invFine = 1 / fine;
    for (let i = 0; i < n; i++) cur[i] *= invFine;
    // With camera motion, cells near the ROI border see what moved in from outside the pad:
    // they take no part (zero difference, never contact).
    const margin = Math.abs(gu) > 0.05 || Math.abs(gv) > 0.05 ? Math.ceil(Math.max(Math.abs(gu), Math.abs(gv))) + 1 : 0;
    const gw = pad.gw;
    const gh = pad.gh;
    for (let i = 0; i < n; i++) dd[i] = cur[i] - refS[i];
    if (margin > 0) {
      for (let y = 0; y < gh; y++) {
        for (let x = 0; x < gw; x++) if (x < margin || y < margin || x >= gw - margin || y >= gh - margin) dd[y * gw + x] = 0;
      }
    }
    this.#box(pad);
    const db = pad.db;
    const noise = st[S_NOISE];
    const threshold = Math.max(t[T_MIN_THRESHOLD], this.#sigma[p] * noise);

    // 5. Contact patch.
    const mask = pad.mask;
    let count = 0;
    let peak = 0;
    let sum = 0;
    let wsum = 0;
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(db[i]);
      if (margin > 0) {
        const x = i % gw;
        const y = (i / gw) | 0;
        if (x < margin || y < margin || x >= gw - margin || y >= gh - margin) {
          mask[i] = 0;
          continue;
        }
      }
      if (a > peak) peak = a;
      if (a > threshold) {
        mask[i] = 1;
        count++;
        sum += a;
        const w = a - threshold;
        wsum += w;
        mx += w * (i % gw);
        my += w * ((i / gw) | 0);
      } else {
        mask[i] = 0;
      }
    }
    const area = count / n;
    this.area[p] = area;
    this.peak[p] = peak;
    const s = pad.s;
    if (wsum > 0) {
      mx /= wsum;
      my /= wsum;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let i = 0; i < n; i++) {
        if (mask[i] === 0) continue;
        const w = Math.abs(db[i]) - threshold;
        const dx = (i % gw) - mx;
        const dy = ((i / gw) | 0) - my;
        sxx += w * dx * dx;
        syy += w * dy * dy;
        sxy += w * dx * dy;
      }
      sxx = sxx / wsum + 1 / 12;
      syy = syy / wsum + 1 / 12;
      sxy /= wsum;
      const mean = (sxx + syy) / 2;
      const spread = Math.sqrt(((sxx - syy) / 2) ** 2 + sxy * sxy);
      this.centroidX[p] = pad.rx + (mx + 0.5) * s;
      this.centroidY[p] = pad.ry + (my + 0.5) * s;
      this.major[p] = 2 * Math.sqrt(mean + spread) * s;
      this.minor[p] = 2 * Math.sqrt(Math.max(0, mean - spread)) * s;
      this.angle[p] = 0.5 * Math.atan2(2 * sxy, sxx - syy);
    } else {
      this.centroidX[p] = Number.NaN;
      this.centroidY[p] = Number.NaN;
      this.major[p] = 0;
      this.minor[p] = 0;
      this.angle[p] = 0;
    }
    const probability = 1 / (1 + Math.exp(-4 * (area / this.#minArea[p] - 1)));
    this.contact[p] = probability;
    if (probability > 0.5) {
      pad.onCount++;
      pad.offCount = 0;
      if (pad.onCount >= this.#onFrames || probability >= t[T_INSTANT_ON]) pad.inContact = 1;
    } else {
      pad.offCount++;
      pad.onCount = 0;
      if (pad.offCount >= this.#offFrames && pad.inContact === 1) {
        pad.inContact = 0;
        st[S_LAST_RELEASE] = now;
      }
    }
    if (probability > 0.5 || pad.inContact === 1) st[S_LAST_CONTACT] = now;
    this.inContact[p] = pad.inContact;

    // Force proxy and its calibration.
    const proxy = sum / n / t[T_FORCE_SCALE];
    this.proxy[p] = proxy;
    this.force[p] = pad.calibrated ? (proxy > 0 ? pad.calibration[0] * Math.pow(proxy, pad.calibration[1]) : 0) : proxy;

    // 6. Shear and slip.
    st[S_MX] = mx;
    st[S_MY] = my;
    this.#shear(p, pad, wsum > 0);
    const slip = this.slip[p];
    if (slip) flags |= TouchFlag.SLIP;

    // 7. Noise and reference, only without contact.
    const sinceContact = now - st[S_LAST_CONTACT];
    if (pad.inContact === 0 && probability <= 0.5 && now - st[S_LAST_RELEASE] >= t[T_RELEASE_HOLD]) {
      st[S_RATE] = sinceContact >= t[T_ADAPT_AFTER] ? 0.05 : 0.02;
      this.#trackNoise(pad, margin);
      if (sinceContact >= t[T_ADAPT_AFTER] && Math.abs(gu) < 0.1 && Math.abs(gv) < 0.1 && (flags & TouchFlag.SATURATED) === 0) {
        st[S_QUIET] = threshold;
        this.#adapt(p, pad);
      }
    } else {
      // In contact only the cells outside the patch are measured, the noise may only rise, and
      // never above 1.5x its value when the contact began: a noise step cannot latch a false
      // contact, and a long grip cannot inflate the threshold.
      if (pad.inContact === 0 || st[S_NOISE_AT_ONSET] === 0) st[S_NOISE_AT_ONSET] = st[S_NOISE];
      const scratch = pad.scratch;
      let m = 0;
      for (let y = margin; y < pad.gh - margin; y++) {
        for (let x = margin; x < gw - margin; x++) if (mask[y * gw + x] === 0) scratch[m++] = Math.abs(db[y * gw + x]);
      }
      if (m >= n * 0.2) {
        median(scratch, m, st, S_TMP);
        const sigma = st[S_TMP] / 0.6745;
        if (sigma > st[S_NOISE]) st[S_NOISE] = Math.min(1.5 * st[S_NOISE_AT_ONSET], st[S_NOISE] + 0.02 * (sigma - st[S_NOISE]));
      }
    }
    if (pad.inContact === 0 && probability <= 0.5) st[S_NOISE_AT_ONSET] = 0;
    this.noise[p] = st[S_NOISE];
    pad.prevMask.set(mask);
    this.flags[p] = flags;
  }

  /** Mode of cur/ref over cells with a usable reference, refined by the mean around the peak. */
  #estimateGain(pad: Pad): void {
    const t = this.#t;
    const hist = this.#hist;
    hist.fill(0);
    const lo = t[T_HIST_LO];
    const bin = t[T_HIST_BIN];
    const cur = pad.cur;
    const ref = pad.ref;
    const prev = pad.prevMask;
    let excluded = 0;
    for (let i = 0; i < pad.n; i++) excluded += prev[i];
    const skipPrev = pad.n - excluded >= pad.n * 0.4 ? 1 : 0;
    let inRange = 0;
    let usable = 0;
    let ratioSum = 0;
    for (let i = 0; i < pad.n; i++) {
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
      pad.st[S_GAIN0] = 1;
      return;
    }
    // Most ratios outside the histogram: the light changed beyond any clip.
    if (inRange < usable * 0.25) {
      pad.st[S_GAIN0] = ratioSum / usable;
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
    for (let i = 0; i < pad.n; i++) {
      if (ref[i] < 12 || (skipPrev === 1 && prev[i] === 1)) continue;
      const r = cur[i] / ref[i];
      if (Math.abs(r - centre) <= halfWidth) {
        sum += r;
        count++;
      }
    }
    pad.st[S_GAIN0] = count > 0 ? sum / count : centre;
  }

  /** Median of cur/refS over interior cells outside last frame's contact, within 8 % of 1. */
  #refineGain(pad: Pad, margin: number): void {
    const scratch = pad.scratch;
    const cur = pad.cur;
    const refS = pad.refS;
    const prev = pad.prevMask;
    const gw = pad.gw;
    let interior = 0;
    let excluded = 0;
    for (let y = margin; y < pad.gh - margin; y++) {
      for (let x = margin; x < gw - margin; x++) {
        interior++;
        excluded += prev[y * gw + x];
      }
    }
    // Last frame's contact is left out unless it covered most of the pad.
    const skip = interior - excluded >= interior * 0.4 ? 1 : 2;
    let m = 0;
    for (let y = margin; y < pad.gh - margin; y++) {
      for (let x = margin; x < gw - margin; x++) {
        const i = y * gw + x;
        if (prev[i] === skip || refS[i] < 12) continue;
        const r = cur[i] / refS[i];
        if (r > 0.92 && r < 1.08) scratch[m++] = r;
      }
    }
    if (m >= 9) median(scratch, m, pad.st, S_FINE);
    else pad.st[S_FINE] = 1;
  }

  /** Displacement of each patch of the reference in the current image (normalized cross-correlation). */
  #displacements(pad: Pad): void {
    const radius = this.#radius;
    const side = 2 * radius + 1;
    const gw = pad.gw;
    const cur = pad.cur;
    const ref = pad.ref;
    const ncc = pad.ncc;
    const hx = pad.hx;
    const hy = pad.hy;
    const count = (2 * hx + 1) * (2 * hy + 1);
    const minVariance = Math.max(1, 4 * pad.st[S_CELL_NOISE] * pad.st[S_CELL_NOISE]);
    for (let k = 0; k < pad.patchCount; k++) {
      const cx = pad.pcx[k];
      const cy = pad.pcy[k];
      let sr = 0;
      let srr = 0;
      for (let y = cy - hy; y <= cy + hy; y++) {
        for (let x = cx - hx; x <= cx + hx; x++) {
          const r = ref[y * gw + x];
          sr += r;
          srr += r * r;
        }
      }
      const varR = srr - (sr * sr) / count;
      if (varR < minVariance * count) {
        pad.pvalid[k] = 0;
        pad.pu[k] = 0;
        pad.pv[k] = 0;
        continue;
      }
      let best = 0;
      let bestScore = -2;
      for (let v = -radius; v <= radius; v++) {
        for (let u = -radius; u <= radius; u++) {
          let sc = 0;
          let scc = 0;
          let scr = 0;
          for (let y = cy - hy; y <= cy + hy; y++) {
            const rowR = y * gw;
            const rowC = (y + v) * gw + u;
            for (let x = cx - hx; x <= cx + hx; x++) {
              const c = cur[rowC + x];
              const r = ref[rowR + x];
              sc += c;
              scc += c * c;
              scr += c * r;
            }
          }
          const varC = scc - (sc * sc) / count;
          const score = varC > 1e-9 ? (scr - (sc * sr) / count) / Math.sqrt(varC * varR) : -1;
          const slot = (v + radius) * side + (u + radius);
          ncc[slot] = score;
          if (score > bestScore) {
            bestScore = score;
            best = slot;
          }
        }
      }
      const bu = (best % side) - radius;
      const bv = ((best / side) | 0) - radius;
      let du = 0;
      let dv = 0;
      if (bu > -radius && bu < radius) {
        const a = ncc[best - 1];
        const c = ncc[best + 1];
        const den = a - 2 * bestScore + c;
        if (den < -1e-12) du = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
      }
      if (bv > -radius && bv < radius) {
        const a = ncc[best - side];
        const c = ncc[best + side];
        const den = a - 2 * bestScore + c;
        if (den < -1e-12) dv = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
      }
      pad.pu[k] = bu + du;
      pad.pv[k] = bv + dv;
      pad.pvalid[k] = bestScore > 0.5 ? 1 : 0;
    }
  }

  /** Median displacement of valid patches outside last frame's contact (all valid ones if too few). */
  #cameraMotion(pad: Pad): void {
    const hx = pad.hx;
    const hy = pad.hy;
    const gw = pad.gw;
    const prev = pad.prevMask;
    for (let k = 0; k < pad.patchCount; k++) {
      let covered = 0;
      for (let y = pad.pcy[k] - hy; y <= pad.pcy[k] + hy; y++) {
        for (let x = pad.pcx[k] - hx; x <= pad.pcx[k] + hx; x++) covered += prev[y * gw + x];
      }
      pad.pcov[k] = covered / ((2 * hx + 1) * (2 * hy + 1));
    }
    const scratch = pad.scratch;
    let m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.pvalid[k] === 1 && pad.pcov[k] < 0.1) m++;
    // Too few patches outside the contact to tell camera motion from shear: shear is measured
    // against the motion estimated before (S_HU/S_HV, held), while the difference map still
    // follows the median of all patches (the contact shows in its intensity either way).
    const hold = m < 3 && pad.inContact === 1 ? 1 : 0;
    pad.st[S_HELD_MOTION] = hold;
    const quietOnly = m >= 3 ? 1 : 0;
    m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.pvalid[k] === 1 && (quietOnly === 0 || pad.pcov[k] < 0.1)) scratch[m++] = pad.pu[k];
    if (m > 0) median(scratch, m, pad.st, S_GU);
    else pad.st[S_GU] = 0;
    m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.pvalid[k] === 1 && (quietOnly === 0 || pad.pcov[k] < 0.1)) scratch[m++] = pad.pv[k];
    if (m > 0) median(scratch, m, pad.st, S_GV);
    else pad.st[S_GV] = 0;
  }

  /** After the motion refinement: the motion shear is measured against (held during a large contact). */
  #shearReferenceMotion(pad: Pad): void {
    if (pad.st[S_HELD_MOTION] === 1) return;
    pad.st[S_HU] = pad.st[S_GU];
    pad.st[S_HV] = pad.st[S_GV];
  }

  /**
   * Sub-cell refinement of the camera motion by Gauss-Newton on the quiet cells (outside last
   * frame's contact and off the border): cur(x) ~ ref(x - g), two iterations at most.
   */
  #refineMotion(pad: Pad): void {
    const st = pad.st;
    const gw = pad.gw;
    const gh = pad.gh;
    if (gw < 5 || gh < 5) return;
    const cur = pad.cur;
    const refS = pad.refS;
    const prev = pad.prevMask;
    let excluded = 0;
    for (let i = 0; i < pad.n; i++) excluded += prev[i];
    const skip = pad.n - excluded >= pad.n * 0.4 ? 1 : 2;
    for (let iteration = 0; iteration < 3; iteration++) {
      this.#shiftReference(pad);
      const margin = 1 + Math.ceil(Math.max(Math.abs(st[S_GU]), Math.abs(st[S_GV])));
      let axx = 0;
      let axy = 0;
      let ayy = 0;
      let bx = 0;
      let by = 0;
      for (let y = margin; y < gh - margin; y++) {
        for (let x = margin; x < gw - margin; x++) {
          const i = y * gw + x;
          if (prev[i] === skip) continue;
          const jx = 0.5 * (refS[i + 1] - refS[i - 1]);
          const jy = 0.5 * (refS[i + gw] - refS[i - gw]);
          const e = cur[i] - refS[i];
          axx += jx * jx;
          axy += jx * jy;
          ayy += jy * jy;
          bx += jx * e;
          by += jy * e;
        }
      }
      const det = axx * ayy - axy * axy;
      if (!(det > 1e-9 * (axx + ayy) * (axx + ayy)) || axx + ayy < 1) return;
      // e ~ -J . delta  =>  delta = -(J^T J)^-1 J^T e
      const du = -(ayy * bx - axy * by) / det;
      const dv = -(axx * by - axy * bx) / det;
      const limit = this.#radius + 0.5;
      st[S_GU] = Math.max(-limit, Math.min(limit, st[S_GU] + Math.max(-0.5, Math.min(0.5, du))));
      st[S_GV] = Math.max(-limit, Math.min(limit, st[S_GV] + Math.max(-0.5, Math.min(0.5, dv))));
      if (Math.abs(du) < 0.01 && Math.abs(dv) < 0.01) return;
    }
  }

  /** refS(x, y) = ref(x - gu, y - gv), bilinear, clamped at the border. */
  #shiftReference(pad: Pad): void {
    pad.st[S_SU] = pad.st[S_GU];
    pad.st[S_SV] = pad.st[S_GV];
    this.#shift(pad, pad.ref, pad.refS);
  }

  /** out(x, y) = ref(x - su, y - sv) with (su, sv) from st[S_SU], st[S_SV]; bilinear, clamped at the border. */
  #shift(pad: Pad, ref: Float64Array, out: Float64Array): void {
    const gu = pad.st[S_SU];
    const gv = pad.st[S_SV];
    if (Math.abs(gu) < 0.05 && Math.abs(gv) < 0.05) {
      out.set(ref);
      return;
    }
    const gw = pad.gw;
    const gh = pad.gh;
    for (let y = 0; y < gh; y++) {
      let sy = y - gv;
      sy = sy < 0 ? 0 : sy > gh - 1 ? gh - 1 : sy;
      const y0 = Math.min(gh - 2, Math.floor(sy));
      const fy = gh > 1 ? sy - Math.max(0, y0) : 0;
      const r0 = Math.max(0, y0) * gw;
      const r1 = Math.min(gh - 1, Math.max(0, y0) + 1) * gw;
      for (let x = 0; x < gw; x++) {
        let sx = x - gu;
        sx = sx < 0 ? 0 : sx > gw - 1 ? gw - 1 : sx;
        const x0 = Math.max(0, Math.min(gw - 2, Math.floor(sx)));
        const x1 = Math.min(gw - 1, x0 + 1);
        const fx = sx - x0;
        const top = ref[r0 + x0] + fx * (ref[r0 + x1] - ref[r0 + x0]);
        const bottom = ref[r1 + x0] + fx * (ref[r1 + x1] - ref[r1 + x0]);
        out[y * gw + x] = top + fy * (bottom - top);
      }
    }
  }

  /**
   * db = box filter of dd over pad.box cells each way (separable running sums; the border
   * averages the cells that exist). A box as wide as the marker pitch cancels the marker
   * pattern whatever its sub-cell phase, so a residual of camera motion does not read as touch.
   */
  #box(pad: Pad): void {
    const gw = pad.gw;
    const gh = pad.gh;
    const dd = pad.dd;
    const tmp = pad.tmp;
    const db = pad.db;
    const before = (pad.box - 1) >> 1;
    const after = pad.box - 1 - before;
    for (let y = 0; y < gh; y++) {
      const row = y * gw;
      for (let x = 0; x < gw; x++) {
        const x0 = x - before < 0 ? 0 : x - before;
        const x1 = x + after > gw - 1 ? gw - 1 : x + after;
        let sum = 0;
        for (let i = x0; i <= x1; i++) sum += dd[row + i];
        tmp[row + x] = sum / (x1 - x0 + 1);
      }
    }
    for (let x = 0; x < gw; x++) {
      for (let y = 0; y < gh; y++) {
        const y0 = y - before < 0 ? 0 : y - before;
        const y1 = y + after > gh - 1 ? gh - 1 : y + after;
        let sum = 0;
        for (let j = y0; j <= y1; j++) sum += tmp[j * gw + x];
        db[y * gw + x] = sum / (y1 - y0 + 1);
      }
    }
  }

  /** Marker pitch in cells from the reference's autocorrelation (2..12), else 3: the box width. */
  #choosePitch(pad: Pad): void {
    if (this.#smoothing > 0) {
      pad.box = Math.min(this.#smoothing, pad.gw, pad.gh);
      return;
    }
    const ref = pad.ref;
    const gw = pad.gw;
    const gh = pad.gh;
    let mean = 0;
    for (let i = 0; i < pad.n; i++) mean += ref[i];
    mean /= pad.n;
    let variance = 0;
    for (let i = 0; i < pad.n; i++) variance += (ref[i] - mean) ** 2;
    variance /= pad.n;
    let best = 3;
    let bestScore = 0.3;
    const maxLag = Math.min(12, Math.floor(Math.min(gw, gh) / 3));
    let previous = 1;
    let falling = true;
    for (let lag = 1; lag <= maxLag; lag++) {
      let sum = 0;
      let count = 0;
      for (let y = 0; y < gh; y++) {
        for (let x = 0; x + lag < gw; x++) {
          sum += (ref[y * gw + x] - mean) * (ref[y * gw + x + lag] - mean);
          count++;
        }
      }
      for (let y = 0; y + lag < gh; y++) {
        for (let x = 0; x < gw; x++) {
          sum += (ref[y * gw + x] - mean) * (ref[(y + lag) * gw + x] - mean);
          count++;
        }
      }
      const score = variance > 1e-9 && count > 0 ? sum / count / variance : 0;
      // The first peak after the correlation has fallen from lag 0 is the pitch.
      if (falling) {
        if (score > previous) falling = false;
      }
      if (!falling && lag >= 2 && score > bestScore) {
        bestScore = score;
        best = lag;
        break;
      }
      previous = score;
    }
    pad.box = best;
  }

  /** Shear from the contact patches; returns 1 when they move non-rigidly (slip). */
  #shear(p: number, pad: Pad, contact: boolean): void {
    const mx = pad.st[S_MX];
    const my = pad.st[S_MY];
    const hx = pad.hx;
    const hy = pad.hy;
    const gw = pad.gw;
    const mask = pad.mask;
    const gu = pad.st[S_HU];
    const gv = pad.st[S_HV];
    let wsum = 0;
    let su = 0;
    let sv = 0;
    let used = 0;
    let eu = 0;
    let ev = 0;
    for (let k = 0; k < pad.patchCount; k++) {
      let covered = 0;
      for (let y = pad.pcy[k] - hy; y <= pad.pcy[k] + hy; y++) {
        for (let x = pad.pcx[k] - hx; x <= pad.pcx[k] + hx; x++) covered += mask[y * gw + x];
      }
      const cov = covered / ((2 * hx + 1) * (2 * hy + 1));
      pad.pcov[k] = cov;
      if (pad.pvalid[k] === 0 || cov <= 0) continue;
      wsum += cov;
      su += cov * (pad.pu[k] - gu);
      sv += cov * (pad.pv[k] - gv);
      if (cov >= 0.3) {
        used++;
        eu += pad.pu[k] - gu;
        ev += pad.pv[k] - gv;
      }
    }
    this.slipResidual[p] = 0;
    if (!contact || wsum <= 0) {
      this.shearX[p] = 0;
      this.shearY[p] = 0;
      this.slip[p] = 0;
      return;
    }
    this.shearX[p] = (su / wsum) * pad.s;
    this.shearY[p] = (sv / wsum) * pad.s;
    if (used < 3 || pad.inContact === 0) {
      this.slip[p] = 0;
      return;
    }
    // Pressing moves the pad radially about the contact centre (any radial profile), a rigid
    // shear translates and twists it; what is left, the non-uniform tangential motion, is slip.
    eu /= used;
    ev /= used;
    let qq = 0;
    let tq = 0;
    for (let k = 0; k < pad.patchCount; k++) {
      if (pad.pvalid[k] === 0 || pad.pcov[k] < 0.3) continue;
      const x = pad.pcx[k] - mx;
      const y = pad.pcy[k] - my;
      const r = Math.sqrt(x * x + y * y);
      if (r < 0.5) continue;
      const tangential = (x * (pad.pv[k] - gv - ev) - y * (pad.pu[k] - gu - eu)) / r;
      qq += r * r;
      tq += tangential * r;
    }
    const omega = qq > 0 ? tq / qq : 0;
    let residual = 0;
    let counted = 0;
    for (let k = 0; k < pad.patchCount; k++) {
      if (pad.pvalid[k] === 0 || pad.pcov[k] < 0.3) continue;
      const x = pad.pcx[k] - mx;
      const y = pad.pcy[k] - my;
      const r = Math.sqrt(x * x + y * y);
      if (r < 0.5) continue;
      const tangential = (x * (pad.pv[k] - gv - ev) - y * (pad.pu[k] - gu - eu)) / r;
      residual += (tangential - omega * r) ** 2;
      counted++;
    }
    this.slipResidual[p] = counted > 0 ? Math.sqrt(residual / counted) : 0;
    this.slip[p] = counted >= 3 && this.slipResidual[p] > this.#t[T_SLIP] ? 1 : 0;
  }

  /** Noise: robust spread (median |db| / 0.6745) of the filtered map, exponentially tracked. */
  #trackNoise(pad: Pad, margin: number): void {
    const rate = pad.st[S_RATE];
    const scratch = pad.scratch;
    const db = pad.db;
    const gw = pad.gw;
    let m = 0;
    for (let y = margin; y < pad.gh - margin; y++) for (let x = margin; x < gw - margin; x++) scratch[m++] = Math.abs(db[y * gw + x]);
    if (m < 9) return;
    median(scratch, m, pad.st, S_TMP);
    const sigma = pad.st[S_TMP] / 0.6745;
    const st = pad.st;
    st[S_NOISE] = Math.max(0.05, st[S_NOISE] + rate * (sigma - st[S_NOISE]));
  }

  /** Slow reference adaptation in quiet cells; updates the drift from the factory reference. */
  #adapt(p: number, pad: Pad): void {
    const quiet = pad.st[S_QUIET];
    const t = this.#t;
    const alpha = Math.min(1, t[T_DT] / t[T_ADAPT_TIME]);
    const ref = pad.ref;
    const cur = pad.cur;
    const db = pad.db;
    const factory = pad.factory;
    let drift = 0;
    for (let i = 0; i < pad.n; i++) {
      if (Math.abs(db[i]) < quiet) ref[i] += alpha * (cur[i] - ref[i]);
      drift += Math.abs(ref[i] - factory[i]);
    }
    this.drift[p] = drift / pad.n;
  }
}

const T_FORCE_SCALE = 0;
const T_MIN_THRESHOLD = 1;
const T_CLIP = 2;
const T_SATURATION = 3;
const T_RELEASE_HOLD = 4;
const T_ADAPT_AFTER = 5;
const T_ADAPT_TIME = 6;
const T_DRIFT_WARN = 7;
const T_STALE = 8;
const T_PERIOD = 9;
const T_SLIP = 10;
const T_NOW = 11;
const T_LAST_FRAME = 12;
const T_DT = 13;
const T_HIST_LO = 14;
const T_HIST_BIN = 15;
const T_INSTANT_ON = 16;

export function createTouchEstimator(
  fingertips: readonly FingertipDescription[],
  width: number,
  height: number,
  options: TouchEstimatorOptions = {},
): TouchEstimator {
  return new Estimator(fingertips, width, height, options);
}
