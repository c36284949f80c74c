/**
 * `embody bench inference`: what the runtime adds around session.run() — observation building
 * (image resize and normalisation from the manifest, state, touch), output conversion and the
 * hand-over to the control worker — against a bare session.run() loop on the same session and
 * the same inputs, in alternating rounds so both see the same machine state. The same runner
 * over the policy process (robot.yaml `policy.host: process`, the default) is measured beside
 * them: its extra is the IPC round trip that keeps a slow model off the main thread.
 */
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/runtime/config/index.js';
import { createObservationBuilder } from '../src/runtime/policy/observation.js';
import { ProcessSession } from '../src/runtime/policy/process-session.js';
import { PolicyRunner } from '../src/runtime/policy/runner.js';
import { SnapshotRecord } from '../src/runtime/records.js';

export interface InferenceBench {
  readonly model: string;
  readonly bareP50Ms: number;
  readonly runtimeP50Ms: number;
  readonly bareP99Ms: number;
  readonly runtimeP99Ms: number;
  /** runtime p50 / bare p50 - 1. */
  readonly overhead: number;
  /** The runner over the policy process (the default host), p50 and p99. */
  readonly processP50Ms: number;
  readonly processP99Ms: number;
  /** process p50 / bare p50 - 1. */
  readonly processOverhead: number;
  /** Building the observation alone (image resize/normalise, state, touch), p50. */
  readonly observationP50Ms: number;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function benchInference(robotFile: string, options: { rounds?: number; perRound?: number } = {}): Promise<InferenceBench> {
  const config = await loadConfig(robotFile, { policyHost: 'inline' });
  const { robot, manifest, session } = config;
  const runner = new PolicyRunner(session, manifest, robot);
  const hosted = await ProcessSession.open(config.modelPath);
  const hostedRunner = new PolicyRunner(hosted, manifest, robot);
  const snapshot = new Float64Array(SnapshotRecord.size(robot.joints.length));
  const frames = new Map(
    robot.cameras.map((c) => {
      const data = new Uint8Array(c.width * c.height * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 255;
      return [c.name, { camera: c.name, sequence: 1, timestampMs: 0, width: c.width, height: c.height, data }];
    }),
  );
  const touch = { contact: new Float64Array(robot.fingertips.length), force: new Float64Array(robot.fingertips.length), area: new Float64Array(robot.fingertips.length) };
  // Frames are stamped 0 and the observation is built at 0: always fresh.
  const sources = { snapshot, frame: (name: string) => frames.get(name), touch, instruction: '', nowMs: 0 };
  const sink = { publishChunk: (): void => undefined };
  const bare = createObservationBuilder(manifest, robot);
  bare.build(sources);
  const feeds: Record<string, ort.Tensor> = bare.feeds;
  for (let i = 0; i < 50; i++) {
    await session.run(feeds);
    await runner.infer(sources, sink);
    await hostedRunner.infer(sources, sink);
  }
  const observationTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    bare.build(sources);
    observationTimes.push(performance.now() - t0);
  }
  const bareTimes: number[] = [];
  const runtimeTimes: number[] = [];
  const processTimes: number[] = [];
  const rounds = options.rounds ?? 20;
  const perRound = options.perRound ?? 100;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      bareTimes.push(performance.now() - t0);
    }
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      await runner.infer(sources, sink);
      runtimeTimes.push(performance.now() - t0);
    }
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      await hostedRunner.infer(sources, sink);
      processTimes.push(performance.now() - t0);
    }
  }
  await session.release();
  await hosted.release();
  const bareP50Ms = percentile(bareTimes, 0.5);
  const runtimeP50Ms = percentile(runtimeTimes, 0.5);
  return {
    model: config.modelPath,
    bareP50Ms,
    runtimeP50Ms,
    bareP99Ms: percentile(bareTimes, 0.99),
    runtimeP99Ms: percentile(runtimeTimes, 0.99),
    overhead: runtimeP50Ms / bareP50Ms - 1,
    processP50Ms: percentile(processTimes, 0.5),
    processP99Ms: percentile(processTimes, 0.99),
    processOverhead: percentile(processTimes, 0.5) / bareP50Ms - 1,
    observationP50Ms: percentile(observationTimes, 0.5),
  };
}
