/**
 * One control tick: read the hardware and the e-stop line, take the next action, pass it
 * through the envelope, write the hardware, report. Runs inside the control worker at the
 * control rate, so every buffer is allocated in the constructor and the tick itself allocates
 * nothing, logs nothing and never throws (a hardware error becomes FAULT, a bad action a
 * rejection).
 *
 * Modes: BOOT -> IDLE (after `bootTicks` healthy ticks; READY) -> ARMED (operator arm; commands
 * re-seeded from the measured state; first chunk requested) -> RUNNING (first chunk arrived).
 * SAFE_STOP (operator stop, rejection limit, timing, shutdown) and FAULT (hardware error, e-stop,
 * standstill or following) latch until reset. Outside RUNNING the envelope decelerates to a
 * hold, so every mode change is smooth, except a category 0 e-stop, which cuts drive power.
 * Every stop decision is the SafetySupervisor's (src/safety/supervisor.ts): the loop hands it
 * each input where the tick has it and applies its answer (#apply).
 */
import type { RobotHardware } from '../hal/index.js';
import { createJointState, type JointState } from '../hal/types.js';
import type { RobotDescription } from '../robot/index.js';
import {
  ContactLimits,
  Intervention,
  JointEnvelope,
  limitsFromJoints,
  ResetRefusal,
  SafetySupervisor,
  Stop,
  StopCause,
  Verdict,
  warmUpEnvelope,
  WorkspaceGuard,
  type StopCauseCode,
  type StopCode,
  type SupervisorReport,
} from '../safety/index.js';
import { ActionQueue } from './action-queue.js';
import { ClockTime, type ClockReading } from './clock.js';
import {
  Cause,
  CommandResult,
  Counter,
  Ctrl,
  EVENT_CAPACITY,
  EventKind,
  INTERVENTION_KINDS,
  LATENESS_BINS_US,
  Mode,
  OperatorCommand,
  TRACE_CAPACITY,
  writeFaultText,
  type ModeCode,
  type SharedViews,
} from './shared-state.js';
import { CHUNK_HEADER_SIZE, ChunkRecord, EVENT_RECORD_SIZE, EventRecord, SnapshotRecord, TraceRecord } from './records.js';

/** The four per-joint blocks' offsets, shared by the snapshot and trace records. */
interface Offsets {
  readonly position: number;
  readonly velocity: number;
  readonly effort: number;
  readonly command: number;
}

function offsets(record: typeof SnapshotRecord | typeof TraceRecord, n: number): Offsets {
  return { position: record.block('position', n), velocity: record.block('velocity', n), effort: record.block('effort', n), command: record.block('command', n) };
}

/** The mode-change cause each supervisor stop cause is reported with. */
const causeOfStop: Readonly<Record<StopCauseCode, number>> = {
  [StopCause.NONE]: Cause.LOOP_HEALTHY,
  [StopCause.ESTOP]: Cause.ESTOP,
  [StopCause.SOFTWARE_ESTOP]: Cause.SOFTWARE_ESTOP,
  [StopCause.HARDWARE_FAULT]: Cause.HARDWARE_FAULT,
  [StopCause.STANDSTILL_VIOLATION]: Cause.STANDSTILL_VIOLATION,
  [StopCause.FOLLOWING_ERROR]: Cause.FOLLOWING_ERROR,
  [StopCause.TIMING_DEGRADED]: Cause.TIMING_DEGRADED,
  [StopCause.REJECTION_LIMIT]: Cause.REJECTION_LIMIT,
  [StopCause.STALE_ACTIONS]: Cause.LOOP_HEALTHY,
};

const refusalResult = [CommandResult.ACCEPTED, CommandResult.ESTOP_ASSERTED, CommandResult.HARDWARE_FAILING, CommandResult.STILL_MOVING] as const;

/** What a hardware_error event says: the error's message, which names the device (error path). */
function faultText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface ControlLoopOptions {
  readonly robot: RobotDescription;
  readonly hardware: RobotHardware;
  readonly shared: SharedViews;
  /** Robot joint index for each dimension of the policy's action. */
  readonly outputJoints: readonly number[];
  readonly ticksPerAction: number;
  readonly blendSteps: number;
  readonly replanAfter: number;
  /** Healthy ticks in BOOT before READY; default 20. */
  readonly bootTicks?: number;
  /** Arm as soon as the loop is ready (simulated robots only: the CLI decides). */
  readonly autoArm?: boolean;
}

