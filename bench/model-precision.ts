/**
 * `embody bench model`: the demo policy in fp32 beside the same network statically quantized
 * to int8 (QDQ), both run by onnxruntime on one thread with spinning off, as on the robot.
 * Rounds alternate between the two sessions on the same inputs so both see the same machine
 * state (frequency, cache, noisy neighbours).
 *
 *   npx tsx bench/model-precision.ts [seconds]     prints the result as JSON
 */
import { policySessionOptions } from '../src/runtime/policy/session-options.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { forward, type DemoNetwork } from '../models/demo-network.js';
import { DEMO_NETWORK_SIZE, randomDemoNetwork, randomDemoObservations, writeDemoPolicyOnnx } from '../models/onnx/index.js';

export interface LatencyPercentiles {
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface ModelPrecisionBench {
  readonly fp32: LatencyPercentiles;
  readonly int8: LatencyPercentiles;
  /** fp32 p50 / int8 p50: above 1 means int8 is faster. */
  readonly ratio: number;
  readonly runsEach: number;
  /** Largest |int8 - fp32 reference forward()| over held-out observations, beside the output range. */
  readonly int8MaxAbsError: number;
  readonly outputRange: number;
}

/** The runtime's own session options, so the bench measures what the robot runs. */
export const benchSessionOptions = policySessionOptions;

function feedsOf(net: DemoNetwork, image: Float32Array, state: Float32Array, touch: Float32Array): Record<string, ort.Tensor> {
  return {
    image: new ort.Tensor('float32', image, [1, ...net.imageShape]),
    state: new ort.Tensor('float32', state, [1, net.stateSize]),
    touch: new ort.Tensor('float32', touch, [1, net.touchSize]),
  };
}

/** A speed-up only counts if the answers stay usable, so the bench reports both. */
async function int8Error(net: DemoNetwork, session: ort.InferenceSession): Promise<{ maxAbsError: number; range: number }> {
  const held = randomDemoObservations(net, 32, 4);
  let maxAbsError = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < held.images.length; i++) {
    const got = (await session.run(feedsOf(net, held.images[i], held.states[i], held.touches[i]))).actions.data as Float32Array;
    const want = forward(net, held.images[i], held.states[i], held.touches[i]);
    for (let j = 0; j < want.length; j++) {
      maxAbsError = Math.max(maxAbsError, Math.abs(got[j] - want[j]));
      lo = Math.min(lo, want[j]);
      hi = Math.max(hi, want[j]);
    }
  }
  return { maxAbsError, range: hi - lo };
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summarise(samples: number[]): LatencyPercentiles {
  const sorted = Float64Array.from(samples).sort();
  return { p50Us: percentile(sorted, 0.5) * 1000, p99Us: percentile(sorted, 0.99) * 1000 };
}

export async function benchModelPrecision(options: { seconds?: number } = {}): Promise<ModelPrecisionBench> {
  const seconds = options.seconds ?? 10;
  const net = randomDemoNetwork(DEMO_NETWORK_SIZE, 1);
  const dir = mkdtempSync(path.join(tmpdir(), 'embody-bench-model-'));
  try {
    const fp32File = path.join(dir, 'demo-fp32.onnx');
    const int8File = path.join(dir, 'demo-int8.onnx');
    writeDemoPolicyOnnx(net, fp32File, { precision: 'fp32' });
    writeDemoPolicyOnnx(net, int8File, { precision: 'int8', calibration: randomDemoObservations(net, 64, 2) });
    const sessions = [await ort.InferenceSession.create(fp32File, benchSessionOptions), await ort.InferenceSession.create(int8File, benchSessionOptions)];
    try {
      const obs = randomDemoObservations(net, 1, 3);
      const feeds = feedsOf(net, obs.images[0], obs.states[0], obs.touches[0]);
      const error = await int8Error(net, sessions[1]);
      // Warm-up: first runs allocate the arena and page in the kernels.
      for (let i = 0; i < 200; i++) for (const s of sessions) await s.run(feeds);
      const samples: number[][] = [[], []];
      const perRound = 200;
      const end = performance.now() + seconds * 1000;
      while (performance.now() < end) {
        for (let k = 0; k < sessions.length; k++) {
          const session = sessions[k];
          const into = samples[k];
          for (let i = 0; i < perRound; i++) {
            const t0 = performance.now();
            await session.run(feeds);
            into.push(performance.now() - t0);
          }
        }
      }
      const fp32 = summarise(samples[0]);
      const int8 = summarise(samples[1]);
      return { fp32, int8, ratio: fp32.p50Us / int8.p50Us, runsEach: samples[0].length, int8MaxAbsError: error.maxAbsError, outputRange: error.range };
    } finally {
      for (const s of sessions) await s.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const seconds = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined;
  process.stdout.write(JSON.stringify(await benchModelPrecision({ seconds }), null, 2) + '\n');
}
