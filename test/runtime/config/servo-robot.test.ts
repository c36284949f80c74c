/**
 * robot.yaml for a servo arm (robots/pi-servo-arm.yaml): the preset loads, and every contradiction
 * between the joints and the `servo_arm` section is reported at the field that causes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadRobotDescription, type ConfigProblem } from '../../../src/runtime/config/index.js';
import { editYaml, problemsOf } from './support.js';
import { robotServoArm } from '../../../src/hal/index.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const presetFile = path.join(repo, 'robots/pi-servo-arm.yaml');
const preset = readFileSync(presetFile, 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'embody-servo-robot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function variant(edits: [readonly (string | number)[], unknown][]): string {
  const file = path.join(dir, `robot-${++counter}.yaml`);
  writeFileSync(file, editYaml(preset, edits));
  return file;
}

function expectProblem(problems: ConfigProblem[], fieldPath: string, message: RegExp): void {
  const found = problems.find((p) => p.path === fieldPath && message.test(p.message));
  expect(found, `no problem at ${fieldPath} matching ${message} among:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`).toBeDefined();
}

describe('a servo arm in robot.yaml', () => {
  it('the preset loads, and its servo arm config has every joint on its channel with its encoder', () => {
    const robot = loadRobotDescription(presetFile);
    const arm = robotServoArm(robot);
    expect(arm?.joints.map((j) => [j.name, j.channel, j.encoder?.mux_channel])).toEqual([
      ['base_yaw', 0, 0],
      ['shoulder_pitch', 1, 1],
      ['elbow_pitch', 2, 2],
      ['wrist_pitch', 3, 3],
      ['wrist_roll', 4, 4],
      ['gripper', 5, 5],
    ]);
    expect(arm?.joints[5].encoder?.travel_per_turn).toBe(0.24);
    expect(arm?.fsr?.fingertips.map((t) => t.name)).toEqual(['left_pad', 'right_pad']);
    expect(arm?.power?.address).toBe(0x41);
  });

  it('refuses joint limits the servo cannot reach, and says what it can', () => {
    const problems = problemsOf(variant([[['joints', 2, 'limits', 'position'], [-2.5, 2.3]]]));
    expectProblem(problems, 'joints[2].limits.position', /outside what the servo is calibrated to reach, \[-2\.356, 2\.356\]/);
  });

  it('refuses servo joints without a servo_arm section, and a servo_arm without servo joints', () => {
    expectProblem(problemsOf(variant([[['servo_arm'], undefined]])), 'joints[0].driver', /need a `servo_arm` section/);
    const doc = parseDocument(readFileSync(path.join(repo, 'robots/sim-arm.yaml'), 'utf8'));
    doc.setIn(['servo_arm'], parseDocument(preset).getIn(['servo_arm']));
    const file = path.join(dir, 'sim-with-servo-arm.yaml');
    writeFileSync(file, doc.toString());
    expectProblem(problemsOf(file), 'servo_arm', /no joint has `driver: \{ kind: servo \}`/);
  });

  it('refuses a robot that mixes simulated and servo joints', () => {
    expectProblem(problemsOf(variant([[['joints', 4, 'driver'], { kind: 'sim' }]])), 'joints[4].driver', /mix `kind: sim` and `kind: servo`/);
  });

  it('reports a PWM channel used twice and an address clash at the robot.yaml fields', () => {
    const problems = problemsOf(
      variant([
        [['joints', 3, 'driver', 'channel'], 1],
        [['servo_arm', 'power', 'address'], 0x40],
      ]),
    );
    expectProblem(problems, 'joints[3].driver.channel', /channel 1 is already used by 'shoulder_pitch'/);
    expectProblem(problems, 'servo_arm.power.address', /clashes with the PCA9685/);
  });

  it('refuses an ADS1115 data rate whose conversion does not fit in a control tick', () => {
    expectProblem(problemsOf(variant([[['servo_arm', 'fsr', 'data_rate'], 64]])), 'servo_arm.fsr.data_rate', /15\.625 ms, too long for a 10 ms control tick/);
  });

  it('needs travel_per_turn for an encoder on a prismatic joint', () => {
    expectProblem(problemsOf(variant([[['joints', 5, 'driver', 'encoder', 'travel_per_turn'], undefined]])), 'joints[5].driver.encoder', /needs travel_per_turn/);
  });

  it('names an unknown servo field with the schema error', () => {
    const problems = problemsOf(variant([[['joints', 0, 'driver', 'chanel'], 3]]));
    expect(problems.some((p) => p.path.startsWith('joints[0].driver') && /chanel/.test(p.message))).toBe(true);
  });
});