export class ControlLoop {
  readonly #hw: RobotHardware;
  readonly #s: SharedViews;
  readonly #envelope: JointEnvelope;
  readonly #queue: ActionQueue;
  readonly #state: JointState;
  readonly #proposed: Float64Array;
  readonly #action: Float64Array;
  readonly #current: Float64Array;
  readonly #outputJoints: Int32Array;
  readonly #jointCount: number;
  readonly #replanAfter: number;
  readonly #bootTicks: number;
  readonly #autoArm: boolean;
  /** Record offsets from records.ts, derived once for this robot's joint count. */
  readonly #at: { readonly traceSize: number; readonly snapshot: Offsets; readonly trace: Offsets; readonly traceRequested: number; readonly world: number };
  readonly #requestTimeoutTicks: number;
  readonly #contact: ContactLimits;
  readonly #supervisor: SafetySupervisor;
  readonly #observationLimitTicks: number;
  readonly #gripJoint: number;
  readonly #closingWindowTicks: number;
  /** Per joint: how far the measurement may sit from a held command for arming to keep that command. */
  readonly #armTolerance: Float64Array;
  readonly #eventHoldoffTicks: number;
  readonly #previousBits: Int32Array;
  readonly #lastInterventionEvent: Float64Array;
  /** Scratch: the held command a stall restarts from. */
  readonly #held: Float64Array;
  #mode: ModeCode = Mode.BOOT;
  #lastCommandSeq = 0;
  #lastChunkSeq = 0;
  #requestSeq = 0;
  #requestTick = -1;
  #chunksSeen = 0;
  #latencyTicks = 0;
  #healthyTicks = 0;
  #starving = false;
  /** The tick being run (for the supervisor's reports). */
  #tick = 0;
  #hardwareOk = true;
  /** Text of the last read / write error reported ('' once that path works again): an event only on change. */
  #readFault = '';
  #writeFault = '';
  #stopThenIdle = false;
  #exitAfterStop = false;
  #stopped = false;
  #seeded = false;
  #ready = false;
  #lastFreshTick = 0;
  #touching = false;
  #lastClosingTick = -Infinity;

  constructor(options: ControlLoopOptions) {
    const { robot, shared } = options;
    this.#hw = options.hardware;
    this.#s = shared;
    this.#jointCount = robot.joints.length;
    const limits = limitsFromJoints(robot.joints);
    const rate = robot.control.rate_hz;
    const workspace = robot.safety.workspace ? new WorkspaceGuard(robot, robot.safety.workspace) : undefined;
    // Before the first tick: every envelope path optimized, so an intervention is not also a slow tick.
    warmUpEnvelope(limits, 1 / rate);
    this.#envelope = new JointEnvelope(limits, 1 / rate, workspace);
    const gripJoint = robot.gripper ? robot.joints.findIndex((j) => j.name === robot.gripper?.joint) : -1;
    const grip = robot.gripper && gripJoint >= 0 && (robot.gripper.max_force !== undefined || robot.gripper.max_touch_force !== undefined)
      ? {
          joint: gripJoint,
          maxForce: robot.gripper.max_force ?? Infinity,
          maxTouchForce: robot.gripper.max_touch_force ?? Infinity,
          // Back off at a tenth of the finger speed: a gentle release, not a drop.
          backoffPerTick: (0.1 * limits.velocity[gripJoint]) / rate,
        }
      : undefined;
    this.#contact = new ContactLimits(limits, grip);
    this.#supervisor = new SafetySupervisor(robot, this.#supervisorReport());
    this.#gripJoint = gripJoint;
    // Contact that starts within this long of the fingers closing is the grasp, not a collision.
    this.#closingWindowTicks = Math.max(1, Math.round(rate / 2));
    const ticks = (ms: number): number => Math.max(1, Math.round((ms * rate) / 1000));
    const cameraLimitMs = robot.cameras.length > 0 ? Math.min(...robot.cameras.map((c) => c.stale_after_ms)) : Infinity;
    this.#observationLimitTicks = Number.isFinite(cameraLimitMs) ? ticks(cameraLimitMs) : Infinity;
    // A quarter of the standstill tolerance: what servo deadband and encoder/PWM quantisation leave.
    this.#armTolerance = Float64Array.from(robot.joints, (j) => (j.limits.standstill ?? (j.type === 'revolute' ? 0.02 : 0.002)) / 4);
    this.#eventHoldoffTicks = ticks(500);
    this.#previousBits = new Int32Array(this.#jointCount);
    this.#lastInterventionEvent = new Float64Array(this.#jointCount * INTERVENTION_KINDS).fill(-Infinity);
    const dim = options.outputJoints.length;
    this.#queue = new ActionQueue(dim, shared.layout.horizon, options.ticksPerAction, options.blendSteps);
    this.#state = createJointState(this.#jointCount);
    this.#proposed = new Float64Array(this.#jointCount);
    this.#action = new Float64Array(dim);
    this.#current = new Float64Array(dim);
    this.#outputJoints = Int32Array.from(options.outputJoints);
    this.#replanAfter = options.replanAfter;
    this.#bootTicks = options.bootTicks ?? 20;
    this.#autoArm = options.autoArm ?? false;
    this.#at = { traceSize: TraceRecord.size(this.#jointCount), snapshot: offsets(SnapshotRecord, this.#jointCount), trace: offsets(TraceRecord, this.#jointCount), traceRequested: TraceRecord.block('requested', this.#jointCount), world: SnapshotRecord.size(this.#jointCount) };
    this.#requestTimeoutTicks = Math.max(1, Math.round(robot.control.rate_hz / 2));
    this.#held = new Float64Array(this.#jointCount);
    Atomics.store(shared.control, Ctrl.MODE, Mode.BOOT);
  }

