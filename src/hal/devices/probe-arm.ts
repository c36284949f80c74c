/**
 * `embody check`'s probe of a servo arm: every configured chip, one at a time, through the
 * drivers' own open() (the identity and read-back checks each chip file documents), then a few
 * reads of what it says now. One result per device: does the address answer, what was read back
 * (PCA9685 MODE1/MODE2/PRE_SCALE and the PWM frequency they give; TCA9548A control register;
 * AS5600 STATUS, RAW ANGLE and the joint angle it means; ADS1115 Config and each fingertip's
 * volts; INA219 Configuration and Calibration and the rail), and if not, why and the fix.
 *
 * Independence: a chip that does not answer (or answers wrongly) does not stop the probe; the
 * next one is probed as if it were the first. Three things do make later devices unprobeable,
 * and each is said once, on the device where it showed, with the later ones marked "not probed":
 * - the adapter cannot be opened (/dev/i2c-N missing, i2c-bus not loadable);
 * - the bus is stuck (ETIMEDOUT: something holds SDA or SCL low): every later transaction on it
 *   would time out too. Chips on the main segment are probed first and the mux channels last,
 *   so a chip that holds its channel low only hides the channels after it;
 * - the TCA9548A failed: nothing behind it can be reached.
 *
 * Order (as ServoArmHardware opens them): /OE released first; the PCA9685 before the mux (its
 * open clears ALLCALL, which otherwise answers at 0x70 too).
 *
 * State left behind: /OE released (every output forced off; the PCA9685 never gets an enabled
 * output from here), the PCA9685 with every channel full OFF and asleep (checked by reading MODE1
 * back), the mux with every channel off, the ADS1115 in single-shot (it powers down after its
 * conversion), the INA219 converting (harmless). A PCA9685 that failed a read-back after it
 * answered gets MODE1 = SLEEP | AI written again: the same byte its open() wrote first, so an
 * unknown chip at that address gets nothing new.
 *
 * Time bound: the drivers are synchronous, and on the real bus each transaction is one ioctl on
 * /dev/i2c-N that JavaScript cannot interrupt. It cannot hang, though: the kernel bounds every
 * transfer by the adapter's timeout (adap->timeout, 1 s unless the driver sets another; i2c-bcm2835
 * and i2c-gpio both time out a held SDA/SCL), the bus retries a timed-out transfer `retries`
 * times, and the first ETIMEDOUT marks the bus stuck, so a dead bus costs (retries + 1) × ~1 s
 * once, not once per register. A NACK returns in microseconds. (The promise API with a timer,
 * src/hal/bus/probe.ts, would not be a better bound: an abandoned ioctl still holds a libuv pool
 * thread, which the process waits for at exit.)
 *
 * i2c-bus is loaded on the calling thread (see linux.ts: one thread per process); `embody check`
 * starts no control worker, so its main thread may.
 */
import { existsSync } from 'node:fs';
import { errorCode, i2cFix } from '../bus/errors.js';
import { openI2cBus } from '../bus/linux.js';
import { hex, swap16, type I2cBus } from '../bus/types.js';
import { openGpioOutput } from '../gpio/index.js';
import type { GpioOutput } from '../gpio/types.js';
import { sleepMs } from '../sleep.js';
import { HardwareError } from '../types.js';
import { Ads1115, ADS1115_DATA_RATES, ADS1115_PGA_VOLTS, Ads1115Reg, type Ads1115DataRate, type Ads1115Pga } from './ads1115.js';
import { As5600, as5600Counts, As5600Reg, As5600Status, as5600UnitsPerCount } from './as5600.js';
import { fsrNewtons } from './fsr.js';
import type { ServoArmConfig, ServoJointConfig } from '../../robot/index.js';
import type { MuxRoute } from './i2c-device.js';
import { Ina219, Ina219Reg, Ina219Value } from './ina219.js';
import { Mode1, Pca9685, Pca9685Reg } from './pca9685.js';
import type { BusLease } from './servo-arm.js';
import { Tca9548a } from './tca9548a.js';

