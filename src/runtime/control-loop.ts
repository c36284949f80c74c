/**
 * One control tick: read the hardware, take the next action, pass it through the envelope,
 * write the hardware, report. Runs inside the control worker at the control rate, so every
 * buffer is allocated in the constructor and the tick itself allocates nothing, logs nothing
 * and never throws (a hardware error becomes FAULT, a bad action a rejection).
 *
 * Modes: BOOT -> IDLE (after `bootTicks` healthy ticks; READY) -> ARMED (operator arm; commands
 * re-seeded from the measured state; first chunk requested) -> RUNNING (first chunk arrived).
 * SAFE_STOP (operator stop, rejection limit, shutdown) and FAULT (hardware error) latch until
 * reset. Outside RUNNING the envelope decelerates to a hold, so every mode change is smooth.
 */
import type { RobotHardware } from '../hal/index.js';
import { createJointState, type JointState } from '../hal/types.js';
import type { RobotDescription } from '../hal/robot-description.js';
import { JointEnvelope, limitsFromJoints, Verdict } from '../safety/envelope.js';
import { ActionQueue } from './action-queue.js';
import { ClockTime, type ClockReading } from './clock.js';
import {
  Cause,
  CHUNK_HEADER,
  CommandResult,
  Counter,
  Ctrl,
  EVENT_CAPACITY,
  EVENT_RECORD,
  EventKind,
  LATENESS_BINS_US,
  Mode,
  OperatorCommand,
  SNAPSHOT_HEADER,
  snapshotWorldOffset,
  TRACE_CAPACITY,
  TRACE_HEADER,
  traceRecordSize,
  type ModeCode,
  type SharedViews,
} from './shared-state.js';

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
  readonly #maxRejections: number;
  readonly #bootTicks: number;
  readonly #autoArm: boolean;
  readonly #traceSize: number;
  readonly #requestTimeoutTicks: number;
  #mode: ModeCode = Mode.BOOT;
  #lastCommandSeq = 0;
  #lastChunkSeq = 0;
  #requestSeq = 0;
  #requestTick = -1;
  #chunksSeen = 0;
  #latencyTicks = 0;
  #healthyTicks = 0;
  #rejections = 0;
  #starving = false;
  #hardwareOk = true;
  #stopThenIdle = false;
  #exitAfterStop = false;
  #stopped = false;

  constructor(options: ControlLoopOptions) {
    const { robot, shared } = options;
    this.#hw = options.hardware;
    this.#s = shared;
    this.#jointCount = robot.joints.length;
    this.#envelope = new JointEnvelope(limitsFromJoints(robot.joints), 1 / robot.control.rate_hz);
    const dim = options.outputJoints.length;
    this.#queue = new ActionQueue(dim, shared.layout.horizon, options.ticksPerAction, options.blendSteps);
    this.#state = createJointState(this.#jointCount);
    this.#proposed = new Float64Array(this.#jointCount);
    this.#action = new Float64Array(dim);
    this.#current = new Float64Array(dim);
    this.#outputJoints = Int32Array.from(options.outputJoints);
    this.#replanAfter = options.replanAfter;
    this.#maxRejections = robot.control.max_consecutive_rejections;
    this.#bootTicks = options.bootTicks ?? 20;
    this.#autoArm = options.autoArm ?? false;
    this.#traceSize = traceRecordSize(this.#jointCount);
    this.#requestTimeoutTicks = Math.max(1, Math.round(robot.control.rate_hz / 2));
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
    this.#readHardware(clock.tick);
    this.#takeOperatorCommand(clock.tick);
    this.#takeChunk(clock.tick);
    switch (this.#mode) {
      case Mode.BOOT:
        this.#boot(clock.tick);
        break;
      case Mode.RUNNING:
        this.#followPolicy(clock.tick);
        break;
      default:
        this.#decelerate(clock.tick);
    }
    if (this.#mode === Mode.ARMED || this.#mode === Mode.RUNNING) this.#maybeRequestChunk(clock.tick);
    this.#writeHardware(clock.tick);
    this.#report(clock);
  }

  /** Close the hardware once (safe output state); the worker calls it on the way out. */
  close(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      this.#hw.joints.close();
    } catch {
      // Nothing left to do on the way out: the driver's own safe state is all there is.
    }
  }

  #readHardware(tick: number): void {
    try {
      this.#hw.joints.read(this.#state);
      this.#hardwareOk = true;
    } catch {
      this.#hardwareOk = false;
      this.#s.counters[Counter.HARDWARE_ERRORS]++;
      this.#event(tick, EventKind.HARDWARE_ERROR, Cause.HARDWARE_FAULT, this.#mode, this.#mode, 0);
      if (this.#mode !== Mode.FAULT && this.#mode !== Mode.STOPPED) this.#enter(tick, Mode.FAULT, Cause.HARDWARE_FAULT);
    }
  }

  #boot(tick: number): void {
    if (!this.#hardwareOk) {
      this.#healthyTicks = 0;
      return;
    }
    if (this.#healthyTicks === 0) this.#envelope.seed(this.#state.position);
    this.#envelope.hold();
    if (++this.#healthyTicks < this.#bootTicks) return;
    this.#enter(tick, Mode.IDLE, Cause.LOOP_HEALTHY);
    Atomics.store(this.#s.control, Ctrl.READY, 1);
    Atomics.notify(this.#s.control, Ctrl.READY);
    if (this.#autoArm) this.#arm(tick, Cause.AUTO_ARM);
  }

  #followPolicy(tick: number): void {
    const proposed = this.#proposed;
    const command = this.#envelope.command;
    for (let i = 0; i < this.#jointCount; i++) proposed[i] = command.position(i);
    const fresh = this.#queue.sample(tick, this.#action);
    if (!fresh) this.#s.counters[Counter.STARVED_TICKS]++;
    const starving = !fresh;
    if (starving !== this.#starving) {
      this.#starving = starving;
      this.#event(tick, this.#starving ? EventKind.STARVATION_BEGIN : EventKind.STARVATION_END, 0, this.#mode, this.#mode, 0);
    }
    const outputs = this.#outputJoints;
    for (let d = 0; d < outputs.length; d++) proposed[outputs[d]] = this.#action[d];
    const verdict = this.#envelope.apply(proposed);
    if (verdict === Verdict.REJECTED) {
      this.#s.counters[Counter.REJECTED_ACTIONS]++;
      this.#event(tick, EventKind.ACTION_REJECTED, 0, this.#mode, this.#mode, this.#rejections + 1);
      if (++this.#rejections >= this.#maxRejections) this.#enter(tick, Mode.SAFE_STOP, Cause.REJECTION_LIMIT);
      return;
    }
    this.#rejections = 0;
    if (this.#envelope.positionLimited) this.#s.counters[Counter.POSITION_CLAMPS]++;
    if (this.#envelope.velocityLimited) this.#s.counters[Counter.VELOCITY_CLAMPS]++;
  }

  #decelerate(tick: number): void {
    const atRest = this.#envelope.stopStep();
    if (!atRest) return;
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
      case OperatorCommand.RESET:
        if (mode !== Mode.SAFE_STOP && mode !== Mode.FAULT) return CommandResult.NOTHING_TO_RESET;
        if (!this.#hardwareOk) return CommandResult.HARDWARE_FAILING;
        if (!this.#envelope.stopStep()) return CommandResult.STILL_MOVING;
        this.#rejections = 0;
        this.#stopThenIdle = false;
        this.#envelope.seed(this.#state.position);
        this.#enter(tick, Mode.IDLE, Cause.OPERATOR_RESET);
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
    // Re-seed from the measured state so the first command after arming is where the arm is.
    this.#envelope.seed(this.#state.position);
    this.#queue.clear();
    this.#requestTick = -1;
    this.#enter(tick, Mode.ARMED, cause);
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
    Atomics.store(control, Ctrl.LATENCY_ESTIMATE_TICKS, this.#latencyTicks);
    this.#s.counters[Counter.LAST_CHUNK_DELAY_TICKS] = delay;
    if (this.#mode !== Mode.ARMED && this.#mode !== Mode.RUNNING) return;
    const chunk = this.#s.chunk;
    const command = this.#envelope.command;
    const outputs = this.#outputJoints;
    for (let d = 0; d < outputs.length; d++) this.#current[d] = command.position(outputs[d]);
    const dropped = this.#queue.join(tick, chunk[0], chunk, CHUNK_HEADER, chunk[1], this.#current);
    this.#s.counters[Counter.CHUNKS_APPLIED]++;
    this.#s.counters[Counter.ACTIONS_DROPPED_LATE] += dropped;
    if (this.#mode === Mode.ARMED) this.#enter(tick, Mode.RUNNING, Cause.FIRST_CHUNK);
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
    if (this.#stopped) return;
    try {
      this.#hw.joints.write(this.#envelope.command);
    } catch {
      this.#s.counters[Counter.HARDWARE_ERRORS]++;
      this.#event(tick, EventKind.HARDWARE_ERROR, Cause.HARDWARE_FAULT, this.#mode, this.#mode, 1);
      if (this.#mode !== Mode.FAULT && this.#mode !== Mode.STOPPED) this.#enter(tick, Mode.FAULT, Cause.HARDWARE_FAULT);
    }
  }

  #enter(tick: number, to: ModeCode, cause: number): void {
    const from = this.#mode;
    if (from === to) return;
    this.#mode = to;
    if (to !== Mode.RUNNING) this.#starving = false;
    Atomics.store(this.#s.control, Ctrl.MODE, to);
    this.#event(tick, EventKind.MODE_CHANGE, cause, from, to, 0);
  }

  #event(tick: number, kind: number, code: number, from: number, to: number, value: number): void {
    const control = this.#s.control;
    const write = Atomics.load(control, Ctrl.EVENT_WRITE);
    const base = (write % EVENT_CAPACITY) * EVENT_RECORD;
    const events = this.#s.events;
    events[base] = tick;
    events[base + 1] = kind;
    events[base + 2] = code;
    events[base + 3] = from;
    events[base + 4] = to;
    events[base + 5] = value;
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
    if (clock.missed > 0) counters[Counter.CLOCK_OVERRUN_TICKS]++;
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
    snapshot[0] = clock.tick;
    snapshot[1] = nowMs;
    snapshot[2] = this.#mode;
    for (let i = 0; i < n; i++) {
      snapshot[SNAPSHOT_HEADER + i] = state.position[i];
      snapshot[SNAPSHOT_HEADER + n + i] = state.velocity[i];
      snapshot[SNAPSHOT_HEADER + 2 * n + i] = state.effort[i];
      snapshot[SNAPSHOT_HEADER + 3 * n + i] = command.position(i);
    }
    const world = this.#hw.world;
    if (world) world.write(snapshot, snapshotWorldOffset(n));
    Atomics.store(control, Ctrl.SNAPSHOT_SEQ, seq + 1);

    const write = Atomics.load(control, Ctrl.TRACE_WRITE);
    const trace = s.trace;
    const base = (write % TRACE_CAPACITY) * this.#traceSize;
    trace[base] = clock.tick;
    trace[base + 1] = nowMs;
    trace[base + 2] = latenessUs;
    trace[base + 3] = this.#mode;
    const t = base + TRACE_HEADER;
    for (let i = 0; i < n; i++) trace[t + i] = state.position[i];
    for (let i = 0; i < n; i++) trace[t + n + i] = state.velocity[i];
    for (let i = 0; i < n; i++) trace[t + 2 * n + i] = state.effort[i];
    for (let i = 0; i < n; i++) trace[t + 3 * n + i] = command.position(i);
    Atomics.store(control, Ctrl.TRACE_WRITE, write + 1);
  }
}