  get mode(): ModeCode {
    return this.#mode;
  }

  /** False once a shutdown has brought the robot to rest and the hardware was closed. */
  get running(): boolean {
    return !this.#stopped;
  }

  tick(clock: ClockReading): void {
    const tick = clock.tick;
    this.#tick = tick;
    this.#readHardware(tick);
    this.#judgeTiming(tick, clock);
    this.#readEstop(tick);
    this.#takeOperatorCommand(tick);
    this.#takeChunk(tick);
    switch (this.#mode) {
      case Mode.BOOT:
        this.#boot(tick);
        break;
      case Mode.RUNNING:
        this.#followPolicy(tick);
        break;
      default:
        this.#decelerate(tick);
        // A fault during boot (e-stop held at power-up, a failing sensor) still ends in
        // READY once the hardware reads healthy: the service is up, the fault is latched.
        if (!this.#ready && this.#countHealthy()) this.#announceReady();
    }
    this.#monitorMotion(tick);
    if (this.#mode === Mode.ARMED || this.#mode === Mode.RUNNING) this.#maybeRequestChunk(tick);
    this.#writeHardware(tick);
    this.#reportInterventions(tick);
    this.#report(clock);
  }

  /** Timing is judged before anything is commanded: a stall restarts the envelope at rest. */
  #judgeTiming(tick: number, clock: ClockReading): void {
    const stop = this.#supervisor.judgeTiming(clock.missed, this.#seeded && this.#envelope.powered);
    this.#s.counters[Counter.WORST_MISSED_FRACTION] = this.#supervisor.worstMissedFraction;
    if (this.#supervisor.restartAtRest) {
      // Restart at rest where the drives were told to be and held during the gap (a servo holds
      // its last goal): smooth in position, and no velocity the arm did not have. An arm that was
      // pushed or sagged meanwhile is the following monitor's to catch, as at any other time.
      const held = this.#held;
      for (let i = 0; i < this.#jointCount; i++) held[i] = this.#envelope.command.position(i);
      this.#envelope.seed(held);
    }
    this.#apply(tick, stop);
  }

  /**
   * A supervisor's answer, applied: a controlled stop from a mode that moves, FAULT from any
   * mode but STOPPED, drive power off at once for category 0. BRAKE is applied where the
   * policy is followed (it is a hold, not a mode).
   */
  #apply(tick: number, stop: StopCode): void {
    if (stop === Stop.NONE || stop === Stop.BRAKE) return;
    const mode = this.#mode;
    const cause = causeOfStop[this.#supervisor.cause];
    if (stop === Stop.CONTROLLED) {
      if (mode === Mode.ARMED || mode === Mode.RUNNING) this.#enter(tick, Mode.SAFE_STOP, cause);
      return;
    }
    this.#stopThenIdle = false;
    if (mode !== Mode.STOPPED) this.#enter(tick, Mode.FAULT, cause);
    if (stop === Stop.FAULT_POWER_OFF) this.#powerOff(tick);
  }

  /** The supervisor's observations become events and counters (on change only, never per tick). */
  #supervisorReport(): SupervisorReport {
    const counters = this.#s.counters;
    const event = (kind: number, code: number, value: number, joint = -1, requested = Number.NaN, commanded = Number.NaN): void =>
      this.#event(this.#tick, kind, code, this.#mode, this.#mode, value, joint, requested, commanded);
    return {
      estopLevel: (level) => {
        Atomics.store(this.#s.control, Ctrl.ESTOP_LEVEL, level);
        event(EventKind.ESTOP, 0, level);
      },
      estopTrip: () => counters[Counter.ESTOP_TRIPS]++,
      stall: (gapMs, reseeded) => {
        counters[Counter.STALLS]++;
        if (gapMs > counters[Counter.LONGEST_STALL_MS]) counters[Counter.LONGEST_STALL_MS] = gapMs;
        event(EventKind.CLOCK_STALL, 0, gapMs, -1, reseeded ? 1 : 0);
      },
      timingDegraded: (perMille) => event(EventKind.TIMING_DEGRADED, 0, perMille),
      deviation: (cause, j) => {
        counters[Counter.STANDSTILL_FAULTS]++;
        const kind = cause === StopCause.FOLLOWING_ERROR ? EventKind.FOLLOWING_ERROR : EventKind.STANDSTILL_VIOLATION;
        event(kind, 0, 0, j, this.#envelope.command.position(j), this.#state.position[j]);
      },
      stale: (stale, touchStale) => event(EventKind.STALE_ACTIONS, touchStale ? 1 : 0, stale ? 1 : 0),
      rejected: (count) => {
        counters[Counter.REJECTED_ACTIONS]++;
        event(EventKind.ACTION_REJECTED, 0, count);
      },
    };
  }

  close(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#hw.joints.close();
    } catch {
      // Nothing left to do on the way out: the driver's own safe state is all there is.
    }
    try {
      this.#hw.brake?.write(0);
      this.#hw.brake?.close();
      this.#hw.estop.close();
    } catch {
      // Same: the brake line's own default is the safe level.
    }
  }

  /**
   * The e-stop line, sampled every tick before anything is commanded, so the command written
   * in the tick that first sees it pressed is already a stop (latency: at most one period). A
   * line that cannot be read counts as pressed.
   */
  #readEstop(tick: number): void {
    let level: number;
    try {
      level = this.#hw.estop.read();
    } catch {
      level = 1;
      this.#s.counters[Counter.HARDWARE_ERRORS]++;
    }
    this.#apply(tick, this.#supervisor.judgeEstop(level));
  }

  #powerOff(tick: number): void {
    if (!this.#envelope.powered) return;
    this.#envelope.cutPower(this.#state.position);
    // Cut where the joints are measured (or, unread, nothing is written at all: see #seeded).
    if (this.#hardwareOk) this.#seeded = true;
    this.#event(tick, EventKind.DRIVE_POWER, 0, this.#mode, this.#mode, 0);
  }

  /**
   * After the command is set: standstill while the robot is meant to hold still (IDLE, SAFE_STOP,
   * FAULT, its command at rest, the hardware reading), following while it is driven.
   */
  #monitorMotion(tick: number): void {
    const mode = this.#mode;
    const envelope = this.#envelope;
    const holding = (mode === Mode.IDLE || mode === Mode.SAFE_STOP || mode === Mode.FAULT) && envelope.atRest && this.#hardwareOk;
    const driven = mode !== Mode.BOOT && mode !== Mode.STOPPED && envelope.powered && this.#hardwareOk;
    this.#apply(tick, this.#supervisor.judgeMotion(tick, holding, driven, this.#state.position, envelope.command));
  }

  /**
   * A pad that starts touching while the gripper has not been closing touched something it
   * was not meant to (a collision, a hand): an event, for the operator and the policy's logs.
   */
  #watchContact(tick: number, touching: boolean): void {
    const g = this.#gripJoint;
    if (g >= 0 && this.#envelope.velocity(g) < 0) this.#lastClosingTick = tick;
    if (touching && !this.#touching && tick - this.#lastClosingTick > this.#closingWindowTicks) {
      this.#event(tick, EventKind.UNEXPECTED_CONTACT, 0, this.#mode, this.#mode, 0, g);
    }
    this.#touching = touching;
  }

  /** Each intervention starts an event per joint (at most one per kind per hold-off); every tick counts. */
  #reportInterventions(tick: number): void {
    const bits = this.#envelope.interventions;
    const counters = this.#s.counters;
    let any = 0;
    for (let i = 0; i < bits.length; i++) {
      const now = bits[i];
      any |= now;
      const started = now & ~this.#previousBits[i];
      this.#previousBits[i] = now;
      if (started === 0) continue;
      for (let k = 0; k < INTERVENTION_KINDS; k++) {
        const bit = 1 << k;
        if ((started & bit) === 0 || bit === Intervention.REJECTED) continue;
        const slot = i * INTERVENTION_KINDS + k;
        if (tick - this.#lastInterventionEvent[slot] < this.#eventHoldoffTicks) continue;
        this.#lastInterventionEvent[slot] = tick;
        this.#event(tick, EventKind.INTERVENTION, bit, this.#mode, this.#mode, 0, i, this.#envelope.requested[i], this.#envelope.command.position(i));
      }
    }
    if (any === 0) return;
    for (let k = 0; k < INTERVENTION_KINDS; k++) if (any & (1 << k)) counters[Counter.INTERVENTION_COUNTS + k]++;
    if (any & Intervention.POSITION_CLAMP) counters[Counter.POSITION_CLAMPS]++;
    if (any & (Intervention.SHAPED | Intervention.SOFT_MARGIN)) counters[Counter.SHAPED_TICKS]++;
  }

  #readHardware(tick: number): void {
    try {
      this.#hw.joints.read(this.#state);
      this.#hardwareOk = true;
      this.#readFault = '';
    } catch (error) {
      this.#hardwareOk = false;
      this.#s.counters[Counter.HARDWARE_ERRORS]++;
      const text = faultText(error);
      if (text !== this.#readFault) {
        this.#readFault = text;
        this.#event(tick, EventKind.HARDWARE_ERROR, Cause.HARDWARE_FAULT, this.#mode, this.#mode, 0, -1, writeFaultText(this.#s, text));
      }
      this.#hardwareFault(tick);
    }
  }

