/**
 * Deviation between measured and commanded positions, two ways:
 *  - monitored standstill (IEC 61800-5-2's safe operating stop, in software): while the robot
 *    is meant to hold still, a joint that drifts from its held command by more than a tight
 *    tolerance means a brake slipped, a servo lost position or something pushed the arm;
 *  - following error (what servo drives call it): while moving, a joint further from its
 *    command than the servo's lag can explain means a frozen or jumping sensor, a stall or a
 *    collision.
 * Either, held for longer than a short filter time, trips FAULT.
 */
import type { JointDescription } from '../robot/index.js';

const STANDSTILL_TOLERANCE = { revolute: 0.02, prismatic: 0.002 } as const;
/** Generous for hobby servos: the sim servo lags up to ~0.15 rad at full speed. */
const FOLLOWING_TOLERANCE = { revolute: 0.3, prismatic: 0.03 } as const;

export class DeviationMonitor {
  readonly #tolerance: Float64Array;
  readonly #filterTicks: number;
  #overTicks = 0;
  /** Joint that tripped on the last check (-1: none). */
  joint = -1;

  constructor(tolerance: Float64Array, filterMs: number, rateHz: number) {
    this.#tolerance = tolerance;
    this.#filterTicks = Math.max(1, Math.round((filterMs * rateHz) / 1000));
  }

  /**
   * The gripper is left out of both (`gripper` names it): holding an object, its fingers sit
   * away from their command by design, and the grip-force limit bounds that squeeze instead.
   */
  static standstill(joints: readonly JointDescription[], filterMs: number, rateHz: number, gripper?: string): DeviationMonitor {
    const tolerance = Float64Array.from(joints, (j) => (j.name === gripper ? Infinity : (j.limits.standstill ?? STANDSTILL_TOLERANCE[j.type])));
    return new DeviationMonitor(tolerance, filterMs, rateHz);
  }

  static following(joints: readonly JointDescription[], filterMs: number, rateHz: number, gripper?: string): DeviationMonitor {
    const tolerance = Float64Array.from(joints, (j) => (j.name === gripper ? Infinity : (j.limits.following_error ?? FOLLOWING_TOLERANCE[j.type])));
    return new DeviationMonitor(tolerance, filterMs, rateHz);
  }

  reset(): void {
    this.#overTicks = 0;
    this.joint = -1;
  }

  /** True once some joint has been off its command for the whole filter time. */
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
