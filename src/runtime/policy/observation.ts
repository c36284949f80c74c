/**
 * Builds the model's inputs from the manifest: one preallocated tensor per input, refilled in
 * place from the latest joint snapshot, camera frames, touch estimate and instruction. The
 * manifest decides names, order, layout and normalisation; nothing here knows a robot.
 */
import * as ort from 'onnxruntime-node';
import type { Frame } from '../../hal/types.js';
import type { RobotDescription } from '../../robot/index.js';
import { SnapshotRecord } from '../records.js';
import { createImagePreprocessor } from './image-preprocess.js';
import type { PolicyInput, PolicyManifest } from './manifest.js';

export interface TouchReadings {
  /** Per robot fingertip, in robot.yaml order. */
  readonly contact: ArrayLike<number>;
  readonly force: ArrayLike<number>;
  readonly area: ArrayLike<number>;
}

export interface ObservationSources {
  /** A snapshot read from the control worker (see shared-state.ts). */
  readonly snapshot: Float64Array;
  frame(camera: string): Frame | undefined;
  readonly touch: TouchReadings;
  readonly instruction: string;
  /** Now, on the clock frames are stamped with (Frame.timestampMs): stale frames are refused. */
  readonly nowMs: number;
}

/** What was missing, if anything; the runner skips inference rather than feed it garbage. */
export type ObservationGap = { readonly missing: string } | undefined;

interface Filler {
  fill(sources: ObservationSources): ObservationGap;
}

export interface ObservationBuilder {
  readonly feeds: Record<string, ort.Tensor>;
  build(sources: ObservationSources): ObservationGap;
}

export function createObservationBuilder(
  manifest: PolicyManifest,
  robot: RobotDescription,
  inputTypes: Readonly<Record<string, string>> = {},
): ObservationBuilder {
  const feeds: Record<string, ort.Tensor> = {};
  const fillers: Filler[] = manifest.inputs.map((input) => {
    const { filler, tensor } = fillerFor(input, robot, inputTypes[input.name]);
    feeds[input.name] = tensor;
    return filler;
  });
  return {
    feeds,
    build(sources) {
      for (const filler of fillers) {
        const gap = filler.fill(sources);
        if (gap) return gap;
      }
      return undefined;
    },
  };
}

function indexOf(names: readonly string[], name: string, what: string): number {
  const index = names.indexOf(name);
  if (index < 0) throw new Error(`policy manifest names ${what} '${name}', which robot.yaml does not have`);
  return index;
}

function normalizer(normalize: { mean: number[]; std: number[] } | undefined, size: number): (v: number, i: number) => number {
  if (!normalize) return (v) => v;
  const { mean, std } = normalize;
  if (mean.length !== size || std.length !== size) {
    throw new Error(`normalize statistics have ${mean.length}/${std.length} values, the input has ${size}`);
  }
  return (v, i) => (v - mean[i]) / std[i];
}

function fillerFor(input: PolicyInput, robot: RobotDescription, modelType: string | undefined): { filler: Filler; tensor: ort.Tensor } {
  const jointNames = robot.joints.map((j) => j.name);
  const jointCount = jointNames.length;
  switch (input.kind) {
    case 'joint_state': {
      const offsets = input.fields.flatMap((field) =>
        input.joints.map((joint) => SnapshotRecord.block(field, jointCount) + indexOf(jointNames, joint, 'joint')),
      );
      const data = new Float32Array(offsets.length);
      const norm = normalizer(input.normalize, offsets.length);
      return {
        tensor: new ort.Tensor('float32', data, [1, data.length]),
        filler: {
          fill({ snapshot }) {
            for (let i = 0; i < offsets.length; i++) data[i] = norm(snapshot[offsets[i]], i);
            return undefined;
          },
        },
      };
    }
    case 'camera': {
      const pre = createImagePreprocessor(input);
      const staleMs = robot.cameras.find((c) => c.name === input.camera)?.stale_after_ms ?? Infinity;
      const data = new Float32Array(pre.size);
      return {
        tensor: new ort.Tensor('float32', data, [...pre.dims]),
        filler: {
          fill(sources) {
            const frame = sources.frame(input.camera);
            if (!frame) return { missing: `camera '${input.camera}' has no frame yet` };
            const age = sources.nowMs - frame.timestampMs;
            if (age > staleMs) return { missing: `camera '${input.camera}' frame is ${Math.round(age)} ms old (stale_after_ms ${staleMs})` };
            pre.apply(frame.data, frame.width, frame.height, data);
            return undefined;
          },
        },
      };
    }
    case 'touch': {
      const names = robot.fingertips.map((f) => f.name);
      const pads = input.fingertips.map((f) => indexOf(names, f, 'fingertip'));
      const data = new Float32Array(pads.length * input.features.length);
      const norm = normalizer(input.normalize, data.length);
      return {
        tensor: new ort.Tensor('float32', data, [1, data.length]),
        filler: {
          fill({ touch }) {
            let k = 0;
            for (const pad of pads) {
              for (const feature of input.features) {
                data[k] = norm(touch[feature][pad], k);
                k++;
              }
            }
            return undefined;
          },
        },
      };
    }
    case 'instruction': {
      // Text enters as UTF-8 bytes, zero-padded; int64 models get the same byte values.
      const wide = modelType === 'int64';
      const bytes = new Uint8Array(input.max_length);
      const data = wide ? new BigInt64Array(input.max_length) : bytes;
      const encoder = new TextEncoder();
      let lastText: string | undefined;
      return {
        tensor: wide
          ? new ort.Tensor('int64', data as BigInt64Array, [1, input.max_length])
          : new ort.Tensor('uint8', bytes, [1, input.max_length]),
        filler: {
          fill({ instruction }) {
            if (instruction === lastText) return undefined;
            lastText = instruction;
            bytes.fill(0);
            encoder.encodeInto(instruction, bytes);
            if (data instanceof BigInt64Array) for (let i = 0; i < bytes.length; i++) data[i] = BigInt(bytes[i]);
            return undefined;
          },
        },
      };
    }
  }
}
