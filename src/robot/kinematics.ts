/**
 * Forward kinematics of the serial chain that robot.yaml describes: for each joint with a
 * `link`, translate by its origin, then rotate about its axis by the joint position. The tool
 * frame is the last frame; the fingertip point lies `tip_offset` along its x axis.
 * Allocation-free: the chain writes into buffers it owns.
 */
import type { RobotDescription } from './description.js';

export class SerialChain {
  readonly #origins: Float64Array;
  readonly #axes: Int8Array;
  readonly #jointIndex: Int32Array;
  readonly #baseHeight: number;
  readonly tipOffset: number;
  /** Tool frame after compute(): rotation (row-major 3x3) and position. */
  readonly rotation = new Float64Array(9);
  readonly position = new Float64Array(3);
  readonly tip = new Float64Array(3);
  readonly #temp = new Float64Array(9);

  constructor(robot: RobotDescription) {
    const linked = robot.joints.flatMap((j, i) => (j.link ? [{ link: j.link, index: i }] : []));
    this.#origins = Float64Array.from(linked.flatMap((l) => l.link.origin));
    this.#axes = Int8Array.from(linked.map((l) => ['x', 'y', 'z'].indexOf(l.link.axis)));
    this.#jointIndex = Int32Array.from(linked.map((l) => l.index));
    this.#baseHeight = robot.base_height;
    this.tipOffset = robot.gripper?.tip_offset ?? 0;
  }

  get length(): number {
    return this.#axes.length;
  }

  /** Tool frame and fingertip point for the given joint positions (robot.yaml order). */
  compute(positions: ArrayLike<number>): void {
    const R = this.rotation;
    const p = this.position;
    R.fill(0);
    R[0] = R[4] = R[8] = 1;
    p[0] = 0;
    p[1] = 0;
    p[2] = this.#baseHeight;
    for (let k = 0; k < this.#axes.length; k++) {
      const ox = this.#origins[3 * k];
      const oy = this.#origins[3 * k + 1];
      const oz = this.#origins[3 * k + 2];
      p[0] += R[0] * ox + R[1] * oy + R[2] * oz;
      p[1] += R[3] * ox + R[4] * oy + R[5] * oz;
      p[2] += R[6] * ox + R[7] * oy + R[8] * oz;
      this.#rotate(this.#axes[k], positions[this.#jointIndex[k]]);
    }
    this.tip[0] = p[0] + R[0] * this.tipOffset;
    this.tip[1] = p[1] + R[3] * this.tipOffset;
    this.tip[2] = p[2] + R[6] * this.tipOffset;
  }

  /** World vector v expressed in the tool frame (R^T v). */
  toTool(vx: number, vy: number, vz: number, out: Float64Array): void {
    const R = this.rotation;
    out[0] = R[0] * vx + R[3] * vy + R[6] * vz;
    out[1] = R[1] * vx + R[4] * vy + R[7] * vz;
    out[2] = R[2] * vx + R[5] * vy + R[8] * vz;
  }

  /** R = R * Rot(axis, angle). */
  #rotate(axis: number, angle: number): void {
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const R = this.rotation;
    const T = this.#temp;
    T.set(R);
    for (let row = 0; row < 3; row++) {
      const r0 = T[3 * row];
      const r1 = T[3 * row + 1];
      const r2 = T[3 * row + 2];
      if (axis === 0) {
        R[3 * row + 1] = r1 * c + r2 * s;
        R[3 * row + 2] = -r1 * s + r2 * c;
      } else if (axis === 1) {
        R[3 * row] = r0 * c - r2 * s;
        R[3 * row + 2] = r0 * s + r2 * c;
      } else {
        R[3 * row] = r0 * c + r1 * s;
        R[3 * row + 1] = -r0 * s + r1 * c;
      }
    }
  }
}