  #boot(tick: number): void {
    if (!this.#countHealthy()) return;
    this.#enter(tick, Mode.IDLE, Cause.LOOP_HEALTHY);
    this.#announceReady();
    if (this.#autoArm) this.#arm(tick, Cause.AUTO_ARM);
  }

  /**
   * Healthy ticks toward READY: the first one seeds the envelope from the measurement (until
   * then nothing is written to the actuators: a command of zeros would drive every joint to
   * zero). True once there were enough.
   */
  #countHealthy(): boolean {
    if (!this.#hardwareOk) {
      this.#healthyTicks = 0;
      return false;
    }
    if (!this.#seeded) this.#seed();
    return ++this.#healthyTicks >= this.#bootTicks;
  }

  #seed(): void {
    this.#envelope.seed(this.#state.position);
    this.#seeded = true;
  }

  #announceReady(): void {
    if (this.#ready) return;
    this.#ready = true;
    Atomics.store(this.#s.control, Ctrl.READY, 1);
    Atomics.notify(this.#s.control, Ctrl.READY);
  }

  #followPolicy(tick: number): void {
    const proposed = this.#proposed;
    const command = this.#envelope.command;
    for (let i = 0; i < this.#jointCount; i++) proposed[i] = command.position(i);
    const fresh = this.#queue.sample(tick, this.#action);
    if (fresh) this.#lastFreshTick = tick;
    else this.#s.counters[Counter.STARVED_TICKS]++;
    const starving = !fresh;
    if (starving !== this.#starving) {
      this.#starving = starving;
      this.#event(tick, this.#starving ? EventKind.STARVATION_BEGIN : EventKind.STARVATION_END, 0, this.#mode, this.#mode, 0);
    }
    const counters = this.#s.counters;
    const touchFresh = this.#supervisor.touchFresh(tick, counters[Counter.TOUCH_TICK]);
    // Starving keeps the last target (a hold) for a few ticks; past the timeout, or when a
    // sensor the envelope relies on goes stale, a controlled stop until both are fresh again.
    if (this.#supervisor.judgeFreshness(tick, this.#lastFreshTick, touchFresh) === Stop.BRAKE) {
      counters[Counter.STALE_ACTION_TICKS]++;
      this.#envelope.brake();
      return;
    }
    this.#watchContact(tick, touchFresh && counters[Counter.TOUCH_CONTACT] === 1);
    const outputs = this.#outputJoints;
    for (let d = 0; d < outputs.length; d++) proposed[outputs[d]] = this.#action[d];
    const envelope = this.#envelope;
    envelope.clearTargetBounds();
    this.#contact.apply(this.#state.effort, touchFresh ? counters[Counter.TOUCH_FORCE] : Number.NaN, envelope.command, envelope.targetMin, envelope.targetMax);
    this.#apply(tick, this.#supervisor.judgeAction(envelope.track(proposed) === Verdict.REJECTED));
  }

  #decelerate(tick: number): void {
    const atRest = this.#envelope.brake();
    if (!atRest) return;
    if (this.#supervisor.powerOffNow(atRest)) this.#powerOff(tick);
    if (this.#stopThenIdle && this.#mode === Mode.SAFE_STOP) {
      this.#stopThenIdle = false;
      this.#enter(tick, Mode.IDLE, Cause.OPERATOR_DISARM);
    } else if (this.#exitAfterStop && this.#mode !== Mode.STOPPED) {
      this.#enter(tick, Mode.STOPPED, Cause.STOP_COMPLETE);
    }
  }

  #takeOperatorCommand(tick: number): void {
    const control = this.#s.control;
    const seq = Atomics.load(control, Ctrl.COMMAND_SEQ);
    if (seq === this.#lastCommandSeq) return;
    this.#lastCommandSeq = seq;
    const code = Atomics.load(control, Ctrl.COMMAND_CODE);
    const result = this.#command(tick, code);
    if (result !== CommandResult.ACCEPTED) {
      this.#event(tick, EventKind.COMMAND_REFUSED, code, this.#mode, this.#mode, result);
    }
    Atomics.store(control, Ctrl.COMMAND_RESULT, result);
    Atomics.store(control, Ctrl.COMMAND_ACK_SEQ, seq);
    Atomics.notify(control, Ctrl.COMMAND_ACK_SEQ);
  }

  #command(tick: number, code: number): number {
    const mode = this.#mode;
    switch (code) {
      case OperatorCommand.ARM:
        if (mode === Mode.BOOT) return CommandResult.NOT_READY;
        if (mode === Mode.SAFE_STOP || mode === Mode.FAULT) return CommandResult.FAULT_LATCHED;
        if (mode !== Mode.IDLE) return CommandResult.WRONG_MODE;
        this.#arm(tick, Cause.OPERATOR_ARM);
        return CommandResult.ACCEPTED;
      case OperatorCommand.DISARM:
        if (mode === Mode.ARMED) this.#enter(tick, Mode.IDLE, Cause.OPERATOR_DISARM);
        else if (mode === Mode.RUNNING) {
          this.#stopThenIdle = true;
          this.#enter(tick, Mode.SAFE_STOP, Cause.OPERATOR_DISARM);
        } else return CommandResult.WRONG_MODE;
        return CommandResult.ACCEPTED;
      case OperatorCommand.STOP:
        // Never refused: from any mode the robot ends decelerated and latched.
        this.#stopThenIdle = false;
        if (mode !== Mode.SAFE_STOP && mode !== Mode.FAULT && mode !== Mode.STOPPED) {
          this.#enter(tick, Mode.SAFE_STOP, Cause.OPERATOR_STOP);
        }
        return CommandResult.ACCEPTED;
      case OperatorCommand.RESET: {
        if (mode !== Mode.SAFE_STOP && mode !== Mode.FAULT) return CommandResult.NOTHING_TO_RESET;
        const refusal = this.#supervisor.resetRefusal(this.#hardwareOk, this.#envelope);
        if (refusal !== ResetRefusal.NONE) return refusalResult[refusal];
        this.#supervisor.reset();
        this.#stopThenIdle = false;
        if (!this.#envelope.powered) this.#event(tick, EventKind.DRIVE_POWER, 0, mode, mode, 1);
        this.#seed();
        this.#enter(tick, Mode.IDLE, Cause.OPERATOR_RESET);
        return CommandResult.ACCEPTED;
      }
      case OperatorCommand.ESTOP:
        // The HIL rig's and the software's path to the e-stop latch; never refused.
        this.#apply(tick, this.#supervisor.softwareEstop());
        return CommandResult.ACCEPTED;
      case OperatorCommand.SHUTDOWN:
        this.#exitAfterStop = true;
        this.#stopThenIdle = false;
        if (mode === Mode.BOOT || mode === Mode.IDLE || mode === Mode.ARMED || mode === Mode.RUNNING) {
          this.#enter(tick, Mode.SAFE_STOP, Cause.SHUTDOWN);
        }
        return CommandResult.ACCEPTED;
      default:
        return CommandResult.WRONG_MODE;
    }
  }

  #arm(tick: number, cause: number): void {
    // The first command after arming must be where the arm is. A held command the joints sit on
    // already is: re-seeding from the measurement instead would step the command by the servos'
    // deadband and quantisation (4.6 mrad on the servo arm: 46 rad/s² in one tick).
    if (!this.#holdingAtMeasured()) this.#seed();
    this.#queue.clear();
    this.#requestTick = -1;
    this.#lastFreshTick = tick;
    this.#supervisor.armed();
    this.#enter(tick, Mode.ARMED, cause);
  }

  #holdingAtMeasured(): boolean {
    const envelope = this.#envelope;
    if (!this.#seeded || !envelope.powered || !envelope.atRest) return false;
    const position = this.#state.position;
    for (let i = 0; i < position.length; i++) {
      const off = position[i] - envelope.command.position(i);
      if (!(off <= this.#armTolerance[i] && off >= -this.#armTolerance[i])) return false;
    }
    return true;
  }

  #takeChunk(tick: number): void {
    const control = this.#s.control;
    const seq = Atomics.load(control, Ctrl.CHUNK_SEQ);
    if (seq === this.#lastChunkSeq) return;
    this.#lastChunkSeq = seq;
    const delay = this.#requestTick >= 0 ? tick - this.#requestTick : 0;
    this.#requestTick = -1;
    // The first inference is cold (allocations, caches): keep it out of the latency estimate.
    if (++this.#chunksSeen > 1) this.#latencyTicks = Math.max(delay, Math.round(0.9 * this.#latencyTicks + 0.1 * delay));
    if (this.#mode !== Mode.ARMED && this.#mode !== Mode.RUNNING) return;
    const chunk = this.#s.chunk;
    // Actions computed from an observation older than the sensors' limit are not used.
    const age = tick - chunk[ChunkRecord.observationTick];
    if (age > this.#observationLimitTicks) {
      this.#s.counters[Counter.STALE_CHUNKS]++;
      this.#event(tick, EventKind.STALE_OBSERVATION, 0, this.#mode, this.#mode, age);
      return;
    }
    const command = this.#envelope.command;
    const outputs = this.#outputJoints;
    for (let d = 0; d < outputs.length; d++) this.#current[d] = command.position(outputs[d]);
    const dropped = this.#queue.join(tick, chunk[ChunkRecord.observationTick], chunk, CHUNK_HEADER_SIZE, chunk[ChunkRecord.actionCount], this.#current);
    this.#s.counters[Counter.CHUNKS_APPLIED]++;
    this.#s.counters[Counter.ACTIONS_DROPPED_LATE] += dropped;
    if (this.#mode === Mode.ARMED) {
      this.#lastFreshTick = tick;
      this.#enter(tick, Mode.RUNNING, Cause.FIRST_CHUNK);
    }
  }

  #maybeRequestChunk(tick: number): void {
    // One request at a time; ask again if the answer never came (the main thread skips a
    // request when an input such as a camera frame is missing).
    if (this.#requestTick >= 0 && tick - this.#requestTick < this.#requestTimeoutTicks) return;
    const queue = this.#queue;
    const due =
      queue.isEmpty ||
      queue.actionsSinceJoin(tick) >= this.#replanAfter ||
      queue.remainingTicks(tick) <= this.#latencyTicks + queue.ticksPerAction;
    if (!due) return;
    this.#requestTick = tick;
    this.#requestSeq++;
    Atomics.store(this.#s.control, Ctrl.CHUNK_REQUEST_SEQ, this.#requestSeq);
    Atomics.notify(this.#s.control, Ctrl.CHUNK_REQUEST_SEQ);
  }

  #writeHardware(tick: number): void {
    if (this.#stopped || !this.#seeded) return;
    try {
      this.#hw.joints.write(this.#envelope.command);
      this.#hw.brake?.write(this.#envelope.powered ? 1 : 0);
      this.#writeFault = '';
    } catch (error) {
      this.#s.counters[Counter.HARDWARE_ERRORS]++;
      const text = faultText(error);
      if (text !== this.#writeFault) {
        this.#writeFault = text;
        this.#event(tick, EventKind.HARDWARE_ERROR, Cause.HARDWARE_FAULT, this.#mode, this.#mode, 1, -1, writeFaultText(this.#s, text));
      }
      this.#hardwareFault(tick);
    }
  }

  /** A failed read or write: the supervisor stops the robot the way its e-stop does. */
  #hardwareFault(tick: number): void {
    if (this.#mode === Mode.STOPPED) return;
    this.#apply(tick, this.#supervisor.hardwareFailed(this.#envelope.powered));
  }

  #enter(tick: number, to: ModeCode, cause: number): void {
    const from = this.#mode;
    if (from === to) return;
    this.#mode = to;
    if (to !== Mode.RUNNING) this.#starving = false;
    Atomics.store(this.#s.control, Ctrl.MODE, to);
    this.#event(tick, EventKind.MODE_CHANGE, cause, from, to, 0);
  }

  #event(tick: number, kind: number, code: number, from: number, to: number, value: number, joint = -1, requested = Number.NaN, commanded = Number.NaN): void {
    const control = this.#s.control;
    const write = Atomics.load(control, Ctrl.EVENT_WRITE);
    const base = (write % EVENT_CAPACITY) * EVENT_RECORD_SIZE;
    const events = this.#s.events;
    events[base + EventRecord.tick] = tick;
    events[base + EventRecord.kind] = kind;
    events[base + EventRecord.code] = code;
    events[base + EventRecord.from] = from;
    events[base + EventRecord.to] = to;
    events[base + EventRecord.value] = value;
    events[base + EventRecord.joint] = joint;
    events[base + EventRecord.requested] = requested;
    events[base + EventRecord.commanded] = commanded;
    Atomics.store(control, Ctrl.EVENT_WRITE, write + 1);
  }

  #report(clock: ClockReading): void {
    const s = this.#s;
    const counters = s.counters;
    const nowMs = clock.time[ClockTime.NOW_MS];
    const latenessUs = clock.time[ClockTime.LATENESS_MS] * 1000;
    if (counters[Counter.TICKS] === 0) counters[Counter.FIRST_TICK_TIME_MS] = nowMs;
    counters[Counter.TICKS]++;
    counters[Counter.MISSED_TICKS] += clock.missed;
    if (latenessUs * 1000 > counters[Counter.MAX_LATENESS_NS]) counters[Counter.MAX_LATENESS_NS] = latenessUs * 1000;
    const bin = latenessUs < LATENESS_BINS_US ? Math.floor(latenessUs) : LATENESS_BINS_US;
    s.lateness[bin]++;
    counters[Counter.LAST_TICK_TIME_MS] = nowMs;

    const n = this.#jointCount;
    const state = this.#state;
    const command = this.#envelope.command;
    const snapshot = s.snapshot;
    const control = s.control;
    // Seqlock: odd while writing, so a reader on the main thread retries instead of tearing.
    const seq = Atomics.add(control, Ctrl.SNAPSHOT_SEQ, 1) + 1;
    const sa = this.#at.snapshot;
    snapshot[SnapshotRecord.header.tick] = clock.tick;
    snapshot[SnapshotRecord.header.timeMs] = nowMs;
    snapshot[SnapshotRecord.header.mode] = this.#mode;
    for (let i = 0; i < n; i++) {
      snapshot[sa.position + i] = state.position[i];
      snapshot[sa.velocity + i] = state.velocity[i];
      snapshot[sa.effort + i] = state.effort[i];
      snapshot[sa.command + i] = command.position(i);
    }
    const world = this.#hw.world;
    if (world) world.write(snapshot, this.#at.world);
    Atomics.store(control, Ctrl.SNAPSHOT_SEQ, seq + 1);

    const write = Atomics.load(control, Ctrl.TRACE_WRITE);
    const trace = s.trace;
    const base = (write % TRACE_CAPACITY) * this.#at.traceSize;
    const h = TraceRecord.header;
    trace[base + h.tick] = clock.tick;
    trace[base + h.timeMs] = nowMs;
    trace[base + h.latenessUs] = latenessUs;
    trace[base + h.mode] = this.#mode;
    trace[base + h.estop] = this.#supervisor.estopLevel;
    trace[base + h.powered] = this.#envelope.powered ? 1 : 0;
    const ta = this.#at.trace;
    for (let i = 0; i < n; i++) {
      trace[base + ta.position + i] = state.position[i];
      trace[base + ta.velocity + i] = state.velocity[i];
      trace[base + ta.effort + i] = state.effort[i];
      trace[base + ta.command + i] = command.position(i);
      trace[base + this.#at.traceRequested + i] = this.#envelope.requested[i];
    }
    Atomics.store(control, Ctrl.TRACE_WRITE, write + 1);
  }
}
