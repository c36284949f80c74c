/**
 * `benchTactileOpenCv()`: the issue's anchor for the touch estimator. On the sim clips the
 * scenario test scores (`contactScenarios`: seeded random contact timelines at 6-40 N, with
 * sensor noise, lighting steps and drift, slow camera motion, camera shake, and all of them
 * together; seeds 1 and 2, 900 frames each), in one process, on the same frames, interleaved
 * frame by frame (the one that runs first rotates):
 *
 *  (a) embody: `createTouchEstimator` on both fingertip ROIs, as `evaluateContactClip` runs it;
 *  (b) "opencv diff": the same contact estimate from OpenCV.js (`@techstark/opencv-js`, OpenCV
 *      4.12 compiled to WebAssembly, no SIMD, one thread), per pad ROI (plus a 3 px margin):
 *      the RGB24 frame copied into a cv.Mat on the WASM heap, cvtColor to grey, GaussianBlur
 *      (9x9, sigma 2: damps the pad's 5 px marker pitch ~25x), a global gain (the reference's
 *      level over the ROI's corners, outside its inscribed circle, against this frame's),
 *      absdiff to the reference (the mean of the first 8 frames, blurred alike), threshold at
 *      max(1.5, 4 sigma) where sigma is the blurred difference's noise over the reference frames,
 *      countNonZero -> contact area. Blurring before the absdiff is the same as blurring the
 *      signed difference (the blur is linear); blurring after it would keep every noise and
 *      camera-motion edge positive so none would cancel;
 *  (c) "opencv diff+Farneback": (b) plus calcOpticalFlowFarneback (reference -> frame grey) per
 *      pad: the camera motion is the mean flow outside the last contact mask, the blurred
 *      reference is shifted by it (warpAffine) before the absdiff, and shear is the mean flow in
 *      the contact mask net of that motion. This is the one that matches what embody estimates.
 *
 * (b) and (c) map area to embody's contact probability (sigmoid of area / 0.012) and use its
 * hysteresis (on after 2 frames above 0.5 or at once at >= 0.99, off after 2 below), so only the
 * image processing differs. Cost is per frame per pad (a frame's time over its 2 pads), p50/p99
 * over every scored frame after the reference; F1 is the AND of both pads' contact state against
 * the timeline from frame 8, as `evaluateContactClip` scores it. Every cv.Mat (ROI headers too)
 * is made once per clip and deleted after it; the timed loop makes none (embind still returns
 * a fresh Scalar array from cv.mean).
 *
 * Wire it in bench/index.ts:
 *   if (bench === 'tactile-opencv') { const { benchTactileOpenCv, formatTactileOpenCv } = await import('./tactile-opencv.js'); const r = await benchTactileOpenCv(); results.tactileOpenCv = r; process.stdout.write(formatTactileOpenCv(r)); }
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { CV, Mat } from '@techstark/opencv-js';
import type { FingertipDescription, RobotDescription } from '../src/robot/index.js';
import { loadRobotDescription } from '../src/runtime/config/index.js';
import { createTouchEstimator } from '../src/tactile/index.js';
import {
  contactForce,
  contactScenarios,
  contactTruth,
  createSyntheticClip,
  randomContacts,
  scoreContacts,
  type TouchTimeline,
} from '../src/tactile/synthetic.js';

export interface TactileOpenCvOptions {
  readonly robotFile?: string;
  /** Scenario names from contactScenarios (default all of them). */
  readonly scenarios?: readonly string[];
  readonly seeds?: readonly number[];
  readonly frames?: number;
  /** OpenCV estimator tunables (defaults mirror embody's: 8 reference frames, k = 4, floor 1.5, minArea 0.012). */
  readonly referenceFrames?: number;
  readonly thresholdSigma?: number;
  readonly minThreshold?: number;
  readonly minArea?: number;
  /** GaussianBlur kernel (odd) and sigma, pixels; default 9 and 2 (damps the 5 px marker pitch ~25x). */
  readonly blurSize?: number;
  readonly blurSigma?: number;
  /** Compensate the global gain (default true); false is the literal frame-differencing baseline. */
  readonly gain?: boolean;
}

export interface ContactScoreSummary {
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
  /** Worst frames from a true onset to detection (-1: a contact was missed). */
  readonly worstOnset: number;
}

export interface TactileOpenCvClip {
  readonly scenario: string;
  readonly seed: number;
  readonly frames: number;
  readonly embody: ContactScoreSummary;
  /** OpenCV frame differencing, no motion compensation. */
  readonly opencvDiff: ContactScoreSummary;
  /** OpenCV frame differencing with Farneback camera-motion compensation (and shear). */
  readonly opencvFlow: ContactScoreSummary;
}

