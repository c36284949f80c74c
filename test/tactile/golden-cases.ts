/**
 * Clips for the estimator's golden digests (golden.test.ts): synthetic clips that take every
 * path of the estimator (contacts, shear, slip, lighting, saturation, camera motion, drift,
 * dropped frames, stalls, reference resets, several option sets and ROI sizes), and the digest
 * of every output field of every pad of every frame.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FingertipDescription, RobotDescription } from '../../src/robot/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import type { TouchEstimator, TouchEstimatorOptions } from '../../src/tactile/index.js';
import { contactForce, contactScenarios, createSyntheticClip, randomContacts, stressScenarios, type TouchTimeline } from '../../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));

/** The readout fields in the digest's order (fixed here, so reordering the declaration does not change a digest). */
export const FIELDS = [
  'contact', 'inContact', 'force', 'proxy', 'area', 'peak', 'centroidX', 'centroidY', 'major', 'minor', 'angle',
  'shearX', 'shearY', 'motionX', 'motionY', 'slip', 'slipResidual', 'gain', 'noise', 'drift', 'flags',
] as const;

export interface GoldenCase {
  readonly name: string;
  readonly robot?: RobotDescription;
  readonly frames: number;
  readonly timeline: TouchTimeline;
  readonly options?: TouchEstimatorOptions;
  /** Timestamped frames with sequence numbers (gaps drop frames); default update(). */
  readonly timed?: (k: number) => { timestampMs: number; sequence: number };
  /** Calls between frames: reference resets, stalls, stale checks. */
  readonly between?: (k: number, e: TouchEstimator) => unknown;
  /** Change the rendered frame before the estimator sees it. */
  readonly edit?: (k: number, data: Uint8Array, width: number) => void;
}

function scaled(width: number, height: number, rois: [number, number, number, number][]): RobotDescription {
  const camera = { ...robot.cameras[0], width, height };
  return { ...robot, cameras: [camera], fingertips: rois.map((roi, i): FingertipDescription => ({ name: `pad${i}`, camera: camera.name, roi })) };
}

const random = (frames: number, seed: number): ((k: number) => number) => contactForce(randomContacts(frames, seed));

export const goldenCases: GoldenCase[] = [
  ...[...contactScenarios, ...stressScenarios].map(([name, extra], i): GoldenCase => ({ name, frames: 200, timeline: { force: random(200, i + 1), ...extra } })),
  { name: 'shear ramp', frames: 60, timeline: { force: (k) => (k >= 10 ? 30 : 0), shear: (k) => (k >= 14 ? [Math.min(1.5, (k - 14) * 0.25), 0.3] : [0, 0]) } },
  { name: 'partial slip', frames: 60, timeline: { force: (k) => (k >= 10 ? 30 : 0), shear: (k) => (k >= 14 ? [1, -0.5] : [0, 0]), slip: (k) => k >= 20 } },
  { name: 'lighting fault and saturation', frames: 90, timeline: { force: random(90, 7), gain: (k) => (k >= 30 && k < 45 ? 3 : k >= 50 && k < 56 ? 0.3 : k >= 60 && k < 70 ? 1.9 : 1) } },
  {
    name: 'drift with fast adaptation, calibration, fixed smoothing',
    frames: 240,
    timeline: { force: contactForce([{ start: 150, end: 190, force: 25 }]) },
    options: { driftWarn: 0.5, adaptAfterMs: 100, adaptTimeMs: 300, releaseHoldMs: 100, smoothing: 2, calibration: [{ scale: 12, exponent: 0.7, unit: 'N' }, undefined] },
    edit: (k, data, width) => {
      const factor = 1 - (0.2 * k) / 240;
      for (let y = 50; y < 70; y++) for (let x = 2; x < 12; x++) for (let c = 0; c < 3; c++) data[3 * (y * width + x) + c] *= factor;
    },
  },
  {
    name: 'timestamps, dropped frames, stalls, stale checks, reference resets',
    frames: 200,
    timeline: { force: random(200, 11), shift: (k) => [0.3 * Math.sin(k / 9), 0.2 * Math.cos(k / 13)] },
    timed: (k) => ({ timestampMs: k * 33.3 + (k % 7 === 3 ? 40 : 0), sequence: k + 1 + Math.floor(k / 25) }),
    between: (k, e) => {
      if (k === 60 || k === 61) e.setCameraStalled(k === 60);
      if (k % 10 === 5) e.checkStale(k * 33.3 + (k % 20 === 5 ? 500 : 0));
      if (k === 80) e.resetReference();
      if (k === 150) e.restoreFactoryReference();
    },
  },
  {
    name: 'other options: working size 16, 3 patches, radius 3, 4 reference frames, no instant on',
    frames: 200,
    timeline: { force: random(200, 13), shift: (k) => [0.5 * Math.sin(k / 7), 0] },
    options: { workingSize: 16, patches: 3, searchRadius: 3, referenceFrames: 4, instantOn: 1, onFrames: 3, offFrames: 1, thresholdSigma: 3, minArea: 0.02, forceScale: 15, gainClip: 1.5 },
  },
  {
    name: 'one ROI 160x120 with motion and shear',
    robot: scaled(160, 120, [[0, 0, 160, 120]]),
    frames: 80,
    timeline: { force: (k) => (k % 40 >= 15 ? 12 + k / 4 : 0), shear: (k) => (k % 40 >= 25 ? [1, 0.5] : [0, 0]), shift: (k) => [0.4 * Math.sin(k / 5), 0.3 * Math.sin(k / 7)] },
  },
  {
    name: 'two pads in a 640x480 frame',
    robot: scaled(640, 480, [[13, 333, 133, 133], [493, 333, 133, 133]]),
    frames: 30,
    timeline: { force: (k) => (k >= 12 && k < 26 ? 20 : 0), shear: (k) => (k >= 18 ? [1.5, 0] : [0, 0]), shift: (k) => [0.5 * Math.sin(k / 4), 0] },
  },
];

