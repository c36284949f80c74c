/**
 * An arm of Feetech STS3215 servos on one serial bus behind the JointHardware contract (SO-100,
 * SO-101). Per tick, two packets out and one status packet per servo in:
 *
 *   read():  the replies to the SYNC_READ sent at the end of the previous tick, already in the
 *            kernel's buffer (they arrive ~1.5 ms after the request, the tick sleeps far longer):
 *            parsed without waiting. Servos whose reply is missing or corrupt are asked again
 *            (SYNC_READ of those ids only) up to `retries` times within `retry_budget_ms`.
 *   write(): SYNC_WRITE of Goal_Position to every servo, then the SYNC_READ of Present_Position …
 *            Present_Temperature (56..63, 8 bytes) for the next tick.
 *
 * So the serial I/O never waits in a healthy tick; the cost is that a measurement is one control
 * period old (10 ms at 100 Hz). Units: position rad (LeRobot's DEGREES convention, zero mid-range,
 * see stepsToRadians), velocity rad/s from Present_Velocity (steps/s), effort N·m from
 * Present_Load (0.1 % of full load, sign-magnitude bit 10) times full_load_torque.
 *
 * Failures, each a HardwareError naming the servo id and joint (the control loop turns it into
 * FAULT with the robot's stop category, as for the I2C arm): a servo silent for max_missed_ticks
 * ticks in a row; a status packet with error bits set (voltage, angle sensor, overheat,
 * overcurrent, overload); more than max_error_fraction of the last second's replies lost or
 * corrupt (an error storm). Unpowered (SafeCommand.powered = false): Torque_Enable 0 to all.
 */
import { readFileSync } from 'node:fs';
import type { SafeCommand } from '../../safety/index.js';
import { lerobotCalibrationSchema, type FeetechArmConfig, type LerobotCalibration } from '../../robot/index.js';
import { HardwareError, type JointHardware, type JointState } from '../types.js';
import { sleepMs } from '../sleep.js';
import { BusStat, FeetechBus, SyncRead } from './bus.js';
import {
  FEEDBACK_ADDRESS,
  FEEDBACK_LENGTH,
  OperatingMode,
  PHASE_ANGLE_FEEDBACK,
  STS3215_MODEL_NUMBER,
  SignBit,
  Sts,
  decodeSignMagnitude,
  encodeSignMagnitude,
  statusErrorFixes,
  statusErrorNames,
  u16,
} from './protocol.js';
import { TtySerialPort, type SerialLink } from './serial.js';

export interface FeetechArmOptions {
  /** Control period, seconds (the retry budget's default and the storm window). */
  readonly periodSeconds: number;
  /** The byte stream (default: the tty robot.yaml names, opened at open()). */
  readonly openLink?: (config: FeetechArmConfig) => SerialLink;
  /** SCHED_FIFO priority of the serial reader thread (default 0: normal scheduling). */
  readonly readerPriority?: number;
}

/** Slots of FeetechArmHardware.telemetry per servo: volts, °C, raw position, raw load. */
export const ServoReading = { VOLTS: 0, CELSIUS: 1, RAW_POSITION: 2, RAW_LOAD: 3, SIZE: 4 } as const;

/** Slots of #scalars. */
const Scalar = { DT: 0, BUDGET_MS: 1, FRACTION: 2, WINDOW_ERRORS: 3, WINDOW_REPLIES: 4, RAD_PER_STEP: 5, NM_PER_LOAD: 6, SIZE: 7 } as const;
/** Fewer lost or corrupt replies than this in the window never count as a storm. */
const STORM_MIN_ERRORS = 10;
/** Open-time transactions: attempts and timeout each. */
const OPEN_ATTEMPTS = 3;
const OPEN_TIMEOUT_MS = 20;