/**
 * - ok: answered, and every identity/config/status read back as it should;
 * - missing: nothing acknowledged the address;
 * - wrong: something answered, but a read-back, the identity or the status is not right;
 * - error: the bus or line itself failed (adapter missing, stuck bus, permission, GPIO);
 * - skipped: not probed, because of a failure named on an earlier device.
 */
export type DeviceProbeStatus = 'ok' | 'missing' | 'wrong' | 'error' | 'skipped';

export type ProbedChip = 'PCA9685' | 'TCA9548A' | 'AS5600' | 'ADS1115' | 'INA219' | '/OE';

export interface DeviceProbe {
  /** Which device, where: "AS5600 (elbow_pitch) 0x36 via TCA9548A 0x70 ch 2". */
  readonly device: string;
  readonly chip: ProbedChip;
  readonly status: DeviceProbeStatus;
  /** The address acknowledged (false when not probed; for /OE: the line opened). */
  readonly answered: boolean;
  /** Registers read back, by datasheet name (MODE1, PRE_SCALE, STATUS, RAW_ANGLE, Config …). */
  readonly registers: Readonly<Record<string, number>>;
  /** What they mean, in units (frequency_hz, joint_angle, bus_volts, left_pad_volts …). */
  readonly values: Readonly<Record<string, number>>;
  /** What was read back, in words. */
  readonly found: string;
  /** Worth knowing, not a failure (a dead servo rail during the check, say). */
  readonly notes: readonly string[];
  readonly error?: string;
  readonly fix?: string;
}

export interface ServoArmProbeOptions {
  /** Open adapter `busNumber` (default: /dev/i2c-N through i2c-bus). */
  readonly openBus?: (busNumber: number, retries: number) => BusLease;
  /** The /OE line (default: opened from config.output_enable, if any, and closed at the end). */
  readonly outputEnable?: GpioOutput;
  /** Control period, s: the /OE line's tick and the ADC's conversion budget. */
  readonly periodSeconds: number;
  /** Let `seconds` pass between conversions (default: sleep the thread; the chip models advance their clock). */
  readonly wait?: (seconds: number) => void;
}

interface Row {
  device: string;
  chip: ProbedChip;
  status: DeviceProbeStatus;
  answered: boolean;
  registers: Record<string, number>;
  values: Record<string, number>;
  found: string;
  notes: string[];
  error?: string;
  fix?: string;
}

interface BusState {
  readonly number: number;
  lease?: BusLease;
  /** The adapter could not be opened: why, the fix, and the device that found out. */
  failed?: { error: string; fix: string; device: string };
  /** The device during which the bus started timing out. */
  stuck?: string;
  /** Devices on it that answered. */
  answered: number;
}

interface Mux {
  readonly row: Row;
  driver?: Tca9548a;
}

const sleepSeconds = (seconds: number): void => sleepMs(seconds * 1000);

/** A device's error as [message without the device prefix, fix]. */
function splitError(error: unknown): { code: string; message: string; fix: string | undefined } {
  const code = errorCode(error);
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof HardwareError && text.startsWith(`${error.device}: `)) text = text.slice(error.device.length + 2);
  const at = text.lastIndexOf('; fix: ');
  return at < 0 ? { code, message: text, fix: undefined } : { code, message: text.slice(0, at), fix: text.slice(at + 7) };
}

function newRow(device: string, chip: ProbedChip): Row {
  return { device, chip, status: 'skipped', answered: false, registers: {}, values: {}, found: '', notes: [] };
}

function magnetText(status: number): string {
  if ((status & As5600Status.MD) === 0) return 'no magnet (MD = 0)';
  if ((status & As5600Status.ML) !== 0) return 'magnet too weak (ML)';
  if ((status & As5600Status.MH) !== 0) return 'magnet too strong (MH)';
  return 'magnet detected, in range';
}

