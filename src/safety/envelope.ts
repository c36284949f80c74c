/**
 * The joint envelope: every actuator command is made here, from a proposed target, or it is
 * not made at all. Pure arithmetic over preallocated typed arrays, so it is allocation-free
 * and testable without hardware.
 *
 * Per joint it keeps the commanded position, velocity and acceleration, and each tick picks
 * the next acceleration u so that
 *  - the jerk |u - a| / dt and the acceleration |u| stay within their limits;
 *  - the next state stays viable: braking from it (braking.ts) stays within the velocity limit
 *    and stops inside the hard position limits. Because every state it enters is viable, the
 *    next tick always has a feasible command too: commands are shaped, never merely clipped.
 * Within those bounds it follows the target exactly when it can (one-tick deadbeat), and
 * otherwise approaches it time-optimally without overshoot, using the target itself as a
 * position limit. After libfranka's rate limiter (velocity, acceleration, jerk per joint) and
 * ros2_control's soft limits (speed toward a limit scaled down inside a margin).
 */
import { Brake, maxReach, stopDistanceUpIn } from './braking.js';
import type { EnvelopeLimits } from './limits.js';
import { SafeCommand, takeEnvelopeKey, type EnvelopeKey } from './safe-command.js';
import type { WorkspaceGuard } from './workspace.js';

const key: EnvelopeKey = takeEnvelopeKey();

export const Verdict = { PASSED: 0, LIMITED: 1, REJECTED: 2 } as const;
export type VerdictCode = (typeof Verdict)[keyof typeof Verdict];

/** Bits of `interventions[joint]`: what the envelope did to that joint on the last tick. */
export const Intervention = {
  POSITION_CLAMP: 1,
  SOFT_MARGIN: 2,
  SHAPED: 4,
  REJECTED: 8,
  EFFORT: 16,
  FORCE: 32,
  WORKSPACE: 64,
  STOP: 128,
  INFEASIBLE: 256,
} as const;
export const interventionNames = [
  'position_clamp',
  'soft_margin',
  'shaped',
  'rejected',
  'effort_limit',
  'force_limit',
  'workspace',
  'stop',
  'infeasible',
] as const;

/** Bisection steps for the largest feasible acceleration: 2^-20 of the jerk box is far below noise. */
const SEARCH_STEPS = 20;
/** Below these the joint is at rest; snapping to zero then changes nothing measurable. */
const REST_FRACTION = 1e-7;

// Slots of the envelope's probe array (see the note above #accelerationToward).
/** The acceleration #upperOk / #lowerOk test, held for one tick. */
const TRIAL_ACCELERATION = 0;
/** The position the joint must still be able to stop at: the target, or a position limit. */
const STOP_AT = 1;
/** Bisection: an acceleration known to pass the check (the answer when the search ends). */
const PASSING_ACCELERATION = 2;
/** Bisection: an acceleration known to fail it. */
const FAILING_ACCELERATION = 3;

export class JointEnvelope {
  /** The last command that passed; drivers get this object, refilled in place each tick. */
  readonly command: SafeCommand;
  /** What was asked of each joint on the last tick (NaN when nothing was). */
  readonly requested: Float64Array;
  /** Intervention bits per joint from the last tick. */
  readonly interventions: Int32Array;
  /** Extra bounds on the target per joint (effort, grip force); ±Infinity when unused. */
  readonly targetMin: Float64Array;
  readonly targetMax: Float64Array;
  readonly #limits: EnvelopeLimits;
  readonly #dt: number;
  readonly #position: Float64Array;
  readonly #velocity: Float64Array;
  readonly #acceleration: Float64Array;
  readonly #next: Float64Array;
  readonly #lastTarget: Float64Array;
  /** Per joint: beyond this distance from a limit, the position check cannot bind (braking.ts). */
  readonly #reach: Float64Array;
  readonly #target: Float64Array;
  readonly #safeLo: Float64Array;
  readonly #safeHi: Float64Array;
  readonly #probe = new Float64Array(4);
  readonly #brake = new Float64Array(Brake.SIZE);
  readonly #workspace: WorkspaceGuard | undefined;
  /** Set by the last track(): which limits acted on any joint. */
  positionLimited = false;
  shaped = false;

