/**
 * An openpi server as a chunk policy: the manifest's inputs become the observation dict (each
 * input's `name` is its key), the reply's `actions` become a chunk in robot units.
 *
 *   camera       → uint8 [height, width, channels] (HWC, area-resized like ONNX inputs)
 *   joint_state  → float32 [n] (normalised if the manifest says so), e.g. `observation/state`
 *   touch        → float32 [n]
 *   instruction  → the text, e.g. `prompt`
 *   reply[output.name] → [rows, joints] (or [1, rows, joints]); the first min(rows, horizon)
 *                  rows are used, unnormalised and made absolute as for an ONNX output.
 *
 * A reply of the wrong shape, dtype or with a non-finite value is refused whole (a RemotePolicyError
 * 'malformed'): the caller falls back rather than hand the loop a chunk from a confused server.
 * Not on the control path (the main thread, once per chunk), but the observation buffers are
 * still preallocated: a 224×224 image is 150 kB per request.
 */
import type { RobotDescription } from '../../../robot/index.js';
import { SnapshotRecord } from '../../records.js';
import { createImagePreprocessor } from '../image-preprocess.js';
import type { PolicyInput, PolicyManifest } from '../manifest.js';
import type { ObservationGap, ObservationSources } from '../observation.js';
import type { ChunkSink } from '../runner.js';
import { OpenpiConnection, RemotePolicyError, type WireMap } from './connection.js';
import { isNdArray, ndarray, packMessage, type NdArray, type WireValue } from './msgpack-numpy.js';

type Fill = (sources: ObservationSources, message: Record<string, WireValue>) => ObservationGap;

function blockIndex(names: readonly string[], name: string, what: string): number {
  const index = names.indexOf(name);
  if (index < 0) throw new Error(`policy manifest names ${what} '${name}', which robot.yaml does not have`);
  return index;
}

function vectorFill(key: string, read: (sources: ObservationSources, out: Float32Array) => void, size: number, normalize: { mean: number[]; std: number[] } | undefined): Fill {
  const data = new Float32Array(size);
  const value = ndarray(data, [size]);
  return (sources, message) => {
    read(sources, data);
    if (normalize) for (let i = 0; i < size; i++) data[i] = (data[i] - normalize.mean[i]) / normalize.std[i];
    message[key] = value;
    return undefined;
  };
}

function fillFor(input: PolicyInput, robot: RobotDescription): Fill {
  const joints = robot.joints.map((j) => j.name);
  switch (input.kind) {
    case 'camera': {
      const channels = input.channels === 'gray' ? 1 : 3;
      // The ONNX preprocessor with scale 1 and no normalisation gives area-averaged byte values.
      const pre = createImagePreprocessor({ ...input, layout: 'NHWC', scale: 1, normalize: undefined });
      const averaged = new Float32Array(pre.size);
      const bytes = new Uint8Array(pre.size);
      const value = ndarray(bytes, [input.height, input.width, channels]);
      const staleMs = robot.cameras.find((c) => c.name === input.camera)?.stale_after_ms ?? Infinity;
      return (sources, message) => {
        const frame = sources.frame(input.camera);
        if (!frame) return { missing: `camera '${input.camera}' has no frame yet` };
        const age = sources.nowMs - frame.timestampMs;
        if (age > staleMs) return { missing: `camera '${input.camera}' frame is ${Math.round(age)} ms old (stale_after_ms ${staleMs})` };
        pre.apply(frame.data, frame.width, frame.height, averaged);
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(averaged[i]);
        message[input.name] = value;
        return undefined;
      };
    }
    case 'joint_state': {
      const offsets = input.fields.flatMap((field) => input.joints.map((joint) => SnapshotRecord.block(field, joints.length) + blockIndex(joints, joint, 'joint')));
      return vectorFill(input.name, ({ snapshot }, out) => offsets.forEach((at, i) => (out[i] = snapshot[at])), offsets.length, input.normalize);
    }
    case 'touch': {
      const pads = input.fingertips.map((f) => blockIndex(robot.fingertips.map((t) => t.name), f, 'fingertip'));
      const size = pads.length * input.features.length;
      return vectorFill(
        input.name,
        ({ touch }, out) => {
          let k = 0;
          for (const pad of pads) for (const feature of input.features) out[k++] = touch[feature][pad];
        },
        size,
        input.normalize,
      );
    }
    case 'instruction':
      return ({ instruction }, message) => {
        message[input.name] = instruction;
        return undefined;
      };
  }
}