/** The joint position RAW ANGLE `raw` means for this joint (wrapped to one turn around zero_raw). */
export function encoderJointPosition(joint: ServoJointConfig, raw: number): number {
  const encoder = joint.encoder;
  return as5600UnitsPerCount(encoder?.direction, encoder?.travel_per_turn) * as5600Counts(raw, encoder?.zero_raw ?? 0);
}

function ads1115ConfigText(config: number): string {
  const mux = (config >> 12) & 0x07;
  const input = mux >= 4 ? `AIN${mux - 4}` : ['AIN0-AIN1', 'AIN0-AIN3', 'AIN1-AIN3', 'AIN2-AIN3'][mux];
  const pga = ADS1115_PGA_VOLTS[Math.min(5, (config >> 9) & 0x07)];
  const rate = ADS1115_DATA_RATES[(config >> 5) & 0x07];
  const mode = (config & 0x0100) !== 0 ? 'single-shot' : 'continuous';
  return `${input}, ±${pga} V, ${rate} SPS, ${mode}${(config & 0x8000) === 0 ? ', converting' : ''}`;
}

/**
 * Probe every device of `config`, each on its own; never throws for a device problem (only for a
 * programming error). The returned list is in probe order, /OE first.
 */
export function probeServoArm(config: ServoArmConfig, options: ServoArmProbeOptions): DeviceProbe[] {
  if (!(options.periodSeconds > 0 && Number.isFinite(options.periodSeconds))) throw new RangeError(`periodSeconds must be a positive number, got ${options.periodSeconds}`);
  const wait = options.wait ?? sleepSeconds;
  const openBus =
    options.openBus ??
    ((n: number, retries: number): BusLease => {
      // Say it plainly here; LinuxI2cBus would say the same at greater length.
      if (!existsSync(`/dev/i2c-${n}`)) throw new HardwareError(`i2c-${n}`, `/dev/i2c-${n} not found; fix: ${i2cFix('ENOENT', n, 0)}`);
      return openI2cBus(n, { retries });
    });
  const rows: Row[] = [];
  const buses = new Map<number, BusState>();
  const busState = (n: number): BusState => {
    let state = buses.get(n);
    if (state === undefined) {
      state = { number: n, answered: 0 };
      buses.set(n, state);
    }
    return state;
  };

  // /OE first: released, so nothing below can drive a servo even if a channel were on.
  let outputEnable = options.outputEnable;
  let ownsOutputEnable = false;
  let oeRow: Row | undefined;
  if (config.output_enable !== undefined) {
    const { chip, line, active_low, backend } = config.output_enable;
    oeRow = newRow(`/OE ${chip} line ${line}`, '/OE');
    rows.push(oeRow);
    try {
      if (outputEnable === undefined) {
        outputEnable = openGpioOutput({ chip, line, active_low, debounce_ms: 0 }, { backend, tickPeriodMs: options.periodSeconds * 1000, initialLevel: 0 });
        ownsOutputEnable = true;
      }
      outputEnable.write(0);
      Object.assign(oeRow, { status: 'ok', answered: true, found: `released (${active_low ? 'pin high' : 'pin low'}): every PCA9685 output held off during the probe` });
    } catch (error) {
      const { message, fix } = splitError(error);
      Object.assign(oeRow, { status: 'error', error: message, fix: fix ?? `check that ${chip} line ${line} exists and is free (gpioinfo), and the service user may use it (the gpio group)` });
      outputEnable = undefined;
    }
  }

  /**
   * Run one device's probe on its bus, unless an earlier failure makes it pointless; classify
   * what it threw. `muxChannel`: the device sits behind the mux on that channel.
   */
  const probe = (row: Row, busNumber: number, mux: Mux | undefined, muxChannel: number | undefined, body: (bus: I2cBus) => void): void => {
    rows.push(row);
    const state = busState(busNumber);
    if (state.failed !== undefined) {
      row.error = `not probed: ${state.failed.error} (see ${state.failed.device})`;
      return;
    }
    if (state.stuck !== undefined) {
      row.error = `not probed: i2c-${busNumber} is stuck since ${state.stuck} (see there)`;
      return;
    }
    if (mux !== undefined && mux.driver === undefined) {
      row.error = `not probed: it is behind ${mux.row.device}, which ${mux.row.status === 'missing' ? 'did not answer' : 'failed'} (see there)`;
      return;
    }
    if (state.lease === undefined) {
      try {
        state.lease = openBus(busNumber, config.retries);
      } catch (error) {
        const { message, fix } = splitError(error);
        state.failed = { error: message, fix: fix ?? i2cFix(errorCode(error), busNumber, 0), device: row.device };
        Object.assign(row, { status: 'error', error: message, fix: state.failed.fix });
        return;
      }
    }
    try {
      body(state.lease.bus);
      row.status = 'ok';
      row.answered = true;
      state.answered++;
    } catch (error) {
      const { code, message, fix } = splitError(error);
      row.error = message;
      row.fix = fix;
      if (code === 'EREMOTEIO' || code === 'ENXIO') {
        row.status = 'missing';
      } else if (code === 'EPROTO') {
        row.status = 'wrong';
        row.answered = true;
        state.answered++;
      } else {
        row.status = 'error';
      }
      if (code === 'ETIMEDOUT') {
        state.stuck = row.device;
        if (row.chip === 'TCA9548A' && state.answered > 0) {
          row.error += `; i2c-${busNumber} went down during the mux's own check, whose test pattern 0xa5 connects channels 0, 2, 5 and 7 for a moment: a chip on one of those channels, or its wiring, may be what holds SDA/SCL low`;
          row.fix = `${fix ?? i2cFix(code, busNumber, 0)}; then unplug the mux channels one by one; every device after this one on i2c-${busNumber} was not probed`;
        } else if (muxChannel !== undefined && state.answered > 0) {
          row.error += `; i2c-${busNumber} went down when TCA9548A channel ${muxChannel} was connected: the chip on that channel, or its wiring, holds SDA/SCL low`;
          row.fix = `power-cycle the I2C devices (or pulse the TCA9548A's RESET pin) and check channel ${muxChannel}'s wiring and pull-ups; every device after this one on i2c-${busNumber} was not probed`;
        } else {
          row.error += `; i2c-${busNumber} is stuck: ${state.answered > 0 ? 'it went down during this device' : 'its first transaction timed out, so which chip or wire holds SDA/SCL low cannot be told from here'}`;
          row.fix = `${fix ?? i2cFix(code, busNumber, 0)}; every device after this one on i2c-${busNumber} was not probed`;
        }
      }
    }
  };

  const main = config.bus;
  const at = (address: number, channel: number | undefined, busNumber = main): string =>
    channel !== undefined && config.mux ? `${hex(address)} via TCA9548A ${hex(config.mux.address)} ch ${channel}` : `${hex(address)} on i2c-${busNumber}`;
  let mux: Mux | undefined;
  const route = (channel: number | undefined): MuxRoute | undefined => (channel === undefined || mux?.driver === undefined ? undefined : { mux: mux.driver, channel });

  // PCA9685.
  const pcaConfig = config.pca9685;
  const pcaRow = newRow(`PCA9685 (servos) ${at(pcaConfig.address, undefined)}`, 'PCA9685');
  probe(pcaRow, main, undefined, undefined, (bus) => {
    const address = pcaConfig.address;
    const pca = new Pca9685(bus, address, { label: 'servos', frequencyHz: pcaConfig.frequency_hz, oscillatorHz: pcaConfig.oscillator_hz, outputEnable });
    try {
      pca.open();
      const mode1 = pca.readMode1();
      const mode2 = bus.readByte(address, Pca9685Reg.MODE2);
      const prescale = bus.readByte(address, Pca9685Reg.PRE_SCALE);
      const hz = pcaConfig.oscillator_hz / (4096 * (prescale + 1));
      Object.assign(pcaRow.registers, { MODE1: mode1, MODE2: mode2, PRE_SCALE: prescale });
      pcaRow.values.frequency_hz = hz;
      pcaRow.found = `MODE1 ${hex(mode1)} MODE2 ${hex(mode2)} PRE_SCALE ${prescale} → ${hz.toFixed(2)} Hz PWM (${pcaConfig.frequency_hz} Hz asked)`;
    } catch (error) {
      // Outputs off and asleep as far as it can be done; the error is the one to report.
      try {
        pca.close();
        if (errorCode(error) === 'EPROTO') bus.writeByte(address, Pca9685Reg.MODE1, Mode1.SLEEP | Mode1.AI);
      } catch {
        // the bus is failing: /OE (released above) is the off path that needs no I2C
      }
      throw error;
    }
    pca.close();
    const after = pca.readMode1();
    pcaRow.registers.MODE1_AFTER = after;
    if ((after & Mode1.SLEEP) === 0) {
      const asleep = new HardwareError(pca.device, `register MODE1 (0x00): reads ${hex(after)} after close, SLEEP not set; fix: power-cycle the PCA9685 before running the arm`);
      throw Object.assign(asleep, { code: 'EPROTO' });
    }
    pcaRow.found += `; left asleep (MODE1 ${hex(after)}), every channel full OFF`;
  });

  // Devices on the main segment (not behind the mux), then the mux, then its channels in order.
  type Entry = { channel: number | undefined; busNumber: number; run: () => void };
  const entries: Entry[] = [];
  const fsr = config.fsr;
  if (fsr !== undefined) {
    entries.push({
      channel: fsr.mux_channel,
      busNumber: main,
      run: () => {
        const row = newRow(`ADS1115 (fingertips) ${at(fsr.address, fsr.mux_channel)}`, 'ADS1115');
        const inputs = fsr.fingertips.map((t) => t.input);
        if (1 / fsr.data_rate >= 0.9 * options.periodSeconds) {
          row.notes.push(`fsr.data_rate ${fsr.data_rate} SPS: one conversion takes ${(1000 / fsr.data_rate).toFixed(2)} ms, too long for the ${(options.periodSeconds * 1000).toFixed(2)} ms control tick; \`embody run\` refuses it: raise fsr.data_rate`);
        }
        probe(row, main, fsr.mux_channel === undefined ? undefined : mux, fsr.mux_channel, (bus) => {
          const adc = new Ads1115(bus, fsr.address, {
            label: 'fingertips',
            dataRate: fsr.data_rate as Ads1115DataRate,
            pgaVolts: fsr.pga_volts as Ads1115Pga,
            inputs,
            route: route(fsr.mux_channel),
          });
          adc.open();
          const back = swap16(bus.readWord(fsr.address, Ads1115Reg.CONFIG));
          row.registers.Config = back;
          const readings: string[] = [];
          // One conversion per input; poll() itself says when one never finishes (a hung ADC).
          for (let k = 0; k < inputs.length; k++) {
            let slot = -1;
            while (slot < 0) {
              wait(1.25 / fsr.data_rate + 0.0002);
              slot = adc.poll();
            }
            const tip = fsr.fingertips[slot];
            const volts = adc.volts[slot];
            const newtons = fsrNewtons(volts, Float64Array.from(tip.calibration, (p) => p[0]), Float64Array.from(tip.calibration, (p) => p[1]));
            row.values[`${tip.name}_volts`] = volts;
            row.values[`${tip.name}_newtons`] = newtons;
            readings[slot] = `${tip.name} (AIN${tip.input}) ${volts.toFixed(3)} V → ${newtons.toFixed(2)} N`;
          }
          row.found = `Config ${hex(back, 4)} read back (${ads1115ConfigText(back)}); ${readings.join(', ')}`;
        });
      },
    });
  }
  const power = config.power;
  if (power !== undefined) {
    entries.push({
      channel: power.mux_channel,
      busNumber: main,
      run: () => {
        const row = newRow(`INA219 (servo rail) ${at(power.address, power.mux_channel)}`, 'INA219');
        probe(row, main, power.mux_channel === undefined ? undefined : mux, power.mux_channel, (bus) => {
          const ina = new Ina219(bus, power.address, {
            label: 'servo rail',
            shuntOhms: power.shunt_ohms,
            maxCurrentA: power.max_current_a,
            busRangeVolts: power.bus_range_v,
            route: route(power.mux_channel),
          });
          ina.open();
          const configuration = swap16(bus.readWord(power.address, Ina219Reg.CONFIG));
          const calibration = swap16(bus.readWord(power.address, Ina219Reg.CALIBRATION));
          Object.assign(row.registers, { Configuration: configuration, Calibration: calibration });
          // A conversion cycle (shunt and bus, 12 bit) takes 1.06 ms; sample() says when none comes.
          for (;;) {
            wait(0.002);
            const stale = ina.staleSamples;
            ina.sample();
            if (ina.staleSamples === stale) break;
          }
          const volts = ina.reading[Ina219Value.BUS_VOLTS];
          const amps = ina.reading[Ina219Value.CURRENT_A];
          row.registers.Bus_voltage = ina.busRegister;
          Object.assign(row.values, { bus_volts: volts, current_a: amps });
          row.found = `Configuration ${hex(configuration, 4)} Calibration ${hex(calibration, 4)} read back (${power.shunt_ohms} Ω shunt, up to ${power.max_current_a} A, ${power.bus_range_v} V range); rail ${volts.toFixed(2)} V, ${amps.toFixed(3)} A`;
          if (volts < power.brownout_volts) {
            row.notes.push(`the servo rail reads ${volts.toFixed(2)} V, below brownout_volts ${power.brownout_volts} V: the servo supply is off (fine for a check; \`embody run\` faults on it once the servos are powered)`);
          }
        });
      },
    });
  }
  config.joints.forEach((joint) => {
    const encoder = joint.encoder;
    if (encoder === undefined) return;
    const busNumber = encoder.bus ?? main;
    entries.push({
      channel: encoder.mux_channel,
      busNumber,
      run: () => {
        const row = newRow(`AS5600 (${joint.name}) ${at(encoder.address, encoder.mux_channel, busNumber)}`, 'AS5600');
        probe(row, busNumber, encoder.mux_channel === undefined ? undefined : mux, encoder.mux_channel, (bus) => {
          const as5600 = new As5600(bus, encoder.address, { label: joint.name, route: route(encoder.mux_channel), slowFilter: encoder.slow_filter });
          const describe = (status: number, raw: number): void => {
            const position = encoderJointPosition(joint, raw);
            Object.assign(row.registers, { STATUS: status, RAW_ANGLE: raw });
            row.values.joint_position = position;
            const where =
              encoder.travel_per_turn === undefined
                ? `${position.toFixed(3)} rad (${((position * 180) / Math.PI).toFixed(1)}°)`
                : `${position.toFixed(4)} (travel_per_turn ${encoder.travel_per_turn})`;
            row.found = `STATUS ${hex(status)} ${magnetText(status)}; RAW ANGLE ${raw} → ${joint.name} ${where}`;
            const low = Math.min(joint.servo.min_angle, joint.servo.max_angle);
            const high = Math.max(joint.servo.min_angle, joint.servo.max_angle);
            const slack = 0.05 * (high - low);
            if (position < low - slack || position > high + slack) {
              row.notes.push(`${joint.name} reads ${position.toFixed(3)}, outside its servo calibration ${low}..${high}: check encoder.zero_raw (${encoder.zero_raw}) and direction (${encoder.direction}) (docs/HARDWARE.md, Calibration)`);
            }
          };
          try {
            as5600.open();
          } catch (error) {
            if (errorCode(error) === 'EPROTO') {
              // It answered: show what it says (STATUS, RAW ANGLE) beside the driver's verdict.
              try {
                const block = Buffer.alloc(3);
                bus.readBlock(encoder.address, As5600Reg.STATUS, 3, block);
                describe(block[0], ((block[1] & 0x0f) << 8) | block[2]);
              } catch {
                // the verdict stands on its own
              }
            }
            throw error;
          }
          const conf = Buffer.alloc(2);
          bus.readBlock(encoder.address, As5600Reg.CONF_H, 2, conf);
          describe(as5600.status, as5600.raw);
          row.registers.CONF = ((conf[0] & 0x3f) << 8) | conf[1];
          row.found += `; CONF ${hex(row.registers.CONF, 4)} read back`;
        });
      },
    });
  });

  for (const entry of entries) if (entry.channel === undefined && entry.busNumber === main) entry.run();
  if (config.mux !== undefined) {
    const muxAddress = config.mux.address;
    const muxRow = newRow(`TCA9548A (mux) ${at(muxAddress, undefined)}`, 'TCA9548A');
    mux = { row: muxRow };
    const muxState = mux;
    probe(muxRow, main, undefined, undefined, (bus) => {
      const driver = new Tca9548a(bus, muxAddress, 'mux');
      driver.open();
      const control = bus.receiveByte(muxAddress);
      muxRow.registers.CONTROL = control;
      muxRow.found = `control register read back 0xa5 and 0x00 as written; now ${hex(control)} (every channel off)`;
      muxState.driver = driver;
    });
    const behind = entries.filter((e) => e.channel !== undefined).sort((a, b) => (a.channel as number) - (b.channel as number));
    for (const entry of behind) entry.run();
  }
  for (const entry of entries) if (entry.channel === undefined && entry.busNumber !== main) entry.run();

  // Leave it as found, or safer: every mux channel off, buses released, /OE released.
  if (mux?.driver !== undefined && busState(main).stuck === undefined) {
    try {
      mux.driver.deselect();
    } catch (error) {
      const { message, fix } = splitError(error);
      Object.assign(mux.row, { status: 'error', error: `could not switch every channel off at the end: ${message}`, fix });
    }
  }
  for (const state of buses.values()) {
    try {
      state.lease?.release();
    } catch {
      // closing a descriptor: nothing left to do about it
    }
  }
  if (outputEnable !== undefined && oeRow !== undefined) {
    try {
      outputEnable.write(0);
      if (ownsOutputEnable) outputEnable.close();
    } catch (error) {
      const { message, fix } = splitError(error);
      Object.assign(oeRow, { status: 'error', error: `could not release it at the end: ${message}`, fix: fix ?? 'power the PCA9685 down before touching the arm' });
    }
  }
  return rows.map((row) => ({ ...row }));
}

