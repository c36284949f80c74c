/**
 * The HAL's door: robot description types, driver contracts, and the factory that turns a
 * robot.yaml into drivers. The control worker calls openRobotHardware(); nothing else in the
 * runtime knows which driver moves a joint.
 */
import type { RobotDescription } from '../robot/index.js';
import { openGpioInput, openGpioOutput } from './gpio/index.js';
import { SimJointHardware, SimPlant } from './sim/index.js';
import { EmulatedServoArmHardware, type ServoArmModel } from './sim/devices/servo-arm-model.js';
import { parseServoArmConfig, servoArmInput, type ServoArmConfig } from '../robot/index.js';
import { ServoArmHardware } from './devices/servo-arm.js';
import { feetechArmInput, type FeetechArmConfig } from '../robot/index.js';
import { FeetechArmHardware, readLerobotCalibration } from './feetech/index.js';
import type { DigitalInput, DigitalOutput, JointHardware } from './types.js';

export * from './types.js';

/**
 * What sits behind the drivers:
 * - `sim`: the plant simulator moves every joint directly (no driver code), any robot;
 * - `emulated`: the robot's real drivers (servo_arm: PCA9685, AS5600, ADS1115, INA219) talk to
 *   register-level chip models on emulated I2C buses, and the chip models move the plant
 *   simulator; cameras render the simulated world and the e-stop/brake lines are simulated;
 * - `real`: the real drivers on /dev/i2c-N and GPIO, the cameras robot.yaml names.
 */
export const HAL_KINDS = ['sim', 'emulated', 'real'] as const;
export type HalKind = (typeof HAL_KINDS)[number];

export interface HardwareOptions {
  readonly kind: HalKind;
  /** Overrides robot.yaml's `sim.seed` (sim and emulated). */
  readonly seed?: number;
}

/** `sim` for a robot whose joints are all simulated, else `real`. */
export function defaultHalKind(robot: RobotDescription): HalKind {
  return robot.joints.every((j) => j.driver.kind === 'sim') ? 'sim' : 'real';
}

/** Why `kind` cannot run this robot, with the fix; undefined when it can. */
export function halKindProblem(robot: RobotDescription, kind: HalKind): string | undefined {
  const simulated = robot.joints.every((j) => j.driver.kind === 'sim');
  if (kind === 'emulated' && robot.feetech !== undefined) {
    return `--hal emulated: the Feetech bus is not emulated inside embody yet; run the STS3215 bus model on a pseudo-terminal (/usr/bin/python3 scripts/feetech-bus-model.py --ids 1,2,3,4,5,6 --link /tmp/so101-bus) and point feetech.serial.port at it with --hal real, or use --hal sim`;
  }
  if (kind === 'emulated' && simulated) return "--hal emulated: every joint is `driver: { kind: sim }`, there is no hardware to emulate; use --hal sim";
  if (kind === 'real' && simulated) return '--hal real: every joint is `driver: { kind: sim }`; give the joints real drivers (docs/HARDWARE.md) or use --hal sim';
  if (kind === 'real') {
    const simCamera = robot.cameras.find((c) => c.backend === 'sim');
    if (simCamera) return `--hal real: camera '${simCamera.name}' has backend sim, which needs the simulated world; give it a real backend, or use --hal emulated`;
    if (robot.estop.kind === 'sim') return '--hal real: the e-stop is `kind: sim`; wire a real e-stop line (estop: { kind: gpio, ... }) or use --hal emulated';
  }
  return undefined;
}

/** The servo arm's configuration from robot.yaml (joints with `driver: servo` plus `servo_arm`). */
export function robotServoArm(robot: RobotDescription): ServoArmConfig | undefined {
  if (robot.servo_arm === undefined) return undefined;
  return parseServoArmConfig(servoArmInput(robot.servo_arm, robot.joints));
}

/**
 * The Feetech arm's configuration from robot.yaml (joints with `driver: feetech` plus `feetech`),
 * with the LeRobot calibration file read and checked (its path is absolute after loading).
 */
export function robotFeetechArm(robot: RobotDescription): FeetechArmConfig | undefined {
  const section = robot.feetech;
  if (section === undefined) return undefined;
  const calibration = section.calibration === undefined ? undefined : readLerobotCalibration(section.calibration);
  return feetechArmInput(section, robot.joints, calibration, section.calibration);
}

/**
 * The robot as `kind` runs it: with sim or emulated hardware, cameras render the simulated world
 * (same names, sizes and rates), whatever backend robot.yaml gives them for the real robot.
 */
export function robotForHal(robot: RobotDescription, kind: HalKind): RobotDescription {
  if (kind === 'real' || robot.cameras.every((c) => c.backend === 'sim')) return robot;
  return { ...robot, cameras: robot.cameras.map((c) => ({ ...c, backend: 'sim' as const })) };
}

/** Simulated-world state the sim cameras render from, published with each snapshot. */
export interface WorldWriter {
  readonly size: number;
  write(out: Float64Array, offset: number): void;
}

export interface RobotHardware {
  readonly joints: JointHardware;
  readonly estop: DigitalInput;
  readonly brake?: DigitalOutput;
  readonly world?: WorldWriter;
  /** The simulated plant behind sim drivers (the HIL harness perturbs it and reads its truth). */
  readonly plant?: SimPlant;
  /** With `--hal emulated`: the chip models on the emulated buses (fault injection). */
  readonly devices?: ServoArmModel;
}

/**
 * Cells of shared memory that stand in for simulated GPIO lines: the e-stop input the tests
 * and the HIL rig press, and the brake output the loop drives. The real lines go through
 * src/hal/gpio with the same contract.
 */