  constructor(limits: EnvelopeLimits, periodSeconds: number, workspace?: WorkspaceGuard) {
    const n = limits.lower.length;
    if (!(periodSeconds > 0)) throw new RangeError(`control period ${periodSeconds} s must be above zero`);
    this.#limits = limits;
    this.#dt = periodSeconds;
    this.command = new SafeCommand(key, n);
    this.#position = SafeCommand.writable(key, this.command);
    this.#velocity = new Float64Array(n);
    this.#acceleration = new Float64Array(n);
    this.#next = new Float64Array(n);
    this.#lastTarget = new Float64Array(n).fill(Number.NaN);
    this.#reach = new Float64Array(n);
    this.#target = new Float64Array(n);
    this.#safeLo = new Float64Array(n);
    this.#safeHi = new Float64Array(n);
    for (let i = 0; i < n; i++) this.#reach[i] = maxReach(limits.velocity[i], limits.acceleration[i], limits.jerk[i], periodSeconds);
    this.requested = new Float64Array(n).fill(Number.NaN);
    this.interventions = new Int32Array(n);
    this.targetMin = new Float64Array(n).fill(-Infinity);
    this.targetMax = new Float64Array(n).fill(Infinity);
    this.#workspace = workspace;
  }

  get jointCount(): number {
    return this.#position.length;
  }

  velocity(i: number): number {
    return this.#velocity[i];
  }

  acceleration(i: number): number {
    return this.#acceleration[i];
  }

