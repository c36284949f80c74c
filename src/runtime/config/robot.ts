/**
 * Loading robot.yaml: the schema catches malformed fields, the checks here catch fields that are
 * each fine but contradict one another (inverted limits, a fingertip on a camera that does not
 * exist). Both run on every load and report together, so one edit-and-retry fixes everything.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  cameraSchema,
  fingertipSchema,
  jointSchema,
  robotDescriptionSchema,
  type RobotDescription,
} from '../../robot/index.js';
import {
  ConfigError,
  ProblemList,
  didYouMean,
  displayFile,
  lineLookup,
  readYamlFile,
  sortByLine,
  validateSource,
  type ConfigProblem,
  type FieldPath,
} from './problems.js';
import type { RobotOutline } from './policy.js';
import { robotWarnings } from './warnings.js';
import { servoArmInput, servoArmSchema, servoArmSectionSchema } from '../../robot/index.js';
import { checkFeetechJoints, feetechCalibrationFile } from './feetech.js';

export interface RobotReadResult {
  /** Present only when there are no problems. */
  robot?: RobotDescription;
  problems: ConfigProblem[];
  /** The raw YAML data, when it parsed; lets callers follow `policy.manifest` even if the robot is broken. */
  data?: unknown;
  /** Legal but suspicious values (src/runtime/config/warnings.ts); only checked on a robot without problems. */
  warnings: ConfigProblem[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function listAt(data: Record<string, unknown>, key: string): unknown[] {
  const v = data[key];
  return Array.isArray(v) ? v : [];
}

function stringField(v: unknown, key: string): string | undefined {
  return isRecord(v) && typeof v[key] === 'string' ? v[key] : undefined;
}

function fmt(n: number): string {
  return String(Number(n.toFixed(4)));
}

/**
 * Cross-field checks. They run on the raw data, element by element, so that one malformed joint
 * does not hide the contradictions elsewhere: names come from the raw entries (a joint with a bad
 * velocity still exists), numeric checks only use entries that passed their own schema.
 */
export function checkRobotData(data: unknown, file: string, lineOf?: (p: FieldPath) => number | undefined): ConfigProblem[] {
  const out = new ProblemList(file, lineOf);
  if (!isRecord(data)) return out.problems;

  const rawJoints = listAt(data, 'joints');
  const jointNames = rawJoints.map((j) => stringField(j, 'name'));
  const knownJoints = jointNames.filter((n): n is string => n !== undefined);
  const firstIndex = new Map<string, number>();
  jointNames.forEach((name, i) => {
    if (name === undefined) return;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, i);
    else out.add(['joints', i, 'name'], `joint name \`${name}\` is already used by joints[${first}]`, 'give every joint a unique name; manifests and telemetry address joints by name');
  });

  rawJoints.forEach((raw, i) => {
    const parsed = jointSchema.safeParse(raw);
    if (!parsed.success) return;
    const joint = parsed.data;
    const [lo, hi] = joint.limits.position;
    const unit = joint.type === 'revolute' ? 'rad' : 'm';
    const base: FieldPath = ['joints', i];
    if (lo > hi) {
      out.add([...base, 'limits', 'position'], `lower limit ${lo} is above upper limit ${hi}`, `write them as [lower, upper]: \`position: [${hi}, ${lo}]\``);
    } else if (lo === hi) {
      out.add([...base, 'limits', 'position'], `lower and upper limits are both ${lo}: the joint cannot move`, 'give a range with lower < upper');
    }
    if (joint.type === 'revolute' && Math.max(Math.abs(lo), Math.abs(hi)) > 4 * Math.PI) {
      out.add([...base, 'limits', 'position'], `[${lo}, ${hi}] spans more than two turns; revolute limits are in radians`, `convert degrees to radians: [${fmt((lo * Math.PI) / 180)}, ${fmt((hi * Math.PI) / 180)}]`);
    }
    if (joint.type === 'prismatic' && Math.max(Math.abs(lo), Math.abs(hi)) > 5) {
      out.add([...base, 'limits', 'position'], `[${lo}, ${hi}] is more than 5 m; prismatic limits are in metres`, `convert millimetres to metres: [${fmt(lo / 1000)}, ${fmt(hi / 1000)}]`);
    }
    for (const key of ['velocity', 'acceleration', 'jerk', 'effort'] as const) {
      const rated = joint.limits.rated?.[key];
      if (rated !== undefined && joint.limits[key] > rated) {
        out.add(
          [...base, 'limits', key],
          `${key} limit ${joint.limits[key]} is above the actuator's rated maximum ${rated} (limits.rated.${key}); the safety envelope refuses it`,
          `lower limits.${key} to ${rated} or less (check the actuator datasheet if the rating is wrong)`,
        );
      }
    }
    if (lo < hi) {
      if (joint.home !== undefined && (joint.home < lo || joint.home > hi)) {
        out.add([...base, 'home'], `home ${joint.home} ${unit} is outside the position limits [${lo}, ${hi}]`, `set home within [${lo}, ${hi}], or remove it to use mid-range (${fmt((lo + hi) / 2)})`);
      }
      const half = (hi - lo) / 2;
      if (joint.limits.soft_margin >= half) {
        out.add(
          [...base, 'limits', 'soft_margin'],
          `soft_margin ${joint.limits.soft_margin} ${unit} is not smaller than half the range (${fmt(half)}): the joint would be slowed everywhere`,
          `use a margin well below ${fmt(half)}, e.g. ${fmt((hi - lo) * 0.05)} (5% of the range)`,
        );
      }
    }
  });

  const gripperJoint = isRecord(data.gripper) ? stringField(data.gripper, 'joint') : undefined;
  if (gripperJoint !== undefined) {
    const k = jointNames.indexOf(gripperJoint);
    if (k < 0) {
      const guess = didYouMean(gripperJoint, knownJoints);
      out.add(['gripper', 'joint'], `no joint named \`${gripperJoint}\``, `${guess ? `did you mean \`${guess}\`? ` : ''}use one of the joints: ${knownJoints.join(', ') || '(none defined)'}`);
    } else if (stringField(rawJoints[k], 'type') === 'revolute') {
      out.add(['gripper', 'joint'], `gripper joint \`${gripperJoint}\` is revolute; the gripper opening is a prismatic distance`, `set \`type: prismatic\` on joints[${k}], or point gripper.joint at the prismatic finger joint`);
    }
  }

  checkDriverSections(data, rawJoints, out, file);

  const rawCameras = listAt(data, 'cameras');
  const cameraNames = rawCameras.map((c) => stringField(c, 'name'));
  const knownCameras = cameraNames.filter((n): n is string => n !== undefined);
  const firstCamera = new Map<string, number>();
  cameraNames.forEach((name, i) => {
    if (name === undefined) return;
    const first = firstCamera.get(name);
    if (first === undefined) firstCamera.set(name, i);
    else out.add(['cameras', i, 'name'], `camera name \`${name}\` is already used by cameras[${first}]`, 'give every camera a unique name');
  });

  const firstFingertip = new Map<string, number>();
  listAt(data, 'fingertips').forEach((raw, i) => {
    const name = stringField(raw, 'name');
    if (name !== undefined) {
      const first = firstFingertip.get(name);
      if (first === undefined) firstFingertip.set(name, i);
      else out.add(['fingertips', i, 'name'], `fingertip name \`${name}\` is already used by fingertips[${first}]`, 'give every fingertip a unique name');
    }
    const cameraName = stringField(raw, 'camera');
    if (cameraName === undefined) return;
    const c = cameraNames.indexOf(cameraName);
    if (c < 0) {
      const guess = didYouMean(cameraName, knownCameras);
      out.add(
        ['fingertips', i, 'camera'],
        `no camera named \`${cameraName}\``,
        knownCameras.length === 0
          ? 'add the camera that sees this pad under `cameras:`'
          : `${guess ? `did you mean \`${guess}\`? ` : ''}use one of the cameras: ${knownCameras.join(', ')}`,
      );
      return;
    }
    const tip = fingertipSchema.safeParse(raw);
    const cam = cameraSchema.safeParse(rawCameras[c]);
    if (!tip.success || !cam.success) return;
    const [x, y, w, h] = tip.data.roi;
    const { width, height } = cam.data;
    if (x + w > width || y + h > height) {
      const fx = Math.max(0, Math.min(x, width - w));
      const fy = Math.max(0, Math.min(y, height - h));
      const fits = w <= width && h <= height;
      out.add(
        ['fingertips', i, 'roi'],
        `roi [${x}, ${y}, ${w}, ${h}] reaches x ${x + w}, y ${y + h}, outside camera \`${cameraName}\` (${width}x${height})`,
        fits
          ? `keep x + width <= ${width} and y + height <= ${height}, e.g. roi: [${fx}, ${fy}, ${w}, ${h}]`
          : `the roi is larger than the ${width}x${height} image; shrink it or raise the camera resolution`,
      );
    }
  });

  const simUsers: string[] = [];
  rawJoints.forEach((j, i) => {
    if (isRecord(j) && stringField(j.driver, 'kind') === 'sim') simUsers.push(`joints[${i}].driver`);
  });
  rawCameras.forEach((c, i) => {
    if (stringField(c, 'backend') === 'sim') simUsers.push(`cameras[${i}].backend`);
  });
  if (stringField(data.estop, 'kind') === 'sim') simUsers.push('estop');
  if (simUsers.length > 0 && data.sim === undefined) {
    const shown = simUsers.length > 3 ? `${simUsers.slice(0, 3).join(', ')} and ${simUsers.length - 3} more` : simUsers.join(', ');
    out.add(['sim'], `${shown} use the simulator, but there is no \`sim\` section`, 'add `sim: {}` (every field has a default; set `seed` for other runs), or switch them to real hardware');
  }

  const safety = robotDescriptionSchema.shape.safety.safeParse(data.safety);
  const box = safety.success ? safety.data.workspace : undefined;
  if (box) {
    ['x', 'y', 'z'].forEach((axis, k) => {
      if (!(box.min[k] < box.max[k])) {
        out.add(['safety', 'workspace'], `workspace ${axis}: min ${box.min[k]} is not below max ${box.max[k]}`, `write min and max as [x, y, z] with every min below its max`);
      }
    });
    if (!rawJoints.some((j) => isRecord(j) && isRecord(j.link))) {
      out.add(['safety', 'workspace'], 'a workspace box needs forward kinematics, but no joint has a `link`', 'give the arm joints `link: { origin, axis }`, or remove safety.workspace');
    }
  }

  // Broker credentials are files: a missing one would only show when the link first connects.
  const telemetryBlock = robotDescriptionSchema.shape.telemetry.safeParse(data.telemetry);
  const broker = telemetryBlock.success ? telemetryBlock.data.broker : undefined;
  if (broker) {
    for (const key of ['ca_file', 'cert_file', 'key_file', 'password_file'] as const) {
      const value = broker[key];
      if (value === undefined) continue;
      const resolved = path.resolve(path.dirname(file), value);
      if (!existsSync(resolved)) {
        out.add(['telemetry', 'broker', key], `file not found: ${resolved}`, `put the file there (it is relative to ${displayFile(path.dirname(file))}), or correct the path`);
      }
    }
  }

  checkHttpFiles(data, file, out);

  const control = robotDescriptionSchema.shape.control.safeParse(data.control);
  const telemetry = robotDescriptionSchema.shape.telemetry.safeParse(data.telemetry);
  if (control.success && telemetry.success && telemetry.data.state_rate_hz > control.data.rate_hz) {
    out.add(['telemetry', 'state_rate_hz'], `state_rate_hz ${telemetry.data.state_rate_hz} is above the control rate ${control.data.rate_hz} Hz`, `set it to ${control.data.rate_hz} or less; there is no newer state to send`);
  }
  return out.problems;
}