/** Read and check a LeRobot calibration file (open time; allocates). */
export function readLerobotCalibration(file: string): LerobotCalibration {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new HardwareError(`calibration ${file}`, `cannot read it as JSON: ${error instanceof Error ? error.message : String(error)}; fix: point feetech.calibration at the file lerobot-calibrate wrote`);
  }
  const parsed = lerobotCalibrationSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new HardwareError(`calibration ${file}`, `${first.path.join('.')}: ${first.message}; fix: a LeRobot calibration file is {motor: {id, drive_mode, homing_offset, range_min, range_max}}`);
  }
  return parsed.data;
}

export class FeetechArmHardware implements JointHardware {
  readonly config: FeetechArmConfig;
  readonly jointCount: number;
  /** Per servo, ServoReading slots: the last volts, temperature, raw position and raw load. */
  readonly telemetry: Float64Array;
  readonly #options: FeetechArmOptions;
  readonly #ids: Uint8Array;
  readonly #feedback: SyncRead;
  readonly #goals: Int32Array;
  readonly #ones: Int32Array;
  readonly #zeros: Int32Array;
  readonly #scalars = new Float64Array(Scalar.SIZE);
  readonly #position: Float64Array;
  readonly #velocity: Float64Array;
  readonly #effort: Float64Array;
  readonly #command: Float64Array;
  readonly #missedTicks: Int32Array;
  /** The fault of a servo that went silent, kept until it answers: one hardware_error event, not one per tick. */
  readonly #silentError: (HardwareError | undefined)[];
  /** Per-joint conversion constants: mid-range step, sign (drive_mode), range. */
  readonly #mid: Float64Array;
  readonly #sign: Float64Array;
  readonly #rangeMin: Int32Array;
  readonly #rangeMax: Int32Array;
  /** Lost or corrupt replies per tick over the last second (a ring), and replies expected. */
  readonly #errorRing: Float64Array;
  readonly #replyRing: Float64Array;
  #ringAt = 0;
  #stormError: HardwareError | undefined;
  #bus: FeetechBus | undefined;
  #requested = false;
  #torqueOn = false;
  #offWritten = false;
  #open = false;

