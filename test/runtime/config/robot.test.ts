import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { editYaml, problemsOf } from './support.js';
import {
  checkRobotDescription,
  formatPath,
  loadRobotDescription,
  robotJsonSchema,
  type ConfigProblem,
} from '../../../src/runtime/config/index.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const simArmFile = path.join(repo, 'robots/sim-arm.yaml');
const simArm = readFileSync(simArmFile, 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'embody-robot-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(text: string): string {
  const file = path.join(dir, `robot-${++counter}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** sim-arm.yaml with some fields set (undefined deletes), keeping comments and layout. */
function variant(edits: [readonly (string | number)[], unknown][]): string {
  return write(editYaml(simArm, edits));
}

function expectProblem(problems: ConfigProblem[], file: string, fieldPath: string, message?: RegExp): ConfigProblem {
  const found = problems.find((p) => p.path === fieldPath && (message === undefined || message.test(p.message)));
  expect(found, `no problem at ${fieldPath} among:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`).toBeDefined();
  expect(found!.file).toBe(file);
  expect(found!.fix.length).toBeGreaterThan(0);
  return found!;
}

describe('loadRobotDescription', () => {
  it('loads the shipped robots', () => {
    const robot = loadRobotDescription(simArmFile);
    expect(robot.joints).toHaveLength(7);
    expect(robot.cameras[0].name).toBe('wrist');
    const arm4 = loadRobotDescription(path.join(repo, 'robots/sim-arm-4dof.yaml'));
    expect(arm4.joints.map((j) => j.type)).toEqual(['revolute', 'revolute', 'revolute', 'prismatic']);
    expect(arm4.control.rate_hz).toBe(100);
    expect(arm4.cameras).toEqual([]);
    expect(checkRobotDescription(arm4, path.join(repo, 'robots/sim-arm-4dof.yaml'))).toEqual([]);
  });

  it('reports a YAML syntax error with its line', () => {
    const lines = simArm.split('\n');
    const at = lines.findIndex((l) => l.startsWith('  rate_hz:'));
    lines.splice(at + 1, 0, ' broken: [1, 2');
    const file = write(lines.join('\n'));
    const problems = problemsOf(file);
    const first = problems[0];
    expect(first.file).toBe(file);
    expect(first.line).toBe(at + 2);
    expect(first.path).toMatch(new RegExp(`^line ${at + 2}\\b`));
    expect(first.message).toMatch(/YAML syntax error/);
    expect(first.fix.length).toBeGreaterThan(0);
  });

  it('reports a key written twice as a YAML error on the second one', () => {
    const file = write(simArm.replace('base_height: 0.0', 'base_height: 0.0\nbase_height: 0.1'));
    const line = simArm.split('\n').findIndex((l) => l.startsWith('base_height')) + 2;
    const p = problemsOf(file).find((x) => x.line === line);
    expect(p?.message).toMatch(/unique/);
    expect(p?.fix).toMatch(/remove or rename/);
  });

  it('names a missing field and what to add', () => {
    const file = variant([[['joints', 1, 'limits', 'jerk'], undefined]]);
    const p = expectProblem(problemsOf(file), file, 'joints[1].limits.jerk', /missing/);
    expect(p.fix).toMatch(/add `jerk: <number>`/);
    expect(p.line).toBeGreaterThan(1);
  });

  it('names an unknown key, suggests the spelling and lists the allowed keys', () => {
    const file = variant([[['joints', 0, 'limits', 'velocty'], 2]]);
    const p = expectProblem(problemsOf(file), file, 'joints[0].limits.velocty', /unknown key/);
    expect(p.fix).toMatch(/did you mean `velocity`/);
    expect(p.fix).toMatch(/allowed keys here: position, velocity, acceleration, jerk, effort, soft_margin, rated, standstill, following_error/);
  });

  it('rejects inverted limits and offers them swapped', () => {
    const file = variant([[['joints', 1, 'limits', 'position'], [1.6, -1.6]]]);
    const p = expectProblem(problemsOf(file), file, 'joints[1].limits.position', /above upper/);
    expect(p.fix).toContain('[-1.6, 1.6]');
  });

  it('rejects a zero velocity limit', () => {
    const file = variant([[['joints', 2, 'limits', 'velocity'], 0]]);
    const p = expectProblem(problemsOf(file), file, 'joints[2].limits.velocity', /greater than zero/);
    expect(p.fix).toMatch(/velocity/);
  });

  it('rejects a fingertip on an unknown camera', () => {
    const file = variant([[['fingertips', 1, 'camera'], 'wirst']]);
    const p = expectProblem(problemsOf(file), file, 'fingertips[1].camera', /no camera named `wirst`/);
    expect(p.fix).toMatch(/did you mean `wrist`/);
  });

  it('rejects a fingertip ROI outside the camera image', () => {
    const file = variant([[['fingertips', 0, 'roi'], [80, 60, 20, 20]]]);
    const p = expectProblem(problemsOf(file), file, 'fingertips[0].roi', /outside camera `wrist` \(96x72\)/);
    expect(p.fix).toContain('[76, 52, 20, 20]');
  });

  it('rejects duplicate joint names', () => {
    const file = variant([[['joints', 4, 'name'], 'wrist_pitch']]);
    const p = expectProblem(problemsOf(file), file, 'joints[4].name', /already used by joints\[3\]/);
    expect(p.line).toBeGreaterThan(1);
  });

  it('runs the semantic checks', () => {
    const cases: [[readonly (string | number)[], unknown][], string, RegExp][] = [
      [[[['joints', 0, 'home'], 3.5]], 'joints[0].home', /outside the position limits/],
      [[[['joints', 1, 'limits', 'soft_margin'], 2]], 'joints[1].limits.soft_margin', /half the range/],
      [[[['gripper', 'joint'], 'wrist_roll']], 'gripper.joint', /revolute/],
      [[[['gripper', 'joint'], 'claw']], 'gripper.joint', /no joint named `claw`/],
      [[[['cameras', 1], { name: 'wrist', backend: 'sim', width: 32, height: 32, fps: 10 }]], 'cameras[1].name', /already used/],
      [[[['sim'], undefined]], 'sim', /no `sim` section/],
      [[[['joints', 0, 'limits', 'position'], [-180, 180]]], 'joints[0].limits.position', /radians/],
      [[[['telemetry', 'state_rate_hz'], 500]], 'telemetry.state_rate_hz', /above the control rate/],
      [[[['joints', 2, 'limits', 'rated'], { velocity: 1 }]], 'joints[2].limits.velocity', /above the actuator's rated maximum 1/],
      [[[['safety', 'workspace', 'min'], [0.7, -0.45, 0]]], 'safety.workspace', /x: min 0.7 is not below max 0.6/],
      [[[['safety', 'action_timeout_ms'], 500]], 'safety.action_timeout_ms', /at most 200 ms/],
      [[[['joints', 0, 'limits', 'velocity'], 0]], 'joints[0].limits.velocity', /greater than zero/],
      [[[['telemetry', 'broker'], { url: 'mqtts://fleet:8883', ca_file: 'no-such-ca.pem' }]], 'telemetry.broker.ca_file', /file not found: .*no-such-ca\.pem/],
    ];
    for (const [edits, at, message] of cases) {
      const file = variant(edits);
      expectProblem(problemsOf(file), file, at, message);
    }
  });

  it('reports every problem at once, schema and semantic together, in file order', () => {
    const file = variant([
      [['robot_id'], 'sim arm'],
      [['joints', 1, 'limits', 'position'], [1.6, -1.6]],
      [['joints', 2, 'limits', 'velocity'], 0],
      [['joints', 3, 'limits', 'jerk'], undefined],
      [['joints', 4, 'name'], 'wrist_pitch'],
      [['joints', 6, 'type'], 'prismatc'],
      [['fingertips', 0, 'roi'], [80, 60, 20, 20]],
      [['fingertips', 1, 'camera'], 'wirst'],
      [['estop', 'kind'], 'gpi'],
      [['control', 'rate'], 100],
    ]);
    const problems = problemsOf(file);
    const paths = problems.map((p) => p.path);
    for (const expected of [
      'robot_id',
      'control.rate',
      'joints[1].limits.position',
      'joints[2].limits.velocity',
      'joints[3].limits.jerk',
      'joints[4].name',
      'joints[6].type',
      'fingertips[0].roi',
      'fingertips[1].camera',
      'estop.kind',
    ]) {
      expect(paths).toContain(expected);
    }
    expect(problems.every((p) => p.file === file && p.fix.length > 0)).toBe(true);
    const lines = problems.map((p) => p.line ?? Infinity);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(problems.find((p) => p.path === 'joints[6].type')!.fix).toMatch(/did you mean `prismatic`/);
    expect(problems.find((p) => p.path === 'estop.kind')!.fix).toMatch(/sim, gpio/);
  });

  it('formats a readable multi-line message', () => {
    const file = variant([
      [['joints', 2, 'limits', 'velocity'], 0],
      [['fingertips', 1, 'camera'], 'wirst'],
    ]);
    try {
      loadRobotDescription(file);
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      const lines = message.split('\n');
      expect(lines[0]).toMatch(/2 problems/);
      expect(lines[1]).toMatch(/robot-\d+\.yaml:\d+: joints\[2\]\.limits\.velocity: must be greater than zero .* — fix: /);
      expect(lines[2]).toMatch(/fingertips\[1\]\.camera: no camera named `wirst` — fix: /);
    }
  });

  it('refuses a 50 MB robot.yaml by its size, without reading it', () => {
    const file = path.join(dir, 'huge.yaml');
    writeFileSync(file, readFileSync(path.join(repo, 'robots/sim-arm.yaml')));
    truncateSync(file, 50 * 1024 * 1024); // sparse: the size is real, the disk is not used
    const started = performance.now();
    const problems = problemsOf(file);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(problems).toHaveLength(1);
    const p = expectProblem(problems, file, '(file)', /file is 52428800 bytes \(50\.0 MiB\), larger than the 1\.0 MiB \(1048576 bytes\)/);
    expect(p.fix).toMatch(/right file/);
  });

  it('refuses a directory given as robot.yaml', () => {
    expectProblem(problemsOf(dir), dir, '(file)', /is a directory/);
  });

  it('reports a missing file', () => {
    const file = path.join(dir, 'nope.yaml');
    expectProblem(problemsOf(file), file, '(file)', /not found/);
  });
});

describe('formatPath', () => {
  it('writes zod paths the way YAML readers think of them', () => {
    expect(formatPath(['joints', 2, 'limits', 'velocity'])).toBe('joints[2].limits.velocity');
    expect(formatPath([])).toBe('(top level)');
  });
});

describe('robotJsonSchema', () => {
  it('describes robot.yaml as written, defaults optional', () => {
    const schema = robotJsonSchema() as { type: string; required: string[]; properties: Record<string, unknown> };
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(expect.arrayContaining(['robot_id', 'control', 'joints', 'estop', 'policy']));
    expect(schema.required).not.toContain('cameras');
    expect(Object.keys(schema.properties)).toContain('fingertips');
  });
});
