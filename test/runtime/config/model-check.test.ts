import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  ConfigError,
  checkModelAgainstManifest,
  loadConfig,
  openPolicySession,
  type ConfigProblem,
  type ModelSignature,
} from '../../../src/runtime/config/index.js';
import { policyManifestSchema, type PolicyManifest } from '../../../src/runtime/policy/manifest.js';
import { linearOscillatorWeights, sim4dofOscillator } from '../../../models/build-linear-policy.js';
import { writeLinearPolicyOnnx } from '../../../models/onnx/index.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const linearManifestFile = path.join(repo, 'models/linear/policy.yaml');
const linearManifestData = parse(readFileSync(linearManifestFile, 'utf8')) as Record<string, unknown>;
const dir = mkdtempSync(path.join(tmpdir(), 'embody-model-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function manifestWith(edit: (m: Record<string, unknown>) => void): { manifest: PolicyManifest; file: string } {
  const data = structuredClone(linearManifestData);
  data.model = 'linear.onnx';
  edit(data);
  const file = path.join(dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(data));
  return { manifest: policyManifestSchema.parse(data), file };
}

function find(problems: ConfigProblem[], file: string, at: string, message: RegExp): ConfigProblem {
  const p = problems.find((x) => x.path === at && message.test(x.message));
  expect(p, `no ${at} ~ ${message} among:\n${problems.map((x) => `${x.file} ${x.path}: ${x.message}`).join('\n')}`).toBeDefined();
  expect(p!.file).toBe(file);
  expect(p!.fix.length).toBeGreaterThan(0);
  return p!;
}

const modelFile = path.join(dir, 'linear.onnx');

beforeAll(() => {
  const { weight, bias, stateSize, actionDim } = linearOscillatorWeights(sim4dofOscillator);
  writeLinearPolicyOnnx(modelFile, { stateSize, horizon: 8, actionDim, weight, bias });
});

describe('openPolicySession', () => {
  it('opens a model that matches its manifest and reports its metadata', async () => {
    const { manifest, file } = manifestWith(() => undefined);
    const session = await openPolicySession(modelFile, manifest, file);
    try {
      expect(session.inputNames).toEqual(['state']);
      expect(session.outputNames).toEqual(['actions']);
      const [input] = session.inputMetadata;
      expect(input.isTensor).toBe(true);
      if (input.isTensor) {
        expect(input.type).toBe('float32');
        expect(input.shape).toEqual([1, 4]);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses a wrong input name, naming the model input to use', async () => {
    const { manifest, file } = manifestWith((m) => {
      (m.inputs as Record<string, unknown>[])[0].name = 'stat';
    });
    const err = await openPolicySession(modelFile, manifest, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    const p = find(problems, file, 'inputs[0].name', /has no input named `stat` \(its inputs: state\)/);
    expect(p.fix).toBe('set `name: state`');
    // The real input is then fed by nothing: reported too.
    find(problems, file, 'inputs', /input `state` float32 \[1, 4\] is not fed/);
    expect((err as Error).message).toMatch(/linear\.onnx does not match/);
  });

  it('refuses a wrong input shape and a wrong horizon', async () => {
    const { manifest, file } = manifestWith((m) => {
      (m.inputs as Record<string, unknown>[])[0].fields = ['position', 'velocity'];
      (m.output as Record<string, unknown>).horizon = 10;
    });
    const err = await openPolicySession(modelFile, manifest, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    const input = find(problems, file, 'inputs[0].name', /shape \[1, 4\], but the manifest describes \[1, 8\]/);
    expect(input.fix).toMatch(/takes 4 values/);
    const output = find(problems, file, 'output.horizon', /shape \[1, 8, 4\], but the manifest describes \[1, 10, 4\]/);
    expect(output.fix).toMatch(/`horizon: 8`/);
  });

  it('refuses a file onnxruntime cannot load, naming the model file', async () => {
    const broken = path.join(dir, 'broken.onnx');
    writeFileSync(broken, 'definitely not a protobuf');
    const { manifest, file } = manifestWith(() => undefined);
    const err = await openPolicySession(broken, manifest, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    find((err as ConfigError).problems, broken, '(file)', /cannot load the model/);
  });
});

describe('linear policy', () => {
  const { weight, bias } = linearOscillatorWeights(sim4dofOscillator);
  const n = 4;
  const chunk = (x: readonly number[]): number[] =>
    Array.from({ length: 8 * n }, (_, j) => bias[j] + x.reduce((acc, xi, i) => acc + xi * weight[i * 8 * n + j], 0));

  it('circles the centre pose without drifting and stays inside the 4-dof limits', () => {
    const { center, scale } = sim4dofOscillator;
    const radius = (x: readonly number[]): number[] => [
      Math.hypot((x[0] - center[0]) / scale[0], (x[1] - center[1]) / scale[1]),
      Math.hypot((x[2] - center[2]) / scale[2], (x[3] - center[3]) / scale[3]),
    ];
    const limits = [[-2, 2], [-1.2, 1.4], [-2.2, 2.2], [0, 0.05]];
    let x = [0.3, 0.1, 0.9, 0.03];
    const start = radius(x);
    let maxStep = 0;
    for (let step = 0; step < 1000; step++) {
      const delta = chunk(x).slice(0, n);
      maxStep = Math.max(maxStep, Math.abs(delta[0]));
      x = x.map((v, d) => v + delta[d]);
      x.forEach((v, d) => {
        expect(v).toBeGreaterThanOrEqual(limits[d][0]);
        expect(v).toBeLessThanOrEqual(limits[d][1]);
      });
    }
    radius(x).forEach((r, k) => expect(r).toBeCloseTo(start[k], 3));
    // 0.3 rad amplitude, 8 s period at 10 Hz: about 0.024 rad per action.
    expect(maxStep).toBeLessThan(0.03);
    // Action k of one chunk equals k+1 single steps: the chunk is one consistent trajectory.
    const home = [0.3, 0.1, 0.9, 0.03];
    const c = chunk(home);
    let y = home;
    for (let k = 0; k < 8; k++) {
      const step = chunk(y);
      y = y.map((v, d) => v + step[d]);
      // float32 weights: agreement to float32 precision, not float64.
      for (let d = 0; d < n; d++) expect(home[d] + c[k * n + d]).toBeCloseTo(y[d], 5);
    }
  });

  it('onnxruntime computes what the weights say', async () => {
    const { manifest, file } = manifestWith(() => undefined);
    const session = await openPolicySession(modelFile, manifest, file);
    try {
      const x = [0.25, -0.2, 1.1, 0.01];
      const out = await session.run({ state: new ort.Tensor('float32', Float32Array.from(x), [1, 4]) });
      const actions = out.actions;
      expect(actions.dims).toEqual([1, 8, 4]);
      const expected = chunk(x);
      Array.from(actions.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo(expected[j], 5));
    } finally {
      await session.release();
    }
  });
});

describe('checkModelAgainstManifest', () => {
  const { manifest, file } = manifestWith((m) => {
    (m.inputs as Record<string, unknown>[]).push(
      { kind: 'camera', name: 'image', camera: 'wrist', width: 48, height: 36, layout: 'NCHW', channels: 'rgb' },
      { kind: 'instruction', name: 'text', max_length: 32 },
    );
  });
  const model = path.join(dir, 'fake.onnx');
  const tensor = (name: string, type: 'float32' | 'uint8' | 'int64' | 'float16', shape: (number | string)[]) =>
    ({ name, isTensor: true, type, shape }) as const;
  const signature = (inputs: ReturnType<typeof tensor>[], outputs: ReturnType<typeof tensor>[]): ModelSignature => ({
    inputNames: inputs.map((i) => i.name),
    outputNames: outputs.map((o) => o.name),
    inputMetadata: inputs,
    outputMetadata: outputs,
  });

  it('accepts a symbolic batch dimension and the documented layouts and types', () => {
    const ok = signature(
      [tensor('state', 'float32', ['batch', 4]), tensor('image', 'float32', [1, 3, 36, 48]), tensor('text', 'int64', [1, 32])],
      [tensor('actions', 'float32', ['batch', 8, 4])],
    );
    expect(checkModelAgainstManifest(ok, manifest, file, model)).toEqual([]);
  });

  it('rejects other symbolic dimensions, element types, layouts and extra inputs', () => {
    const bad = signature(
      [
        tensor('state', 'float16', [1, 'n']),
        tensor('image', 'float32', [1, 36, 48, 3]),
        tensor('text', 'float32', [1, 32]),
        tensor('hidden', 'float32', [1, 16]),
      ],
      [tensor('actions', 'float32', [1, 'steps', 4])],
    );
    const problems = checkModelAgainstManifest(bad, manifest, file, model);
    find(problems, file, 'inputs[0].name', /element type float16/);
    find(problems, file, 'inputs[0].name', /symbolic dimension\(s\) n/);
    const layout = find(problems, file, 'inputs[1].name', /shape \[1, 36, 48, 3\]/);
    expect(layout.fix).toMatch(/layout: NHWC/);
    find(problems, file, 'inputs[2].name', /element type float32; a instruction input is fed as uint8 or int64/);
    find(problems, file, 'inputs', /input `hidden` float32 \[1, 16\] is not fed/);
    find(problems, file, 'output.name', /symbolic dimension\(s\) steps/);
  });

  it('rejects a missing output, suggesting the closest name', () => {
    const sig = signature(
      [tensor('state', 'float32', [1, 4]), tensor('image', 'float32', [1, 3, 36, 48]), tensor('text', 'uint8', [1, 32])],
      [tensor('action', 'float32', [1, 8, 4])],
    );
    const p = find(checkModelAgainstManifest(sig, manifest, file, model), file, 'output.name', /no output named `actions`/);
    expect(p.fix).toBe('set `name: action`');
  });
});

describe('loadConfig', () => {
  it('loads the 4-dof arm with the linear policy end to end', async () => {
    const robotText = readFileSync(path.join(repo, 'robots/sim-arm-4dof.yaml'), 'utf8').replace('../models/linear/policy.yaml', 'policy.yaml');
    const robotFile = path.join(dir, 'robot.yaml');
    writeFileSync(robotFile, robotText);
    writeFileSync(path.join(dir, 'policy.yaml'), stringify({ ...linearManifestData, model: 'linear.onnx' }));
    const config = await loadConfig(robotFile);
    try {
      expect(config.robot.robot_id).toBe('sim-arm-4dof-01');
      expect(config.manifestFile).toBe(path.join(dir, 'policy.yaml'));
      expect(config.modelPath).toBe(modelFile);
      expect(config.session.inputNames).toEqual(['state']);
    } finally {
      await config.session.release();
    }
  });

  it('uses --policy instead of the manifest robot.yaml names', async () => {
    const robotText = readFileSync(path.join(repo, 'robots/sim-arm-4dof.yaml'), 'utf8').replace('../models/linear/policy.yaml', 'nowhere.yaml');
    const robotFile = path.join(dir, 'robot-override.yaml');
    writeFileSync(robotFile, robotText);
    const { file } = manifestWith(() => undefined);
    const config = await loadConfig(robotFile, { policyOverride: file });
    await config.session.release();
    expect(config.manifestFile).toBe(file);
  });

  it('loads the shipped 4-dof configuration (models/linear/linear.onnx is committed)', async () => {
    const shipped = path.join(repo, 'models/linear/linear.onnx');
    expect(existsSync(shipped), `${shipped} is missing: rebuild it with \`npx tsx models/build-linear-policy.ts\` (npm run models)`).toBe(true);
    const config = await loadConfig(path.join(repo, 'robots/sim-arm-4dof.yaml'));
    await config.session.release();
    expect(config.manifest.output.horizon).toBe(8);
  });
});