export interface TactileOpenCvCost {
  /** Per frame per pad, µs. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly samples: number;
}

export interface TactileOpenCvEstimate {
  readonly cost: TactileOpenCvCost;
  /** This one's time / embody's time. */
  readonly ratioP50: number;
  readonly ratioP99: number;
  readonly meanF1: number;
  readonly minF1: number;
}

export interface TactileOpenCvResult {
  readonly opencvVersion: string;
  readonly opencvBuild: string;
  readonly loadMs: number;
  readonly pads: number;
  readonly padSize: string;
  readonly clips: readonly TactileOpenCvClip[];
  /** Timed interleaved on the same frames (the order rotates every frame). */
  readonly embody: TactileOpenCvEstimate;
  readonly opencvDiff: TactileOpenCvEstimate;
  readonly opencvFlow: TactileOpenCvEstimate;
  readonly wallMs: number;
}

let loading: Promise<{ cv: CV; loadMs: number }> | undefined;

/** Load OpenCV.js once. Its Emscripten glue installs process-wide handlers in Node; they are removed again. */
export function loadOpenCv(): Promise<{ cv: CV; loadMs: number }> {
  loading ??= (async () => {
    const start = performance.now();
    const before = {
      uncaughtException: new Set(process.listeners('uncaughtException')),
      unhandledRejection: new Set(process.listeners('unhandledRejection')),
    };
    const require = createRequire(import.meta.url);
    const loaded = require('@techstark/opencv-js') as unknown;
    let cv: CV;
    if (loaded instanceof Promise) {
      cv = (await loaded) as CV;
    } else {
      // The Emscripten module: ready when onRuntimeInitialized fires (it is a thenable that
      // resolves to itself, so it must not be awaited).
      const module = loaded as CV & { onRuntimeInitialized?: () => void };
      if (typeof module.Mat !== 'function') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('OpenCV.js did not initialise within 30 s')), 30_000);
          module.onRuntimeInitialized = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      cv = module;
    }
    for (const listener of process.listeners('uncaughtException')) {
      if (!before.uncaughtException.has(listener)) process.removeListener('uncaughtException', listener);
    }
    for (const listener of process.listeners('unhandledRejection')) {
      if (!before.unhandledRejection.has(listener)) process.removeListener('unhandledRejection', listener);
    }
    return { cv, loadMs: performance.now() - start };
  })();
  return loading;
}

interface OpenCvTunables {
  readonly referenceFrames: number;
  readonly thresholdSigma: number;
  readonly minThreshold: number;
  readonly minArea: number;
  readonly blurSize: number;
  readonly blurSigma: number;
  readonly gain: boolean;
}

/** 'diff': frame differencing only; 'flow': plus Farneback flow for camera motion (compensated) and shear. */
type OpenCvMode = 'diff' | 'flow';

/** One pad's mats, made once. Outer = the ROI plus a margin (for blur and motion); inner = the ROI. */
interface CvPad {
  readonly roi: Mat;
  readonly grey: Mat;
  readonly greyIn: Mat;
  readonly work: Mat;
  readonly work8: Mat;
  readonly blurred: Mat;
  readonly blurredIn: Mat;
  readonly refSum: Mat;
  readonly ref: Mat;
  readonly refBlurred: Mat;
  readonly refBlurredIn: Mat;
  readonly refWarped: Mat;
  readonly refWarpedIn: Mat;
  readonly refGrey8: Mat;
  readonly scaled: Mat;
  readonly diff: Mat;
  readonly binary: Mat;
  readonly corners: Mat;
  readonly history: Mat[];
  readonly flow: Mat;
  readonly flowIn: Mat;
  readonly mask8: Mat;
  readonly inverse8: Mat;
  readonly warp: Mat;
  warpData: Float64Array;
  readonly outerSize: { width: number; height: number };
  readonly pixels: number;
  /** [reference corner level, threshold, onCount, offCount, inContact, motionX, motionY, shearX, shearY, gain, pixels out of contact]. */
  readonly st: Float64Array;
}