  constructor(config: FeetechArmConfig, options: FeetechArmOptions) {
    if (!(options.periodSeconds > 0 && Number.isFinite(options.periodSeconds))) throw new RangeError(`periodSeconds must be a positive number, got ${options.periodSeconds}`);
    const ids = config.joints.map((j) => j.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw new HardwareError('feetech bus', `servo id ${dup} is given to two joints (${config.joints.filter((j) => j.id === dup).map((j) => j.name).join(', ')}); fix: every servo needs its own id`);
    this.config = config;
    this.#options = options;
    const n = config.joints.length;
    this.jointCount = n;
    this.#ids = Uint8Array.from(ids);
    this.#feedback = new SyncRead(ids, FEEDBACK_ADDRESS, FEEDBACK_LENGTH);
    this.#goals = new Int32Array(n);
    this.#ones = new Int32Array(n).fill(1);
    this.#zeros = new Int32Array(n);
    this.#position = new Float64Array(n);
    this.#velocity = new Float64Array(n);
    this.#effort = new Float64Array(n);
    this.#command = new Float64Array(n);
    this.#missedTicks = new Int32Array(n);
    this.#silentError = new Array<HardwareError | undefined>(n).fill(undefined);
    this.telemetry = new Float64Array(n * ServoReading.SIZE);
    this.#mid = Float64Array.from(config.joints, (j) => (j.calibration.range_min + j.calibration.range_max) / 2);
    this.#sign = Float64Array.from(config.joints, (j) => (j.calibration.drive_mode === 1 ? -1 : 1));
    this.#rangeMin = Int32Array.from(config.joints, (j) => j.calibration.range_min);
    this.#rangeMax = Int32Array.from(config.joints, (j) => j.calibration.range_max);
    // 4095 steps per turn in LeRobot's DEGREES convention (`(val − mid) · 360 / max_res`).
    this.#scalars[Scalar.RAD_PER_STEP] = (2 * Math.PI) / 4095;
    // Present_Load counts 0.1 % of full load.
    this.#scalars[Scalar.NM_PER_LOAD] = config.full_load_torque / 1000;
    const dt = options.periodSeconds;
    this.#scalars[Scalar.DT] = dt;
    this.#scalars[Scalar.BUDGET_MS] = config.retry_budget_ms ?? 0.3 * dt * 1000;
    this.#scalars[Scalar.FRACTION] = config.max_error_fraction;
    const window = Math.max(1, Math.round(1 / dt));
    this.#errorRing = new Float64Array(window);
    this.#replyRing = new Float64Array(window);
  }

  /** The bus, once open (tests, `embody check`, calibration). */
  get bus(): FeetechBus | undefined {
    return this.#bus;
  }

  get torqueEnabled(): boolean {
    return this.#torqueOn;
  }

  /** Which joint servo `id` moves, for messages. */
  servoName(id: number): string {
    const joint = this.config.joints.find((j) => j.id === id);
    return joint ? `servo ${id} '${joint.name}'` : `servo ${id}`;
  }

  open(): void {
    if (this.#open) return;
    const link = this.#options.openLink?.(this.config) ?? new TtySerialPort(this.config.serial.port, { baudRate: this.config.serial.baud_rate, readerPriority: this.#options.readerPriority ?? 0 });
    const bus = new FeetechBus(link, this.config.serial.baud_rate);
    this.#bus = bus;
    try {
      this.#configure(bus);
      link.startReader?.();
    } catch (error) {
      this.#bus = undefined;
      link.close();
      throw error;
    }
    this.#ringAt = 0;
    this.#errorRing.fill(0);
    this.#replyRing.fill(0);
    this.#scalars[Scalar.WINDOW_ERRORS] = 0;
    this.#scalars[Scalar.WINDOW_REPLIES] = 0;
    this.#stormError = undefined;
    this.#missedTicks.fill(0);
    this.#silentError.fill(undefined);
    this.#torqueOn = false;
    this.#offWritten = true;
    this.#open = true;
    this.#request(bus);
  }

  /** A one-servo transaction at open, retried; the servo's name and the fix when it never answers. */
  #transact<T>(id: number, what: string, attempt: () => T | undefined): T {
    for (let k = 0; k < OPEN_ATTEMPTS; k++) {
      const result = attempt();
      if (result !== undefined) return result;
      sleepMs(1);
    }
    throw new HardwareError(
      `feetech bus ${this.config.serial.port} ${this.servoName(id)}`,
      `no answer to ${what} after ${OPEN_ATTEMPTS} attempts at ${this.config.serial.baud_rate} baud; fix: check the servo's power (the bus board needs its own 5-7.4 V supply) and its 3-pin cable, that its id is ${id} (lerobot-setup-motors sets ids one servo at a time), and that the baud rate matches`,
    );
  }

  #checkError(id: number, error: number, what: string): void {
    if (error === 0) return;
    throw new HardwareError(`feetech bus ${this.config.serial.port} ${this.servoName(id)}`, `${what}: status error 0x${error.toString(16)} (${statusErrorNames(error)}); fix: ${statusErrorFixes(error)}`);
  }

