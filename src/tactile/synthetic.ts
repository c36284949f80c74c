/**
 * Synthetic wrist-camera clips with a known touch timeline, for tests and the benchmark: the
 * simulator renders the pads under a grip force per frame (its renderer is the ground truth of
 * what deformation looks like here), then the clip adds what a real camera adds: lighting steps
 * (a global gain), camera motion (a whole-image sub-pixel shift), sensor noise, and, on the
 * pads, a tangential shear of the contact patch or a partial slip (inner disc and outer ring
 * moving apart). Allocates per frame: not for the hot path.
 */
import type { CameraDescription, FingertipDescription, RobotDescription } from '../robot/index.js';
import { createRandom, renderWristFrame, SimPlant, World } from '../hal/sim/index.js';
import { createTouchEstimator, type TouchEstimatorOptions } from './estimator/index.js';

export interface TouchTimeline {
  /** Grip force on both pads at frame k, N (the sim's full grip is the gripper effort, 40 N on sim-arm). */
  force(k: number): number;
  /** Global brightness factor (1 = as rendered). */
  gain?(k: number): number;
  /** Whole-image shift, pixels. */
  shift?(k: number): readonly [number, number];
  /** Sensor noise standard deviation, grey levels (default the robot's sim.camera_noise). */
  noise?(k: number): number;
  /** Tangential displacement of the contact patch, pixels. */
  shear?(k: number): readonly [number, number];
  /** Partial slip: the inner half of the patch moves by shear, the outer ring the opposite way. */
  slip?(k: number): boolean;
}

export interface SyntheticClip {
  readonly camera: CameraDescription;
  readonly fingertips: readonly FingertipDescription[];
  readonly frames: number;
  /** Render frame k into `out` (width * height * 3 bytes). Frames may be rendered in any order. */
  render(k: number, out: Uint8Array): void;
}

/** Area within which the sim renders the contact patch for a given load (as wrist-camera.ts). */
function patchRadius(roi: readonly number[], load: number): number {
  return 0.45 * Math.min(roi[2], roi[3]) * Math.sqrt(Math.max(0, load));
}

function bilinear(src: Uint8Array, width: number, height: number, x: number, y: number, c: number): number {
  const cx = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
  const cy = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
  const x0 = Math.min(width - 2, Math.floor(cx));
  const y0 = Math.min(height - 2, Math.floor(cy));
  const fx = cx - x0;
  const fy = cy - y0;
  const a = src[3 * (y0 * width + x0) + c];
  const b = src[3 * (y0 * width + x0 + 1) + c];
  const d = src[3 * ((y0 + 1) * width + x0) + c];
  const e = src[3 * ((y0 + 1) * width + x0 + 1) + c];
  return (a + fx * (b - a)) * (1 - fy) + (d + fx * (e - d)) * fy;
}

function blur121(src: Uint8Array, width: number, height: number, out: Uint8Array): void {
  const at = (x: number, y: number, c: number): number =>
    src[3 * (Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) + c];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let j = -1; j <= 1; j++) for (let i = -1; i <= 1; i++) sum += (i === 0 ? 2 : 1) * (j === 0 ? 2 : 1) * at(x + i, y + j, c);
        out[3 * (y * width + x) + c] = Math.round(sum / 16);
      }
    }
  }
}

