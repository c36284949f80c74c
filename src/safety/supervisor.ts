/**
 * The safety supervisor: every stop decision of a control tick is made here, and nowhere else.
 * The control loop owns modes, chunks and I/O; at each point of the tick where an input exists
 * (the clock's gap, the e-stop line, a failed read or write, the policy's freshness, the
 * envelope's verdict on an action, the measured positions against the command) it hands that
 * input here and applies the answer: a Stop (nothing, brake in place, controlled stop, fault)
 * with its StopCause. The supervisor keeps the latches and monitors behind those answers (e-stop
 * level and stop category, power-off-at-rest, consecutive rejections, stale actions, standstill
 * and following, timing) and says what it saw through SupervisorReport, which the loop turns into
 * events and counters. It never touches shared memory, modes or hardware: all of it is testable
 * on its own, tick by tick.
 *
 * No allocation per tick: answers are small integers, the detail sits in fields (`cause`,
 * `joint`) read right after the call.
 */
import type { RobotDescription } from '../robot/index.js';
import { DeviationMonitor } from './standstill.js';
import { TimingFlag, TimingMonitor } from './timing.js';

/** What the loop must do, weakest first; a stronger one includes the weaker. */
export const Stop = {
  NONE: 0,
  /** Hold: brake in place to rest this tick, no mode change (stale actions or touch). */
  BRAKE: 1,
  /** SAFE_STOP: IEC 60204-1 category 2, power kept, latched until reset. */
  CONTROLLED: 2,
  /** FAULT latched, controlled stop; drive power goes at rest when `powerOffNow` says so (category 1). */
  FAULT: 3,
  /** FAULT latched and drive power off in this tick (category 0). */
  FAULT_POWER_OFF: 4,
} as const;
export type StopCode = (typeof Stop)[keyof typeof Stop];

export const StopCause = {
  NONE: 0,
  ESTOP: 1,
  SOFTWARE_ESTOP: 2,
  HARDWARE_FAULT: 3,
  STANDSTILL_VIOLATION: 4,
  FOLLOWING_ERROR: 5,
  TIMING_DEGRADED: 6,
  REJECTION_LIMIT: 7,
  STALE_ACTIONS: 8,
} as const;
export type StopCauseCode = (typeof StopCause)[keyof typeof StopCause];

/** Why a reset is refused (0: allowed). */
export const ResetRefusal = { NONE: 0, ESTOP_ASSERTED: 1, HARDWARE_FAILING: 2, STILL_MOVING: 3 } as const;
export type ResetRefusalCode = (typeof ResetRefusal)[keyof typeof ResetRefusal];

/** What the supervisor saw, for events and counters (the loop's side; called on change only). */
export interface SupervisorReport {
  /** The e-stop line's level changed (1: pressed, or unreadable). */
  estopLevel(level: number): void;
  /** An e-stop (line or software) tripped. */
  estopTrip(): void;
  /** More than STALL_PERIODS deadlines passed with no tick; `reseeded`: the envelope restarts at rest. */
  stall(gapMs: number, reseeded: boolean): void;
  /** Missed fraction crossed half the limit (per mille), or fell back under a quarter (0). */
  timingDegraded(perMille: number): void;
  /** A joint left its command: standstill (holding) or following error (driven); FAULT, power kept. */
  deviation(cause: StopCauseCode, joint: number): void;
  /** Actions (or, with a touch force limit, touch) went stale or fresh again. */
  stale(stale: boolean, touchStale: boolean): void;
  /** An action the envelope refused; `count` in a row. */
  rejected(count: number): void;
}

/** What a reset needs to know of the envelope. */
export interface EnvelopeState {
  readonly powered: boolean;
  readonly atRest: boolean;
}

/** The command the joints are measured against (SafeCommand). */
interface Commanded {
  position(i: number): number;
}

export class SafetySupervisor {
  readonly #report: SupervisorReport;
  readonly #timing: TimingMonitor;
  readonly #standstill: DeviationMonitor;
  readonly #following: DeviationMonitor;
  readonly #periodMs: number;
  readonly #staleTicks: number;
  readonly #settleTicks: number;
  readonly #touchLimitTicks: number;
  readonly #touchRequired: boolean;
  readonly #maxRejections: number;
  /** E-stop (and hardware fault) stop category from robot.yaml. */
  readonly stopCategory: 0 | 1;
  /** Cause of the last Stop answered above NONE. */
  cause: StopCauseCode = StopCause.NONE;
  /** Joint of the last deviation (-1: none). */
  joint = -1;
  #estopLevel = 0;
  #powerOffAtRest = false;
  #rejections = 0;
  #stale = false;
  #deviationLatched = false;
  #restSinceTick = -1;

