/**
 * `npm run bench -- safety`: the envelope's cost per tick for a 7-joint arm (target: p99 <= 5 µs)
 * and its allocations per tick (target: zero), beside two anchors in the same run: the timer's
 * own cost (an empty call timed the same way) and the cheapest thinkable envelope (a plain
 * position clamp over the same 7 joints).
 *
 * Three command streams: a smooth trajectory inside the limits (what a good policy sends:
 * pass-through), random targets anywhere each tick (every tick shaped, bisection path), and
 * braking from speed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { JointDescription } from '../src/robot/index.js';
import { JointEnvelope, limitsFromJoints, warmUpEnvelope } from '../src/safety/index.js';

const JOINTS = 7;
const RATE_HZ = 1000;

/** A 7-joint arm with limits of the size libfranka's rate limiter uses (FR3: 10 rad/s², 5000 rad/s³). */
function arm(): JointDescription[] {
  return Array.from({ length: JOINTS }, (_, i) => ({
    name: `j${i}`,
    type: 'revolute' as const,
    driver: { kind: 'sim' as const },
    limits: { position: [-2.7, 2.7] as [number, number], velocity: 2.0, acceleration: 10, jerk: 5000, effort: 80, soft_margin: 0.1 },
  }));
}

interface Stream {
  readonly name: string;
  fill(tick: number, out: Float64Array): void;
}

function makeStreams(): Stream[] {
  // Random targets come from a table filled up front: a generator's state in a closure would
  // box a double per call, and the bench would measure its own garbage.
  const table = new Float64Array(JOINTS * 4096);
  let seed = 12345;
  for (let k = 0; k < table.length; k++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    table[k] = -4 + (8 * seed) / 2147483648;
  }
  // One period of a smooth trajectory per 4096 ticks (so the table wraps without a jump).
  const smooth = new Float64Array(JOINTS * 4096);
  for (let k = 0; k < 4096; k++) {
    for (let i = 0; i < JOINTS; i++) smooth[k * JOINTS + i] = 0.5 * (1 - Math.cos((2 * Math.PI * k) / 4096 + i));
  }
  return [
    {
      name: 'smooth',
      fill: (tick, out) => {
        const base = (tick & 4095) * JOINTS;
        for (let i = 0; i < JOINTS; i++) out[i] = smooth[base + i];
      },
    },
    {
      name: 'random',
      fill: (tick, out) => {
        const base = (tick & 4095) * JOINTS;
        for (let i = 0; i < JOINTS; i++) out[i] = table[base + i];
      },
    },
  ];
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export interface SafetyBenchResult {
  readonly joints: number;
  readonly ticks: number;
  readonly timerUs: { p50: number; p99: number };
  readonly clampUs: { p50: number; p99: number };
  readonly streams: Record<string, { p50Us: number; p99Us: number; maxUs: number; p99OverClamp: number; bytesPerTick: { steady: number; worstRound: number } }>;
  readonly brake: { p99Us: number; bytesPerTick: { steady: number; worstRound: number } };
  readonly targetP99Us: number;
  readonly met: boolean;
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Bytes of heap per call of `step` in steady state: the least over five rounds. A round in
 * which V8 re-optimizes a function (after a deopt on a new path) runs some ticks in the
 * interpreter, which boxes doubles; the minimum is what the optimized tick allocates.
 */
function bytesPerTick(gc: () => void, ticks: number, step: (tick: number) => void): { steady: number; worstRound: number } {
  for (let t = 0; t < 10_000; t++) step(t);
  let steady = Infinity;
  let worstRound = 0;
  const perRound = Math.max(1, Math.floor(ticks / 5));
  for (let round = 0; round < 5; round++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let t = 0; t < perRound; t++) step(round * perRound + t);
    const bytes = Math.max(0, (process.memoryUsage().heapUsed - before) / perRound);
    steady = Math.min(steady, bytes);
    worstRound = Math.max(worstRound, bytes);
  }
  return { steady, worstRound };
}

function timeCalls(ticks: number, step: (tick: number) => void): Float64Array {
  const samples = new Float64Array(ticks);
  for (let t = 0; t < 20_000; t++) step(t);
  for (let t = 0; t < ticks; t++) {
    const start = performance.now();
    step(t);
    samples[t] = (performance.now() - start) * 1000;
  }
  return samples.sort();
}

export function benchSafety(ticks = 200_000): SafetyBenchResult {
  const gc = exposeGc();
  const joints = arm();
  const limits = limitsFromJoints(joints);
  // As the control loop does before its first tick.
  warmUpEnvelope(limits, 1 / RATE_HZ);
  const proposal = new Float64Array(JOINTS);
  const timer = timeCalls(ticks, () => undefined);
  const lower = limits.lower;
  const upper = limits.upper;
  const clamped = new Float64Array(JOINTS);
  const clamp = timeCalls(ticks, (t) => {
    proposal[t % JOINTS] = t * 1e-6;
    for (let i = 0; i < JOINTS; i++) clamped[i] = Math.min(upper[i], Math.max(lower[i], proposal[i]));
  });
  const clampP99 = percentile(clamp, 0.99);
  const streams: SafetyBenchResult['streams'] = {};
  for (const stream of makeStreams()) {
    const envelope = new JointEnvelope(limits, 1 / RATE_HZ);
    envelope.seed(new Float64Array(JOINTS));
    const step = (t: number): void => {
      stream.fill(t, proposal);
      envelope.track(proposal);
    };
    const samples = timeCalls(ticks, step);
    const p99 = percentile(samples, 0.99);
    streams[stream.name] = {
      p50Us: percentile(samples, 0.5),
      p99Us: p99,
      maxUs: samples[samples.length - 1],
      p99OverClamp: p99 / Math.max(clampP99, 1e-3),
      bytesPerTick: bytesPerTick(gc, ticks, step),
    };
  }
  // Braking: run up to speed, then time the stop ticks (repeated).
  const envelope = new JointEnvelope(limits, 1 / RATE_HZ);
  envelope.seed(new Float64Array(JOINTS));
  // Two fixed targets: filling one per tick would box the double for fill() and be measured.
  const forward = new Float64Array(JOINTS).fill(2.5);
  const back = new Float64Array(JOINTS).fill(-2.5);
  const brakeStep = (t: number): void => {
    if (t % 400 < 300) envelope.track(t % 800 < 400 ? forward : back);
    else envelope.brake();
  };
  const brakeSamples = timeCalls(ticks, brakeStep);
  const result: SafetyBenchResult = {
    joints: JOINTS,
    ticks,
    timerUs: { p50: percentile(timer, 0.5), p99: percentile(timer, 0.99) },
    clampUs: { p50: percentile(clamp, 0.5), p99: clampP99 },
    streams,
    brake: { p99Us: percentile(brakeSamples, 0.99), bytesPerTick: bytesPerTick(gc, ticks, brakeStep) },
    targetP99Us: 5,
    met: false,
  };
  const worstP99 = Math.max(...Object.values(streams).map((s) => s.p99Us), result.brake.p99Us);
  const worstBytes = Math.max(...Object.values(streams).map((s) => s.bytesPerTick.steady), result.brake.bytesPerTick.steady);
  return { ...result, met: worstP99 <= 5 && worstBytes < 1 };
}
