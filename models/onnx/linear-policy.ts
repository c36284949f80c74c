/**
 * The linear policy of the second robot body: actions = reshape(state · W + b, [1, H, D]).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GraphBuilder } from './graph.js';

export interface LinearPolicySpec {
  readonly stateSize: number;
  readonly horizon: number;
  readonly actionDim: number;
  /** [stateSize, horizon * actionDim], row-major. */
  readonly weight: Float32Array;
  /** [horizon * actionDim]. */
  readonly bias: Float32Array;
}

export function linearPolicyOnnx(spec: LinearPolicySpec): Uint8Array {
  const { stateSize, horizon, actionDim, weight, bias } = spec;
  const n = horizon * actionDim;
  if (weight.length !== stateSize * n) throw new Error(`weight has ${weight.length} values, expected ${stateSize} x ${n}`);
  if (bias.length !== n) throw new Error(`bias has ${bias.length} values, expected ${n}`);
  const g = new GraphBuilder({ name: 'linear_policy' });
  g.addInput('state', 'float32', [1, stateSize]);
  const w = g.float('weight', [stateSize, n], weight);
  const b = g.float('bias', [n], bias);
  const shape = g.int64('actions_shape', [3], [1, horizon, actionDim]);
  const y = g.op('Add', [g.op('MatMul', ['state', w], 'matmul'), b], 'flat_actions');
  g.op('Reshape', [y, shape], 'actions');
  g.addOutput('actions', 'float32', [1, horizon, actionDim]);
  return g.build();
}

/** Writes the model to `file`, creating its directory. */
export function writeLinearPolicyOnnx(file: string, spec: LinearPolicySpec): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, linearPolicyOnnx(spec));
}
