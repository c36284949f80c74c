/**
 * The simulated robot plant, built from robot.yaml alone (any number of joints, gripper
 * optional): per joint a position servo (PD on the commanded target) saturated by the joint's
 * speed, acceleration and effort, stopped at its hard limits; a cube on a table that the
 * gripper can squeeze, lift and drop. Deterministic from a seed; allocation-free per step,
 * because the control worker steps it at the control rate.
 */
import type { RobotDescription } from '../../robot/index.js';
import type { JointState } from '../types.js';
import { SerialChain } from '../../robot/index.js';
import { createRandom } from './random.js';

/** Layout of the world state the plant publishes for cameras and reports. */
export const World = {
  GRIPPER_OPENING: 0,
  LEFT_FORCE: 1,
  RIGHT_FORCE: 2,
  /** Object centre in the camera (tool) frame: forward, left, up. */
  OBJECT_IN_CAMERA: 3,
  OBJECT_IN_WORLD: 6,
  GRASPED: 9,
  LIFTED: 10,
  OBJECT_SIZE: 11,
  MAX_GRIP_FORCE: 12,
  TIP_HEIGHT: 13,
  HAS_OBJECT: 14,
  SIZE: 16,
} as const;

const SERVO_KP = 400;
const SERVO_KD = 40;
const GRIP_STIFFNESS = 1000; // N per m of commanded squeeze past the object's width
const GRASP_FORCE = 4; // N on both pads before friction holds the cube
const GRAVITY = 9.81;

export interface PlantTruth {
  readonly tip: Float64Array;
  readonly object: Float64Array;
  grasped: boolean;
  lifted: boolean;
  gripForce: number;
}


export class SimPlant {
  static snapshotSizeFor(_robot: RobotDescription): number {
    return World.SIZE;
  }

  readonly chain: SerialChain;
  readonly jointCount: number;
  readonly jointNames: readonly string[];
  readonly position: Float64Array;
  readonly velocity: Float64Array;
  readonly effort: Float64Array;
  readonly truth: PlantTruth;
  readonly #robot: RobotDescription;
  readonly #lower: Float64Array;
  readonly #upper: Float64Array;
  readonly #maxVelocity: Float64Array;
  readonly #maxAcceleration: Float64Array;
  readonly #maxEffort: Float64Array;
  readonly #gripper: number;
  readonly #objectSize: number;
  readonly #hasObject: boolean;
  readonly #camera = new Float64Array(3);
  /** Control period; fixed so step() takes no double argument (V8 boxes those per call). */
  readonly dt: number;
  /** Object vertical speed, in a typed array so updating it never allocates. */
  readonly #objectVz = new Float64Array(1);

  constructor(robot: RobotDescription, seed = robot.sim?.seed ?? 1) {
    this.#robot = robot;
    this.dt = 1 / robot.control.rate_hz;
    const n = robot.joints.length;
    this.jointCount = n;
    this.jointNames = robot.joints.map((j) => j.name);
    this.chain = new SerialChain(robot);
    this.position = new Float64Array(n);
    this.velocity = new Float64Array(n);
    this.effort = new Float64Array(n);
    this.#lower = Float64Array.from(robot.joints.map((j) => j.limits.position[0]));
    this.#upper = Float64Array.from(robot.joints.map((j) => j.limits.position[1]));
    // The physical joint is a little more capable than the envelope allows, as real ones are.
    this.#maxVelocity = Float64Array.from(robot.joints.map((j) => 1.5 * j.limits.velocity));
    this.#maxAcceleration = Float64Array.from(robot.joints.map((j) => 5 * j.limits.acceleration));
    this.#maxEffort = Float64Array.from(robot.joints.map((j) => j.limits.effort));
    this.#gripper = robot.gripper ? robot.joints.findIndex((j) => j.name === robot.gripper?.joint) : -1;
    this.#hasObject = this.#gripper >= 0 && robot.sim !== undefined;
    this.#objectSize = robot.sim?.object.size ?? 0.04;
    this.truth = { tip: this.chain.tip, object: new Float64Array(3), grasped: false, lifted: false, gripForce: 0 };
    this.reset(seed);
  }

