/**
 * robot.yaml checks for an arm on Feetech bus servos: the joints with `driver: { kind: feetech }`
 * and the `feetech` section belong together, ids are unique, a LeRobot calibration file named by
 * `feetech.calibration` exists, parses and matches the joints (names and ids), and every joint's
 * position limits lie inside what its calibrated range lets the servo reach.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import {
  calibrationProblems,
  defaultMotorCalibration,
  feetechSectionSchema,
  jointSchema,
  lerobotCalibrationSchema,
  stepsToRadians,
  type LerobotCalibration,
} from '../../robot/index.js';
import { displayFile, type ProblemList } from './problems.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fmt(n: number): string {
  return String(Number(n.toFixed(4)));
}

/**
 * The calibration file robot.yaml names, resolved against robot.yaml's folder; a leading `~/` is
 * the home directory, as in the path LeRobot prints (~/.cache/huggingface/lerobot/calibration/...).
 */
export function feetechCalibrationFile(robotFile: string, calibration: string): string {
  if (calibration === '~' || calibration.startsWith('~/')) return path.join(homedir(), calibration.slice(1));
  return path.resolve(path.dirname(robotFile), calibration);
}

function readCalibration(file: string, out: ProblemList, robotFile: string): LerobotCalibration | undefined {
  const at = ['feetech', 'calibration'];
  if (!existsSync(file)) {
    out.add(at, `calibration file not found: ${file}`, `put LeRobot's calibration JSON there (it is relative to ${displayFile(path.dirname(robotFile)) || '.'}; lerobot-calibrate writes ~/.cache/huggingface/lerobot/calibration/robots/<type>/<id>.json), or remove feetech.calibration`);
    return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    out.add(at, `${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`, 'point feetech.calibration at the JSON file lerobot-calibrate wrote');
    return undefined;
  }
  const parsed = lerobotCalibrationSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues.slice(0, 5)) {
      out.add(at, `${file}: ${issue.path.map(String).join('.')}: ${issue.message}`, 'a LeRobot calibration is {motor: {id, drive_mode, homing_offset, range_min, range_max}} in raw steps (0..4095)');
    }
    return undefined;
  }
  return parsed.data;
}

export function checkFeetechJoints(data: Record<string, unknown>, rawJoints: unknown[], out: ProblemList, robotFile: string): void {
  const kinds = rawJoints.map((j) => (isRecord(j) && isRecord(j.driver) && typeof j.driver.kind === 'string' ? j.driver.kind : undefined));
  const feetech = kinds.flatMap((k, i) => (k === 'feetech' ? [i] : []));
  if (feetech.length === 0) {
    if (data.feetech !== undefined) out.add(['feetech'], 'there is a `feetech` section, but no joint has `driver: { kind: feetech }`', 'give the arm joints `driver: { kind: feetech, id: N }`, or remove the feetech section');
    return;
  }
  if (data.feetech === undefined) {
    out.add(['joints', feetech[0], 'driver'], 'feetech joints need a `feetech` section (the serial bus they are on)', 'add `feetech: { serial: { port: /dev/ttyACM0 } }` (robots/so101.yaml is a complete example)');
  }
  const other = kinds.findIndex((k) => k !== undefined && k !== 'feetech');
  if (other >= 0) out.add(['joints', other, 'driver'], `joints mix \`kind: ${kinds[other]}\` and \`kind: feetech\` drivers; a robot runs on one HAL`, 'give every joint `driver: { kind: feetech, id }`');
  const joints = feetech.flatMap((i) => {
    const parsed = jointSchema.safeParse(rawJoints[i]);
    return parsed.success && parsed.data.driver.kind === 'feetech' ? [{ index: i, joint: parsed.data, id: parsed.data.driver.id }] : [];
  });
  const byId = new Map<number, string>();
  for (const { index, joint, id } of joints) {
    const first = byId.get(id);
    if (first !== undefined) out.add(['joints', index, 'driver', 'id'], `servo id ${id} is already joint \`${first}\`'s`, 'every servo on the bus needs its own id (lerobot-setup-motors sets them one at a time)');
    else byId.set(id, joint.name);
  }
  const section = feetechSectionSchema.safeParse(data.feetech);
  if (!section.success) return;
  let calibration: LerobotCalibration | undefined;
  if (section.data.calibration !== undefined) {
    calibration = readCalibration(feetechCalibrationFile(robotFile, section.data.calibration), out, robotFile);
    if (calibration !== undefined) {
      for (const p of calibrationProblems(calibration, joints.map((j) => ({ name: j.joint.name, id: j.id })))) out.add(['feetech', 'calibration'], `${p.motor}: ${p.message}`, p.fix);
    }
  }
  for (const { index, joint, id } of joints) {
    if (joint.type !== 'revolute') {
      out.add(['joints', index, 'type'], `feetech joint \`${joint.name}\` is ${joint.type}; a bus servo turns, its position is an angle`, 'set `type: revolute` (the SO-101 gripper is a revolute jaw)');
      continue;
    }
    const c = calibration?.[joint.name] ?? defaultMotorCalibration(id);
    const a = stepsToRadians(c.range_min, c);
    const b = stepsToRadians(c.range_max, c);
    const reach = [Math.min(a, b), Math.max(a, b)];
    const [lo, hi] = joint.limits.position;
    if (lo < reach[0] - 1e-9 || hi > reach[1] + 1e-9) {
      const where = calibration?.[joint.name] ? `its calibrated range [${c.range_min}, ${c.range_max}] steps` : 'one turn of the servo (no calibration file)';
      out.add(
        ['joints', index, 'limits', 'position'],
        `[${lo}, ${hi}] rad reaches outside ${where}, [${fmt(reach[0])}, ${fmt(reach[1])}] rad; the driver would clamp the goal and the joint lag its command`,
        `narrow the limits to [${fmt(Math.max(lo, reach[0]))}, ${fmt(Math.min(hi, reach[1]))}], or calibrate the joint through its whole range again`,
      );
    }
  }
}