/** Each driver family's joints against its bus section (I2C servo arm, Feetech bus). */
function checkDriverSections(data: Record<string, unknown>, rawJoints: unknown[], out: ProblemList, file: string): void {
  checkServoJoints(data, rawJoints, out);
  checkFeetechJoints(data, rawJoints, out, file);
}

/** The live page's token and certificate are files: missing ones, or a token others can read, are refused at load. */
function checkHttpFiles(data: Record<string, unknown>, file: string, out: ProblemList): void {
  const http = robotDescriptionSchema.shape.http.safeParse(data.http);
  if (!http.success || http.data === undefined) return;
  const dir = path.dirname(file);
  const files: [FieldPath, string | undefined][] = [
    [['http', 'token_file'], http.data.token_file],
    [['http', 'tls', 'cert'], http.data.tls?.cert],
    [['http', 'tls', 'key'], http.data.tls?.key],
  ];
  for (const [at, value] of files) {
    if (value === undefined) continue;
    const resolved = path.resolve(dir, value);
    if (!existsSync(resolved)) {
      out.add(at, `file not found: ${resolved}`, `put the file there (it is relative to ${displayFile(dir)}), or correct the path`);
    } else if (at[1] === 'token_file' && (statSync(resolved).mode & 0o077) !== 0) {
      const mode = (statSync(resolved).mode & 0o777).toString(8).padStart(3, '0');
      out.add(at, `${resolved} has mode 0${mode}: other users could read the operator token`, `chmod 600 ${resolved}`);
    }
  }
}