/** The contact estimate with OpenCV.js, per pad ROI, with embody's probability and hysteresis. */
class OpenCvContact {
  readonly inContact: Uint8Array;
  readonly contact: Float64Array;
  readonly area: Float64Array;
  readonly shearX: Float64Array;
  readonly shearY: Float64Array;
  readonly #cv: CV;
  readonly #mode: OpenCvMode;
  readonly #frame: Mat;
  #view: Uint8Array;
  readonly #pads: CvPad[];
  readonly #t: OpenCvTunables;
  readonly #ksize: { width: number; height: number };
  #seen = 0;

  constructor(cv: CV, mode: OpenCvMode, fingertips: readonly FingertipDescription[], width: number, height: number, t: OpenCvTunables) {
    this.#cv = cv;
    this.#mode = mode;
    this.#t = t;
    this.#ksize = new cv.Size(t.blurSize, t.blurSize);
    this.#frame = new cv.Mat(height, width, cv.CV_8UC3);
    this.#view = this.#frame.data;
    const pads = fingertips.length;
    this.inContact = new Uint8Array(pads);
    this.contact = new Float64Array(pads);
    this.area = new Float64Array(pads);
    this.shearX = new Float64Array(pads);
    this.shearY = new Float64Array(pads);
    const margin = 3;
    this.#pads = fingertips.map((f) => {
      const [x, y, w, h] = f.roi;
      const rx = Math.min(Math.max(0, x), width - 1);
      const ry = Math.min(Math.max(0, y), height - 1);
      const rw = Math.max(1, Math.min(w, width - rx));
      const rh = Math.max(1, Math.min(h, height - ry));
      const ox = Math.max(0, rx - margin);
      const oy = Math.max(0, ry - margin);
      const ow = Math.min(width, rx + rw + margin) - ox;
      const oh = Math.min(height, ry + rh + margin) - oy;
      const inner = new cv.Rect(rx - ox, ry - oy, rw, rh);
      const corners = new cv.Mat(rh, rw, cv.CV_8UC1);
      // Gain from the pixels outside the ROI's inscribed circle (where a centred patch does not reach).
      const radius = Math.min(rw, rh) / 2;
      const cornerData = corners.data;
      for (let j = 0; j < rh; j++) {
        for (let i = 0; i < rw; i++) cornerData[j * rw + i] = Math.hypot(i + 0.5 - rw / 2, j + 0.5 - rh / 2) > radius ? 255 : 0;
      }
      const outer = (type: number): Mat => new cv.Mat(oh, ow, type);
      const grey = outer(cv.CV_8UC1);
      const blurred = outer(cv.CV_32FC1);
      const ref = outer(cv.CV_32FC1);
      const refBlurred = outer(cv.CV_32FC1);
      const refWarped = outer(cv.CV_32FC1);
      const flow = outer(cv.CV_32FC2);
      const inverse8 = new cv.Mat(rh, rw, cv.CV_8UC1, new cv.Scalar(255));
      const warp = cv.matFromArray(2, 3, cv.CV_64FC1, [1, 0, 0, 0, 1, 0]);
      return {
        roi: this.#frame.roi(new cv.Rect(ox, oy, ow, oh)),
        grey,
        greyIn: grey.roi(inner),
        work: outer(cv.CV_32FC1),
        work8: outer(cv.CV_8UC1),
        blurred,
        blurredIn: blurred.roi(inner),
        refSum: cv.Mat.zeros(oh, ow, cv.CV_32FC1),
        ref,
        refBlurred,
        refBlurredIn: refBlurred.roi(inner),
        refWarped,
        refWarpedIn: refWarped.roi(inner),
        refGrey8: outer(cv.CV_8UC1),
        scaled: new cv.Mat(rh, rw, cv.CV_32FC1),
        diff: new cv.Mat(rh, rw, cv.CV_32FC1),
        binary: new cv.Mat(rh, rw, cv.CV_32FC1),
        corners,
        history: Array.from({ length: t.referenceFrames }, () => outer(cv.CV_32FC1)),
        flow,
        flowIn: flow.roi(inner),
        mask8: new cv.Mat(rh, rw, cv.CV_8UC1),
        inverse8,
        warp,
        warpData: warp.data64F,
        outerSize: new cv.Size(ow, oh),
        pixels: rw * rh,
        st: new Float64Array(11),
      };
    });
  }

  get ready(): boolean {
    return this.#seen >= this.#t.referenceFrames;
  }

  /** Copy the RGB24 frame into the WASM heap and estimate every pad. */
  update(frame: Uint8Array): void {
    if (this.#view.byteLength === 0) this.#view = this.#frame.data; // the heap grew: re-view
    this.#view.set(frame);
    const cv = this.#cv;
    const t = this.#t;
    if (this.#seen < t.referenceFrames) {
      for (const pad of this.#pads) {
        cv.cvtColor(pad.roi, pad.grey, cv.COLOR_RGB2GRAY);
        const h = pad.history[this.#seen];
        pad.grey.convertTo(h, cv.CV_32F);
        cv.add(pad.refSum, h, pad.refSum);
      }
      this.#seen++;
      if (this.#seen === t.referenceFrames) for (const pad of this.#pads) this.#finishReference(pad);
      return;
    }
    for (let p = 0; p < this.#pads.length; p++) this.#estimate(p);
  }

  #finishReference(pad: CvPad): void {
    const cv = this.#cv;
    const t = this.#t;
    const n = t.referenceFrames;
    pad.refSum.convertTo(pad.ref, cv.CV_32F, 1 / n);
    pad.ref.convertTo(pad.refGrey8, cv.CV_8U);
    cv.GaussianBlur(pad.ref, pad.refBlurred, this.#ksize, t.blurSigma, t.blurSigma, cv.BORDER_REPLICATE);
    pad.st[0] = cv.mean(pad.refBlurredIn, pad.corners)[0];
    pad.st[9] = 1;
    pad.st[10] = pad.pixels;
    // Noise of the blurred difference: the reference frames' residuals about their mean
    // (scaled up by n / (n - 1)), plus the reference's own share (1 / n) in a later difference.
    let variance = 0;
    const mean = new cv.Mat();
    const std = new cv.Mat();
    for (const h of pad.history) {
      cv.GaussianBlur(h, pad.blurred, this.#ksize, t.blurSigma, t.blurSigma, cv.BORDER_REPLICATE);
      cv.subtract(pad.blurredIn, pad.refBlurredIn, pad.diff);
      cv.meanStdDev(pad.diff, mean, std);
      variance += std.doubleAt(0, 0) ** 2 + mean.doubleAt(0, 0) ** 2;
    }
    mean.delete();
    std.delete();
    variance = (variance / n) * (n / Math.max(1, n - 1)) * (1 + 1 / n);
    pad.st[1] = Math.max(t.minThreshold, t.thresholdSigma * Math.sqrt(variance));
  }

  #estimate(p: number): void {
    const cv = this.#cv;
    const t = this.#t;
    const pad = this.#pads[p];
    const st = pad.st;
    cv.cvtColor(pad.roi, pad.grey, cv.COLOR_RGB2GRAY);
    pad.grey.convertTo(pad.work, cv.CV_32F);
    cv.GaussianBlur(pad.work, pad.blurred, this.#ksize, t.blurSigma, t.blurSigma, cv.BORDER_REPLICATE);
    let reference = pad.refBlurredIn;
    let referenceLevel = st[0];
    if (this.#mode === 'flow') {
      // Farneback flow reference -> frame (grey scaled by the last gain); the camera motion is
      // its mean outside the last contact mask (all of the ROI when that leaves < 10 %); the
      // blurred reference is shifted by it before differencing.
      pad.grey.convertTo(pad.work8, cv.CV_8U, st[9]);
      cv.calcOpticalFlowFarneback(pad.refGrey8, pad.work8, pad.flow, 0.5, 1, 7, 3, 5, 1.1, 0);
      const motion = st[10] >= 0.1 * pad.pixels ? cv.mean(pad.flowIn, pad.inverse8) : cv.mean(pad.flowIn);
      st[5] = motion[0];
      st[6] = motion[1];
      if (pad.warpData.byteLength === 0) pad.warpData = pad.warp.data64F; // the heap grew: re-view
      pad.warpData[2] = st[5];
      pad.warpData[5] = st[6];
      cv.warpAffine(pad.refBlurred, pad.refWarped, pad.warp, pad.outerSize, cv.INTER_LINEAR, cv.BORDER_REPLICATE);
      reference = pad.refWarpedIn;
      if (t.gain) referenceLevel = cv.mean(reference, pad.corners)[0];
    }
    // Global gain: the (motion-compensated) reference's level over the ROI's corners against this frame's.
    const gain = t.gain ? referenceLevel / Math.max(1, cv.mean(pad.blurredIn, pad.corners)[0]) : 1;
    st[9] = gain;
    pad.blurredIn.convertTo(pad.scaled, cv.CV_32F, gain);
    cv.absdiff(pad.scaled, reference, pad.diff);
    cv.threshold(pad.diff, pad.binary, st[1], 1, cv.THRESH_BINARY);
    const count = cv.countNonZero(pad.binary);
    const area = count / pad.pixels;
    this.area[p] = area;
    if (this.#mode === 'flow') {
      // Shear: mean flow in the contact mask net of the camera motion; the mask's complement is
      // the next frame's motion support.
      pad.binary.convertTo(pad.mask8, cv.CV_8U, 255);
      cv.bitwise_not(pad.mask8, pad.inverse8);
      st[10] = pad.pixels - count;
      if (count > 0) {
        const inside = cv.mean(pad.flowIn, pad.mask8);
        st[7] = inside[0] - st[5];
        st[8] = inside[1] - st[6];
      } else {
        st[7] = 0;
        st[8] = 0;
      }
      this.shearX[p] = st[7];
      this.shearY[p] = st[8];
    }
    const probability = 1 / (1 + Math.exp(-4 * (area / t.minArea - 1)));
    this.contact[p] = probability;
    if (probability > 0.5) {
      st[2]++;
      st[3] = 0;
      if (st[2] >= 2 || probability >= 0.99) st[4] = 1;
    } else {
      st[3]++;
      st[2] = 0;
      if (st[3] >= 2) st[4] = 0;
    }
    this.inContact[p] = st[4];
  }

  delete(): void {
    for (const pad of this.#pads) {
      for (const m of [
        pad.roi,
        pad.grey,
        pad.greyIn,
        pad.work,
        pad.work8,
        pad.blurred,
        pad.blurredIn,
        pad.refSum,
        pad.ref,
        pad.refBlurred,
        pad.refBlurredIn,
        pad.refWarped,
        pad.refWarpedIn,
        pad.refGrey8,
        pad.scaled,
        pad.diff,
        pad.binary,
        pad.corners,
        pad.flow,
        pad.flowIn,
        pad.mask8,
        pad.inverse8,
        pad.warp,
        ...pad.history,
      ]) {
        m.delete();
      }
    }
    this.#frame.delete();
  }
}

function cost(samples: number[]): TactileOpenCvCost {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50Us: at(0.5), p99Us: at(0.99), maxUs: sorted[sorted.length - 1] ?? 0, samples: sorted.length };
}

function defaultRobotFile(): string {
  return fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../robots/sim-arm.yaml' : '../../robots/sim-arm.yaml', import.meta.url));
}

type Contender = 'embody' | 'opencvDiff' | 'opencvFlow';
const CONTENDERS: readonly Contender[] = ['embody', 'opencvDiff', 'opencvFlow'];

export async function benchTactileOpenCv(options: TactileOpenCvOptions = {}): Promise<TactileOpenCvResult> {
  const wallStart = performance.now();
  const { cv, loadMs } = await loadOpenCv();
  const robot: RobotDescription = loadRobotDescription(options.robotFile ?? defaultRobotFile());
  const frames = options.frames ?? 900;
  const seeds = options.seeds ?? [1, 2];
  const scenarios = contactScenarios.filter(([name]) => !options.scenarios || options.scenarios.includes(name));
  const tunables: OpenCvTunables = {
    referenceFrames: options.referenceFrames ?? 8,
    thresholdSigma: options.thresholdSigma ?? 4,
    minThreshold: options.minThreshold ?? 1.5,
    minArea: options.minArea ?? 0.012,
    blurSize: options.blurSize ?? 9,
    blurSigma: options.blurSigma ?? 2,
    gain: options.gain ?? true,
  };
  const from = tunables.referenceFrames;
  const samples: Record<Contender, number[]> = { embody: [], opencvDiff: [], opencvFlow: [] };
  const clips: TactileOpenCvClip[] = [];

  const runClip = (name: string, extra: Omit<TouchTimeline, 'force'>, seed: number, record: boolean): void => {
    const segments = randomContacts(frames, seed);
    const clip = createSyntheticClip(robot, frames, { force: contactForce(segments), ...extra }, seed);
    const { width, height } = clip.camera;
    const pads = clip.fingertips.length;
    const frame = new Uint8Array(width * height * 3);
    const embody = createTouchEstimator(clip.fingertips, width, height, { referenceFrames: tunables.referenceFrames });
    const diff = new OpenCvContact(cv, 'diff', clip.fingertips, width, height, tunables);
    const flow = new OpenCvContact(cv, 'flow', clip.fingertips, width, height, tunables);
    const estimators = [embody, diff, flow] as const;
    const truth = contactTruth(segments, frames);
    const states = estimators.map(() => new Uint8Array(frames));
    const took = new Float64Array(3);
    try {
      for (let k = 0; k < frames; k++) {
        clip.render(k, frame);
        // Interleaved on the same frame; the one that goes first rotates, so none always runs on a warm cache.
        for (let j = 0; j < 3; j++) {
          const e = (k + j) % 3;
          const start = performance.now();
          estimators[e].update(frame);
          took[e] = performance.now() - start;
        }
        for (let e = 0; e < 3; e++) {
          if (record && k >= from) samples[CONTENDERS[e]].push((took[e] * 1000) / pads);
          let s = 1;
          for (let i = 0; i < pads; i++) s &= estimators[e].inContact[i];
          states[e][k] = s;
        }
      }
    } finally {
      diff.delete();
      flow.delete();
    }
    if (!record) return;
    const score = (e: number): ContactScoreSummary => {
      const s = scoreContacts(truth, states[e], from);
      return { f1: s.f1, precision: s.precision, recall: s.recall, worstOnset: s.worstOnset };
    };
    clips.push({ scenario: name, seed, frames, embody: score(0), opencvDiff: score(1), opencvFlow: score(2) });
  };

  // Warm-up (JIT, WASM tier-up) on a seed that is not scored.
  runClip('warm-up', {}, 1000, false);
  for (const [name, extra] of scenarios) for (const seed of seeds) runClip(name, extra, seed, true);

  const base = cost(samples.embody);
  const estimate = (c: Contender): TactileOpenCvEstimate => {
    const k = c === 'embody' ? base : cost(samples[c]);
    const f1 = clips.map((clip) => clip[c].f1);
    return {
      cost: k,
      ratioP50: k.p50Us / base.p50Us,
      ratioP99: k.p99Us / base.p99Us,
      meanF1: f1.reduce((s, x) => s + x, 0) / Math.max(1, f1.length),
      minF1: Math.min(...f1),
    };
  };
  const info = cv.getBuildInformation();
  const pad = robot.fingertips[0]?.roi ?? [0, 0, 0, 0];
  return {
    opencvVersion: /Version control:\s*(\S+)/.exec(info)?.[1] ?? 'unknown',
    opencvBuild: `wasm${/msimd128/.test(info) ? ' simd' : ', no SIMD'}${/USE_PTHREADS=1/.test(info) ? ', threads' : ', single thread'}`,
    loadMs,
    pads: robot.fingertips.length,
    padSize: `${pad[2]}x${pad[3]}`,
    clips,
    embody: estimate('embody'),
    opencvDiff: estimate('opencvDiff'),
    opencvFlow: estimate('opencvFlow'),
    wallMs: performance.now() - wallStart,
  };
}

/** One summary line (and one line per clip with `perClip`). */
export function formatTactileOpenCv(r: TactileOpenCvResult, options: { perClip?: boolean } = {}): string {
  const ms = (us: number): string => (us / 1000).toFixed(3);
  const part = (label: string, e: TactileOpenCvEstimate, ratio: boolean): string =>
    `${label} p50 ${ms(e.cost.p50Us)} p99 ${ms(e.cost.p99Us)} ms${ratio ? ` (${e.ratioP50.toFixed(2)}x/${e.ratioP99.toFixed(2)}x embody)` : ''} F1 ${e.meanF1.toFixed(3)} (min ${e.minF1.toFixed(3)})`;
  const lines = [
    `tactile vs OpenCV.js ${r.opencvVersion} (${r.opencvBuild}), per frame per pad, ${r.pads} pads ${r.padSize}, ${r.clips.length} sim clips, ${r.embody.cost.samples} frames interleaved: ` +
      `${part('embody', r.embody, false)}; ${part('opencv diff', r.opencvDiff, true)}; ${part('opencv diff+Farneback', r.opencvFlow, true)}`,
  ];
  const f = (s: ContactScoreSummary): string => `${s.f1.toFixed(3)} (P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)}, onset ${s.worstOnset})`;
  for (const c of options.perClip ? r.clips : []) {
    lines.push(`tactile vs OpenCV.js: ${c.scenario} #${c.seed}: F1 embody ${f(c.embody)}, opencv diff ${f(c.opencvDiff)}, opencv diff+Farneback ${f(c.opencvFlow)}`);
  }
  if (options.perClip) lines.push(`tactile vs OpenCV.js: load ${r.loadMs.toFixed(0)} ms, run ${(r.wallMs / 1000).toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}

// `npx tsx bench/tactile-opencv.ts` runs it alone, with a line per clip.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(formatTactileOpenCv(await benchTactileOpenCv(), { perClip: true }));
}