/** What a case made the estimator do, OR-ed over its frames and pads. */
export interface Paths {
  flags: number;
  slip: number;
  inContact: number;
  calibrated: number;
}

type Create = (fingertips: readonly FingertipDescription[], width: number, height: number, options?: TouchEstimatorOptions) => TouchEstimator;

/**
 * Run case `c` through an estimator from `create`: the sha256 of every readout field (in FIELDS
 * order, each value as a float64) of every pad after every frame, with ready, frames, dropped
 * and the result of the case's calls between frames; and the paths it took.
 */
export function digestCase(c: GoldenCase, create: Create): { digest: string; paths: Paths } {
  const clip = createSyntheticClip(c.robot ?? robot, c.frames, c.timeline, 3);
  const { width, height } = clip.camera;
  const estimator = create(clip.fingertips, width, height, c.options);
  const hash = createHash('sha256');
  hash.update(JSON.stringify(estimator.pads));
  const paths: Paths = { flags: 0, slip: 0, inContact: 0, calibrated: 0 };
  const data = new Uint8Array(width * height * 3);
  const values = new Float64Array(FIELDS.length * clip.fingertips.length + 4);
  for (let k = 0; k < c.frames; k++) {
    clip.render(k, data);
    c.edit?.(k, data, width);
    if (c.timed) estimator.updateFrame({ camera: clip.camera.name, width, height, data, ...c.timed(k) });
    else estimator.update(data);
    const between = c.between?.(k, estimator);
    let v = 0;
    for (const field of FIELDS) for (const x of estimator[field]) values[v++] = x;
    values[v++] = estimator.ready ? 1 : 0;
    values[v++] = estimator.frames;
    values[v++] = estimator.dropped;
    values[v++] = between === undefined ? -1 : Number(between);
    hash.update(new Uint8Array(values.buffer));
    for (let p = 0; p < clip.fingertips.length; p++) {
      paths.flags |= estimator.flags[p];
      paths.slip |= estimator.slip[p];
      paths.inContact |= estimator.inContact[p];
      if (estimator.force[p] !== estimator.proxy[p]) paths.calibrated = 1;
    }
  }
  return { digest: hash.digest('hex'), paths };
}
