/**
 * Runs the policy when the control worker asks for a chunk: build the observation, one
 * session.run() on the process-lifetime session, turn the normalised output into absolute
 * joint targets in robot units, hand the chunk to the worker. Inference latency is kept in a
 * fixed ring for percentiles.
 */
import type { RobotDescription } from '../../robot/index.js';
import { SnapshotRecord } from '../records.js';
import type { PolicyManifest } from './manifest.js';
import { createObservationBuilder, type ObservationGap, type ObservationSources } from './observation.js';
import type { PolicySession, PolicyTensor } from './session.js';

export interface ChunkSink {
  publishChunk(obsTick: number, values: Float64Array, count: number): void;
}

export interface InferenceResult {
  readonly obsTick: number;
  readonly latencyMs: number;
  readonly gap: ObservationGap;
  /** The output was not the manifest's [1, H, D] float tensor: what was wrong (its chunk was all NaN). */
  readonly malformed?: string;
}

/** Why an output is not the manifest's `[1, horizon, dim]` float32 tensor, or undefined. */
export function malformedOutput(tensor: PolicyTensor | undefined, name: string, horizon: number, dim: number): string | undefined {
  if (tensor === undefined) return `the model returned no output named ${name}`;
  if (tensor.type !== 'float32' || !(tensor.data instanceof Float32Array)) return `output ${name} is ${tensor.type}, the manifest needs float32`;
  const dims = tensor.dims;
  const shapeOk = dims.length === 3 && dims[0] === 1 && dims[1] === horizon && dims[2] === dim && tensor.data.length === horizon * dim;
  return shapeOk ? undefined : `output ${name} has shape [${dims.join(', ')}], the manifest needs [1, ${horizon}, ${dim}]`;
}

const LATENCY_RING = 4096;

export class PolicyRunner {
  readonly #session: PolicySession;
  readonly #manifest: PolicyManifest;
  readonly #build: ReturnType<typeof createObservationBuilder>;
  readonly #chunk: Float64Array;
  readonly #outputJoints: Int32Array;
  /** Where the measured positions start in the snapshot (records.ts). */
  readonly #positionAt: number;
  readonly #latencies = new Float64Array(LATENCY_RING);
  #runs = 0;
  #skipped = 0;
  #nonFinite = 0;
  #malformed = 0;

  constructor(session: PolicySession, manifest: PolicyManifest, robot: RobotDescription) {
    this.#session = session;
    this.#manifest = manifest;
    const types: Record<string, string> = {};
    for (const meta of session.inputMetadata) if (meta.isTensor) types[meta.name] = meta.type;
    this.#build = createObservationBuilder(manifest, robot, types);
    const names = robot.joints.map((j) => j.name);
    this.#outputJoints = Int32Array.from(manifest.output.joints.map((j) => names.indexOf(j)));
    this.#positionAt = SnapshotRecord.block('position', names.length);
    this.#chunk = new Float64Array(manifest.output.horizon * manifest.output.joints.length);
  }

  /** Robot joint index of each action dimension. */
  get outputJoints(): readonly number[] {
    return Array.from(this.#outputJoints);
  }

  get runs(): number {
    return this.#runs;
  }

  /** Requests answered with nothing because an input (a camera frame) was missing. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Outputs not of the manifest's shape or type (sent as NaN chunks, rejected by the loop). */
  get malformed(): number {
    return this.#malformed;
  }

  /** Chunks that contained NaN/Inf; they still go to the worker, whose envelope rejects them. */
  get nonFinite(): number {
    return this.#nonFinite;
  }

  async infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult> {
    const obsTick = sources.snapshot[SnapshotRecord.header.tick];
    const gap = this.#build.build(sources);
    if (gap) {
      this.#skipped++;
      return { obsTick, latencyMs: 0, gap };
    }
    const started = performance.now();
    const outputs = await this.#session.run(this.#build.feeds);
    const latencyMs = performance.now() - started;
    this.#latencies[this.#runs % LATENCY_RING] = latencyMs;
    this.#runs++;
    const { output } = this.#manifest;
    const tensor = outputs[output.name];
    const dim = output.joints.length;
    const chunk = this.#chunk;
    const malformed = malformedOutput(tensor, output.name, output.horizon, dim);
    if (malformed !== undefined) {
      // Not truncated, not padded: a chunk of NaN, which the loop rejects action by action, so
      // the rejection limit stops a model that keeps answering in the wrong shape.
      this.#malformed++;
      chunk.fill(Number.NaN);
      sink.publishChunk(obsTick, chunk, output.horizon);
      return { obsTick, latencyMs, gap: undefined, malformed };
    }
    const raw = tensor.data as Float32Array;
    const count = output.horizon;
    const mean = output.normalize?.mean;
    const std = output.normalize?.std;
    let finite = true;
    for (let k = 0; k < count; k++) {
      for (let d = 0; d < dim; d++) {
        let v = raw[k * dim + d];
        if (mean && std) v = v * std[d] + mean[d];
        if (output.mode === 'delta') v += sources.snapshot[this.#positionAt + this.#outputJoints[d]];
        if (!Number.isFinite(v)) finite = false;
        chunk[k * dim + d] = v;
      }
    }
    if (!finite) this.#nonFinite++;
    sink.publishChunk(obsTick, chunk, count);
    return { obsTick, latencyMs, gap: undefined };
  }

  /** Inference latency percentiles over the recent ring, ms (the cold first run excluded). */
  latencyPercentiles(): { p50: number; p99: number; max: number; count: number } {
    const n = Math.min(this.#runs, LATENCY_RING);
    const skipCold = this.#runs <= LATENCY_RING ? 1 : 0;
    const values = Array.from(this.#latencies.subarray(skipCold, n)).sort((a, b) => a - b);
    if (values.length === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
    const at = (q: number): number => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
    return { p50: at(0.5), p99: at(0.99), max: values[values.length - 1], count: values.length };
  }
}
