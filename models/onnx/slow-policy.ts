/**
 * A deliberately slow policy for tests of the runtime around a slow model: the linear policy's
 * actions, plus a chain of large square MatMuls whose result is multiplied by zero and added.
 * The chain depends on the input (so onnxruntime cannot fold it at load time) and its matrix is
 * the identity (so values stay finite); each link costs 2·size³ flops, and `links` sets how long
 * one run takes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GraphBuilder } from './graph.js';
import type { LinearPolicySpec } from './linear-policy.js';

export interface SlowPolicySpec extends LinearPolicySpec {
  /** Square matrix size of the chain. */
  readonly size: number;
  /** MatMuls in the chain. */
  readonly links: number;
}

export function slowPolicyOnnx(spec: SlowPolicySpec): Uint8Array {
  const { stateSize, horizon, actionDim, weight, bias, size, links } = spec;
  const n = horizon * actionDim;
  const g = new GraphBuilder({ name: 'slow_policy' });
  g.addInput('state', 'float32', [1, stateSize]);
  const w = g.float('weight', [stateSize, n], weight);
  const b = g.float('bias', [n], bias);
  const identity = new Float32Array(size * size);
  for (let i = 0; i < size; i++) identity[i * size + i] = 1;
  const eye = g.float('eye', [size, size], identity);
  const zero = g.float('zero', [], [0]);
  const one = g.float('one', [], [1]);
  // z0 = eye * (1 + 0 * sum(state)): input-dependent, equal to the identity.
  const sum = g.op('ReduceSum', ['state'], 'state_sum', { keepdims: { kind: 'int', value: 0 } });
  const scale = g.op('Add', [one, g.op('Mul', [sum, zero], 'sum_zero')], 'scale');
  let z = g.op('Mul', [eye, scale], 'z0');
  for (let k = 1; k <= links; k++) z = g.op('MatMul', [z, eye], `z${k}`);
  const waste = g.op('Mul', [g.op('ReduceMean', [z], 'z_mean', { keepdims: { kind: 'int', value: 0 } }), zero], 'waste');
  const shape = g.int64('actions_shape', [3], [1, horizon, actionDim]);
  const y = g.op('Add', [g.op('Add', [g.op('MatMul', ['state', w], 'matmul'), b], 'linear'), waste], 'flat_actions');
  g.op('Reshape', [y, shape], 'actions');
  g.addOutput('actions', 'float32', [1, horizon, actionDim]);
  return g.build();
}

/** Writes the model to `file`, creating its directory. */
export function writeSlowPolicyOnnx(file: string, spec: SlowPolicySpec): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, slowPolicyOnnx(spec));
}
