/**
 * The emulated servo arm: the four chip models on emulated buses, wired to a small servo plant,
 * built from the same ServoArmConfig as the real driver so addresses, channels, mux channels and
 * calibrations match. Independent of the kinematic plant in ../plant.ts.
 *
 * Physics per step (one control period):
 * - each servo reads its PCA9685 channel's pulse (µs; no pulses = limp, it stays where it is)
 *   and maps it to a target angle through ITS OWN calibration (by default the configured one;
 *   set `trueCalibration` to model a servo the config mis-calibrates); it moves as a first-order
 *   lag (time constant `timeConstant`) limited to `maxSpeed`;
 * - the servo rail draws idle + holding current per pulsed servo + `ampsPerRadPerSecond` × |speed|;
 *   its voltage at the INA219 sags by `sourceOhms` × current below `supplyVolts` (set it low to
 *   brown the rail out);
 * - each AS5600 sees its joint through the configured mounting (zero_raw, direction);
 * - each fingertip FSR gives a divider voltage for the force (`force[k]`, or `forceFunction`):
 *   V = vcc × R_m × F / (R_m × F + k), the usual FSR-to-ground-with-pull-up curve (R_fsr ≈ k / F).
 * step() advances the shared clock by the period, so the ADS1115's conversion timing and the
 * INA219's conversion cycle follow simulated time, deterministically.
 */
import { EmulatedI2cBus } from '../../bus/emulated.js';
import type { ServoArmConfig } from '../../../robot/index.js';
import { ServoArmHardware } from '../../devices/servo-arm.js';
import { createGpioModelCells, GpioLineModel } from '../../gpio/model.js';
import type { SafeCommand } from '../../../safety/index.js';
import type { JointHardware, JointState } from '../../types.js';
import type { SimPlant } from '../plant.js';
import type { SimPushCells } from '../joint-hardware.js';
import { Ads1115Model } from './ads1115-model.js';
import { As5600Model } from './as5600-model.js';
import { Ina219Model } from './ina219-model.js';
import { SimClock, type DeviceModel } from './model.js';
import { Pca9685Model } from './pca9685-model.js';
import { Tca9548aModel } from './tca9548a-model.js';

export interface FsrDivider {
  /** Divider supply, V (default 3.3). */
  readonly vcc: number;
  /** Fixed resistor, Ω (default 10 kΩ). */
  readonly seriesOhms: number;
  /** FSR resistance × force, Ω·N (default 30 kΩ·N: 30 kΩ at 1 N, 3 kΩ at 10 N). */
  readonly ohmNewtons: number;
}

export const DEFAULT_FSR: FsrDivider = { vcc: 3.3, seriesOhms: 10_000, ohmNewtons: 30_000 };

/** Divider output for `newtons` on the FSR. */
export function fsrVolts(newtons: number, fsr: FsrDivider = DEFAULT_FSR): number {
  if (!(newtons > 0)) return 0;
  return (fsr.vcc * fsr.seriesOhms * newtons) / (fsr.seriesOhms * newtons + fsr.ohmNewtons);
}

/** A calibration table for these forces, as a builder would measure it with known weights. */
export function fsrCalibration(forces: readonly number[], fsr: FsrDivider = DEFAULT_FSR): [number, number][] {
  return forces.map((f) => [fsrVolts(f, fsr), f]);
}

export interface ServoArmModelOptions {
  readonly periodSeconds: number;
  /** Servo time constant, s (default 0.04). */
  readonly timeConstant?: number;
  /** Servo top speed, rad/s (default 5.2: 0.2 s per 60°). */
  readonly maxSpeed?: number;
  /** Servo rail supply, V, before the sag (default 6.0). */
  readonly supplyVolts?: number;
  /** Source resistance of supply and wiring, Ω (default 0.15). */
  readonly sourceOhms?: number;
  readonly idleCurrentA?: number;
  /** Per pulsed servo, A (default 0.1). */
  readonly holdCurrentA?: number;
  /** Per rad/s of servo speed, A (default 0.25). */
  readonly ampsPerRadPerSecond?: number;
  readonly fsr?: FsrDivider;
  /** Start angles per joint, rad (default: each joint's initial_position or calibration middle). */
  readonly initialPositions?: readonly number[];
  /** Each servo's real angle→µs map when it differs from the config's. */
  readonly trueCalibration?: readonly ({ min_us: number; max_us: number; min_angle: number; max_angle: number } | undefined)[];
  /** Shunt of the INA219 board, Ω (default: the configured one). */
  readonly shuntOhms?: number;
  /**
   * The plant simulator to move instead of the built-in first-order servos: each servo's pulse
   * becomes its joint's target in the plant (a joint without pulses holds where it is), and the
   * sensors report what the plant does (angles, speeds, and the grip force on every fingertip
   * FSR). The plant's joints are matched to the servos by name.
   */
  readonly plant?: SimPlant;
}

