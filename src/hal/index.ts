/**
 * The HAL's door: robot description types, driver contracts, and the factory that turns a
 * robot.yaml into drivers. The control worker calls openRobotHardware(); nothing else in the
 * runtime knows which driver moves a joint.
 */
import type { RobotDescription } from './robot-description.js';
import { openGpioInput, openGpioOutput } from './gpio/index.js';
import { SimJointHardware, SimPlant } from './sim/index.js';
import type { DigitalInput, DigitalOutput, JointHardware } from './types.js';

export * from './types.js';
export * from './robot-description.js';
export { SerialChain } from './kinematics.js';

/** Which implementation sits behind the drivers: the plant simulator for now. */
export interface HardwareOptions {
  readonly kind: 'sim';
  /** Overrides robot.yaml's `sim.seed`. */
  readonly seed?: number;
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

function openGpioEstop(line: GpioEstop, tickPeriodMs: number): DigitalInput {
  const { chip, line: offset, active_low, debounce_ms, backend } = line;
  return openGpioInput({ chip, line: offset, active_low, debounce_ms }, { backend, tickPeriodMs });
}

function openGpioBrake(line: GpioBrake, tickPeriodMs: number): DigitalOutput {
  const { chip, line: offset, active_low, backend } = line;
  return openGpioOutput({ chip, line: offset, active_low, debounce_ms: 0 }, { backend, tickPeriodMs });
}

export function openRobotHardware(robot: RobotDescription, options: HardwareOptions, lines?: SimLines): RobotHardware {
  const plant = new SimPlant(robot, options.seed ?? robot.sim?.seed ?? 1);
  const period = 1000 / robot.control.rate_hz;
  const estop = robot.estop.kind === 'sim' ? simInput(lines, 'sim e-stop line') : openGpioEstop(robot.estop, period);
  const brakeLine = robot.brake_output;
  const brake = brakeLine === undefined ? undefined : brakeLine.kind === 'sim' ? simOutput(lines, 'sim brake line') : openGpioBrake(brakeLine, period);
  return {
    joints: new SimJointHardware(plant, lines ? { cells: lines.cells, joint: lines.pushJoint, micro: lines.pushMicro } : undefined),
    estop,
    ...(brake ? { brake } : {}),
    world: { size: plant.snapshotSize, write: (out, offset) => plant.writeSnapshot(out, offset) },
    plant,
  };
}

/** Floats of world state the snapshot carries for this robot (0 without a simulated world). */
export function hardwareWorldSize(robot: RobotDescription, _options: HardwareOptions): number {
  return SimPlant.snapshotSizeFor(robot);
}