/**
 * Servo joints and the `servo_arm` section belong together; a servo must be able to reach every
 * position the envelope may command (else the driver clamps the pulse and the joint lags); and the
 * arm's address plan must have no clashes (servoArmSchema), reported at the robot.yaml fields.
 */
function checkServoJoints(data: Record<string, unknown>, rawJoints: unknown[], out: ProblemList): void {
  const byKind = (kind: string): number[] => rawJoints.flatMap((j, i) => (isRecord(j) && stringField(j.driver, 'kind') === kind ? [i] : []));
  const servo = byKind('servo');
  const sim = byKind('sim');
  if (servo.length === 0) {
    if (data.servo_arm !== undefined) out.add(['servo_arm'], 'there is a `servo_arm` section, but no joint has `driver: { kind: servo }`', 'give the arm joints `driver: { kind: servo, channel, servo: {...} }`, or remove servo_arm');
    return;
  }
  if (data.servo_arm === undefined) {
    out.add(['joints', servo[0], 'driver'], 'servo joints need a `servo_arm` section (the I2C bus, PCA9685 and sensors they are on)', 'add `servo_arm: { bus: 1, pca9685: { address: 0x40 } }` (docs/HARDWARE.md; robots/pi-servo-arm.yaml is a complete example)');
  }
  if (sim.length > 0) {
    out.add(['joints', sim[0], 'driver'], `joints mix \`kind: sim\` and \`kind: servo\` drivers; a robot runs on one HAL`, 'give every joint `driver: { kind: servo, ... }` (`embody run --hal emulated` simulates them)');
  }
  const joints: { name: string; driver: { kind: string } }[] = [];
  let allParsed = true;
  for (const i of servo) {
    const parsed = jointSchema.safeParse(rawJoints[i]);
    if (!parsed.success || parsed.data.driver.kind !== 'servo') {
      allParsed = false;
      continue;
    }
    const joint = parsed.data;
    const driver = parsed.data.driver;
    joints.push(joint);
    const unit = joint.type === 'revolute' ? 'rad' : 'm';
    const reach = [Math.min(driver.servo.min_angle, driver.servo.max_angle), Math.max(driver.servo.min_angle, driver.servo.max_angle)];
    const [lo, hi] = joint.limits.position;
    const slack = 1e-9 * Math.max(1, Math.abs(reach[0]), Math.abs(reach[1]));
    if (lo < reach[0] - slack || hi > reach[1] + slack) {
      out.add(
        ['joints', i, 'limits', 'position'],
        `[${lo}, ${hi}] ${unit} reaches outside what the servo is calibrated to reach, [${fmt(reach[0])}, ${fmt(reach[1])}] (driver.servo min_angle/max_angle); the driver would clamp the pulse and the joint lag its command`,
        `narrow the limits to [${fmt(Math.max(lo, reach[0]))}, ${fmt(Math.min(hi, reach[1]))}], or measure the servo's range again (docs/HARDWARE.md, calibration)`,
      );
    }
    if (joint.type === 'prismatic' && driver.encoder !== undefined && driver.encoder.travel_per_turn === undefined) {
      out.add(['joints', i, 'driver', 'encoder'], `the AS5600 of prismatic joint \`${joint.name}\` needs travel_per_turn (its opening per magnet turn, m)`, 'measure the opening at two encoder readings and set travel_per_turn = Δopening / Δturns (docs/HARDWARE.md)');
    }
  }
  const section = servoArmSectionSchema.safeParse(data.servo_arm);
  if (!section.success) return;
  const control = robotDescriptionSchema.shape.control.safeParse(data.control);
  const fsr = section.data.fsr;
  if (fsr && control.success && 1 / fsr.data_rate >= 0.9 / control.data.rate_hz) {
    // The driver starts one conversion per tick and reads it the next: it must be done by then.
    const fast = [860, 475, 250, 128].filter((r) => 1 / r < 0.9 / control.data.rate_hz);
    out.add(
      ['servo_arm', 'fsr', 'data_rate'],
      `one ADS1115 conversion at ${fsr.data_rate} SPS takes ${fmt(1000 / fsr.data_rate)} ms, too long for a ${fmt(1000 / control.data.rate_hz)} ms control tick`,
      fast.length > 0 ? `raise data_rate to ${fast[fast.length - 1]} or more` : 'lower control.rate_hz',
    );
  }
  if (!allParsed) return;
  const arm = servoArmSchema.safeParse(servoArmInput(section.data, joints));
  if (arm.success) return;
  for (const issue of arm.error.issues) {
    const [head, k, ...rest] = issue.path;
    const path: FieldPath =
      head === 'joints' && typeof k === 'number' && servo[k] !== undefined
        ? ['joints', servo[k], 'driver', ...rest.filter((p): p is string | number => typeof p !== 'symbol')]
        : ['servo_arm', ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
    out.add(path, issue.message, 'see docs/HARDWARE.md, "Addresses"');
  }
}

/**
 * Names, joint types and control rate of a robot.yaml that may not have passed its checks, from the
 * entries that are well-formed enough to tell; what cannot be read is left out.
 */
export function robotOutline(data: unknown): RobotOutline {
  const obj = isRecord(data) ? data : {};
  const named = (key: string): { name: string; raw: Record<string, unknown> }[] =>
    listAt(obj, key).flatMap((raw) => {
      const name = stringField(raw, 'name');
      return name !== undefined && isRecord(raw) ? [{ name, raw }] : [];
    });
  const control = robotDescriptionSchema.shape.control.safeParse(obj.control);
  return {
    ...(control.success ? { control: { rate_hz: control.data.rate_hz } } : {}),
    joints: named('joints').map(({ name, raw }) => (typeof raw.type === 'string' ? { name, type: raw.type } : { name })),
    cameras: named('cameras').map(({ name }) => ({ name })),
    fingertips: named('fingertips').map(({ name }) => ({ name })),
  };
}

/** Cross-field checks for an already parsed description (e.g. one built in code). */
export function checkRobotDescription(robot: RobotDescription, file: string): ConfigProblem[] {
  return checkRobotData(robot, file, lineLookup(file));
}

/** Reads and checks robot.yaml without throwing: every problem found, or the description. */
export function readRobotDescription(file: string): RobotReadResult {
  const parsed = readYamlFile(file);
  if (!parsed.ok) return { problems: parsed.problems, warnings: [] };
  const { source } = parsed;
  const validated = validateSource(robotDescriptionSchema, source);
  const semantic = checkRobotData(source.data, file, source.lineOf);
  const problems = sortByLine([...(validated.ok ? [] : validated.problems), ...semantic]);
  if (validated.ok && problems.length === 0) {
    const feetech = validated.value.feetech;
    // The calibration file is read where the hardware opens (the control worker): hand it an absolute path.
    if (feetech?.calibration !== undefined) feetech.calibration = feetechCalibrationFile(file, feetech.calibration);
    return { robot: validated.value, problems, data: source.data, warnings: robotWarnings(validated.value, file, source.lineOf) };
  }
  return { problems, data: source.data, warnings: [] };
}

export function loadRobotDescription(file: string): RobotDescription {
  const result = readRobotDescription(file);
  if (result.robot === undefined) {
    const n = result.problems.length;
    throw new ConfigError(result.problems, `${displayFile(file)}: robot description has ${n} problem${n === 1 ? '' : 's'}`);
  }
  return result.robot;
}

/** JSON Schema of robot.yaml as written (defaults optional), for editor completion. */
export function robotJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(robotDescriptionSchema, { io: 'input' }) as Record<string, unknown>;
  return { title: 'embody robot description (robot.yaml)', ...schema };
}
