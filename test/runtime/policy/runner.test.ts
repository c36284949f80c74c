/**
 * The runner takes the model's output only in the manifest's shape: [1, H, D] float32. Anything
 * else (shorter, longer, another rank, another type) becomes a chunk of NaN, which the loop
 * rejects action by action, so the rejection limit stops a model that keeps doing it. Before,
 * a [1, 1, 3] output became an empty chunk (inference spinning at ~190 Hz) and [1, 40, 7] was
 * silently cut to the horizon.
 */
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../../src/runtime/config/index.js';
import { malformedOutput, PolicyRunner } from '../../../src/runtime/policy/runner.js';
import type { PolicySession, PolicyTensor } from '../../../src/runtime/policy/session.js';
import { SnapshotRecord } from '../../../src/runtime/records.js';

const robotFile = fileURLToPath(new URL('../../../robots/sim-arm-4dof.yaml', import.meta.url));
let config: LoadedConfig;

beforeAll(async () => {
  config = await loadConfig(robotFile, { policyHost: 'inline' });
});
afterAll(async () => {
  await config.session.release();
});

/** The real model's signature, answering with the tensor the test chose. */
function answering(tensor: PolicyTensor): PolicySession {
  const real = config.session;
  return {
    inputNames: real.inputNames,
    outputNames: real.outputNames,
    inputMetadata: real.inputMetadata,
    outputMetadata: real.outputMetadata,
    run: async () => ({ actions: tensor }),
    release: async () => undefined,
  };
}

async function chunkFrom(tensor: PolicyTensor): Promise<{ count: number; values: number[]; malformed?: string }> {
  const runner = new PolicyRunner(answering(tensor), config.manifest, config.robot);
  const snapshot = new Float64Array(SnapshotRecord.size(config.robot.joints.length));
  let published = { count: -1, values: [] as number[] };
  const result = await runner.infer(
    { snapshot, frame: () => undefined, touch: { contact: [], force: [], area: [] }, instruction: '', nowMs: 0 },
    { publishChunk: (_tick, values, count) => (published = { count, values: Array.from(values.subarray(0, count * 4)) }) },
  );
  return { ...published, ...(result.malformed !== undefined ? { malformed: result.malformed } : {}) };
}

const float = (dims: number[]): PolicyTensor => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.01), dims);

describe('PolicyRunner output shape', () => {
  it('takes [1, 8, 4] as it is', async () => {
    const chunk = await chunkFrom(float([1, 8, 4]));
    expect(chunk.malformed).toBeUndefined();
    expect(chunk.count).toBe(8);
    expect(chunk.values.every(Number.isFinite)).toBe(true);
  });

  it.each([
    [[1, 1, 3]],
    [[1, 40, 7]],
    [[1, 8, 3]],
    [[8, 4]],
    [[1, 32]],
  ])('rejects %j: a full chunk of NaN and the reason', async (dims) => {
    const chunk = await chunkFrom(float(dims));
    expect(chunk.malformed).toMatch(new RegExp(`shape \\[${dims.join(', ')}\\], the manifest needs \\[1, 8, 4\\]`));
    expect(chunk.count).toBe(8);
    expect(chunk.values.every(Number.isNaN)).toBe(true);
  });

  it('rejects another element type and a missing output', () => {
    expect(malformedOutput(new ort.Tensor('int32', new Int32Array(32), [1, 8, 4]), 'actions', 8, 4)).toMatch(/int32, the manifest needs float32/);
    expect(malformedOutput(undefined, 'actions', 8, 4)).toMatch(/no output named actions/);
  });
});
