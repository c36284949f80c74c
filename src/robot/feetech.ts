/**
 * robot.yaml for arms on Feetech serial bus servos (SO-100/SO-101, LeKiwi's arm): the joint side
 * (`driver: { kind: feetech, id }`) and the bus side (the `feetech` section: the serial port, the
 * retry and fault policy, an optional LeRobot calibration file). One zod schema validates, types
 * and documents each; `feetechArmInput` assembles the driver's configuration in robot order.
 *
 * LeRobot's calibration file (lerobot `motors/motors_bus.py` MotorCalibration, written by
 * `lerobot-calibrate` under ~/.cache/huggingface/lerobot/calibration/robots/<type>/<id>.json):
 * `{ "<motor>": { "id", "drive_mode", "homing_offset", "range_min", "range_max" } }`, raw steps.
 */
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const positive = finite.refine((v) => v > 0, { message: 'must be greater than zero' });

export const FEETECH_MODELS = ['sts3215'] as const;

export const feetechDriverSchema = z
  .object({
    kind: z.literal('feetech'),
    id: z.number().int().min(0).max(252).describe('the servo id on the bus (SO-101: 1 shoulder_pan … 6 gripper)'),
    model: z.enum(FEETECH_MODELS).default('sts3215').describe('servo model (its control table and resolution)'),
  })
  .strict()
  .describe('a Feetech serial bus servo in position mode (the bus is the `feetech` section)');

export const lerobotMotorCalibrationSchema = z
  .object({
    id: z.number().int().min(0).max(252),
    drive_mode: z.union([z.literal(0), z.literal(1)]),
    homing_offset: z.number().int().min(-2047).max(2047).describe('Homing_Offset register: Present_Position = actual − homing_offset'),
    range_min: z.number().int().min(0).max(4095),
    range_max: z.number().int().min(0).max(4095),
  })
  .strict()
  .refine((c) => c.range_min < c.range_max, { message: 'range_min must be below range_max' });

/** A LeRobot calibration file: motor name → its calibration. */
export const lerobotCalibrationSchema = z.record(z.string(), lerobotMotorCalibrationSchema);
export type LerobotCalibration = z.infer<typeof lerobotCalibrationSchema>;
export type LerobotMotorCalibration = z.infer<typeof lerobotMotorCalibrationSchema>;

export const feetechSectionSchema = z
  .object({
    serial: z
      .object({
        port: z.string().min(1).describe('the tty of the bus adapter: /dev/ttyACM0, a udev name such as /dev/so101-follower, /dev/serial/by-id/…, or a pseudo-terminal'),
        baud_rate: z.number().int().positive().default(1_000_000).describe('the servos\' Baud_Rate (STS3215 default 1 Mbps)'),
      })
      .strict(),
    calibration: z
      .string()
      .min(1)
      .optional()
      .describe('a LeRobot calibration JSON ({motor: {id, drive_mode, homing_offset, range_min, range_max}}), relative to this file or from ~/; used as is, written to the servos at open'),
    retries: z.number().int().min(0).max(5).default(2).describe('SYNC_READs repeated within one tick for servos whose reply was lost or corrupt'),
    retry_budget_ms: positive
      .optional()
      .describe('time a tick may spend on those retries, ms (default 30% of the control period)'),
    max_missed_ticks: z.number().int().min(1).default(3).describe('ticks in a row a servo may stay silent (after retries) before the arm faults, naming it'),
    max_error_fraction: z
      .number()
      .gt(0)
      .max(1)
      .default(0.2)
      .describe('share of the replies of the last second that may be lost or corrupt before the arm faults (an error storm)'),
    return_delay_us: z.number().int().min(0).max(508).default(0).describe('Return_Delay_Time written at open, µs (2 µs steps; the servo default is 500 µs, LeRobot writes 0)'),
    full_load_torque: positive
      .default(1.9)
      .describe('torque at Present_Load 100 %, N·m, for the effort reading (STS3215 7.4 V: 19.5 kg·cm stall ≈ 1.9 N·m, Feetech datasheet)'),
  })
  .strict();

export type FeetechSection = z.infer<typeof feetechSectionSchema>;

/** One servo of the arm, in robot.yaml joint order. */
export interface FeetechJointConfig {
  readonly name: string;
  readonly id: number;
  readonly model: (typeof FEETECH_MODELS)[number];
  /** From the calibration file, or the defaults: no offset, the full turn, drive_mode 0. */
  readonly calibration: LerobotMotorCalibration;
  /** The joint's position limits (rad): the goal is clamped to these as well as to the range. */
  readonly limits: readonly [number, number];
}

