/**
 * A hobby-servo arm on I2C behind the JointHardware contract: PCA9685 pulses move the servos,
 * AS5600 encoders measure the joints, an ADS1115 reads the fingertip FSRs, an INA219 watches the
 * servo rail. The control worker calls read() and write() once per tick, synchronously; both use
 * only buffers made in the constructor and open(), so a tick allocates nothing.
 *
 * Per tick (6 joints, encoders behind a TCA9548A, 2 fingertips, INA219): read = 6 × (mux select +
 * 3-byte STATUS/RAW ANGLE read), ADS1115 Config + Conversion reads and the next conversion's
 * start, INA219 bus voltage/current/power; write = one block write of the joints' LEDn registers.
 * `npm run bench -- hal` counts it: about 100 bytes on the wire, ~2.3 ms of a 400 kHz bus.
 *
 * What read() reports:
 * - position: from the AS5600 (RAW ANGLE − zero_raw, times direction, one turn wrapped to ±π);
 *   a joint without an encoder reports its last command (open loop: a hobby servo's own
 *   potentiometer is not readable).
 * - velocity: the position's difference over the period, low-pass filtered (α = 0.5).
 * - effort: an EFFORT PROXY, not a torque measurement. One INA219 sees the whole rail, so its
 *   current above `idle_current_a` is shared among the joints in proportion to how far each
 *   trails its command (a hobby servo's drive grows with its position error), signed by that
 *   error, and scaled by the joint's torque_per_amp. It tells "the arm is pushing hard" (contact,
 *   stall, overload), not which joint or how much torque exactly.
 * Failures (each a HardwareError naming the chip, its bus/address and the register; the control
 * loop turns it into FAULT): a device that stops answering or whose values go stale, a magnet
 * lost, a servo rail below `brownout_volts` (or above `trip_current_a`) for `brownout_samples`
 * while the drives are powered (with them off, a rail cut by the e-stop is expected), and, when
 * `follow` is configured, an encoder trailing its command by more than follow.tolerance_rad for
 * follow.timeout_ms (off by default: the safety layer's following_error covers frozen encoders
 * and stalled joints for every driver; this one's error names the encoder and PWM channel).
 * Unpowered (SafeCommand.powered = false, a category-0 stop): /OE released first (every output low
 * at once, even with the I2C bus dead), then every channel full OFF.
 */
import type { SafeCommand } from '../../safety/index.js';
import { hex, I2cStat, type I2cBus } from '../bus/types.js';
import { openI2cBus } from '../bus/linux.js';
import { openGpioOutput } from '../gpio/index.js';
import type { GpioOutput } from '../gpio/types.js';
import { HardwareError, type JointHardware, type JointState } from '../types.js';
import { Ads1115, type Ads1115DataRate, type Ads1115Pga } from './ads1115.js';
import { As5600, as5600Counts, as5600UnitsPerCount } from './as5600.js';
import { fsrNewtons } from './fsr.js';
import type { ServoArmConfig } from '../../robot/index.js';
import type { MuxRoute } from './i2c-device.js';
import { Ina219, Ina219Value } from './ina219.js';
import { Pca9685 } from './pca9685.js';
import { Tca9548a } from './tca9548a.js';

/** A bus and how to give it back (the real buses are shared, reference-counted, per adapter). */
export interface BusLease {
  readonly bus: I2cBus;
  release(): void;
}

export interface ServoArmOptions {
  /** Control period, seconds (velocity, the follow timeout, the ADC's conversion budget). */
  readonly periodSeconds: number;
  /** Open adapter `busNumber` (default: /dev/i2c-N through i2c-bus, shared per adapter). */
  readonly openBus?: (busNumber: number, retries: number) => BusLease;
  /** The /OE line (default: opened from config.output_enable, if any). */
  readonly outputEnable?: GpioOutput;
  /**
   * Index of the gripper joint: with fingertip FSRs, its effort is the largest pad force,
   * negative (squeezing), in N, so the safety layer's grip-force limit acts on measured force
   * instead of the rail-current proxy.
   */
  readonly squeezeJoint?: number;
}

/** Slots of ServoArmHardware.supply. */
export const Supply = { VOLTS: 0, AMPS: 1, WATTS: 2, SIZE: 3 } as const;