/** Which chip models make up the arm. */
export interface ServoArmModels {
  readonly pca9685: Pca9685Model;
  readonly mux: Tca9548aModel | undefined;
  readonly encoders: readonly (As5600Model | undefined)[];
  readonly adc: Ads1115Model | undefined;
  readonly power: Ina219Model | undefined;
}

export class ServoArmModel {
  readonly config: ServoArmConfig;
  readonly clock = new SimClock();
  readonly models: ServoArmModels;
  readonly buses = new Map<number, EmulatedI2cBus>();
  /** The /OE line the driver writes (a GPIO model line) and the PCA9685 model reads. */
  readonly outputEnableCells = createGpioModelCells(1);
  /** True joint angles, rad. */
  readonly angle: Float64Array;
  /** True joint speeds, rad/s. */
  readonly speed: Float64Array;
  /** Fingertip forces, N, in config.fsr.fingertips order. */
  readonly force: Float64Array;
  /** When set, called each step for each fingertip instead of reading `force`. */
  forceFunction: ((fingertip: number, seconds: number) => number) | undefined;
  /** [0] = rail supply volts before the sag: set it to brown the rail out. */
  readonly supplyVolts = new Float64Array(1);
  /** [0] = rail current, A; [1] = rail volts at the INA219, from the last step. */
  readonly rail = new Float64Array(2);
  readonly #dt: number;
  /**
   * dt, tau, max speed, source Ω, idle A, hold A, A per rad/s: in a typed array, because a double
   * read from an object field can leave a phi in step() tagged, and then every value merged into
   * it is boxed (one heap number per joint per step, measured).
   */
  readonly #p = new Float64Array(7);
  readonly #fsr: FsrDivider;
  readonly #pulses = new Float64Array(16);
  readonly #channel: Int32Array;
  readonly #minUs: Float64Array;
  readonly #minAngle: Float64Array;
  readonly #radPerUs: Float64Array;
  readonly #lowAngle: Float64Array;
  readonly #highAngle: Float64Array;
  readonly #encoderZero: Float64Array;
  /** Magnet radians per joint unit: direction × 2π / travel_per_turn. */
  readonly #encoderGain: Float64Array;
  readonly #plant: SimPlant | undefined;
  /** Plant joint of each servo, and the plant's targets. */
  readonly #plantJoint: Int32Array;
  readonly #plantTargets: Float64Array;
  readonly #fsrInput: Int32Array;

