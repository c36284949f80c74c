/**
 * The HAL's door: robot description types, driver contracts, and the factory that turns a
 * robot.yaml into drivers. The control worker calls openRobotHardware(); nothing else in the
 * runtime knows which driver moves a joint.
 */
import type { RobotDescription } from './robot-description.js';
import { SimJointHardware, SimPlant } from './sim/index.js';
import type { JointHardware } from './types.js';

export * from './types.js';
export * from './robot-description.js';

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
  readonly world?: WorldWriter;
}

export function openRobotHardware(robot: RobotDescription, options: HardwareOptions): RobotHardware {
  const plant = new SimPlant(robot, options.seed ?? robot.sim?.seed ?? 1);
  return {
    joints: new SimJointHardware(plant),
    world: { size: plant.snapshotSize, write: (out, offset) => plant.writeSnapshot(out, offset) },
  };
}

/** Floats of world state the snapshot carries for this robot (0 without a simulated world). */
export function hardwareWorldSize(robot: RobotDescription, _options: HardwareOptions): number {
  return SimPlant.snapshotSizeFor(robot);
}
