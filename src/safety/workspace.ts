/**
 * Optional Cartesian workspace box for the fingertips, checked by forward kinematics of the
 * serial chain in robot.yaml. Each tick the envelope asks: if the arm started braking after
 * this command, where would it come to rest? If the fingertips would rest outside the box,
 * and further outside than where the current command puts them, the whole arm brakes
 * instead. An arm that starts outside may move back in, never further out.
 *
 * The guarantee is about resting points, not the path between them: the per-joint braking
 * paths are short, but the tip may cross a box face by a few millimetres while braking
 * (docs/SAFETY.md says so).
 */
import { SerialChain } from '../robot/index.js';
import type { RobotDescription } from '../robot/index.js';
import { Brake, stopDistanceUpIn } from './braking.js';
import type { EnvelopeLimits } from './limits.js';

export interface WorkspaceBox {
  readonly min: readonly [number, number, number];
  readonly max: readonly [number, number, number];
}

export class WorkspaceGuard {
  readonly #chain: SerialChain;
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #resting: Float64Array;
  readonly #linked: Uint8Array;
  readonly #brake = new Float64Array(Brake.SIZE);
  readonly #dt: number;

  constructor(robot: RobotDescription, box: WorkspaceBox) {
    for (let k = 0; k < 3; k++) {
      if (!(box.min[k] < box.max[k])) throw new RangeError(`workspace box axis ${'xyz'[k]}: min ${box.min[k]} must be below max ${box.max[k]}`);
    }
    this.#chain = new SerialChain(robot);
    if (this.#chain.length === 0) throw new RangeError('a workspace box needs a kinematic chain: give the arm joints a `link`');
    this.#min = Float64Array.from(box.min);
    this.#max = Float64Array.from(box.max);
    this.#resting = new Float64Array(robot.joints.length);
    this.#linked = Uint8Array.from(robot.joints.map((j) => (j.link ? 1 : 0)));
    this.#dt = 1 / robot.control.rate_hz;
  }

  /** Does joint i move the fingertips? */
  moves(i: number): boolean {
    return this.#linked[i] === 1;
  }

  /** How far (sum over axes, m) the fingertips at `positions` are outside the box. */
  excursion(positions: ArrayLike<number>): number {
    this.#chain.compute(positions);
    const tip = this.#chain.tip;
    let out = 0;
    for (let k = 0; k < 3; k++) {
      if (tip[k] < this.#min[k]) out += this.#min[k] - tip[k];
      else if (tip[k] > this.#max[k]) out += tip[k] - this.#max[k];
    }
    return out;
  }

  /** True when commanding `next` accelerations would let the arm come to rest further outside. */
  wouldLeave(position: Float64Array, velocity: Float64Array, next: Float64Array, limits: EnvelopeLimits): boolean {
    const resting = this.#resting;
    const dt = this.#dt;
    for (let i = 0; i < resting.length; i++) {
      const u = next[i];
      const v = velocity[i] + u * dt;
      const A = limits.acceleration[i];
      const J = limits.jerk[i];
      const brake = this.#brake;
      brake[Brake.MAX_ACCELERATION] = A;
      brake[Brake.JERK] = J;
      brake[Brake.V] = v;
      brake[Brake.A] = u;
      stopDistanceUpIn(brake);
      const up = brake[Brake.DISTANCE];
      brake[Brake.V] = -v;
      brake[Brake.A] = -u;
      stopDistanceUpIn(brake);
      resting[i] = position[i] + v * dt + up - brake[Brake.DISTANCE];
    }
    const after = this.excursion(resting);
    if (after <= 0) return false;
    return after > this.excursion(position) + 1e-9;
  }
}