  get gripperIndex(): number {
    return this.#gripper;
  }

  get maxGripForce(): number {
    return this.#gripper >= 0 ? this.#maxEffort[this.#gripper] : 0;
  }

  reset(seed: number): void {
    const random = createRandom(seed);
    this.#robot.joints.forEach((joint, i) => {
      this.position[i] = joint.home ?? (joint.limits.position[0] + joint.limits.position[1]) / 2;
    });
    this.velocity.fill(0);
    this.effort.fill(0);
    const object = this.#robot.sim?.object;
    const angle = 2 * Math.PI * random.next();
    const radius = (object?.spawn_radius ?? 0) * Math.sqrt(random.next());
    this.truth.object[0] = (object?.spawn_center[0] ?? 0.3) + radius * Math.cos(angle);
    this.truth.object[1] = (object?.spawn_center[1] ?? 0) + radius * Math.sin(angle);
    this.truth.object[2] = this.#objectSize / 2;
    this.truth.grasped = false;
    this.truth.lifted = false;
    this.truth.gripForce = 0;
    this.#objectVz[0] = 0;
    this.chain.compute(this.position);
  }

  /** Copy the whole dynamic state of another plant of the same robot (for look-ahead). */
  copyFrom(other: SimPlant): void {
    this.position.set(other.position);
    this.velocity.set(other.velocity);
    this.effort.set(other.effort);
    this.truth.object.set(other.truth.object);
    this.truth.grasped = other.truth.grasped;
    this.truth.lifted = other.truth.lifted;
    this.truth.gripForce = other.truth.gripForce;
    this.#objectVz[0] = other.#objectVz[0];
    this.chain.compute(this.position);
  }

  /** Advance one control period toward the commanded targets. */
  step(targets: ArrayLike<number>): void {
    const n = this.jointCount;
    const dt = this.dt;
    for (let i = 0; i < n; i++) {
      const maxA = this.#maxAcceleration[i];
      let a = SERVO_KP * (targets[i] - this.position[i]) - SERVO_KD * this.velocity[i];
      if (a > maxA) a = maxA;
      else if (a < -maxA) a = -maxA;
      // Effort proxy: the acceleration the servo asks for, scaled so saturation = effort limit.
      this.effort[i] = (a / maxA) * this.#maxEffort[i];
      let v = this.velocity[i] + a * dt;
      const maxV = this.#maxVelocity[i];
      if (v > maxV) v = maxV;
      else if (v < -maxV) v = -maxV;
      let p = this.position[i] + v * dt;
      if (p < this.#lower[i]) {
        p = this.#lower[i];
        v = 0;
      } else if (p > this.#upper[i]) {
        p = this.#upper[i];
        v = 0;
      }
      this.position[i] = p;
      this.velocity[i] = v;
    }
    this.chain.compute(this.position);
    if (this.#hasObject) this.#contact(targets);
  }

  #contact(targets: ArrayLike<number>): void {
    const dt = this.dt;
    const g = this.#gripper;
    const gripTarget = targets[g];
    const size = this.#objectSize;
    const truth = this.truth;
    const tip = this.chain.tip;
    const object = truth.object;
    const between =
      Math.abs(tip[0] - object[0]) < size * 0.4 && Math.abs(tip[1] - object[1]) < size * 0.4 && Math.abs(tip[2] - object[2]) < size * 0.4;
    if ((between || truth.grasped) && this.position[g] <= size) {
      // The cube blocks the fingers; the squeeze the servo asks for becomes pad force.
      this.position[g] = size;
      this.velocity[g] = 0;
      const force = Math.min(this.#maxEffort[g], Math.max(0, GRIP_STIFFNESS * (size - gripTarget)));
      truth.gripForce = force;
      this.effort[g] = -force;
    } else {
      truth.gripForce = 0;
    }
    truth.grasped = truth.gripForce >= GRASP_FORCE && (between || truth.grasped);
    if (truth.grasped) {
      object[0] = tip[0];
      object[1] = tip[1];
      object[2] = Math.max(size / 2, tip[2]);
      this.#objectVz[0] = 0;
    } else if (object[2] > size / 2) {
      this.#objectVz[0] -= GRAVITY * dt;
      object[2] = Math.max(size / 2, object[2] + this.#objectVz[0] * dt);
      if (object[2] === size / 2) this.#objectVz[0] = 0;
    }
    truth.lifted = object[2] > size / 2 + 0.05;
  }

  /** The object slips out of the fingers: it is let go a little beside them and falls. */
  slip(): void {
    const truth = this.truth;
    truth.grasped = false;
    truth.gripForce = 0;
    truth.object[0] += this.#objectSize * 1.5;
  }

  /** An external push on joint i (a person, a collision): the servo then pulls it back. */
  displace(i: number, delta: number): void {
    this.position[i] = Math.min(this.#upper[i], Math.max(this.#lower[i], this.position[i] + delta));
  }

  readJoints(out: JointState): void {
    out.position.set(this.position);
    out.velocity.set(this.velocity);
    out.effort.set(this.effort);
  }

  get snapshotSize(): number {
    return World.SIZE;
  }

  /** World state into out[offset .. offset + World.SIZE). */
  writeSnapshot(out: Float64Array, offset = 0): void {
    const truth = this.truth;
    const chain = this.chain;
    const object = truth.object;
    const force = truth.gripForce;
    out[offset + World.GRIPPER_OPENING] = this.#gripper >= 0 ? this.position[this.#gripper] : 0;
    out[offset + World.LEFT_FORCE] = force;
    out[offset + World.RIGHT_FORCE] = force;
    chain.toTool(object[0] - chain.position[0], object[1] - chain.position[1], object[2] - chain.position[2], this.#camera);
    out[offset + World.OBJECT_IN_CAMERA] = this.#camera[0];
    out[offset + World.OBJECT_IN_CAMERA + 1] = this.#camera[1];
    out[offset + World.OBJECT_IN_CAMERA + 2] = this.#camera[2];
    out[offset + World.OBJECT_IN_WORLD] = object[0];
    out[offset + World.OBJECT_IN_WORLD + 1] = object[1];
    out[offset + World.OBJECT_IN_WORLD + 2] = object[2];
    out[offset + World.GRASPED] = truth.grasped ? 1 : 0;
    out[offset + World.LIFTED] = truth.lifted ? 1 : 0;
    out[offset + World.OBJECT_SIZE] = this.#objectSize;
    out[offset + World.MAX_GRIP_FORCE] = this.maxGripForce;
    out[offset + World.TIP_HEIGHT] = chain.tip[2];
    out[offset + World.HAS_OBJECT] = this.#hasObject ? 1 : 0;
  }
}

/** A short phrase for the status line. */
export function describeWorld(world: Float64Array): string {
  if (world[World.HAS_OBJECT] !== 1) return 'no object';
  if (world[World.LIFTED] === 1) return `object LIFTED ${(world[World.OBJECT_IN_WORLD + 2] * 100).toFixed(1)} cm`;
  if (world[World.GRASPED] === 1) return 'object grasped';
  return 'object on table';
}

/** What the task came to, for the run report. */
export function worldTask(world: Float64Array): Record<string, number | boolean> {
  if (world[World.HAS_OBJECT] !== 1) return {};
  return {
    object_grasped: world[World.GRASPED] === 1,
    object_lifted: world[World.LIFTED] === 1,
    object_height_m: Math.round(world[World.OBJECT_IN_WORLD + 2] * 1000) / 1000,
    grip_force_n: Math.round(world[World.LEFT_FORCE] * 10) / 10,
  };
}