  /** True when every joint's commanded velocity and acceleration are zero. */
  get atRest(): boolean {
    for (let i = 0; i < this.#velocity.length; i++) if (this.#velocity[i] !== 0 || this.#acceleration[i] !== 0) return false;
    return true;
  }

  /** Restart from the measured state (after boot, reset or re-arm) so nothing jumps. */
  seed(measured: Float64Array): void {
    const { lower, upper } = this.#limits;
    for (let i = 0; i < this.#position.length; i++) {
      const p = measured[i];
      this.#position[i] = Number.isFinite(p) ? Math.min(upper[i], Math.max(lower[i], p)) : (lower[i] + upper[i]) / 2;
      this.#velocity[i] = 0;
      this.#acceleration[i] = 0;
      this.#lastTarget[i] = Number.NaN;
    }
    SafeCommand.setPowered(key, this.command, true);
  }

  /**
   * Category 0 stop: drive power off, command frozen where the joints are measured. The
   * drivers engage brakes; nothing is shaped because nothing is driven.
   */
  cutPower(measured: Float64Array): void {
    const { lower, upper } = this.#limits;
    for (let i = 0; i < this.#position.length; i++) {
      const p = measured[i];
      if (Number.isFinite(p)) this.#position[i] = Math.min(upper[i], Math.max(lower[i], p));
      this.#velocity[i] = 0;
      this.#acceleration[i] = 0;
      this.interventions[i] = Intervention.STOP;
    }
    SafeCommand.setPowered(key, this.command, false);
  }

  get powered(): boolean {
    return this.command.powered;
  }

  /** Lift the extra target bounds (the control loop sets them again each tick it needs them). */
  clearTargetBounds(): void {
    this.targetMin.fill(-Infinity);
    this.targetMax.fill(Infinity);
  }

  /** Shape `proposed` into the next command, or reject it and brake. */
  track(proposed: Float64Array): VerdictCode {
    const n = this.#position.length;
    this.positionLimited = false;
    this.shaped = false;
    const interventions = this.interventions;
    if (proposed.length < n || !this.powered) return this.#reject();
    for (let i = 0; i < n; i++) if (!Number.isFinite(proposed[i])) return this.#reject();
    const { lower, upper, velocity, softMargin } = this.#limits;
    const dt = this.#dt;
    const next = this.#next;
    for (let i = 0; i < n; i++) {
      let bits = 0;
      let target = proposed[i];
      this.requested[i] = target;
      if (target < lower[i]) {
        target = lower[i];
        bits |= Intervention.POSITION_CLAMP;
      } else if (target > upper[i]) {
        target = upper[i];
        bits |= Intervention.POSITION_CLAMP;
      }
      if (target > this.targetMax[i]) {
        target = this.targetMax[i];
        bits |= Intervention.FORCE;
      } else if (target < this.targetMin[i]) {
        target = this.targetMin[i];
        bits |= Intervention.FORCE;
      }
      const p = this.#position[i];
      const margin = softMargin[i];
      if (margin > 0) {
        const room = target > p ? upper[i] - p : p - lower[i];
        if (room < margin) {
          const maxStep = velocity[i] * dt * Math.max(room / margin, 0.05);
          if (target > p + maxStep) {
            target = p + maxStep;
            bits |= Intervention.SOFT_MARGIN;
          } else if (target < p - maxStep) {
            target = p - maxStep;
            bits |= Intervention.SOFT_MARGIN;
          }
        }
      }
      this.#target[i] = target;
      this.#accelerationToward(i);
      bits |= interventions[i] & (Intervention.SHAPED | Intervention.INFEASIBLE);
      interventions[i] = bits;
      if (bits & Intervention.POSITION_CLAMP) this.positionLimited = true;
      if (bits & Intervention.SHAPED) this.shaped = true;
    }
    if (this.#workspace !== undefined && this.#workspace.wouldLeave(this.#position, this.#velocity, next, this.#limits)) {
      for (let i = 0; i < n; i++) {
        this.#brakingAcceleration(i);
        if (this.#workspace.moves(i)) interventions[i] |= Intervention.WORKSPACE;
      }
      this.shaped = true;
    }
    this.#commit();
    return this.positionLimited || this.shaped || this.#anyBits(Intervention.SOFT_MARGIN | Intervention.FORCE)
      ? Verdict.LIMITED
      : Verdict.PASSED;
  }

  /**
   * One tick of a controlled stop (category 1/2): every joint decelerates within the
   * acceleration and jerk limits. Returns true once every joint is at rest.
   */
  brake(): boolean {
    const n = this.#position.length;
    this.positionLimited = false;
    this.shaped = false;
    if (!this.powered) return true;
    for (let i = 0; i < n; i++) {
      this.#brakingAcceleration(i);
      this.requested[i] = Number.NaN;
      this.interventions[i] = this.#velocity[i] !== 0 || this.#acceleration[i] !== 0 ? Intervention.STOP : 0;
    }
    this.#commit();
    return this.atRest;
  }

  #anyBits(mask: number): boolean {
    for (let i = 0; i < this.interventions.length; i++) if (this.interventions[i] & mask) return true;
    return false;
  }

  #reject(): VerdictCode {
    this.brake();
    for (let i = 0; i < this.interventions.length; i++) this.interventions[i] |= Intervention.REJECTED;
    return Verdict.REJECTED;
  }