  constructor(robot: RobotDescription, report: SupervisorReport) {
    const rate = robot.control.rate_hz;
    const ticks = (ms: number): number => Math.max(1, Math.round((ms * rate) / 1000));
    this.#report = report;
    this.#timing = new TimingMonitor({ rateHz: rate, windowMs: robot.control.timing_window_ms, maxMissedFraction: robot.control.max_missed_fraction });
    this.#standstill = DeviationMonitor.standstill(robot.joints, robot.safety.standstill_ms, rate, robot.gripper?.joint);
    this.#following = DeviationMonitor.following(robot.joints, robot.safety.standstill_ms, rate, robot.gripper?.joint);
    this.#periodMs = 1000 / rate;
    this.#staleTicks = ticks(robot.safety.action_timeout_ms);
    // A position servo lags its command while moving; monitoring standstill starts once it has settled.
    this.#settleTicks = ticks(500);
    const cameraLimitMs = robot.cameras.length > 0 ? Math.min(...robot.cameras.map((c) => c.stale_after_ms)) : Infinity;
    this.#touchLimitTicks = Number.isFinite(cameraLimitMs) ? ticks(cameraLimitMs) : Infinity;
    this.#touchRequired = robot.gripper?.max_touch_force !== undefined;
    this.#maxRejections = robot.control.max_consecutive_rejections;
    this.stopCategory = robot.estop.stop_category;
  }

  /** The e-stop input as last judged: 1 = pressed (or unreadable). */
  get estopLevel(): number {
    return this.#estopLevel;
  }

  /** Worst missed fraction of a full timing window so far (for the report). */
  get worstMissedFraction(): number {
    return this.#timing.worstFraction;
  }

  /**
   * Before anything is commanded: the deadlines the clock skipped before this tick. A stall sets
   * `restartAtRest` (the loop re-seeds the envelope at the held command: continuing at the
   * pre-stall velocity would ask the arm for it in one tick, 140-352 rad/s² after a 3 s SIGSTOP
   * against limits of 8-10); a window with too many missed deadlines is a controlled stop of its
   * own cause.
   */
  judgeTiming(missed: number, canReseed: boolean): StopCode {
    const flags = this.#timing.observe(missed);
    this.restartAtRest = false;
    if (flags === 0) return Stop.NONE;
    if (flags & TimingFlag.STALL) {
      this.restartAtRest = canReseed;
      this.#report.stall(missed * this.#periodMs, canReseed);
    }
    if (flags & (TimingFlag.DEGRADED_BEGIN | TimingFlag.DEGRADED_END)) {
      this.#report.timingDegraded(flags & TimingFlag.DEGRADED_BEGIN ? Math.round(1000 * this.#timing.missedFraction) : 0);
    }
    return flags & TimingFlag.STOP ? this.#answer(Stop.CONTROLLED, StopCause.TIMING_DEGRADED) : Stop.NONE;
  }

  /** Set by judgeTiming: the envelope must restart at rest this tick. */
  restartAtRest = false;

