/**
 * Effort and grip-force limits, as bounds on the envelope's targets. A position-controlled
 * joint pushing harder than its effort limit may not advance further in the direction it
 * pushes (it presses on something: ISO/TS 15066 limits the force, not the position). The
 * gripper backs off while it squeezes harder than its limit, by motor effort or by the touch
 * estimate, and holds while it is near the limit; the envelope still shapes every motion.
 */
import type { EnvelopeLimits } from './limits.js';

/** Fraction of the limit below which the gripper may close again (hysteresis). */
const RELEASE_FRACTION = 0.9;

export interface GripLimit {
  readonly joint: number;
  /** N of motor effort; Infinity when not configured. */
  readonly maxForce: number;
  /** Touch-estimate units; Infinity when not configured. */
  readonly maxTouchForce: number;
  /** Opening step per tick while backing off, m. */
  readonly backoffPerTick: number;
}

export class ContactLimits {
  readonly #effortLimit: Float64Array;
  readonly #grip: GripLimit | undefined;

  constructor(limits: EnvelopeLimits, grip?: GripLimit) {
    this.#effortLimit = limits.effort;
    this.#grip = grip;
  }

  /**
   * Bound the targets for this tick from measured effort and the touch estimate (NaN when
   * unknown or stale). The gripper's opening grows with position, so squeezing is closing.
   */
  apply(effort: Float64Array, touchForce: number, command: { position(i: number): number }, targetMin: Float64Array, targetMax: Float64Array): void {
    const grip = this.#grip;
    const gripJoint = grip === undefined ? -1 : grip.joint;
    for (let i = 0; i < effort.length; i++) {
      if (i === gripJoint) continue;
      const e = effort[i];
      const limit = this.#effortLimit[i];
      if (e > limit) targetMax[i] = Math.min(targetMax[i], command.position(i));
      else if (e < -limit) targetMin[i] = Math.max(targetMin[i], command.position(i));
    }
    if (grip === undefined) return;
    const g = grip.joint;
    const squeeze = effort[g] < 0 ? -effort[g] : 0;
    const load = Math.max(squeeze / grip.maxForce, touchForce === touchForce ? touchForce / grip.maxTouchForce : 0);
    if (load > 1) targetMin[g] = Math.max(targetMin[g], command.position(g) + grip.backoffPerTick);
    else if (load > RELEASE_FRACTION) targetMin[g] = Math.max(targetMin[g], command.position(g));
  }
}
