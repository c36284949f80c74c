/**
 * One-off check of the estimator's restructuring: the synthetic clips (contacts, shear, slip,
 * lighting, saturation, camera motion, drift, dropped frames, stalls, reference resets, several
 * option sets and ROI sizes) go through the pre-refactor estimator (legacy-estimator.ts, a
 * verbatim copy) and the current one; every output field of every pad of every frame must be
 * bit-identical (Object.is: NaN equals NaN, -0 differs from 0).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FingertipDescription, RobotDescription } from '../../src/robot/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { createTouchEstimator, type TouchEstimatorOptions } from '../../src/tactile/index.js';
import { contactForce, contactScenarios, createSyntheticClip, randomContacts, stressScenarios, type TouchTimeline } from '../../src/tactile/synthetic.js';
import { createTouchEstimator as createLegacyEstimator } from './legacy-estimator.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));

const FIELDS = [
  'contact', 'inContact', 'force', 'proxy', 'area', 'peak', 'centroidX', 'centroidY', 'major', 'minor', 'angle',
  'shearX', 'shearY', 'motionX', 'motionY', 'slip', 'slipResidual', 'gain', 'noise', 'drift', 'flags',
] as const;

type Estimator = ReturnType<typeof createTouchEstimator>;

interface Case {
  readonly name: string;
  readonly robot?: RobotDescription;
  readonly frames: number;
  readonly timeline: TouchTimeline;
  readonly options?: TouchEstimatorOptions;
  /** Timestamped frames with sequence numbers (gaps drop frames); default update(). */
  readonly timed?: (k: number) => { timestampMs: number; sequence: number };
  /** Calls between frames: reference resets, stalls, stale checks. */
  readonly between?: (k: number, e: Estimator) => unknown;
  /** Change the rendered frame before both estimators see it. */
  readonly edit?: (k: number, data: Uint8Array, width: number) => void;
}

function scaled(width: number, height: number, rois: [number, number, number, number][]): RobotDescription {
  const camera = { ...robot.cameras[0], width, height };
  return { ...robot, cameras: [camera], fingertips: rois.map((roi, i): FingertipDescription => ({ name: `pad${i}`, camera: camera.name, roi })) };
}

const random = (frames: number, seed: number): ((k: number) => number) => contactForce(randomContacts(frames, seed));

const cases: Case[] = [
  ...[...contactScenarios, ...stressScenarios].map(([name, extra], i): Case => ({ name, frames: 450, timeline: { force: random(450, i + 1), ...extra } })),
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
    frames: 40,
    timeline: { force: (k) => (k >= 15 && k < 32 ? 20 : 0), shear: (k) => (k >= 22 ? [1.5, 0] : [0, 0]), shift: (k) => [0.5 * Math.sin(k / 4), 0] },
  },
];

/** What the clips made the estimator do, OR-ed over every case: the check must cover every path. */
const seen = { flags: 0, slip: 0, inContact: 0, calibrated: 0 };

describe('restructured estimator against the pre-refactor one', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = c.robot ?? robot;
      const clip = createSyntheticClip(r, c.frames, c.timeline, 3);
      const { width, height } = clip.camera;
      const before = createLegacyEstimator(clip.fingertips, width, height, c.options);
      const after = createTouchEstimator(clip.fingertips, width, height, c.options);
      expect(after.pads).toEqual(before.pads);
      const data = new Uint8Array(width * height * 3);
      let compared = 0;
      for (let k = 0; k < c.frames; k++) {
        clip.render(k, data);
        c.edit?.(k, data, width);
        if (c.timed) {
          const frame = { camera: clip.camera.name, width, height, data, ...c.timed(k) };
          before.updateFrame(frame);
          after.updateFrame(frame);
        } else {
          before.update(data);
          after.update(data);
        }
        expect(c.between?.(k, after)).toEqual(c.between?.(k, before as unknown as Estimator));
        for (const field of FIELDS) {
          const a = before[field];
          const b = after[field];
          expect(b.length).toBe(a.length);
          for (let p = 0; p < a.length; p++) {
            if (!Object.is(a[p], b[p])) expect.fail(`${c.name}: frame ${k}, ${field}[${p}]: ${b[p]} after, ${a[p]} before`);
            compared++;
          }
        }
        for (let p = 0; p < after.flags.length; p++) {
          seen.flags |= after.flags[p];
          seen.slip |= after.slip[p];
          seen.inContact |= after.inContact[p];
          if (after.force[p] !== after.proxy[p]) seen.calibrated = 1;
        }
        expect([after.ready, after.frames, after.dropped]).toEqual([before.ready, before.frames, before.dropped]);
      }
      expect(compared).toBe(c.frames * FIELDS.length * clip.fingertips.length);
    });
  }
  it('the clips took every path: all eight flags, slip, contact, a calibrated force', () => {
    expect(seen).toEqual({ flags: 0xff, slip: 1, inContact: 1, calibrated: 1 });
  });
});
