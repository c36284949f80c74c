import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  ConfigError,
  checkManifest,
  collectConfigProblems,
  crossCheck,
  loadPolicyManifest,
  loadRobotDescription,
  type ConfigProblem,
} from '../../../src/runtime/config/index.js';
import { policyManifestSchema, type PolicyManifest } from '../../../src/runtime/policy/manifest.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const robotFile = path.join(repo, 'robots/sim-arm.yaml');
const robot = loadRobotDescription(robotFile);
const dir = mkdtempSync(path.join(tmpdir(), 'embody-policy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Existence is all the manifest loader asks of the model; onnxruntime opens it later.
writeFileSync(path.join(dir, 'model.onnx'), 'not really onnx');

const arm = ['base_yaw', 'shoulder_pitch', 'elbow_pitch', 'wrist_pitch', 'wrist_yaw', 'wrist_roll', 'gripper'];

function baseManifest(): Record<string, unknown> {
  return {
    name: 'test',
    model: 'model.onnx',
    rate_hz: 10,
    replan_after: 4,
    inputs: [
      { kind: 'camera', name: 'image', camera: 'wrist', width: 48, height: 36, layout: 'NCHW', channels: 'rgb', normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } },
      { kind: 'joint_state', name: 'state', joints: arm, fields: ['position'], normalize: { mean: arm.map(() => 0), std: arm.map(() => 1) } },
      { kind: 'touch', name: 'touch', fingertips: ['left_pad', 'right_pad'], features: ['contact', 'force'] },
    ],
    output: { name: 'actions', horizon: 8, joints: arm, mode: 'absolute', units: ['rad', 'rad', 'rad', 'rad', 'rad', 'rad', 'm'] },
  };
}

let counter = 0;
function writeManifest(data: Record<string, unknown>): string {
  const file = path.join(dir, `policy-${++counter}.yaml`);
  writeFileSync(file, stringify(data));
  return file;
}

function manifestOf(data: Record<string, unknown>): PolicyManifest {
  return policyManifestSchema.parse(data);
}

function find(problems: ConfigProblem[], file: string, at: string, message: RegExp): ConfigProblem {
  const p = problems.find((x) => x.path === at && message.test(x.message));
  expect(p, `no ${at} ~ ${message} among:\n${problems.map((x) => `${x.path}: ${x.message}`).join('\n')}`).toBeDefined();
  expect(p!.file).toBe(file);
  expect(p!.fix.length).toBeGreaterThan(0);
  return p!;
}

describe('loadPolicyManifest', () => {
  it('loads a manifest and resolves the model next to it', () => {
    const file = writeManifest(baseManifest());
    const loaded = loadPolicyManifest(file);
    expect(loaded.file).toBe(file);
    expect(loaded.modelPath).toBe(path.join(dir, 'model.onnx'));
    expect(loaded.manifest.blend_steps).toBe(3);
    expect(crossCheck(robot, robotFile, loaded.manifest, file)).toEqual([]);
  });

  it('loads the linear manifest against the 4-dof arm', () => {
    const file = path.join(repo, 'models/linear/policy.yaml');
    const manifest = manifestOf(parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
    const arm4File = path.join(repo, 'robots/sim-arm-4dof.yaml');
    expect(crossCheck(loadRobotDescription(arm4File), arm4File, manifest, file)).toEqual([]);
    // The same manifest on the 7-joint arm names joints that body does not have.
    const problems = crossCheck(robot, robotFile, manifest, file);
    find(problems, file, 'inputs[0].joints[0]', /no joint named `turret_yaw`/);
    find(problems, file, 'output.joints[3]', /no joint named `claw`/);
  });

  it('reports schema problems with field paths, and a missing model', () => {
    const data = baseManifest();
    data.model = 'missing.onnx';
    const file = writeManifest(data);
    expect(() => loadPolicyManifest(file)).toThrow(ConfigError);
    try {
      loadPolicyManifest(file);
    } catch (err) {
      find((err as ConfigError).problems, file, 'model', /model file not found/);
    }
    const broken = baseManifest();
    (broken.output as Record<string, unknown>).mode = 'relative';
    (broken.inputs as Record<string, unknown>[])[1].kind = 'joints';
    const brokenFile = writeManifest(broken);
    try {
      loadPolicyManifest(brokenFile);
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems;
      find(problems, brokenFile, 'output.mode', /"relative" is not allowed/);
      find(problems, brokenFile, 'inputs[1].kind', /unknown kind "joints"/);
    }
  });
});

describe('crossCheck', () => {
  it('rejects a joint the robot does not have', () => {
    const data = baseManifest();
    (data.inputs as Record<string, unknown>[])[1].joints = ['base_yaw', 'shoulder_pich', 'elbow_pitch', 'wrist_pitch', 'wrist_yaw', 'wrist_roll', 'gripper'];
    const file = writeManifest(data);
    const p = find(crossCheck(robot, robotFile, manifestOf(data), file), file, 'inputs[1].joints[1]', /no joint named `shoulder_pich`/);
    expect(p.fix).toMatch(/did you mean `shoulder_pitch`/);
    expect(p.line).toBeGreaterThan(1);
  });

  it('rejects radians on a prismatic joint', () => {
    const data = baseManifest();
    (data.output as Record<string, unknown>).units = ['rad', 'rad', 'rad', 'rad', 'rad', 'rad', 'rad'];
    const file = writeManifest(data);
    const p = find(crossCheck(robot, robotFile, manifestOf(data), file), file, 'output.units[6]', /`rad` for joint `gripper`, which is prismatic/);
    expect(p.fix).toMatch(/use `m`/);
  });

  it('rejects normalisation of the wrong length', () => {
    const data = baseManifest();
    const inputs = data.inputs as Record<string, unknown>[];
    inputs[0].normalize = { mean: [0.5], std: [0.25, 0.25, 0.25] };
    inputs[1].fields = ['position', 'velocity'];
    inputs[2].normalize = { mean: [0, 0, 0], std: [1, 1, 1] };
    (data.output as Record<string, unknown>).normalize = { mean: [0, 0], std: [1, 1] };
    const file = writeManifest(data);
    const problems = crossCheck(robot, robotFile, manifestOf(data), file);
    find(problems, file, 'inputs[0].normalize.mean', /has 1 value\(s\), but camera input `image` \(rgb has 3 channel\(s\)\) = 3/);
    const state = find(problems, file, 'inputs[1].normalize.mean', /7 joint\(s\) × 2 field\(s\) = 14/);
    expect(state.fix).toMatch(/base_yaw\.position, base_yaw\.velocity/);
    find(problems, file, 'inputs[1].normalize.std', /= 14/);
    find(problems, file, 'inputs[2].normalize.mean', /2 fingertip\(s\) × 2 feature\(s\) = 4/);
    find(problems, file, 'output.normalize.mean', /7 joint/);
    expect(checkManifest(manifestOf(data), file).length).toBe(problems.length);
  });

  it('checks names, units length, rates and replanning together', () => {
    const data = baseManifest();
    const inputs = data.inputs as Record<string, unknown>[];
    inputs[0].camera = 'head';
    inputs[2].fingertips = ['left_pad', 'middle_pad'];
    const output = data.output as Record<string, unknown>;
    output.units = ['rad', 'rad'];
    output.horizon = 4;
    data.rate_hz = 500;
    const file = writeManifest(data);
    const problems = crossCheck(robot, robotFile, manifestOf(data), file);
    find(problems, file, 'inputs[0].camera', /no camera named `head`/);
    find(problems, file, 'inputs[2].fingertips[1]', /no fingertip named `middle_pad`/);
    find(problems, file, 'output.units', /2 unit\(s\) for 7 joint\(s\)/);
    find(problems, file, 'rate_hz', /faster than the control loop \(200 Hz/);
    find(problems, file, 'replan_after', /not below the horizon 4/);
  });
});

describe('collectConfigProblems', () => {
  it('reports robot and manifest problems in one pass', () => {
    const robotText = readFileSync(robotFile, 'utf8')
      .replace('velocity: 1.5, acceleration: 8, jerk: 150, effort: 20', 'velocity: 0, acceleration: 8, jerk: 150, effort: 20')
      .replace('../models/demo/policy.yaml', 'policy.yaml');
    const brokenRobot = path.join(dir, 'robot-broken.yaml');
    writeFileSync(brokenRobot, robotText);
    const data = baseManifest();
    (data.output as Record<string, unknown>).mode = 'relative';
    writeFileSync(path.join(dir, 'policy.yaml'), stringify(data));
    const { problems } = collectConfigProblems(brokenRobot);
    find(problems, brokenRobot, 'joints[2].limits.velocity', /greater than zero/);
    find(problems, path.join(dir, 'policy.yaml'), 'output.mode', /not allowed/);
  });

  it('cross-checks the manifest against a robot.yaml that has problems of its own', () => {
    const robotText = readFileSync(robotFile, 'utf8')
      .replace('velocity: 1.5, acceleration: 8, jerk: 150, effort: 20', 'velocity: 0, acceleration: 8, jerk: 150, effort: 20')
      .replace('../models/demo/policy.yaml', 'policy-both.yaml');
    const brokenRobot = path.join(dir, 'robot-broken-both.yaml');
    writeFileSync(brokenRobot, robotText);
    const data = baseManifest();
    (data.output as Record<string, unknown>).units = ['rad', 'rad', 'rad', 'rad', 'rad', 'rad', 'rad'];
    (data.inputs as Record<string, unknown>[])[0].camera = 'head';
    data.replan_after = 8;
    const manifestFile = path.join(dir, 'policy-both.yaml');
    writeFileSync(manifestFile, stringify(data));
    const { problems } = collectConfigProblems(brokenRobot);
    expect(problems.map((p) => `${path.basename(p.file)} ${p.path}`)).toEqual([
      'robot-broken-both.yaml joints[2].limits.velocity',
      'policy-both.yaml replan_after',
      'policy-both.yaml inputs[0].camera',
      'policy-both.yaml output.units[6]',
    ]);
  });

  it('points at policy.manifest when the manifest is missing', () => {
    const robotText = readFileSync(robotFile, 'utf8').replace('../models/demo/policy.yaml', 'no-such-policy.yaml');
    const file = path.join(dir, 'robot-no-policy.yaml');
    writeFileSync(file, robotText);
    const { problems } = collectConfigProblems(file);
    expect(problems).toHaveLength(1);
    find(problems, file, 'policy.manifest', /policy manifest not found/);
  });

  it('reports an alias bomb in the manifest as too many aliases, with or without --policy', () => {
    // "Billion laughs": nine levels of nine aliases, a few hundred bytes that would expand to 9^9 nodes.
    const levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let k = 1; k < 9; k++) {
      const prev = String.fromCharCode(96 + k);
      levels.push(`${String.fromCharCode(97 + k)}: &${String.fromCharCode(97 + k)} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const manifestFile = path.join(dir, 'policy-bomb.yaml');
    writeFileSync(manifestFile, `${levels.join('\n')}\n`);
    const robotText = readFileSync(robotFile, 'utf8').replace('../models/demo/policy.yaml', 'policy-bomb.yaml');
    const file = path.join(dir, 'robot-bomb.yaml');
    writeFileSync(file, robotText);
    for (const options of [{}, { policyOverride: manifestFile }]) {
      const { problems } = collectConfigProblems(file, options);
      expect(problems.some((p) => /not found/.test(p.message))).toBe(false);
      expect(problems).toHaveLength(1);
      const p = find(problems, manifestFile, '(file)', /too many YAML aliases/);
      expect(p.message).toMatch(/maxAliasCount/);
    }
  });

  it('refuses an oversized manifest at the manifest, by its size', () => {
    const manifestFile = path.join(dir, 'policy-huge.yaml');
    writeFileSync(manifestFile, stringify(baseManifest()));
    truncateSync(manifestFile, 2 * 1024 * 1024);
    const robotText = readFileSync(robotFile, 'utf8').replace('../models/demo/policy.yaml', 'policy-huge.yaml');
    const file = path.join(dir, 'robot-huge-policy.yaml');
    writeFileSync(file, robotText);
    const { problems } = collectConfigProblems(file);
    expect(problems).toHaveLength(1);
    find(problems, manifestFile, '(file)', /file is 2097152 bytes \(2\.0 MiB\), larger than the 1\.0 MiB/);
  });

  it('cross-checks when both parse', () => {
    const robotText = readFileSync(robotFile, 'utf8').replace('../models/demo/policy.yaml', 'policy-cross.yaml');
    const file = path.join(dir, 'robot-cross.yaml');
    writeFileSync(file, robotText);
    const data = baseManifest();
    (data.output as Record<string, unknown>).units = ['rad', 'rad', 'rad', 'rad', 'rad', 'rad', 'rad'];
    writeFileSync(path.join(dir, 'policy-cross.yaml'), stringify(data));
    const { problems } = collectConfigProblems(file);
    expect(problems).toHaveLength(1);
    find(problems, path.join(dir, 'policy-cross.yaml'), 'output.units[6]', /prismatic/);
  });
});