/** Slots of ServoArmHardware's #scalars: tick constants (seconds, rad, A, V, fraction) and retry counters. */
const Scalar = { DT: 0, TOLERANCE: 1, IDLE_A: 2, BROWNOUT_V: 3, TRIP_A: 4, RETRY_FRACTION: 5, LAST_RETRIES: 6, LAST_TRANSACTIONS: 7, WINDOW_RETRIES: 8, WINDOW_TRANSACTIONS: 9, SIZE: 10 } as const;
/** Fewer retries than this in the window never count as a storm, whatever the share. */
const STORM_MIN_RETRIES = 10;

export class ServoArmHardware implements JointHardware {
  readonly config: ServoArmConfig;
  readonly jointCount: number;
  /** Fingertip force, N, in config.fsr.fingertips order (empty without an ADS1115). */
  readonly fingertipForce: Float64Array;
  readonly fingertipNames: readonly string[];
  /** Servo rail volts, amps, watts (INA219), indexed by Supply; NaN without one. */
  readonly supply = new Float64Array(Supply.SIZE).fill(Number.NaN);
  readonly #options: ServoArmOptions;
  readonly #dt: number;
  // Per-joint constants, typed arrays so the tick never boxes a double.
  readonly #channel: Int32Array;
  readonly #minUs: Float64Array;
  readonly #maxUs: Float64Array;
  readonly #minAngle: Float64Array;
  readonly #usPerRad: Float64Array;
  readonly #zero: Int32Array;
  /** Joint units per AS5600 count: direction × travel_per_turn / 4096. */
  readonly #unitsPerCount: Float64Array;
  readonly #torquePerAmp: Float64Array;
  readonly #countsPerUs = new Float64Array(1);
  /**
   * Scalars the tick uses, in a typed array: a double read from an object field can leave a
   * merge (phi) tagged, and every double flowing into it is then boxed (measured: 16 B per joint).
   */
  readonly #scalars = new Float64Array(Scalar.SIZE);
  /** Retries and transactions per tick over the last second (a ring), for the storm check. */
  readonly #retryRing: Float64Array;
  readonly #transactionRing: Float64Array;
  #ringAt = 0;
  #ringFilled = 0;
  #stormError: HardwareError | undefined;
  // Per-joint state.
  readonly #position: Float64Array;
  readonly #velocity: Float64Array;
  readonly #command: Float64Array;
  readonly #weight: Float64Array;
  readonly #trailTicks: Int32Array;
  readonly #followTicks: number;
  readonly #squeezeJoint: number;
  readonly #follows: Uint8Array;
  // Fingertip calibration: for fingertip k, points [#calStart[k], #calStart[k+1]).
  readonly #calVolts: Float64Array;
  readonly #calNewtons: Float64Array;
  readonly #calStart: Int32Array;
  // Devices, made at open().
  #leases: BusLease[] = [];
  #pca: Pca9685 | undefined;
  #mux: Tca9548a | undefined;
  #encoders: (As5600 | undefined)[] = [];
  #adc: Ads1115 | undefined;
  #power: Ina219 | undefined;
  #outputEnable: GpioOutput | undefined;
  #ownsOutputEnable = false;
  #lowSamples = 0;
  #highSamples = 0;
  #enabled = false;
  #offWritten = false;
  #open = false;