  /** The e-stop line, sampled every tick before anything is commanded (anything but 0 counts as pressed: pass 1 when unreadable). */
  judgeEstop(level: number): StopCode {
    const pressed = level === 0 ? 0 : 1;
    if (pressed === this.#estopLevel) return Stop.NONE;
    this.#estopLevel = pressed;
    this.#report.estopLevel(pressed);
    return pressed === 1 ? this.#trip(StopCause.ESTOP) : Stop.NONE;
  }

  /** The software e-stop (operator `estop`, the HIL rig): the same latch as the line. Never refused. */
  softwareEstop(): StopCode {
    return this.#trip(StopCause.SOFTWARE_ESTOP);
  }

  /**
   * A read or write of the hardware failed: FAULT, stopped the way the e-stop stops (hardware the
   * loop can no longer read or write is not trusted to hold a position).
   */
  hardwareFailed(powered: boolean): StopCode {
    if (this.stopCategory === 0) return this.#answer(Stop.FAULT_POWER_OFF, StopCause.HARDWARE_FAULT);
    if (powered) this.#powerOffAtRest = true;
    return this.#answer(Stop.FAULT, StopCause.HARDWARE_FAULT);
  }

  /** Category 1: true once, when the joints have come to rest after a fault and drive power must go. */
  powerOffNow(atRest: boolean): boolean {
    if (!atRest || !this.#powerOffAtRest) return false;
    this.#powerOffAtRest = false;
    return true;
  }

  /**
   * While following the policy: BRAKE when the last fresh action is older than the action
   * timeout, or (with a touch force limit) the touch estimate is missing or older than the
   * cameras' stale limit; NONE once both are fresh again.
   */
  judgeFreshness(tick: number, lastFreshTick: number, touchFresh: boolean): StopCode {
    const touchStale = this.#touchRequired && !touchFresh;
    const stale = tick - lastFreshTick > this.#staleTicks || touchStale;
    if (stale !== this.#stale) {
      this.#stale = stale;
      this.#report.stale(stale, touchStale);
    }
    return stale ? this.#answer(Stop.BRAKE, StopCause.STALE_ACTIONS) : Stop.NONE;
  }

  /** Whether a touch estimate stamped with `touchTick` (0: none yet) is fresh enough at `tick`. */
  touchFresh(tick: number, touchTick: number): boolean {
    return touchTick > 0 && tick - touchTick <= this.#touchLimitTicks;
  }

  /** The envelope's answer to this tick's action: a run of rejections is a controlled stop. */
  judgeAction(rejected: boolean): StopCode {
    if (!rejected) {
      this.#rejections = 0;
      return Stop.NONE;
    }
    this.#report.rejected(++this.#rejections);
    return this.#rejections >= this.#maxRejections ? this.#answer(Stop.CONTROLLED, StopCause.REJECTION_LIMIT) : Stop.NONE;
  }

  /**
   * After this tick's command is set: the measured positions against it. `holding`: the robot is
   * meant to hold still (IDLE, SAFE_STOP, FAULT at rest) and the hardware reads; `driven`: power
   * is on in a mode that moves. Standstill trips once the servos settled; following while driven.
   * Either latches until reset (one FAULT, one event).
   */
  judgeMotion(tick: number, holding: boolean, driven: boolean, measured: Float64Array, command: Commanded): StopCode {
    if (!driven || this.#deviationLatched) this.#following.reset();
    else if (this.#following.violated(measured, command)) return this.#deviation(StopCause.FOLLOWING_ERROR, this.#following.joint);
    if (!holding) {
      this.#restSinceTick = -1;
      this.#standstill.reset();
      return Stop.NONE;
    }
    if (this.#restSinceTick < 0) this.#restSinceTick = tick;
    if (tick - this.#restSinceTick < this.#settleTicks) return Stop.NONE;
    if (!this.#standstill.violated(measured, command) || this.#deviationLatched) return Stop.NONE;
    return this.#deviation(StopCause.STANDSTILL_VIOLATION, this.#standstill.joint);
  }

  /** Why a reset is refused now (NONE: it may go ahead). */
  resetRefusal(hardwareOk: boolean, envelope: EnvelopeState): ResetRefusalCode {
    // Reset needs the line released AND an explicit command (the line alone never re-arms).
    if (this.#estopLevel === 1) return ResetRefusal.ESTOP_ASSERTED;
    if (!hardwareOk) return ResetRefusal.HARDWARE_FAILING;
    if (envelope.powered && !envelope.atRest) return ResetRefusal.STILL_MOVING;
    return ResetRefusal.NONE;
  }

  /** An accepted reset clears every latch the supervisor holds. */
  reset(): void {
    this.#rejections = 0;
    this.#powerOffAtRest = false;
    this.#deviationLatched = false;
    this.#standstill.reset();
    this.#following.reset();
    this.cause = StopCause.NONE;
    this.joint = -1;
  }

  /** Arming starts fresh: the policy has not had a chance to be stale yet. */
  armed(): void {
    this.#stale = false;
  }

  #trip(cause: StopCauseCode): StopCode {
    this.#report.estopTrip();
    if (this.stopCategory === 0) return this.#answer(Stop.FAULT_POWER_OFF, cause);
    this.#powerOffAtRest = true;
    return this.#answer(Stop.FAULT, cause);
  }

  #deviation(cause: StopCauseCode, joint: number): StopCode {
    this.#deviationLatched = true;
    this.joint = joint;
    this.#report.deviation(cause, joint);
    return this.#answer(Stop.FAULT, cause);
  }

  #answer(stop: StopCode, cause: StopCauseCode): StopCode {
    this.cause = cause;
    return stop;
  }
}