  /** Ping, model check, torque off, EPROM settings (return delay, calibration), present positions. */
  #configure(bus: FeetechBus): void {
    const config = this.config;
    const write = (id: number, [address, size]: readonly [number, number], value: number, what: string): void => {
      const bytes = size === 1 ? [value & 0xff] : [value & 0xff, (value >> 8) & 0xff];
      this.#checkError(id, this.#transact(id, `WRITE ${what}`, () => bus.write(id, address, bytes, OPEN_TIMEOUT_MS)), `WRITE ${what}`);
    };
    config.joints.forEach((joint, i) => {
      const id = joint.id;
      this.#checkError(id, this.#transact(id, 'PING', () => bus.ping(id, OPEN_TIMEOUT_MS)), 'PING');
      const model = this.#transact(id, 'READ Model_Number', () => bus.read(id, Sts.MODEL_NUMBER[0], 2, OPEN_TIMEOUT_MS));
      const number = u16(model.data, 0);
      if (number !== STS3215_MODEL_NUMBER) {
        throw new HardwareError(`feetech bus ${config.serial.port} ${this.servoName(id)}`, `model number ${number}, expected ${STS3215_MODEL_NUMBER} (STS3215); fix: give the joint the servo robot.yaml names, or check that nothing else on the bus has id ${id}`);
      }
      // Torque off and EPROM unlocked before writing EPROM fields (LeRobot disable_torque: Torque_Enable 0, Lock 0).
      write(id, Sts.TORQUE_ENABLE, 0, 'Torque_Enable');
      write(id, Sts.LOCK, 0, 'Lock');
      write(id, Sts.RETURN_DELAY_TIME, config.return_delay_us >> 1, 'Return_Delay_Time');
      write(id, Sts.OPERATING_MODE, OperatingMode.POSITION, 'Operating_Mode');
      const phase = this.#transact(id, 'READ Phase', () => bus.read(id, Sts.PHASE[0], 1, OPEN_TIMEOUT_MS));
      if ((phase.data[0] & PHASE_ANGLE_FEEDBACK) !== 0) write(id, Sts.PHASE, phase.data[0] & ~PHASE_ANGLE_FEEDBACK, 'Phase');
      if (config.calibrated) {
        // LeRobot write_calibration: Homing_Offset (sign-magnitude, bit 11), Min/Max_Position_Limit.
        const c = joint.calibration;
        write(id, Sts.HOMING_OFFSET, encodeSignMagnitude(c.homing_offset, SignBit.HOMING_OFFSET), 'Homing_Offset');
        write(id, Sts.MIN_POSITION_LIMIT, c.range_min, 'Min_Position_Limit');
        write(id, Sts.MAX_POSITION_LIMIT, c.range_max, 'Max_Position_Limit');
      }
      write(id, Sts.LOCK, 1, 'Lock');
      const present = this.#transact(id, 'READ Present_Position', () => bus.read(id, Sts.PRESENT_POSITION[0], 2, OPEN_TIMEOUT_MS));
      this.#checkError(id, present.error, 'READ Present_Position');
      this.#position[i] = this.#sign[i] * (decodeSignMagnitude(u16(present.data, 0), SignBit.POSITION) - this.#mid[i]) * this.#scalars[Scalar.RAD_PER_STEP];
      this.#command[i] = this.#position[i];
      this.#velocity[i] = 0;
      this.#effort[i] = 0;
    });
    bus.discardInput();
  }

  /** Queue the next SYNC_READ and send everything queued (the tick's goals with it): one write. */
  #request(bus: FeetechBus): void {
    this.#feedback.reset();
    bus.requestSyncRead(this.#feedback);
    bus.flush();
    this.#requested = true;
  }

  read(out: JointState): void {
    if (!this.#open) throw new HardwareError('feetech arm', 'read() before open()');
    const bus = this.#bus as FeetechBus;
    const feedback = this.#feedback;
    const n = this.jointCount;
    if (!this.#requested) this.#request(bus);
    let missing = bus.pollSyncRead(feedback);
    let lost = 0;
    if (missing > 0) {
      // The slow path: only here does a tick wait for the bus. The replies may still be on the
      // wire (the tick came soon after the request): asking again now would collide with them on
      // the half-duplex line, so first wait out one whole exchange.
      bus.stats[BusStat.LATE_TICKS]++;
      const start = performance.now();
      const deadline = start + this.#scalars[Scalar.BUDGET_MS];
      const inFlight = start + this.#exchangeMs(n);
      missing = bus.awaitSyncRead(feedback, inFlight < deadline ? inFlight : deadline);
      // What is missing now was lost or corrupt: the storm counts these.
      lost = missing;
      for (let attempt = 0; attempt < this.config.retries && missing > 0; attempt++) {
        if (performance.now() >= deadline) break;
        bus.stats[BusStat.RETRIES]++;
        bus.discardInput();
        bus.requestSyncRead(feedback);
        bus.flush();
        const wait = performance.now() + this.#exchangeMs(missing);
        missing = bus.awaitSyncRead(feedback, wait < deadline ? wait : deadline);
      }
      bus.stats[BusStat.MISSING_REPLIES] += missing;
    }
    this.#requested = false;
    for (let i = 0; i < n; i++) {
      if (feedback.got[i] === 0) {
        if (++this.#missedTicks[i] >= this.config.max_missed_ticks) throw (this.#silentError[i] ??= this.#silent(i));
        continue;
      }
      this.#missedTicks[i] = 0;
      this.#silentError[i] = undefined;
      const error = feedback.error[i];
      if (error !== 0) throw this.#statusFault(i, error);
      this.#decode(i);
    }
    this.#watchErrors(lost);
    for (let i = 0; i < n; i++) {
      out.position[i] = this.#position[i];
      out.velocity[i] = this.#velocity[i];
      out.effort[i] = this.#effort[i];
    }
  }

  /** Servo i's feedback block into position, velocity, effort and its telemetry slots. */
  #decode(i: number): void {
    const data = this.#feedback.data;
    const base = i * FEEDBACK_LENGTH;
    // Offsets in the block from address 56: position 0, velocity 2, load 4, voltage 6, temperature 7.
    const rawPosition = decodeSignMagnitude(u16(data, base), SignBit.POSITION);
    const rawVelocity = decodeSignMagnitude(u16(data, base + 2), SignBit.VELOCITY);
    const rawLoad = decodeSignMagnitude(u16(data, base + 4), SignBit.LOAD);
    const sign = this.#sign[i];
    const radPerStep = this.#scalars[Scalar.RAD_PER_STEP];
    this.#position[i] = sign * (rawPosition - this.#mid[i]) * radPerStep;
    this.#velocity[i] = sign * rawVelocity * radPerStep;
    this.#effort[i] = sign * rawLoad * this.#scalars[Scalar.NM_PER_LOAD];
    const t = i * ServoReading.SIZE;
    const telemetry = this.telemetry;
    telemetry[t + ServoReading.VOLTS] = data[base + 6] / 10;
    telemetry[t + ServoReading.CELSIUS] = data[base + 7];
    telemetry[t + ServoReading.RAW_POSITION] = rawPosition;
    telemetry[t + ServoReading.RAW_LOAD] = rawLoad;
  }

  /**
   * How long a SYNC_READ of `servos` servos takes until its last reply is in, ms: the wire time of
   * request and replies, each servo's return delay, and 1 ms for the USB adapter's latency timer
   * (or the pty model's scheduling).
   */
  #exchangeMs(servos: number): number {
    const bus = this.#bus as FeetechBus;
    return 1 + (bus.syncReadMicros(this.#feedback, servos) + servos * (this.config.return_delay_us + 2)) / 1000;
  }

  #silent(i: number): HardwareError {
    const joint = this.config.joints[i];
    const stranger = this.#bus?.strangerId ?? -1;
    const hint = stranger >= 0 ? `; replies came from id ${stranger}, which no joint has: a servo answers with the wrong id (re-number it with lerobot-setup-motors)` : '';
    return new HardwareError(
      `feetech bus ${this.config.serial.port} servo ${joint.id} '${joint.name}'`,
      `silent: no valid reply for ${this.#missedTicks[i]} ticks in a row (${this.config.retries} retries each)${hint}; fix: the servo lost power or its cable came loose (check the daisy chain from the bus board to servo ${joint.id}), or it reset to another id or baud rate`,
    );
  }

  #statusFault(i: number, error: number): HardwareError {
    const joint = this.config.joints[i];
    const t = i * ServoReading.SIZE;
    const telemetry = this.telemetry;
    return new HardwareError(
      `feetech bus ${this.config.serial.port} servo ${joint.id} '${joint.name}'`,
      `status error 0x${error.toString(16)}: ${statusErrorNames(error)} (last reading ${telemetry[t + ServoReading.VOLTS].toFixed(1)} V, ${telemetry[t + ServoReading.CELSIUS]} °C, load ${telemetry[t + ServoReading.RAW_LOAD] / 10} %); fix: ${statusErrorFixes(error)}`,
    );
  }

  /**
   * An error storm: retries absorb a lost or corrupt reply now and then, but when more than
   * max_error_fraction of the last second's replies were lost or corrupt, the bus is failing.
   */
  #watchErrors(errors: number): void {
    const scalars = this.#scalars;
    const at = this.#ringAt;
    const replies = this.jointCount;
    scalars[Scalar.WINDOW_ERRORS] += errors - this.#errorRing[at];
    scalars[Scalar.WINDOW_REPLIES] += replies - this.#replyRing[at];
    this.#errorRing[at] = errors;
    this.#replyRing[at] = replies;
    this.#ringAt = at + 1 === this.#errorRing.length ? 0 : at + 1;
    const storming = scalars[Scalar.WINDOW_ERRORS] >= STORM_MIN_ERRORS && scalars[Scalar.WINDOW_ERRORS] > scalars[Scalar.FRACTION] * scalars[Scalar.WINDOW_REPLIES];
    if (storming || (this.#stormError !== undefined && scalars[Scalar.WINDOW_ERRORS] > 0)) throw (this.#stormError ??= this.#storm());
    this.#stormError = undefined;
  }

  #storm(): HardwareError {
    const scalars = this.#scalars;
    const worst = this.#missedTicks.reduce((best, v, i, all) => (v > all[best] ? i : best), 0);
    const joint = this.config.joints[worst];
    const hint = this.#missedTicks[worst] > 0 ? `; servo ${joint.id} '${joint.name}' missed the most recent replies` : '';
    return new HardwareError(
      `feetech bus ${this.config.serial.port}`,
      `error storm: ${scalars[Scalar.WINDOW_ERRORS]} of ${scalars[Scalar.WINDOW_REPLIES]} replies in the last second were lost or corrupt (feetech.max_error_fraction ${scalars[Scalar.FRACTION]})${hint}; fix: a loose or long servo cable, a weak supply (the servos brown out under load), or electrical noise; reseat the daisy chain`,
    );
  }

  write(command: SafeCommand): void {
    if (!this.#open) throw new HardwareError('feetech arm', 'write() before open()');
    const bus = this.#bus as FeetechBus;
    const n = this.jointCount;
    if (!command.powered) {
      if (this.#torqueOn || !this.#offWritten) {
        this.#torqueOn = false;
        this.#offWritten = false;
        bus.syncWrite(Sts.TORQUE_ENABLE[0], 1, this.#ids, this.#zeros, n);
        this.#offWritten = true;
      }
    } else {
      const goals = this.#goals;
      for (let i = 0; i < n; i++) {
        const angle = command.position(i);
        this.#command[i] = angle;
        let raw = Math.round(this.#mid[i] + (this.#sign[i] * angle) / this.#scalars[Scalar.RAD_PER_STEP]) | 0;
        if (raw < this.#rangeMin[i]) raw = this.#rangeMin[i];
        else if (raw > this.#rangeMax[i]) raw = this.#rangeMax[i];
        goals[i] = encodeSignMagnitude(raw, SignBit.POSITION);
      }
      bus.syncWrite(Sts.GOAL_POSITION[0], 2, this.#ids, goals, n);
      if (!this.#torqueOn) {
        bus.syncWrite(Sts.TORQUE_ENABLE[0], 1, this.#ids, this.#ones, n);
        this.#torqueOn = true;
      }
    }
    this.#request(bus);
  }

  /** Safe output state: torque off on every servo (the arm goes limp), port closed. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    const bus = this.#bus;
    this.#bus = undefined;
    if (bus === undefined) return;
    let first: unknown;
    try {
      bus.syncWrite(Sts.TORQUE_ENABLE[0], 1, this.#ids, this.#zeros, this.jointCount);
      bus.flush();
    } catch (error) {
      first = error;
    }
    this.#torqueOn = false;
    try {
      bus.link.close();
    } catch (error) {
      first ??= error;
    }
    if (first !== undefined) throw first;
  }
}