/** Why a reply's actions cannot drive the robot, or the [rows, dim] array to use. */
export function replyActions(reply: WireMap, key: string, dim: number): NdArray | string {
  const actions = reply[key];
  if (actions === undefined) return `the reply has no \`${key}\` (it has: ${Object.keys(reply).join(', ') || 'nothing'})`;
  if (!isNdArray(actions)) return `\`${key}\` is not an array`;
  if (actions.dtype !== '<f4' && actions.dtype !== '<f8') return `\`${key}\` has dtype ${actions.dtype}, embody needs <f4 or <f8`;
  const shape = actions.shape.length === 3 && actions.shape[0] === 1 ? actions.shape.slice(1) : actions.shape;
  if (shape.length !== 2 || shape[0] < 1 || shape[1] !== dim) return `\`${key}\` has shape [${actions.shape.join(', ')}], the manifest needs [horizon, ${dim}]`;
  return { ...actions, shape };
}

export interface RemoteAnswer {
  readonly obsTick: number;
  readonly latencyMs: number;
  readonly gap: ObservationGap;
}

/** Observation → one round trip → chunk, over a connection someone else keeps open. */
export class RemotePolicy {
  readonly #manifest: PolicyManifest;
  readonly #fills: Fill[];
  readonly #message: Record<string, WireValue> = {};
  readonly #chunk: Float64Array;
  readonly #outputJoints: Int32Array;
  readonly #positionAt: number;

  constructor(manifest: PolicyManifest, robot: RobotDescription) {
    this.#manifest = manifest;
    this.#fills = manifest.inputs.map((input) => fillFor(input, robot));
    const names = robot.joints.map((j) => j.name);
    this.#outputJoints = Int32Array.from(manifest.output.joints.map((j) => names.indexOf(j)));
    this.#positionAt = SnapshotRecord.block('position', names.length);
    this.#chunk = new Float64Array(manifest.output.horizon * manifest.output.joints.length);
  }

  /**
   * Build the observation now (synchronously: the sources may change while the reply travels),
   * send it, and publish the reply's chunk to `sink` (none for a probe). Rejects with a
   * RemotePolicyError.
   */
  async infer(connection: OpenpiConnection, sources: ObservationSources, sink: ChunkSink | undefined, deadlineMs: number): Promise<RemoteAnswer> {
    const obsTick = sources.snapshot[SnapshotRecord.header.tick];
    for (const fill of this.#fills) {
      const gap = fill(sources, this.#message);
      if (gap) return { obsTick, latencyMs: 0, gap };
    }
    // Positions the delta mode adds to, as they were when the observation was taken.
    const base = Float64Array.from(this.#outputJoints, (j) => sources.snapshot[this.#positionAt + j]);
    const started = performance.now();
    const reply = await connection.request(packMessage(this.#message), deadlineMs);
    const latencyMs = performance.now() - started;
    const count = this.#fill(reply, base);
    sink?.publishChunk(obsTick, this.#chunk, count);
    return { obsTick, latencyMs, gap: undefined };
  }

  #fill(reply: WireMap, base: Float64Array): number {
    const { output } = this.#manifest;
    const dim = output.joints.length;
    const actions = replyActions(reply, output.name, dim);
    if (typeof actions === 'string') throw new RemotePolicyError('malformed', actions);
    const raw = actions.data as Float32Array | Float64Array;
    const count = Math.min(actions.shape[0], output.horizon);
    const mean = output.normalize?.mean;
    const std = output.normalize?.std;
    const chunk = this.#chunk;
    for (let k = 0; k < count; k++) {
      for (let d = 0; d < dim; d++) {
        let v = raw[k * dim + d];
        if (mean && std) v = v * std[d] + mean[d];
        if (output.mode === 'delta') v += base[d];
        if (!Number.isFinite(v)) throw new RemotePolicyError('malformed', `\`${output.name}\`[${k}, ${d}] is ${raw[k * dim + d]}`);
        chunk[k * dim + d] = v;
      }
    }
    return count;
  }
}