const STATUS_WORD: Record<DeviceProbeStatus, string> = { ok: 'ok', missing: 'MISSING', wrong: 'WRONG', error: 'ERROR', skipped: 'skipped' };

/** The probe as a table: one line per device, then the error, fix and notes under it. */
export function formatServoArmProbe(results: readonly DeviceProbe[]): string {
  const width = Math.max(6, ...results.map((r) => r.device.length));
  const lines = [`  ${'STATUS'.padEnd(8)} ${'DEVICE'.padEnd(width)}  READ BACK`];
  for (const r of results) {
    const what = r.status === 'ok' ? r.found : r.status === 'skipped' ? (r.error ?? '') : r.found;
    lines.push(`  ${STATUS_WORD[r.status].padEnd(8)} ${r.device.padEnd(width)}  ${what}`.trimEnd());
    const pad = ' '.repeat(11);
    if (r.status !== 'ok' && r.status !== 'skipped') {
      lines.push(`${pad}error: ${r.error ?? 'unknown'}`);
      if (r.fix !== undefined) lines.push(`${pad}fix: ${r.fix}`);
    }
    for (const note of r.notes) lines.push(`${pad}note: ${note}`);
  }
  return lines.join('\n') + '\n';
}

/** The devices that keep the arm from running: missing, wrong, failed or not probed. */
export function servoArmProbeProblems(results: readonly DeviceProbe[]): DeviceProbe[] {
  return results.filter((r) => r.status !== 'ok');
}