  constructor(config: ServoArmConfig, options: ServoArmModelOptions) {
    this.config = config;
    const n = config.joints.length;
    this.#dt = options.periodSeconds;
    this.#p.set([
      options.periodSeconds,
      options.timeConstant ?? 0.04,
      options.maxSpeed ?? 5.2,
      options.sourceOhms ?? 0.15,
      options.idleCurrentA ?? 0.05,
      options.holdCurrentA ?? 0.1,
      options.ampsPerRadPerSecond ?? 0.25,
    ]);
    this.#fsr = options.fsr ?? DEFAULT_FSR;
    this.supplyVolts[0] = options.supplyVolts ?? 6.0;
    const calibration = config.joints.map((j, i) => options.trueCalibration?.[i] ?? j.servo);
    this.#channel = Int32Array.from(config.joints, (j) => j.channel);
    this.#minUs = Float64Array.from(calibration, (c) => c.min_us);
    this.#minAngle = Float64Array.from(calibration, (c) => c.min_angle);
    this.#radPerUs = Float64Array.from(calibration, (c) => (c.max_angle - c.min_angle) / (c.max_us - c.min_us));
    this.#lowAngle = Float64Array.from(calibration, (c) => Math.min(c.min_angle, c.max_angle));
    this.#highAngle = Float64Array.from(calibration, (c) => Math.max(c.min_angle, c.max_angle));
    this.#encoderZero = Float64Array.from(config.joints, (j) => ((j.encoder?.zero_raw ?? 0) * 2 * Math.PI) / 4096);
    this.#encoderGain = Float64Array.from(config.joints, (j) => ((j.encoder?.direction ?? 1) * 2 * Math.PI) / (j.encoder?.travel_per_turn ?? 2 * Math.PI));
    const plant = options.plant;
    this.#plant = plant;
    this.#plantJoint = Int32Array.from(config.joints, (j) => {
      if (plant === undefined) return -1;
      const k = plant.jointNames.indexOf(j.name);
      if (k < 0) throw new RangeError(`servo '${j.name}' has no joint in the plant (it has ${plant.jointNames.join(', ')})`);
      return k;
    });
    this.#plantTargets = new Float64Array(plant?.jointCount ?? 0);
    this.angle = Float64Array.from(config.joints, (j, i) =>
      plant !== undefined ? plant.position[this.#plantJoint[i]] : (options.initialPositions?.[i] ?? j.initial_position ?? (j.servo.min_angle + j.servo.max_angle) / 2),
    );
    this.speed = new Float64Array(n);
    const tips = config.fsr?.fingertips ?? [];
    this.force = new Float64Array(tips.length);
    this.#fsrInput = Int32Array.from(tips, (t) => t.input);

    const busOf = (number: number): EmulatedI2cBus => {
      let bus = this.buses.get(number);
      if (!bus) {
        bus = new EmulatedI2cBus(number, { retries: config.retries });
        this.buses.set(number, bus);
      }
      return bus;
    };
    const main = busOf(config.bus);
    const place = (model: DeviceModel, address: number, channel: number | undefined, bus = main): void => {
      if (channel !== undefined && config.mux) bus.attachBehind(config.mux.address, channel, address, model);
      else bus.attach(address, model);
    };
    const pca9685 = new Pca9685Model(this.clock, { name: 'PCA9685 model (servos)' });
    main.attach(config.pca9685.address, pca9685);
    let mux: Tca9548aModel | undefined;
    if (config.mux) {
      mux = new Tca9548aModel(this.clock);
      main.attach(config.mux.address, mux);
    }
    const encoders = config.joints.map((j) => {
      if (!j.encoder) return undefined;
      const model = new As5600Model(this.clock, `AS5600 model (${j.name})`);
      place(model, j.encoder.address, j.encoder.mux_channel, busOf(j.encoder.bus ?? config.bus));
      return model;
    });
    let adc: Ads1115Model | undefined;
    if (config.fsr) {
      adc = new Ads1115Model(this.clock, 'ADS1115 model (fingertips)');
      place(adc, config.fsr.address, config.fsr.mux_channel);
    }
    let power: Ina219Model | undefined;
    if (config.power) {
      power = new Ina219Model(this.clock, { name: 'INA219 model (servo rail)', shuntOhms: options.shuntOhms ?? config.power.shunt_ohms });
      place(power, config.power.address, config.power.mux_channel);
    }
    this.models = { pca9685, mux, encoders, adc, power };
    this.#sense();
  }

  /** The emulated adapter `busNumber` (created on first use). */
  bus(busNumber: number): EmulatedI2cBus {
    const bus = this.buses.get(busNumber);
    if (!bus) throw new RangeError(`the emulated arm has no bus ${busNumber} (it has ${[...this.buses.keys()].join(', ')})`);
    return bus;
  }

  /** A GPIO model line on the /OE cell, for ServoArmHardware's `outputEnable`. */
  outputEnableLine(): GpioLineModel {
    return new GpioLineModel({ chip: 'model', line: 0, active_low: true, debounce_ms: 0 }, { tickPeriodMs: this.#dt * 1000, cells: this.outputEnableCells, index: 0 });
  }

  /** Advance the servos, the rail and the sensors by one period. */
  step(): void {
    const pca9685 = this.models.pca9685;
    if (this.config.output_enable) pca9685.outputEnabled = Atomics.load(this.outputEnableCells, 0) === 1;
    pca9685.pulses(this.#pulses);
    const p = this.#p;
    const plant = this.#plant;
    // Each writes the rail current into rail[0]: a double returned from a call that V8 does not
    // inline is boxed (16 bytes a tick, measured).
    if (plant !== undefined) this.#stepPlant(plant);
    else this.#stepServos();
    this.rail[1] = this.supplyVolts[0] - this.rail[0] * p[3];
    this.clock.cell[0] += p[0];
    this.#sense();
  }

  /** The built-in servos: first-order lag toward the pulse's angle, speed-limited; rail current into rail[0]. */
  #stepServos(): void {
    const n = this.angle.length;
    const p = this.#p;
    const dt = p[0];
    const maxSpeed = p[2];
    let amps = p[4];
    for (let i = 0; i < n; i++) {
      const us = this.#pulses[this.#channel[i]];
      let v = 0;
      if (us >= 400 && us <= 2700) {
        let target = this.#minAngle[i] + (us - this.#minUs[i]) * this.#radPerUs[i];
        if (target < this.#lowAngle[i]) target = this.#lowAngle[i];
        else if (target > this.#highAngle[i]) target = this.#highAngle[i];
        v = (target - this.angle[i]) / p[1];
        if (v > maxSpeed) v = maxSpeed;
        else if (v < -maxSpeed) v = -maxSpeed;
        // No overshoot past the target within one step.
        const reach = target - this.angle[i];
        if ((reach >= 0 && v * dt > reach) || (reach < 0 && v * dt < reach)) v = reach / dt;
        amps += p[5] + p[6] * (v < 0 ? -v : v);
      }
      this.speed[i] = v;
      this.angle[i] += v * dt;
    }
    this.rail[0] = amps;
  }

  /** Pulses → plant targets, one plant step, plant → angles; rail current into rail[0]. */
  #stepPlant(plant: SimPlant): void {
    const p = this.#p;
    const targets = this.#plantTargets;
    targets.set(plant.position);
    let amps = p[4];
    const n = this.angle.length;
    for (let i = 0; i < n; i++) {
      const us = this.#pulses[this.#channel[i]];
      if (us >= 400 && us <= 2700) {
        let target = this.#minAngle[i] + (us - this.#minUs[i]) * this.#radPerUs[i];
        if (target < this.#lowAngle[i]) target = this.#lowAngle[i];
        else if (target > this.#highAngle[i]) target = this.#highAngle[i];
        targets[this.#plantJoint[i]] = target;
        amps += p[5];
      }
    }
    plant.step(targets);
    for (let i = 0; i < n; i++) {
      const k = this.#plantJoint[i];
      const v = plant.velocity[k];
      this.angle[i] = plant.position[k];
      this.speed[i] = v;
      amps += p[6] * (v < 0 ? -v : v);
    }
    const grip = plant.truth.gripForce;
    for (let k = 0; k < this.force.length; k++) this.force[k] = grip;
    this.rail[0] = amps;
  }

  /** Put the truth where the sensor models see it. */
  #sense(): void {
    const { encoders, adc, power } = this.models;
    for (let i = 0; i < encoders.length; i++) {
      const encoder = encoders[i];
      if (encoder !== undefined) encoder.angle[0] = this.#encoderZero[i] + this.#encoderGain[i] * this.angle[i];
    }
    if (power !== undefined) {
      power.current[0] = this.rail[0];
      power.busVolts[0] = this.rail[1];
    }
    if (adc !== undefined) {
      for (let k = 0; k < this.force.length; k++) {
        if (this.forceFunction !== undefined) this.force[k] = this.forceFunction(k, this.clock.cell[0]);
        adc.ain[this.#fsrInput[k]] = fsrVolts(this.force[k], this.#fsr);
      }
    }
  }
}

export interface EmulatedServoArmOptions {
  readonly periodSeconds: number;
  readonly model?: Omit<ServoArmModelOptions, 'periodSeconds'>;
  /** See ServoArmOptions.squeezeJoint. */
  readonly squeezeJoint?: number;
  /** Cells through which a test or the HIL rig pushes a joint of `model.plant` (SimPushCells). */
  readonly push?: SimPushCells;
}

/**
 * ServoArmHardware (the real driver code) on the emulated buses, stepping the model after each
 * write, in lock-step with the control clock: what `--hal emulated` runs.
 */
export class EmulatedServoArmHardware implements JointHardware {
  readonly model: ServoArmModel;
  readonly hardware: ServoArmHardware;
  readonly #plant: SimPlant | undefined;
  readonly #push: SimPushCells | undefined;

  constructor(config: ServoArmConfig, options: EmulatedServoArmOptions) {
    this.model = new ServoArmModel(config, { ...options.model, periodSeconds: options.periodSeconds });
    const model = this.model;
    this.#plant = options.model?.plant;
    this.#push = options.push;
    this.hardware = new ServoArmHardware(config, {
      periodSeconds: options.periodSeconds,
      openBus: (n) => ({ bus: model.bus(n), release: () => undefined }),
      outputEnable: config.output_enable ? model.outputEnableLine() : undefined,
      squeezeJoint: options.squeezeJoint,
    });
  }

  open(): void {
    this.hardware.open();
  }

  read(out: JointState): void {
    const push = this.#push;
    if (push !== undefined && this.#plant !== undefined) {
      const micro = Atomics.exchange(push.cells, push.micro, 0);
      if (micro !== 0) this.#plant.displace(Atomics.load(push.cells, push.joint), micro * 1e-6);
    }
    this.hardware.read(out);
  }

  write(command: SafeCommand): void {
    try {
      this.hardware.write(command);
    } finally {
      // Simulated time goes on when a write fails, as it does for a real arm.
      this.model.step();
    }
  }

  close(): void {
    this.hardware.close();
  }
}