export interface FeetechArmConfig extends Omit<FeetechSection, 'calibration'> {
  readonly joints: readonly FeetechJointConfig[];
  /** Whether a calibration file was given (written to the servos at open) or the defaults are used. */
  readonly calibrated: boolean;
  readonly calibrationFile?: string;
}

/** The calibration of a servo without a calibration file: centred at 2048, the whole turn. */
export function defaultMotorCalibration(id: number): LerobotMotorCalibration {
  return { id, drive_mode: 0, homing_offset: 0, range_min: 0, range_max: 4095 };
}

/**
 * The driver's configuration from the section and the joints with `driver: feetech` (robot order),
 * with `calibration` the parsed calibration file if there is one. Problems are thrown as Errors
 * naming the motor; `embody check` reports the same through checkFeetechCalibration first.
 */
export function feetechArmInput(
  section: FeetechSection,
  joints: readonly { name: string; limits: { position: readonly [number, number] }; driver: { kind: string } }[],
  calibration?: LerobotCalibration,
  calibrationFile?: string,
): FeetechArmConfig {
  const servos = joints.flatMap((j) => {
    const parsed = feetechDriverSchema.safeParse(j.driver);
    return parsed.success ? [{ name: j.name, limits: j.limits.position, driver: parsed.data }] : [];
  });
  const problems = calibration === undefined ? [] : calibrationProblems(calibration, servos.map((s) => ({ name: s.name, id: s.driver.id })));
  if (problems.length > 0) throw new Error(`${calibrationFile ?? 'calibration'}: ${problems.map((p) => `${p.motor}: ${p.message}`).join('; ')}`);
  const { calibration: _file, ...rest } = section;
  void _file;
  return {
    ...rest,
    calibrated: calibration !== undefined,
    ...(calibrationFile !== undefined ? { calibrationFile } : {}),
    joints: servos.map((s) => ({
      name: s.name,
      id: s.driver.id,
      model: s.driver.model,
      calibration: calibration?.[s.name] ?? defaultMotorCalibration(s.driver.id),
      limits: [s.limits[0], s.limits[1]] as const,
    })),
  };
}

/** What is wrong between a calibration file and the servos robot.yaml names: per motor. */
export function calibrationProblems(calibration: LerobotCalibration, servos: readonly { name: string; id: number }[]): { motor: string; message: string; fix: string }[] {
  const out: { motor: string; message: string; fix: string }[] = [];
  for (const servo of servos) {
    const entry = calibration[servo.name];
    if (entry === undefined) {
      out.push({ motor: servo.name, message: `no entry for joint '${servo.name}'`, fix: `calibrate the arm with the same motor names as robot.yaml's joints (${servos.map((s) => s.name).join(', ')})` });
    } else if (entry.id !== servo.id) {
      out.push({ motor: servo.name, message: `id ${entry.id} in the calibration, but robot.yaml gives joint '${servo.name}' id ${servo.id}`, fix: 'make the ids agree (the file belongs to another arm, or a servo was re-numbered)' });
    }
  }
  for (const motor of Object.keys(calibration)) {
    if (!servos.some((s) => s.name === motor)) out.push({ motor, message: `motor '${motor}' is not a joint of robot.yaml`, fix: `rename the joint or the motor; the joints are ${servos.map((s) => s.name).join(', ')}` });
  }
  return out;
}

/** STS3215 steps per radian (4096 steps per turn). */
export const STEPS_PER_RAD = 4096 / (2 * Math.PI);

/**
 * The joint angle (rad) at raw Present_Position `raw`, LeRobot's DEGREES convention in radians:
 * zero at the middle of [range_min, range_max], 4095 steps per turn (lerobot `_normalize`,
 * `(val − mid) · 360 / max_res`); drive_mode 1 turns the sign.
 */
export function stepsToRadians(raw: number, c: LerobotMotorCalibration): number {
  const mid = (c.range_min + c.range_max) / 2;
  const rad = ((raw - mid) * 2 * Math.PI) / 4095;
  return c.drive_mode === 1 ? -rad : rad;
}

/** The raw Goal_Position for joint angle `rad`, clamped to [range_min, range_max]. */
export function radiansToSteps(rad: number, c: LerobotMotorCalibration): number {
  const mid = (c.range_min + c.range_max) / 2;
  const signed = c.drive_mode === 1 ? -rad : rad;
  const raw = Math.round(mid + (signed * 4095) / (2 * Math.PI));
  return raw < c.range_min ? c.range_min : raw > c.range_max ? c.range_max : raw;
}