export interface SimLines {
  readonly cells: Int32Array;
  readonly estop: number;
  readonly brake: number;
  /** Cells of an external push on a joint (SimPushCells). */
  readonly pushJoint: number;
  readonly pushMicro: number;
}

function simInput(lines: SimLines | undefined, description: string): DigitalInput {
  const cells = lines?.cells ?? new Int32Array(new SharedArrayBuffer(64));
  const index = lines?.estop ?? 0;
  return { description, read: () => (Atomics.load(cells, index) === 1 ? 1 : 0), close: () => undefined };
}

function simOutput(lines: SimLines | undefined, description: string): DigitalOutput {
  const cells = lines?.cells ?? new Int32Array(new SharedArrayBuffer(64));
  const index = lines?.brake ?? 1;
  return { description, write: (level) => Atomics.store(cells, index, level), close: () => Atomics.store(cells, index, 0) };
}

type GpioEstop = Extract<RobotDescription['estop'], { kind: 'gpio' }>;
type GpioBrake = Extract<NonNullable<RobotDescription['brake_output']>, { kind: 'gpio' }>;

/** `estop: { kind: none }` on real hardware: a line that is never pressed (the software stop remains). */
const noEstopLine: DigitalInput = { description: 'no e-stop line (estop: none)', read: () => 0, close: () => undefined };

function openGpioEstop(line: GpioEstop, tickPeriodMs: number): DigitalInput {
  const { chip, line: offset, active_low, debounce_ms, backend } = line;
  return openGpioInput({ chip, line: offset, active_low, debounce_ms }, { backend, tickPeriodMs });
}

function openGpioBrake(line: GpioBrake, tickPeriodMs: number): DigitalOutput {
  const { chip, line: offset, active_low, backend } = line;
  return openGpioOutput({ chip, line: offset, active_low, debounce_ms: 0 }, { backend, tickPeriodMs });
}

export function openRobotHardware(robot: RobotDescription, options: HardwareOptions, lines?: SimLines): RobotHardware {
  const problem = options.kind === 'sim' ? undefined : halKindProblem(robot, options.kind);
  if (problem !== undefined) throw new Error(problem);
  const period = 1000 / robot.control.rate_hz;
  const gripJoint = robot.gripper ? robot.joints.findIndex((j) => j.name === robot.gripper?.joint) : -1;
  const squeezeJoint = gripJoint >= 0 ? gripJoint : undefined;
  if (options.kind === 'real') {
    const feetech = robotFeetechArm(robot);
    const arm = feetech === undefined ? robotServoArm(robot) : undefined;
    if (feetech === undefined && arm === undefined) throw new Error('--hal real: no joint driver to open (servo joints need a servo_arm section, feetech joints a feetech section)');
    const brakeLine = robot.brake_output;
    const brake = brakeLine === undefined || brakeLine.kind === 'sim' ? undefined : openGpioBrake(brakeLine, period);
    const estop = robot.estop;
    return {
      joints: feetech !== undefined ? new FeetechArmHardware(feetech, { periodSeconds: period / 1000, readerPriority: Math.max(0, robot.control.realtime_priority - 1) }) : new ServoArmHardware(arm as ServoArmConfig, { periodSeconds: period / 1000, squeezeJoint }),
      estop: estop.kind === 'sim' ? simInput(lines, 'sim e-stop line') : estop.kind === 'none' ? noEstopLine : openGpioEstop(estop, period),
      ...(brake ? { brake } : {}),
    };
  }
  // The e-stop and brake are the shared cells tests and the HIL rig drive, except on a simulated
  // arm whose robot.yaml names real lines (a GPIO e-stop on a sim arm is a bench setup); a real
  // robot's lines are not there when it runs on sim or emulated hardware.
  const plant = new SimPlant(robot, options.seed ?? robot.sim?.seed ?? 1);
  const push = lines ? { cells: lines.cells, joint: lines.pushJoint, micro: lines.pushMicro } : undefined;
  const simulatedLines = options.kind === 'emulated' || robot.joints.some((j) => j.driver.kind !== 'sim');
  const estopLine = robot.estop;
  const estop = simulatedLines || estopLine.kind !== 'gpio' ? simInput(lines, 'sim e-stop line') : openGpioEstop(estopLine, period);
  const brakeLine = robot.brake_output;
  const brake = brakeLine === undefined ? undefined : simulatedLines || brakeLine.kind === 'sim' ? simOutput(lines, 'sim brake line') : openGpioBrake(brakeLine, period);
  const world = { size: plant.snapshotSize, write: (out: Float64Array, offset: number) => plant.writeSnapshot(out, offset) };
  if (options.kind === 'emulated') {
    const arm = robotServoArm(robot);
    if (arm === undefined) throw new Error('--hal emulated: no servo_arm section to emulate');
    const joints = new EmulatedServoArmHardware(arm, { periodSeconds: period / 1000, model: { plant }, squeezeJoint, push });
    return { joints, estop, ...(brake ? { brake } : {}), world, plant, devices: joints.model };
  }
  return { joints: new SimJointHardware(plant, push), estop, ...(brake ? { brake } : {}), world, plant };
}

/** Floats of world state the snapshot carries for this robot (0 without a simulated world). */
export function hardwareWorldSize(robot: RobotDescription, options: HardwareOptions): number {
  return options.kind === 'real' ? 0 : SimPlant.snapshotSizeFor(robot);
}
export { dieWithParent } from './die-with-parent.js';
