/**
 * Monitored standstill (IEC 61800-5-2's safe operating stop, in software): while the robot is
 * meant to hold still, a joint that drifts from its held command by more than its tolerance
 * for longer than a short filter time means a brake slipped, a servo lost position or
 * something pushed the arm, and trips FAULT.
 */
import type { JointDescription } from '../hal/robot-description.js';

const DEFAULT_TOLERANCE = { revolute: 0.02, prismatic: 0.002 } as const;

export class StandstillMonitor {
  readonly #tolerance: Float64Array;
  readonly #filterTicks: number;
  #overTicks = 0;
  /** Joint that tripped on the last check (-1: none). */
  joint = -1;

  constructor(joints: readonly JointDescription[], filterMs: number, rateHz: number) {
    this.#tolerance = Float64Array.from(joints, (j) => j.limits.standstill ?? DEFAULT_TOLERANCE[j.type]);
    this.#filterTicks = Math.max(1, Math.round((filterMs * rateHz) / 1000));
  }

  reset(): void {
    this.#overTicks = 0;
    this.joint = -1;
  }

  /** True once some joint has been off its held command for the whole filter time. */
  violated(measured: Float64Array, command: { position(i: number): number }): boolean {
    let worst = -1;
    for (let i = 0; i < this.#tolerance.length; i++) {
      const off = measured[i] - command.position(i);
      if (off > this.#tolerance[i] || -off > this.#tolerance[i]) {
        worst = i;
        break;
      }
    }
    if (worst < 0) {
      this.#overTicks = 0;
      return false;
    }
    this.joint = worst;
    return ++this.#overTicks >= this.#filterTicks;
  }
}