  #commit(): void {
    const { lower, upper, acceleration, jerk } = this.#limits;
    const dt = this.#dt;
    for (let i = 0; i < this.#position.length; i++) {
      const u = this.#next[i];
      let v = this.#velocity[i] + u * dt;
      let a = u;
      // Snap the last crumbs of a stop to exact rest, far below anything a limit can see.
      if (Math.abs(v) < REST_FRACTION * jerk[i] * dt * dt * dt && Math.abs(a) < REST_FRACTION * Math.min(acceleration[i], jerk[i] * dt)) {
        v = 0;
        a = 0;
      }
      let p = this.#position[i] + v * dt;
      // Last line of defence; viability makes it unreachable (the property tests hold it to that).
      if (p > upper[i]) p = upper[i];
      else if (p < lower[i]) p = lower[i];
      this.#position[i] = p;
      this.#velocity[i] = v;
      this.#acceleration[i] = a;
    }
  }

  // Everything below passes doubles through typed arrays, never as arguments or return values:
  // V8 boxes a double that crosses a call it did not inline, and that would be garbage per tick.

  /** next[i] := the feasible acceleration closest in spirit to "be at target[i] next tick". */
  #accelerationToward(i: number): void {
    const target = this.#target[i];
    const p = this.#position[i];
    const v = this.#velocity[i];
    const dt = this.#dt;
    this.#safeBounds(i);
    const lo = this.#safeLo[i];
    const hi = this.#safeHi[i];
    const next = this.#next;
    this.interventions[i] = 0;
    if (lo > hi) {
      this.interventions[i] = Intervention.INFEASIBLE | Intervention.SHAPED;
      next[i] = v > 0 ? hi : lo;
      return;
    }
    const exact = ((target - p) / dt - v) / dt;
    // Land on the target only if the joint then moves as the target does: following a smooth
    // trajectory passes through unchanged, but landing on a step at speed would overshoot it.
    const previous = this.#lastTarget[i];
    this.#lastTarget[i] = target;
    const targetVelocity = previous === previous ? (target - previous) / dt : 0;
    const mismatch = (target - p) / dt - targetVelocity;
    const tolerance = this.#limits.jerk[i] * dt * dt;
    if (exact >= lo && exact <= hi && mismatch <= tolerance && mismatch >= -tolerance) {
      next[i] = exact;
      return;
    }
    this.interventions[i] = Intervention.SHAPED;
    const probe = this.#probe;
    probe[STOP_AT] = target;
    if (target > p || (target === p && v < 0)) {
      // Fastest approach from below that can still stop at the target.
      probe[TRIAL_ACCELERATION] = hi;
      if (this.#upperOk(i, false)) next[i] = hi;
      else {
        probe[TRIAL_ACCELERATION] = lo;
        if (!this.#upperOk(i, false)) next[i] = lo;
        else {
          probe[PASSING_ACCELERATION] = lo;
          probe[FAILING_ACCELERATION] = hi;
          this.#searchUpper(i, false);
          next[i] = probe[PASSING_ACCELERATION];
        }
      }
      return;
    }
    probe[TRIAL_ACCELERATION] = lo;
    if (this.#lowerOk(i, false)) next[i] = lo;
    else {
      probe[TRIAL_ACCELERATION] = hi;
      if (!this.#lowerOk(i, false)) next[i] = hi;
      else {
        probe[PASSING_ACCELERATION] = hi;
        probe[FAILING_ACCELERATION] = lo;
        this.#searchLower(i, false);
        next[i] = probe[PASSING_ACCELERATION];
      }
    }
  }

  /** next[i] := deceleration toward zero velocity that lands without overshoot (jerk-limited). */
  #brakingAcceleration(i: number): void {
    const v = this.#velocity[i];
    const a = this.#acceleration[i];
    const J = this.#limits.jerk[i];
    const dt = this.#dt;
    let u: number;
    if (v > 0 || (v === 0 && a > 0)) u = J * (dt - Math.sqrt(dt * dt + (2 * v) / J));
    else if (v < 0 || a < 0) u = -J * (dt - Math.sqrt(dt * dt - (2 * v) / J));
    else u = 0;
    this.#safeBounds(i);
    const lo = this.#safeLo[i];
    const hi = this.#safeHi[i];
    if (lo > hi) this.#next[i] = v > 0 ? hi : lo;
    else this.#next[i] = u < lo ? lo : u > hi ? hi : u;
  }

  /**
   * safeLo[i], safeHi[i] := the range of accelerations inside the jerk and acceleration box
   * whose next state stays viable: velocity bound in closed form (v + u·dt + u²/2J <= V), the
   * position bound by bisection, and only when the joint is near enough a limit to matter.
   */
  #safeBounds(i: number): void {
    const { acceleration, jerk, velocity, lower, upper } = this.#limits;
    const A = acceleration[i];
    const J = jerk[i];
    const dt = this.#dt;
    const a = this.#acceleration[i];
    const v = this.#velocity[i];
    const p = this.#position[i];
    let boxLo = a - J * dt;
    if (boxLo < -A) boxLo = -A;
    let boxHi = a + J * dt;
    if (boxHi > A) boxHi = A;
    const lo = boxLo;
    const hi = boxHi;

    const roomUp = velocity[i] - v;
    const byVelocityUp = roomUp >= 0 ? J * (Math.sqrt(dt * dt + (2 * roomUp) / J) - dt) : roomUp / dt;
    if (byVelocityUp < boxHi) boxHi = byVelocityUp < lo ? lo : byVelocityUp;
    const roomDown = velocity[i] + v;
    const byVelocityDown = roomDown >= 0 ? -J * (Math.sqrt(dt * dt + (2 * roomDown) / J) - dt) : -roomDown / dt;
    if (byVelocityDown > boxLo) boxLo = byVelocityDown > hi ? hi : byVelocityDown;

    // The acceleration that brings the velocity to zero in one tick. A bisection step is 2^-20
    // of the jerk box, far coarser than this near rest (8e-10 rad/s² against a step of 1e-6 in
    // the counterexample of the property test), so a bisection that starts at the other end of
    // the box can return a bound on the wrong side of it: within a hair of a limit, moving away
    // from it at a crumb of speed, the joint would then never be allowed to brake (braking is
    // toward the limit) and would creep on with that speed forever, never at rest. Starting the
    // bisection from this value when it passes the same check keeps it inside the bounds.
    const stop = -v / dt;
    const probe = this.#probe;
    let safeHi = boxHi;
    if (upper[i] - p <= this.#reach[i]) {
      probe[STOP_AT] = upper[i];
      probe[TRIAL_ACCELERATION] = boxHi;
      if (!this.#upperOk(i, true)) {
        probe[TRIAL_ACCELERATION] = lo;
        if (!this.#upperOk(i, true)) safeHi = lo;
        else {
          probe[PASSING_ACCELERATION] = lo;
          probe[FAILING_ACCELERATION] = boxHi;
          probe[TRIAL_ACCELERATION] = stop;
          if (stop > lo && stop < boxHi && this.#upperOk(i, true)) probe[PASSING_ACCELERATION] = stop;
          this.#searchUpper(i, true);
          safeHi = probe[PASSING_ACCELERATION];
        }
      }
    }
    let safeLo = boxLo;
    if (p - lower[i] <= this.#reach[i]) {
      probe[STOP_AT] = lower[i];
      probe[TRIAL_ACCELERATION] = boxLo;
      if (!this.#lowerOk(i, true)) {
        probe[TRIAL_ACCELERATION] = hi;
        if (!this.#lowerOk(i, true)) safeLo = hi;
        else {
          probe[PASSING_ACCELERATION] = hi;
          probe[FAILING_ACCELERATION] = boxLo;
          probe[TRIAL_ACCELERATION] = stop;
          if (stop > boxLo && stop < hi && this.#lowerOk(i, true)) probe[PASSING_ACCELERATION] = stop;
          this.#searchLower(i, true);
          safeLo = probe[PASSING_ACCELERATION];
        }
      }
    }
    this.#safeLo[i] = safeLo;
    this.#safeHi[i] = safeHi;
  }

  /**
   * Bisection between probe[PASSING_ACCELERATION] (passes #upperOk) and
   * probe[FAILING_ACCELERATION]; leaves the largest passing acceleration in probe[PASSING_ACCELERATION].
   */
  #searchUpper(i: number, hard: boolean): void {
    const probe = this.#probe;
    for (let k = 0; k < SEARCH_STEPS; k++) {
      probe[TRIAL_ACCELERATION] = 0.5 * (probe[PASSING_ACCELERATION] + probe[FAILING_ACCELERATION]);
      if (this.#upperOk(i, hard)) probe[PASSING_ACCELERATION] = probe[TRIAL_ACCELERATION];
      else probe[FAILING_ACCELERATION] = probe[TRIAL_ACCELERATION];
    }
  }

  #searchLower(i: number, hard: boolean): void {
    const probe = this.#probe;
    for (let k = 0; k < SEARCH_STEPS; k++) {
      probe[TRIAL_ACCELERATION] = 0.5 * (probe[PASSING_ACCELERATION] + probe[FAILING_ACCELERATION]);
      if (this.#lowerOk(i, hard)) probe[PASSING_ACCELERATION] = probe[TRIAL_ACCELERATION];
      else probe[FAILING_ACCELERATION] = probe[TRIAL_ACCELERATION];
    }
  }

  /**
   * After acceleration probe[TRIAL_ACCELERATION] for one tick, can the joint still stop at or below
   * probe[STOP_AT] (and, for the hard limits, stay under the velocity limit)?
   *
   * Discrete braking holds each acceleration for a whole tick; where the continuous profile
   * ramps the deceleration back down, the discrete one lags by up to a tick. One tick of
   * travel (|v|·dt) covers that; a few ulps more let a joint rest exactly on its limit.
   */
  #upperOk(i: number, hard: boolean): boolean {
    const { acceleration, jerk, velocity } = this.#limits;
    const dt = this.#dt;
    const u = this.#probe[TRIAL_ACCELERATION];
    const limit = this.#probe[STOP_AT];
    const v = this.#velocity[i] + u * dt;
    const p = this.#position[i] + v * dt;
    if (hard && (u > 0 ? v + (u * u) / (2 * jerk[i]) : v) > velocity[i]) return false;
    const brake = this.#brake;
    brake[Brake.V] = v;
    brake[Brake.A] = u;
    brake[Brake.MAX_ACCELERATION] = acceleration[i];
    brake[Brake.JERK] = jerk[i];
    stopDistanceUpIn(brake);
    const margin = (v < 0 ? -v : v) * dt;
    return p + brake[Brake.DISTANCE] + margin <= limit + 4e-16 * (1 + (limit < 0 ? -limit : limit));
  }

  #lowerOk(i: number, hard: boolean): boolean {
    const { acceleration, jerk, velocity } = this.#limits;
    const dt = this.#dt;
    const u = this.#probe[TRIAL_ACCELERATION];
    const limit = this.#probe[STOP_AT];
    const v = this.#velocity[i] + u * dt;
    const p = this.#position[i] + v * dt;
    if (hard && (u < 0 ? -v + (u * u) / (2 * jerk[i]) : -v) > velocity[i]) return false;
    const brake = this.#brake;
    brake[Brake.V] = -v;
    brake[Brake.A] = -u;
    brake[Brake.MAX_ACCELERATION] = acceleration[i];
    brake[Brake.JERK] = jerk[i];
    stopDistanceUpIn(brake);
    const margin = (v < 0 ? -v : v) * dt;
    return p - brake[Brake.DISTANCE] - margin >= limit - 4e-16 * (1 + (limit < 0 ? -limit : limit));
  }
}

/**
 * Run every path of the envelope (pass-through, shaping, limits, braking, rejection) on a
 * scratch copy, so V8 has optimized them before the first real tick. A path that first runs
 * during control would run in the interpreter, which boxes every double it touches: garbage
 * and a slow tick exactly when the envelope intervenes. Same limits, so the same code paths.
 */
export function warmUpEnvelope(limits: EnvelopeLimits, periodSeconds: number, ticks = 20_000): void {
  const envelope = new JointEnvelope(limits, periodSeconds);
  const n = limits.lower.length;
  const proposal = new Float64Array(n);
  const middle = new Float64Array(n);
  for (let i = 0; i < n; i++) middle[i] = (limits.lower[i] + limits.upper[i]) / 2;
  envelope.seed(middle);
  for (let t = 0; t < ticks; t++) {
    const phase = t % 400;
    for (let i = 0; i < n; i++) {
      const span = limits.upper[i] - limits.lower[i];
      // Smooth motion, then steps to both limits and beyond, then a stop.
      proposal[i] =
        phase < 100
          ? middle[i] + 0.1 * span * Math.sin(t / 50 + i)
          : phase < 150
            ? middle[i] + 0.01 * span * ((t >> 3) % 3)
          : phase < 250
            ? limits.upper[i] + 0.1 * span
            : limits.lower[i] - 0.1 * span;
    }
    if (phase >= 350) envelope.brake();
    else if (phase === 300) {
      proposal[0] = Number.NaN;
      envelope.track(proposal);
    } else envelope.track(proposal);
  }
}
