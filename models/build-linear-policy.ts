/**
 * Builds models/linear/linear.onnx, the policy of robots/sim-arm-4dof.yaml: a single linear map
 * from joint positions to a chunk of 8 position offsets. No training and no randomness, so the
 * file is reproducible byte for byte and a second body can be exercised without the demo model.
 *
 * Joints are paired, (turret_yaw, upper_arm_pitch) and (forearm_pitch, claw), and each pair,
 * scaled to comparable units, is rotated about a centre pose by a fixed angle per action. A
 * rotation keeps the distance to the centre, so the arm circles with the amplitude it started
 * with (home sits a little off-centre) and never drifts: a slow, bounded oscillation.
 *
 *   npx tsx models/build-linear-policy.ts [out.onnx]
 *   npx tsx models/build-linear-policy.ts --so101 [out.onnx]   (robots/so101.yaml)
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeLinearPolicyOnnx } from './onnx/index.js';

export interface LinearOscillator {
  /** Pose the arm circles around, one value per joint (rad or m). */
  readonly center: readonly number[];
  /** Per joint: how many rad or m one unit of the rotation plane is; equalises the pair. */
  readonly scale: readonly number[];
  /** Joint index pairs rotated together. */
  readonly pairs: readonly (readonly [number, number])[];
  /** Seconds per full circle. */
  readonly periodS: number;
  /** Actions per second (the manifest's rate_hz). */
  readonly rateHz: number;
  readonly horizon: number;
}

export const sim4dofOscillator: LinearOscillator = {
  center: [0.0, 0.1, 0.9, 0.025],
  scale: [1.0, 0.5, 0.6, 0.02],
  pairs: [
    [0, 1],
    [2, 3],
  ],
  periodS: 8,
  rateHz: 10,
  horizon: 8,
};

/**
 * robots/so101.yaml's: (shoulder_pan, shoulder_lift), (elbow_flex, wrist_flex) and
 * (wrist_roll, gripper) circle slowly around a pose near the middle of their ranges: an exercise of
 * the bus and the envelope, not a task. On a real SO-101 it swings the arm: clear the table first.
 */
export const so101Oscillator: LinearOscillator = {
  center: [0.0, -0.3, 0.3, 0.0, 0.0, 0.4],
  scale: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
  pairs: [
    [0, 1],
    [2, 3],
    [4, 5],
  ],
  periodS: 10,
  rateHz: 10,
  horizon: 8,
};

/**
 * Weight [S, H*D] (row-major; state i contributes weight[i*H*D + k*D + d] to action k of joint d)
 * and bias [H*D] of: delta_k = Scale (R^(k+1) - I) Scale^-1 (x - center).
 */
export function linearOscillatorWeights(o: LinearOscillator): { weight: Float32Array; bias: Float32Array; stateSize: number; actionDim: number } {
  const n = o.center.length;
  const hd = o.horizon * n;
  const weight = new Float32Array(n * hd);
  const bias = new Float32Array(hd);
  const step = (2 * Math.PI) / (o.periodS * o.rateHz);
  for (let k = 0; k < o.horizon; k++) {
    const angle = step * (k + 1);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    // m[d][i]: offset of joint d per unit of (x_i - center_i) for action k.
    const m = Array.from({ length: n }, () => new Float64Array(n));
    for (const [a, b] of o.pairs) {
      m[a][a] = c - 1;
      m[a][b] = (-s * o.scale[a]) / o.scale[b];
      m[b][a] = (s * o.scale[b]) / o.scale[a];
      m[b][b] = c - 1;
    }
    for (let d = 0; d < n; d++) {
      let offset = 0;
      for (let i = 0; i < n; i++) {
        weight[i * hd + k * n + d] = m[d][i];
        offset -= m[d][i] * o.center[i];
      }
      bias[k * n + d] = offset;
    }
  }
  return { weight, bias, stateSize: n, actionDim: n };
}

export function buildLinearPolicy(file: string, o: LinearOscillator = sim4dofOscillator): void {
  const { weight, bias, stateSize, actionDim } = linearOscillatorWeights(o);
  writeLinearPolicyOnnx(file, { stateSize, horizon: o.horizon, actionDim, weight, bias });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // `--so101 [out.onnx]` builds models/so101-linear/ (robots/so101.yaml) instead.
  const so101 = process.argv[2] === '--so101';
  const out = path.resolve(process.argv[so101 ? 3 : 2] ?? (so101 ? 'models/so101-linear/so101-linear.onnx' : 'models/linear/linear.onnx'));
  buildLinearPolicy(out, so101 ? so101Oscillator : sim4dofOscillator);
  process.stdout.write(`wrote ${out}\n`);
}
