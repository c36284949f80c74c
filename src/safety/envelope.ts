/**
 * The joint envelope: every actuator command is made here, from a proposed target, or it is
 * not made at all. Pure arithmetic over preallocated typed arrays (after libfranka's
 * rate_limiting: limits in, last command in, shaped command out), so it is allocation-free and
 * testable without hardware.
 *
 * This first version: reject non-finite proposals (hold the last safe command), clamp to the
 * hard position limits, scale speed toward a limit down inside the soft margin, and limit the
 * step from the previous *command* (not the measured position, so tracking lag never throttles
 * motion) to the velocity limit. A controlled stop decelerates within the acceleration limit.
 */
import type { JointDescription } from '../hal/robot-description.js';
import { SafeCommand, takeEnvelopeKey, type EnvelopeKey } from './safe-command.js';

const key: EnvelopeKey = takeEnvelopeKey();

export const Verdict = { PASSED: 0, LIMITED: 1, REJECTED: 2 } as const;
export type VerdictCode = (typeof Verdict)[keyof typeof Verdict];

export interface EnvelopeLimits {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  readonly velocity: Float64Array;
  readonly acceleration: Float64Array;
  readonly softMargin: Float64Array;
}

export function limitsFromJoints(joints: readonly JointDescription[]): EnvelopeLimits {
  const n = joints.length;
  const limits: EnvelopeLimits = {
    lower: new Float64Array(n),
    upper: new Float64Array(n),
    velocity: new Float64Array(n),
    acceleration: new Float64Array(n),
    softMargin: new Float64Array(n),
  };
  joints.forEach((joint, i) => {
    const [lower, upper] = joint.limits.position;
    const where = `joint '${joint.name}'`;
    if (!(lower < upper)) throw new RangeError(`${where}: position limits [${lower}, ${upper}] are inverted or empty`);
    if (!(joint.limits.velocity > 0)) throw new RangeError(`${where}: velocity limit must be > 0`);
    if (!(joint.limits.acceleration > 0)) throw new RangeError(`${where}: acceleration limit must be > 0`);
    limits.lower[i] = lower;
    limits.upper[i] = upper;
    limits.velocity[i] = joint.limits.velocity;
    limits.acceleration[i] = joint.limits.acceleration;
    limits.softMargin[i] = joint.limits.soft_margin;
  });
  return limits;
}

export class JointEnvelope {
  /** The last command that passed; drivers get this object, refilled in place each tick. */
  readonly command: SafeCommand;
  readonly #limits: EnvelopeLimits;
  readonly #dt: number;
  readonly #position: Float64Array;
  readonly #velocity: Float64Array;
  /** Set by the last apply(): which limits acted. */
  positionLimited = false;
  velocityLimited = false;

  constructor(limits: EnvelopeLimits, periodSeconds: number) {
    const n = limits.lower.length;
    this.#limits = limits;
    this.#dt = periodSeconds;
    this.command = new SafeCommand(key, n);
    this.#position = SafeCommand.writable(key, this.command);
    this.#velocity = new Float64Array(n);
  }

  get jointCount(): number {
    return this.#position.length;
  }

  /** Restart from the measured state (after boot, reset or re-arm) so nothing jumps. */
  seed(measured: Float64Array): void {
    const { lower, upper } = this.#limits;
    for (let i = 0; i < this.#position.length; i++) {
      const p = measured[i];
      this.#position[i] = Number.isFinite(p) ? Math.min(upper[i], Math.max(lower[i], p)) : (lower[i] + upper[i]) / 2;
      this.#velocity[i] = 0;
    }
  }

  /** Shape `proposed` into the next command, or reject it and hold. */
  apply(proposed: Float64Array): VerdictCode {
    const n = this.#position.length;
    this.positionLimited = false;
    this.velocityLimited = false;
    if (proposed.length < n) return this.#reject();
    for (let i = 0; i < n; i++) if (!Number.isFinite(proposed[i])) return this.#reject();
    const { lower, upper, velocity, softMargin } = this.#limits;
    const dt = this.#dt;
    for (let i = 0; i < n; i++) {
      let target = proposed[i];
      if (target < lower[i]) {
        target = lower[i];
        this.positionLimited = true;
      } else if (target > upper[i]) {
        target = upper[i];
        this.positionLimited = true;
      }
      const previous = this.#position[i];
      let maxStep = velocity[i] * dt;
      const margin = softMargin[i];
      if (margin > 0) {
        const room = target > previous ? upper[i] - previous : previous - lower[i];
        if (room < margin) maxStep *= Math.max(room / margin, 0.05);
      }
      let step = target - previous;
      if (step > maxStep) {
        step = maxStep;
        this.velocityLimited = true;
      } else if (step < -maxStep) {
        step = -maxStep;
        this.velocityLimited = true;
      }
      this.#position[i] = previous + step;
      this.#velocity[i] = step / dt;
    }
    return this.positionLimited || this.velocityLimited ? Verdict.LIMITED : Verdict.PASSED;
  }

  /** Hold the last safe command (zero commanded velocity). */
  hold(): void {
    this.#velocity.fill(0);
  }

  /**
   * One tick of a controlled stop: the commanded velocity decays to zero within the
   * acceleration limit. Returns true once every joint is at rest.
   */
  stopStep(): boolean {
    const { lower, upper, acceleration } = this.#limits;
    const dt = this.#dt;
    let moving = false;
    for (let i = 0; i < this.#position.length; i++) {
      const v = this.#velocity[i];
      const dv = acceleration[i] * dt;
      const next = v > dv ? v - dv : v < -dv ? v + dv : 0;
      if (next !== 0) moving = true;
      this.#velocity[i] = next;
      this.#position[i] = Math.min(upper[i], Math.max(lower[i], this.#position[i] + next * dt));
    }
    return !moving;
  }

  #reject(): VerdictCode {
    this.hold();
    return Verdict.REJECTED;
  }
}