export function createSyntheticClip(robot: RobotDescription, frames: number, timeline: TouchTimeline, seed = 1, camera = robot.cameras[0]): SyntheticClip {
  if (!camera) throw new Error('the robot has no camera');
  const fingertips = robot.fingertips.filter((f) => f.camera === camera.name);
  const { width, height } = camera;
  const world = new Float64Array(SimPlant.snapshotSizeFor(robot));
  const base = new Uint8Array(width * height * 3);
  const warped = new Uint8Array(width * height * 3);
  const defaultNoise = robot.sim?.camera_noise ?? 2;
  const maxForce = robot.joints.find((j) => j.name === robot.gripper?.joint)?.limits.effort ?? 40;
  return {
    camera,
    fingertips,
    frames,
    render(k, out) {
      const force = timeline.force(k);
      world.fill(0);
      world[World.LEFT_FORCE] = force;
      world[World.RIGHT_FORCE] = force;
      world[World.MAX_GRIP_FORCE] = maxForce;
      renderWristFrame(world, camera, fingertips, 0, createRandom(1), base);
      // Optics: a lens spreads each point over about a pixel ([1 2 1] / 4 each way), so a
      // sub-pixel shift moves the image rather than changing its sharpness.
      blur121(base, width, height, warped);
      base.set(warped);
      // Shear / slip of each pad's contact patch.
      const [sx, sy] = timeline.shear?.(k) ?? [0, 0];
      const slipping = timeline.slip?.(k) ?? false;
      const load = Math.min(1, force / maxForce);
      if ((sx !== 0 || sy !== 0) && load > 0) {
        for (const pad of fingertips) {
          const [rx, ry, rw, rh] = pad.roi;
          const radius = patchRadius(pad.roi, load);
          const cx = rx + rw / 2;
          const cy = ry + rh / 2;
          for (let y = ry; y < Math.min(height, ry + rh); y++) {
            for (let x = rx; x < Math.min(width, rx + rw); x++) {
              const r = Math.hypot(x - cx, y - cy) / Math.max(radius, 1e-6);
              if (r >= 1.2) continue;
              // Smooth weight: full shear in the patch, fading out across its rim.
              let w = r < 0.8 ? 1 : Math.max(0, 1 - (r - 0.8) / 0.4);
              if (slipping && r >= 0.5) w = -w;
              for (let c = 0; c < 3; c++) warped[3 * (y * width + x) + c] = bilinear(base, width, height, x - w * sx, y - w * sy, c);
            }
          }
        }
      }
      // Camera motion, lighting and noise over the whole image.
      const [dx, dy] = timeline.shift?.(k) ?? [0, 0];
      const gain = timeline.gain?.(k) ?? 1;
      const noise = timeline.noise?.(k) ?? defaultNoise;
      const random = createRandom(seed * 100_003 + k);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          for (let c = 0; c < 3; c++) {
            const v = (dx === 0 && dy === 0 ? warped[3 * (y * width + x) + c] : bilinear(warped, width, height, x - dx, y - dy, c)) * gain + noise * random.gaussian();
            out[3 * (y * width + x) + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    },
  };
}

/** A piecewise timeline: contacts [startFrame, endFrame) at a force, with a ramp of `rampFrames` up. */
export interface ContactSegment {
  readonly start: number;
  readonly end: number;
  readonly force: number;
}

export function contactForce(segments: readonly ContactSegment[], rampFrames = 2, firstForce = 4): (k: number) => number {
  return (k) => {
    for (const s of segments) {
      if (k >= s.start && k < s.end) {
        const into = k - s.start;
        return into >= rampFrames ? s.force : firstForce + ((s.force - firstForce) * into) / rampFrames;
      }
    }
    return 0;
  };
}

/** Seeded random contact segments: durations and gaps in frames, forces in N. */
export function randomContacts(
  frames: number,
  seed: number,
  options: { start?: number; duration?: [number, number]; gap?: [number, number]; force?: [number, number] } = {},
): ContactSegment[] {
  const random = createRandom(seed);
  const [d0, d1] = options.duration ?? [15, 60];
  const [g0, g1] = options.gap ?? [12, 45];
  const [f0, f1] = options.force ?? [6, 40];
  const segments: ContactSegment[] = [];
  let k = options.start ?? 20;
  for (;;) {
    k += Math.round(g0 + (g1 - g0) * random.next());
    const duration = Math.round(d0 + (d1 - d0) * random.next());
    if (k + duration >= frames) break;
    segments.push({ start: k, end: k + duration, force: f0 + (f1 - f0) * random.next() });
    k += duration;
  }
  return segments;
}

/** Per-frame truth of a segment list. */
export function contactTruth(segments: readonly ContactSegment[], frames: number): Uint8Array {
  const truth = new Uint8Array(frames);
  for (const s of segments) truth.fill(1, s.start, Math.min(frames, s.end));
  return truth;
}

export interface ContactScore {
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
  /** Frames from each true onset to the first detected frame in that contact (-1: missed). */
  readonly onsetFrames: readonly number[];
  readonly worstOnset: number;
  readonly frames: number;
}

/** F1 of a detection sequence against the truth, over frames [from, truth.length). */
export function scoreContacts(truth: Uint8Array, detected: Uint8Array, from = 0): ContactScore {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const onsets: number[] = [];
  for (let k = from; k < truth.length; k++) {
    if (truth[k] && detected[k]) tp++;
    else if (detected[k]) fp++;
    else if (truth[k]) fn++;
    if (truth[k] && (k === 0 || !truth[k - 1])) {
      let j = k;
      while (j < truth.length && truth[j] && !detected[j]) j++;
      onsets.push(j < truth.length && truth[j] ? j - k : -1);
    }
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 1;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 1;
  return {
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    precision,
    recall,
    onsetFrames: onsets,
    worstOnset: onsets.some((o) => o < 0) ? -1 : Math.max(0, ...onsets),
    frames: truth.length - from,
  };
}

/**
 * Encode a synthetic clip losslessly (FFV1 in Matroska, or y4m by extension) with ffmpeg, so
 * replay and the file camera backend are tested on what a recording would be.
 */
export async function writeSyntheticClip(clip: SyntheticClip, file: string, fps = clip.camera.fps, ffmpeg = 'ffmpeg'): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { width, height } = clip.camera;
  const codec = file.endsWith('.y4m') ? ['-pix_fmt', 'yuv444p'] : ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'];
  const child = spawn(
    ffmpeg,
    ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0', ...codec, file],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const frame = new Uint8Array(width * height * 3);
  for (let k = 0; k < clip.frames; k++) {
    clip.render(k, frame);
    if (!child.stdin.write(Buffer.from(frame))) await new Promise((resolve) => child.stdin.once('drain', resolve));
  }
  child.stdin.end();
  const code = await done;
  if (code !== 0) throw new Error(`ffmpeg could not write ${file} (exit ${code}): ${stderr.trim()}`);
}

/** Run a seeded random contact timeline (plus `extra` effects) through a fresh estimator; score both pads' contact state and p > 0.5. */
export function evaluateContactClip(
  robot: RobotDescription,
  seed: number,
  extra: Omit<TouchTimeline, 'force'>,
  frames = 900,
  options: TouchEstimatorOptions = {},
): { state: ContactScore; probability: ContactScore } {
  const segments = randomContacts(frames, seed);
  const clip = createSyntheticClip(robot, frames, { force: contactForce(segments), ...extra }, seed);
  const estimator = createTouchEstimator(clip.fingertips, clip.camera.width, clip.camera.height, options);
  const frame = new Uint8Array(clip.camera.width * clip.camera.height * 3);
  const truth = contactTruth(segments, frames);
  const state = new Uint8Array(frames);
  const probability = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) {
    clip.render(k, frame);
    estimator.update(frame);
    let s = 1;
    let p = 1;
    for (let i = 0; i < clip.fingertips.length; i++) {
      s &= estimator.inContact[i];
      p &= estimator.contact[i] > 0.5 ? 1 : 0;
    }
    state[k] = s;
    probability[k] = p;
  }
  const from = options.referenceFrames ?? 8;
  return { state: scoreContacts(truth, state, from), probability: scoreContacts(truth, probability, from) };
}

/** Camera motion for clips: still for the reference frames, then a slow Lissajous of `amplitude` pixels. */
export const slowCameraMotion =
  (amplitude: number) =>
  (k: number): readonly [number, number] =>
    k < 12 ? [0, 0] : [amplitude * Math.sin((k - 12) / 7), 0.7 * amplitude * Math.sin((k - 12) / 11)];

/** Camera shake for clips: still for the reference frames, then independent per-frame jitter of `sigma` pixels. */
export const cameraShake =
  (sigma: number) =>
  (k: number): readonly [number, number] => {
    if (k < 12) return [0, 0];
    const random = createRandom(k);
    return [sigma * random.gaussian(), sigma * random.gaussian()];
  };

/** The clip conditions the tests and the benchmark score contact on. */
export const contactScenarios: readonly (readonly [string, Omit<TouchTimeline, 'force'>])[] = [
  ['pressure levels 6-40 N, sim noise', {}],
  ['sensor noise sigma 4', { noise: () => 4 }],
  ['lighting steps -30 %..+35 %', { gain: (k) => [1, 1.25, 0.8, 1.1, 0.7, 1.35][Math.floor(k / 137) % 6] }],
  ['lighting drift +-30 %', { gain: (k) => 1 + 0.3 * Math.sin(k / 150) }],
  ['camera motion 0.6 px, slow', { shift: slowCameraMotion(0.6) }],
  ['camera shake sigma 0.15 px', { shift: cameraShake(0.15) }],
  ['noise + lighting + motion', { noise: () => 4, gain: (k) => [1, 1.2, 0.85][Math.floor(k / 200) % 3], shift: slowCameraMotion(0.6) }],
];

/** Harder conditions, reported but not held to F1 >= 0.95. */
export const stressScenarios: readonly (readonly [string, Omit<TouchTimeline, 'force'>])[] = [
  ['sensor noise sigma 6', { noise: () => 6 }],
  ['camera motion 1.2 px, slow', { shift: slowCameraMotion(1.2) }],
];
