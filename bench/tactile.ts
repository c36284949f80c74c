/**
 * `benchTactile()`: the touch estimator's cost per frame per pad (p50/p99/max) and its heap
 * allocation per frame, at the sim's 20x20 pads (96x72 frame, two pads), at one ROI of 160x120
 * and 320x240 (targets: p99 <= 1 ms and <= 3 ms), and at two 133x133 pads in a 640x480 frame
 * (the sim-arm layout scaled up: what one real wrist camera costs the main thread), on synthetic
 * clips with contacts, shear and camera motion; beside it, the contact F1 and worst onset on the
 * scored sim clips. `npm run bench -- tactile` runs it (bench/index.ts).
 *
 * The issue's anchor, the same estimate with OpenCV.js (frame differencing, and with Farneback
 * flow, from @techstark/opencv-js), is bench/tactile-opencv.ts, run right after this one.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import type { RobotDescription } from '../src/robot/index.js';
import { loadRobotDescription } from '../src/runtime/config/index.js';
import { createTouchEstimator } from '../src/tactile/index.js';
import { contactScenarios, createSyntheticClip, evaluateContactClip, stressScenarios } from '../src/tactile/synthetic.js';

export interface TactileCost {
  readonly label: string;
  readonly width: number;
  readonly height: number;
  readonly pads: number;
  readonly roi: readonly number[];
  readonly frames: number;
  /** Per frame per pad, µs. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Heap growth per frame (all pads), bytes: the least over five rounds, and the worst round. */
  readonly bytesPerFrame: { readonly steady: number; readonly worstRound: number };
  readonly targetP99Us?: number;
}

export interface TactileBenchResult {
  readonly costs: readonly TactileCost[];
  readonly contact: readonly { readonly scenario: string; readonly stateF1: number; readonly probabilityF1: number; readonly worstOnsetFrames: number; readonly stress: boolean }[];
  readonly met: boolean;
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The sim robot with its wrist camera resized and one pad per ROI. */
function resized(robot: RobotDescription, width: number, height: number, ...rois: [number, number, number, number][]): RobotDescription {
  const camera = { ...robot.cameras[0], width, height };
  return { ...robot, cameras: [camera], fingertips: rois.map((roi, i) => ({ name: `pad${i}`, camera: camera.name, roi })) };
}

function measure(label: string, robot: RobotDescription, frames: number, gc: () => void, targetP99Us?: number): TactileCost {
  const camera = robot.cameras[0];
  const pads = robot.fingertips.filter((f) => f.camera === camera.name);
  // 64 distinct frames: contacts on and off, shear, slow camera motion; rendered up front.
  const clip = createSyntheticClip(robot, 64, {
    force: (k) => (k % 32 >= 12 ? 10 + k : 0),
    shear: (k) => (k % 32 >= 20 ? [1, 0.5] : [0, 0]),
    shift: (k) => [0.4 * Math.sin(k / 5), 0.3 * Math.sin(k / 7)],
  });
  const images = Array.from({ length: 64 }, (_, k) => {
    const data = new Uint8Array(camera.width * camera.height * 3);
    clip.render(k, data);
    return data;
  });
  const estimator = createTouchEstimator(pads, camera.width, camera.height);
  for (let i = 0; i < 2000; i++) estimator.update(images[i & 63]);
  const samples = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    const start = performance.now();
    estimator.update(images[i & 63]);
    samples[i] = ((performance.now() - start) * 1000) / pads.length;
  }
  samples.sort();
  let steady = Infinity;
  let worstRound = 0;
  const perRound = Math.max(500, Math.floor(frames / 2));
  for (let round = 0; round < 5; round++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < perRound; i++) estimator.update(images[i & 63]);
    const bytes = Math.max(0, (process.memoryUsage().heapUsed - before) / perRound);
    steady = Math.min(steady, bytes);
    worstRound = Math.max(worstRound, bytes);
  }
  return {
    label,
    width: camera.width,
    height: camera.height,
    pads: pads.length,
    roi: pads[0].roi,
    frames,
    p50Us: percentile(samples, 0.5),
    p99Us: percentile(samples, 0.99),
    maxUs: samples[samples.length - 1],
    bytesPerFrame: { steady, worstRound },
    ...(targetP99Us !== undefined ? { targetP99Us } : {}),
  };
}

export function benchTactile(options: { robotFile?: string; frames?: number; contactSeeds?: number[] } = {}): TactileBenchResult {
  const gc = exposeGc();
  const robotFile = options.robotFile ?? fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../robots/sim-arm.yaml' : '../../robots/sim-arm.yaml', import.meta.url));
  const robot = loadRobotDescription(robotFile);
  const frames = options.frames ?? 4000;
  const costs = [
    measure('sim pads 20x20 (96x72, 2 pads)', robot, frames, gc),
    measure('one ROI 160x120', resized(robot, 160, 120, [0, 0, 160, 120]), frames, gc, 1000),
    measure('one ROI 320x240', resized(robot, 320, 240, [0, 0, 320, 240]), Math.max(500, frames / 2), gc, 3000),
    measure('two 133x133 pads (640x480)', resized(robot, 640, 480, [13, 333, 133, 133], [493, 333, 133, 133]), Math.max(500, frames / 2), gc),
  ];
  const contact: TactileBenchResult['contact'][number][] = [];
  for (const [list, stress] of [
    [contactScenarios, false],
    [stressScenarios, true],
  ] as const) {
    for (const [scenario, extra] of list) {
      for (const seed of options.contactSeeds ?? [1, 2]) {
        const { state, probability } = evaluateContactClip(robot, seed, extra);
        contact.push({ scenario: `${scenario} #${seed}`, stateF1: state.f1, probabilityF1: probability.f1, worstOnsetFrames: state.worstOnset, stress });
      }
    }
  }
  const met =
    costs.every((c) => c.targetP99Us === undefined || c.p99Us <= c.targetP99Us) &&
    costs.every((c) => c.bytesPerFrame.steady < 1) &&
    contact.filter((c) => !c.stress).every((c) => c.stateF1 >= 0.95 && c.worstOnsetFrames >= 0 && c.worstOnsetFrames <= 2);
  return { costs, contact, met };
}

export function formatTactile(r: TactileBenchResult): string {
  const lines = r.costs.map(
    (c) =>
      `tactile: ${c.label}: per frame per pad p50 ${(c.p50Us / 1000).toFixed(3)} ms, p99 ${(c.p99Us / 1000).toFixed(3)} ms` +
      `${c.targetP99Us ? ` (target <= ${c.targetP99Us / 1000} ms)` : ''}, max ${(c.maxUs / 1000).toFixed(2)} ms, ${c.bytesPerFrame.steady.toFixed(2)} bytes/frame steady (worst round ${c.bytesPerFrame.worstRound.toFixed(1)})`,
  );
  for (const c of r.contact) {
    lines.push(`tactile: contact ${c.scenario}${c.stress ? ' [stress]' : ''}: state F1 ${c.stateF1.toFixed(3)}, p>0.5 F1 ${c.probabilityF1.toFixed(3)}, worst onset ${c.worstOnsetFrames} frames`);
  }
  lines.push(`tactile: ${r.met ? 'met' : 'NOT met'} (the OpenCV.js anchor follows, from bench/tactile-opencv.ts)`);
  return `${lines.join('\n')}\n`;
}

// `npx tsx bench/tactile.ts` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(formatTactile(benchTactile()));
}