  constructor(config: ServoArmConfig, options: ServoArmOptions) {
    if (!(options.periodSeconds > 0 && Number.isFinite(options.periodSeconds))) throw new RangeError(`periodSeconds must be a positive number, got ${options.periodSeconds}`);
    this.config = config;
    this.#options = options;
    this.#dt = options.periodSeconds;
    const joints = config.joints;
    const n = joints.length;
    this.jointCount = n;
    this.#channel = Int32Array.from(joints, (j) => j.channel);
    this.#minUs = Float64Array.from(joints, (j) => j.servo.min_us);
    this.#maxUs = Float64Array.from(joints, (j) => j.servo.max_us);
    this.#minAngle = Float64Array.from(joints, (j) => j.servo.min_angle);
    this.#usPerRad = Float64Array.from(joints, (j) => (j.servo.max_us - j.servo.min_us) / (j.servo.max_angle - j.servo.min_angle));
    this.#zero = Int32Array.from(joints, (j) => j.encoder?.zero_raw ?? 0);
    this.#unitsPerCount = Float64Array.from(joints, (j) => as5600UnitsPerCount(j.encoder?.direction, j.encoder?.travel_per_turn));
    this.#squeezeJoint = options.squeezeJoint ?? -1;
    if (this.#squeezeJoint >= n) throw new RangeError(`squeezeJoint ${this.#squeezeJoint} is not one of the ${n} joints`);
    this.#torquePerAmp = Float64Array.from(joints, (j) => j.torque_per_amp);
    this.#position = new Float64Array(n);
    this.#velocity = new Float64Array(n);
    this.#command = new Float64Array(n);
    this.#weight = new Float64Array(n);
    this.#trailTicks = new Int32Array(n);
    // 0 = no follow check (the safety layer's following_error watches instead).
    this.#followTicks = config.follow ? Math.max(1, Math.ceil(config.follow.timeout_ms / 1000 / this.#dt)) : 0;
    this.#follows = Uint8Array.from(joints, (j) => (j.follow && j.encoder ? 1 : 0));
    this.#scalars[Scalar.DT] = this.#dt;
    this.#scalars[Scalar.TOLERANCE] = config.follow?.tolerance_rad ?? Number.POSITIVE_INFINITY;
    this.#scalars[Scalar.IDLE_A] = config.power?.idle_current_a ?? 0;
    this.#scalars[Scalar.BROWNOUT_V] = config.power?.brownout_volts ?? 0;
    this.#scalars[Scalar.TRIP_A] = config.power?.trip_current_a ?? Number.POSITIVE_INFINITY;
    this.#scalars[Scalar.RETRY_FRACTION] = config.max_retry_fraction;
    const window = Math.max(1, Math.round(1 / this.#dt));
    this.#retryRing = new Float64Array(window);
    this.#transactionRing = new Float64Array(window);
    const tips = config.fsr?.fingertips ?? [];
    this.fingertipNames = tips.map((t) => t.name);
    this.fingertipForce = new Float64Array(tips.length);
    this.#calStart = new Int32Array(tips.length + 1);
    tips.forEach((tip, k) => (this.#calStart[k + 1] = this.#calStart[k] + tip.calibration.length));
    this.#calVolts = Float64Array.from(tips.flatMap((t) => t.calibration.map((p) => p[0])));
    this.#calNewtons = Float64Array.from(tips.flatMap((t) => t.calibration.map((p) => p[1])));
    if (config.fsr && 1 / config.fsr.data_rate >= 0.9 * this.#dt) {
      throw new HardwareError('ADS1115 (fingertips)', `one conversion at ${config.fsr.data_rate} SPS takes ${(1000 / config.fsr.data_rate).toFixed(2)} ms, too long for a ${(this.#dt * 1000).toFixed(2)} ms tick; fix: raise fsr.data_rate`);
    }
  }

  /** The chips, once open (tests, `embody check`). */
  get devices(): { pca9685?: Pca9685; mux?: Tca9548a; encoders: readonly (As5600 | undefined)[]; adc?: Ads1115; power?: Ina219 } {
    return { pca9685: this.#pca, mux: this.#mux, encoders: this.#encoders, adc: this.#adc, power: this.#power };
  }

  get outputsEnabled(): boolean {
    return this.#enabled;
  }

  open(): void {
    if (this.#open) return;
    try {
      this.#openDevices();
    } catch (error) {
      this.#shutdown();
      throw error;
    }
    this.#open = true;
  }

  #openDevices(): void {
    const config = this.config;
    const leases = new Map<number, BusLease>();
    const open = this.#options.openBus ?? ((n: number, retries: number) => openI2cBus(n, { retries }));
    const busOf = (n: number): I2cBus => {
      let lease = leases.get(n);
      if (lease === undefined) {
        lease = open(n, config.retries);
        leases.set(n, lease);
        this.#leases.push(lease);
      }
      return lease.bus;
    };
    const main = busOf(config.bus);
    const period = this.#dt * 1000;
    if (this.#options.outputEnable) {
      this.#outputEnable = this.#options.outputEnable;
    } else if (config.output_enable) {
      const { chip, line, active_low, backend } = config.output_enable;
      this.#outputEnable = openGpioOutput({ chip, line, active_low, debounce_ms: 0 }, { backend, tickPeriodMs: period, initialLevel: 0 });
      this.#ownsOutputEnable = true;
    }
    // PCA9685 first: its open clears ALLCALL, which otherwise also answers at 0x70 (the mux).
    const pca = new Pca9685(main, config.pca9685.address, {
      label: 'servos',
      frequencyHz: config.pca9685.frequency_hz,
      oscillatorHz: config.pca9685.oscillator_hz,
      outputEnable: this.#outputEnable,
    });
    this.#pca = pca;
    pca.open();
    this.#countsPerUs[0] = pca.countsPerMicrosecond[0];
    let first = 15;
    let last = 0;
    for (const j of config.joints) {
      first = Math.min(first, j.channel);
      last = Math.max(last, j.channel);
    }
    pca.setSpan(first, last);
    if (config.mux) {
      this.#mux = new Tca9548a(main, config.mux.address, 'mux');
      this.#mux.open();
    }
    const route = (channel: number | undefined): MuxRoute | undefined => (channel === undefined || !this.#mux ? undefined : { mux: this.#mux, channel });
    this.#encoders = config.joints.map((j) =>
      j.encoder
        ? new As5600(busOf(j.encoder.bus ?? config.bus), j.encoder.address, { label: j.name, route: route(j.encoder.mux_channel), slowFilter: j.encoder.slow_filter })
        : undefined,
    );
    for (const encoder of this.#encoders) encoder?.open();
    if (config.fsr) {
      this.#adc = new Ads1115(main, config.fsr.address, {
        label: 'fingertips',
        dataRate: config.fsr.data_rate as Ads1115DataRate,
        pgaVolts: config.fsr.pga_volts as Ads1115Pga,
        inputs: config.fsr.fingertips.map((t) => t.input),
        route: route(config.fsr.mux_channel),
      });
      this.#adc.open();
    }
    if (config.power) {
      this.#power = new Ina219(main, config.power.address, {
        label: 'servo rail',
        shuntOhms: config.power.shunt_ohms,
        maxCurrentA: config.power.max_current_a,
        busRangeVolts: config.power.bus_range_v,
        maxStaleSamples: Math.max(3, Math.ceil(0.005 / this.#dt) + 2),
        route: route(config.power.mux_channel),
      });
      this.#power.open();
    }
    // Where the joints are: encoders now; open-loop joints where they were told to be.
    config.joints.forEach((j, i) => {
      const encoder = this.#encoders[i];
      this.#position[i] = encoder ? this.#angle(i, encoder.raw) : (j.initial_position ?? (j.servo.min_angle + j.servo.max_angle) / 2);
      this.#command[i] = this.#position[i];
    });
    this.#velocity.fill(0);
    this.#trailTicks.fill(0);
    this.#lowSamples = 0;
    this.#highSamples = 0;
    this.#enabled = false;
    this.#offWritten = true;
    this.#retryRing.fill(0);
    this.#transactionRing.fill(0);
    this.#ringAt = 0;
    this.#ringFilled = 0;
    this.#stormError = undefined;
    this.#scalars[Scalar.WINDOW_RETRIES] = 0;
    this.#scalars[Scalar.WINDOW_TRANSACTIONS] = 0;
    this.#countBus();
  }

  /** Retries and transactions so far, summed over the arm's buses, into LAST_*; returns nothing (no boxed double). */
  #countBus(): void {
    let retries = 0;
    let transactions = 0;
    const leases = this.#leases;
    for (let b = 0; b < leases.length; b++) {
      const stats = leases[b].bus.stats;
      retries += stats[I2cStat.RETRIES];
      transactions += stats[I2cStat.TRANSACTIONS];
    }
    this.#scalars[Scalar.LAST_RETRIES] = retries;
    this.#scalars[Scalar.LAST_TRANSACTIONS] = transactions;
  }

  /**
   * A bus error storm: retries absorb a single glitch, but when more than max_retry_fraction of
   * the transactions of the last second needed one, the bus is failing (a noisy cable, a chip
   * going bad) and each retry is bus time out of the tick's I/O budget: a HardwareError naming the
   * bus and the chip of the latest failure.
   */
  #watchRetries(): void {
    const scalars = this.#scalars;
    const retriesBefore = scalars[Scalar.LAST_RETRIES];
    const transactionsBefore = scalars[Scalar.LAST_TRANSACTIONS];
    this.#countBus();
    const retries = scalars[Scalar.LAST_RETRIES] - retriesBefore;
    const transactions = scalars[Scalar.LAST_TRANSACTIONS] - transactionsBefore;
    const at = this.#ringAt;
    scalars[Scalar.WINDOW_RETRIES] += retries - this.#retryRing[at];
    scalars[Scalar.WINDOW_TRANSACTIONS] += transactions - this.#transactionRing[at];
    this.#retryRing[at] = retries;
    this.#transactionRing[at] = transactions;
    this.#ringAt = at + 1 === this.#retryRing.length ? 0 : at + 1;
    if (this.#ringFilled < this.#retryRing.length) this.#ringFilled++;
    const storming = scalars[Scalar.WINDOW_RETRIES] >= STORM_MIN_RETRIES && scalars[Scalar.WINDOW_RETRIES] > scalars[Scalar.RETRY_FRACTION] * scalars[Scalar.WINDOW_TRANSACTIONS];
    // Once reported, the storm lasts until a whole second without a retry, and it is the same
    // error all along: one hardware_error event, not one per changed count.
    if (storming || (this.#stormError !== undefined && scalars[Scalar.WINDOW_RETRIES] > 0)) throw (this.#stormError ??= this.#storm());
    this.#stormError = undefined;
  }

  #storm(): HardwareError {
    const scalars = this.#scalars;
    const seconds = (this.#ringFilled * this.#dt).toFixed(2);
    const where = this.#leases
      .filter((lease) => lease.bus.lastFailedAddress >= 0)
      .map((lease) => `${lease.bus.name}: latest failure at ${hex(lease.bus.lastFailedAddress)} (${this.#chipsAt(lease.bus.busNumber, lease.bus.lastFailedAddress)})`)
      .join('; ');
    return new HardwareError(
      `servo arm I2C (${where || 'no failure recorded'})`,
      `bus error storm: ${scalars[Scalar.WINDOW_RETRIES]} of ${scalars[Scalar.WINDOW_TRANSACTIONS]} transactions in the last ${seconds} s needed a retry (servo_arm.max_retry_fraction ${scalars[Scalar.RETRY_FRACTION]}); fix: check SDA/SCL wiring and pull-ups, shorten or shield the cable, run the bus slower, or replace the chip named here`,
    );
  }

  /** The configured chips at `address` on adapter `busNumber`, for error messages. */
  #chipsAt(busNumber: number, address: number): string {
    const config = this.config;
    const chips: string[] = [];
    if (busNumber === config.bus) {
      if (config.pca9685.address === address) chips.push('PCA9685 (servos)');
      if (config.mux?.address === address) chips.push('TCA9548A (mux)');
      if (config.fsr?.address === address) chips.push('ADS1115 (fingertips)');
      if (config.power?.address === address) chips.push('INA219 (servo rail)');
    }
    const encoders = config.joints.filter((j) => j.encoder !== undefined && (j.encoder.bus ?? config.bus) === busNumber && j.encoder.address === address);
    if (encoders.length === 1) chips.push(`AS5600 '${encoders[0].name}'`);
    else if (encoders.length > 1) chips.push(`one of ${encoders.length} AS5600 (${encoders.map((j) => j.name).join(', ')})`);
    return chips.length > 0 ? chips.join(', ') : 'no configured chip';
  }

  read(out: JointState): void {
    if (!this.#open) throw new HardwareError('servo arm', 'read() before open()');
    const n = this.jointCount;
    const dt = this.#scalars[Scalar.DT];
    const position = this.#position;
    const velocity = this.#velocity;
    const encoders = this.#encoders;
    for (let i = 0; i < n; i++) {
      const encoder = encoders[i];
      const before = position[i];
      let now: number;
      if (encoder !== undefined) {
        // RAW ANGLE → joint angle; the multiply stays here (a helper returning a double could box it).
        now = this.#unitsPerCount[i] * as5600Counts(encoder.sample(), this.#zero[i]);
      } else {
        now = this.#command[i];
      }
      position[i] = now;
      velocity[i] += 0.5 * ((now - before) / dt - velocity[i]);
    }
    const adc = this.#adc;
    if (adc !== undefined) {
      const slot = adc.poll();
      if (slot >= 0) this.#updateForce(slot);
    }
    this.#effort(out);
    for (let i = 0; i < n; i++) {
      out.position[i] = position[i];
      out.velocity[i] = velocity[i];
    }
    if (this.#enabled && this.#followTicks > 0) this.#checkFollow();
    // After the tick's I/O, so the bus keeps being exercised (and counted) while a storm lasts.
    this.#watchRetries();
  }

  write(command: SafeCommand): void {
    if (!this.#open) throw new HardwareError('servo arm', 'write() before open()');
    const pca = this.#pca as Pca9685;
    if (!command.powered) {
      if (this.#enabled || !this.#offWritten) {
        // /OE first: it needs no I2C, so it works even when the bus is what failed.
        pca.enableOutputs(false);
        this.#enabled = false;
        this.#offWritten = false;
        pca.allOff();
        this.#offWritten = true;
      }
      this.#trailTicks.fill(0);
      return;
    }
    const n = this.jointCount;
    const countsPerUs = this.#countsPerUs[0];
    for (let i = 0; i < n; i++) {
      const angle = command.position(i);
      this.#command[i] = angle;
      let us = this.#minUs[i] + (angle - this.#minAngle[i]) * this.#usPerRad[i];
      if (us < this.#minUs[i]) us = this.#minUs[i];
      else if (us > this.#maxUs[i]) us = this.#maxUs[i];
      pca.setCounts(this.#channel[i], Math.round(us * countsPerUs) | 0);
    }
    pca.flush();
    if (!this.#enabled) {
      pca.enableOutputs(true);
      this.#enabled = true;
    }
  }

  /** Safe output state: /OE released, every channel full OFF, PCA9685 asleep, buses released. */
  close(): void {
    const wasOpen = this.#open;
    this.#open = false;
    const error = this.#shutdown();
    if (wasOpen && error !== undefined) throw error;
  }

  /** Best effort through every step; returns the first error. */
  #shutdown(): unknown {
    let first: unknown;
    const attempt = (step: () => void): void => {
      try {
        step();
      } catch (error) {
        first ??= error;
      }
    };
    this.#enabled = false;
    if (this.#outputEnable) attempt(() => this.#outputEnable?.write(0));
    if (this.#pca) attempt(() => this.#pca?.close());
    if (this.#mux) attempt(() => this.#mux?.deselect());
    if (this.#outputEnable && this.#ownsOutputEnable) attempt(() => this.#outputEnable?.close());
    for (const lease of this.#leases) attempt(() => lease.release());
    this.#leases = [];
    this.#pca = undefined;
    this.#mux = undefined;
    this.#encoders = [];
    this.#adc = undefined;
    this.#power = undefined;
    this.#outputEnable = undefined;
    this.#ownsOutputEnable = false;
    return first;
  }

  /** Joint angle of RAW ANGLE `raw` for joint i: one turn, wrapped to [−π, π). */
  #angle(i: number, raw: number): number {
    return this.#unitsPerCount[i] * as5600Counts(raw, this.#zero[i]);
  }

  /** Fingertip `slot`'s volts → newtons, piecewise linear through its calibration, clamped. */
  #updateForce(slot: number): void {
    const v = (this.#adc as Ads1115).volts[slot];
    this.fingertipForce[slot] = fsrNewtons(v, this.#calVolts, this.#calNewtons, this.#calStart[slot], this.#calStart[slot + 1]);
  }

  /** Rail current → per-joint effort proxy (see the header), and the brown-out / overcurrent checks. */
  #effort(out: JointState): void {
    const n = this.jointCount;
    const power = this.#power;
    if (power === undefined) {
      for (let i = 0; i < n; i++) out.effort[i] = 0;
      this.#squeeze(out);
      return;
    }
    power.sample();
    const reading = power.reading;
    const supply = this.supply;
    supply[Supply.VOLTS] = reading[Ina219Value.BUS_VOLTS];
    supply[Supply.AMPS] = reading[Ina219Value.CURRENT_A];
    supply[Supply.WATTS] = reading[Ina219Value.POWER_W];
    const limits = this.config.power;
    // Checked while the drives are powered: with them off (a category-0 stop may cut the rail)
    // a dead rail is expected.
    if (limits !== undefined && this.#enabled) {
      if (supply[Supply.VOLTS] < this.#scalars[Scalar.BROWNOUT_V]) {
        if (++this.#lowSamples >= limits.brownout_samples) {
          throw new HardwareError(
            power.device,
            `servo rail brown-out: ${supply[Supply.VOLTS].toFixed(2)} V < ${limits.brownout_volts} V for ${this.#lowSamples} samples (Bus voltage register 0x02; ${supply[Supply.AMPS].toFixed(2)} A drawn); fix: a supply that holds its voltage at the servos' stall current, thicker/shorter rail wires, a bulk capacitor at the PCA9685 V+ terminal`,
          );
        }
      } else this.#lowSamples = 0;
      if (supply[Supply.AMPS] > this.#scalars[Scalar.TRIP_A]) {
        if (++this.#highSamples >= limits.brownout_samples) {
          throw new HardwareError(power.device, `servo rail overcurrent: ${supply[Supply.AMPS].toFixed(2)} A > trip_current_a ${limits.trip_current_a} A (Current register 0x04); fix: look for a stalled or blocked servo`);
        }
      } else this.#highSamples = 0;
    } else {
      this.#lowSamples = 0;
      this.#highSamples = 0;
    }
    const above = supply[Supply.AMPS] - this.#scalars[Scalar.IDLE_A];
    const drive = above > 0 ? above : 0;
    const weight = this.#weight;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const error = this.#command[i] - this.#position[i];
      weight[i] = (error < 0 ? -error : error) + 0.01;
      total += weight[i];
    }
    for (let i = 0; i < n; i++) {
      const error = this.#command[i] - this.#position[i];
      const share = (drive * weight[i]) / total;
      out.effort[i] = (error < 0 ? -share : share) * this.#torquePerAmp[i];
    }
    this.#squeeze(out);
  }

  /** The gripper's effort from the fingertip FSRs (see ServoArmOptions.squeezeJoint). */
  #squeeze(out: JointState): void {
    const g = this.#squeezeJoint;
    const force = this.fingertipForce;
    if (g < 0 || force.length === 0) return;
    let most = 0;
    for (let k = 0; k < force.length; k++) if (force[k] > most) most = force[k];
    out.effort[g] = -most;
  }

  /** An encoder trailing its command too long: stalled or unpowered servo, or a frozen encoder. */
  #checkFollow(): void {
    const n = this.jointCount;
    for (let i = 0; i < n; i++) {
      const encoder = this.#encoders[i];
      if (encoder === undefined || this.#follows[i] === 0) continue;
      let error = this.#command[i] - this.#position[i];
      if (error < 0) error = -error;
      if (error <= this.#scalars[Scalar.TOLERANCE]) {
        this.#trailTicks[i] = 0;
        continue;
      }
      if (++this.#trailTicks[i] >= this.#followTicks) {
        const joint = this.config.joints[i];
        throw new HardwareError(
          `servo '${joint.name}' (PCA9685 channel ${joint.channel}; ${encoder.device})`,
          `the encoder reads ${this.#position[i].toFixed(3)} rad, ${error.toFixed(3)} rad from the command ${this.#command[i].toFixed(3)} rad, for ${Math.round(this.#trailTicks[i] * this.#dt * 1000)} ms (RAW ANGLE 0x0c = ${encoder.raw}); fix: a stalled, blocked or unpowered servo, a slipped horn or magnet, or a frozen encoder; check the calibration (servo.min_us/max_us and encoder.zero_raw/direction)`,
        );
      }
    }
  }
}
