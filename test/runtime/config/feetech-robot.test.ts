/**
 * robot.yaml for an arm on Feetech bus servos (robots/so101.yaml): the preset loads into the
 * driver's configuration, a LeRobot calibration file is read as is, and each contradiction between
 * the joints, the `feetech` section and the calibration is reported at the field that causes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRobotDescription, type ConfigProblem } from '../../../src/runtime/config/index.js';
import { editYaml, problemsOf } from './support.js';
import { robotFeetechArm } from '../../../src/hal/index.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const presetFile = path.join(repo, 'robots/so101.yaml');
const preset = readFileSync(presetFile, 'utf8').replace('../models/', `${repo}/models/`);
const dir = mkdtempSync(path.join(tmpdir(), 'embody-feetech-robot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NAMES = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper'];
/** A calibration as lerobot-calibrate writes it for an SO-101 follower (ranges of a real arm's order). */
const calibration = Object.fromEntries(
  NAMES.map((name, k) => [name, { id: k + 1, drive_mode: 0, homing_offset: [-1470, 1085, -1018, -1050, 45, 1230][k], range_min: [758, 802, 850, 830, 0, 2030][k], range_max: [3300, 3230, 3080, 3220, 4095, 3500][k] }]),
);

let counter = 0;
function variant(edits: [readonly (string | number)[], unknown][], files: Record<string, string> = {}): string {
  const file = path.join(dir, `robot-${++counter}.yaml`);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(file, editYaml(preset, edits));
  return file;
}

function expectProblem(problems: ConfigProblem[], fieldPath: string, message: RegExp): void {
  const found = problems.find((p) => p.path === fieldPath && message.test(p.message));
  expect(found, `no problem at ${fieldPath} matching ${message} among:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`).toBeDefined();
}

describe('a Feetech arm in robot.yaml', () => {
  it('the SO-101 preset loads: ids 1-6 in LeRobot order on /dev/ttyACM0 at 1 Mbps, default calibration', () => {
    const arm = robotFeetechArm(loadRobotDescription(presetFile));
    expect(arm?.joints.map((j) => [j.name, j.id])).toEqual(NAMES.map((n, k) => [n, k + 1]));
    expect(arm?.serial).toEqual({ port: '/dev/ttyACM0', baud_rate: 1_000_000 });
    expect(arm?.calibrated).toBe(false);
    expect(arm?.joints[0].calibration).toEqual({ id: 1, drive_mode: 0, homing_offset: 0, range_min: 0, range_max: 4095 });
  });

  it('reads a LeRobot calibration file relative to robot.yaml and uses it unchanged', () => {
    const limits = (lo: number, hi: number) => ({ position: [lo, hi], velocity: 2, acceleration: 10, jerk: 200, effort: 1.9 });
    // Limits inside what these ranges reach (elbow: (3080−850)/2 steps = ±1.71 rad).
    const file = variant([[['feetech', 'calibration'], 'cal/so101.json'], ...NAMES.map((_, k) => [['joints', k, 'limits'], limits(-0.5, 0.5)] as [string[], unknown])], {});
    expectProblem(problemsOf(file), 'feetech.calibration', /calibration file not found: .*cal\/so101\.json/);
    const calFile = path.join(dir, 'so101-cal.json');
    writeFileSync(calFile, JSON.stringify(calibration, null, 4));
    const good = variant([[['feetech', 'calibration'], 'so101-cal.json'], ...NAMES.map((_, k) => [['joints', k, 'limits'], limits(-0.5, 0.5)] as [string[], unknown])]);
    const arm = robotFeetechArm(loadRobotDescription(good));
    expect(arm?.calibrated).toBe(true);
    expect(arm?.calibrationFile).toBe(calFile);
    NAMES.forEach((name, k) => expect(arm?.joints[k].calibration).toEqual(calibration[name]));
  });

  it('resolves a calibration path from ~/ against the home directory, as LeRobot prints it', async () => {
    const { feetechCalibrationFile } = await import('../../../src/runtime/config/feetech.js');
    const { homedir } = await import('node:os');
    expect(feetechCalibrationFile('/etc/embody/robot.yaml', '~/.cache/huggingface/lerobot/calibration/robots/so101_follower/a.json')).toBe(
      path.join(homedir(), '.cache/huggingface/lerobot/calibration/robots/so101_follower/a.json'),
    );
    expect(feetechCalibrationFile('/etc/embody/robot.yaml', 'cal/a.json')).toBe('/etc/embody/cal/a.json');
  });

  it('refuses a calibration for other motors or ids, and limits past the calibrated range', () => {
    const wrong = { ...calibration, elbow_flex: { ...calibration.elbow_flex, id: 7 }, extra_motor: calibration.gripper };
    writeFileSync(path.join(dir, 'wrong.json'), JSON.stringify(wrong));
    const problems = problemsOf(variant([[['feetech', 'calibration'], 'wrong.json']]));
    expectProblem(problems, 'feetech.calibration', /elbow_flex: id 7 in the calibration, but robot.yaml gives joint 'elbow_flex' id 3/);
    expectProblem(problems, 'feetech.calibration', /extra_motor: motor 'extra_motor' is not a joint of robot.yaml/);
    writeFileSync(path.join(dir, 'good.json'), JSON.stringify(calibration));
    // The elbow's range 850..3080 reaches ±(3080 − 850)/2 steps = ±1.7108 rad.
    const past = problemsOf(variant([[['feetech', 'calibration'], 'good.json'], [['joints', 2, 'limits', 'position'], [-1.8, 1.8]]]));
    expectProblem(past, 'joints[2].limits.position', /reaches outside its calibrated range \[850, 3080\] steps, \[-1\.7108, 1\.7108\] rad/);
    writeFileSync(path.join(dir, 'broken.json'), '{"shoulder_pan": {"id": 1}');
    expectProblem(problemsOf(variant([[['feetech', 'calibration'], 'broken.json']])), 'feetech.calibration', /is not JSON/);
  });

  it('refuses duplicate ids, feetech joints without the section, and mixed drivers', () => {
    expectProblem(problemsOf(variant([[['joints', 4, 'driver', 'id'], 2]])), 'joints[4].driver.id', /servo id 2 is already joint `shoulder_lift`'s/);
    expectProblem(problemsOf(variant([[['feetech'], undefined]])), 'joints[0].driver', /feetech joints need a `feetech` section/);
    expectProblem(problemsOf(variant([[['joints', 5, 'driver'], { kind: 'sim' }]])), 'joints[5].driver', /joints mix `kind: sim` and `kind: feetech`/);
  });
});
