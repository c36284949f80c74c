/**
 * INA219 high-side current/power monitor (TI datasheet SBOS448), on the servo supply rail: the
 * rail current is the arm's effort proxy, and the bus voltage detects brown-outs.
 *
 * Register map ("8.6 Register Maps"), 16-bit, MSB first:
 *   0x00 Configuration  RST[15] BRNG[13] (0: 16 V, 1: 32 V) PG[12:11] (÷1 40 mV … ÷8 320 mV)
 *                       BADC[10:7] SADC[6:3] MODE[2:0]; default 0x399F (32 V, ÷8, 12-bit, shunt
 *                       and bus continuous). Writing RST = 1 resets every register to default.
 *   0x01 Shunt voltage  two's complement, LSB 10 µV.
 *   0x02 Bus voltage    BD[15:3] LSB 4 mV; CNVR[1] = new data (cleared by reading Power or
 *                       writing Configuration); OVF[0] = current/power math overflowed.
 *   0x03 Power          Power_LSB = 20 × Current_LSB; = Current × BD / 5000.
 *   0x04 Current        = Shunt × Calibration / 4096 (two's complement).
 *   0x05 Calibration    bit 0 reads 0. "8.5.1 Programming": Cal = trunc(0.04096 / (Current_LSB ×
 *                       R_shunt)), Current_LSB = max expected current / 2^15. Until it is
 *                       written, Current and Power read 0.
 * Conversion time ("8.6.3.1", 12-bit): 532 µs per ADC, shunt then bus: 1.06 ms per cycle in
 * continuous mode, so every 5-10 ms tick finds fresh data (CNVR = 1); a CNVR that stays 0 means
 * the chip stopped converting (stale).
 */
import { hex, swap16, toInt16, type I2cBus } from '../bus/types.js';
import { I2cDevice, type MuxRoute } from './i2c-device.js';
import { INA219_SHUNT_RANGES } from '../../robot/index.js';

export const Ina219Reg = { CONFIG: 0x00, SHUNT: 0x01, BUS: 0x02, POWER: 0x03, CURRENT: 0x04, CALIBRATION: 0x05 } as const;
export const INA219_DEFAULT_CONFIG = 0x399f;
export { INA219_SHUNT_RANGES };

/** Slots of Ina219.reading. */
export const Ina219Value = { BUS_VOLTS: 0, CURRENT_A: 1, POWER_W: 2, SIZE: 3 } as const;

export interface Ina219Options {
  readonly label?: string;
  /** Shunt resistor, ohms (0.1 on the common breakout boards). */
  readonly shuntOhms?: number;
  /** Largest current to measure, A (sets Current_LSB and the PGA range). */
  readonly maxCurrentA?: number;
  /** Bus voltage range: 16 or 32 V. */
  readonly busRangeVolts?: 16 | 32;
  /** Consecutive samples without new data (CNVR = 0) before it counts as stale (default 3). */
  readonly maxStaleSamples?: number;
  readonly route?: MuxRoute;
}

export interface Ina219Calibration {
  readonly calibration: number;
  readonly currentLsb: number;
  readonly powerLsb: number;
  /** PG field: 0..3 for 40, 80, 160, 320 mV. */
  readonly pga: number;
  readonly config: number;
}

export function ina219Calibration(shuntOhms: number, maxCurrentA: number, busRangeVolts: 16 | 32 = 32): Ina219Calibration {
  if (!(shuntOhms > 0) || !(maxCurrentA > 0)) throw new RangeError('INA219 shunt_ohms and max_current_a must be above zero');
  const shuntVolts = shuntOhms * maxCurrentA;
  const pga = INA219_SHUNT_RANGES.findIndex((range) => shuntVolts <= range + 1e-9);
  if (pga < 0) throw new RangeError(`INA219: ${maxCurrentA} A through ${shuntOhms} Ω is ${(shuntVolts * 1000).toFixed(0)} mV, above the 320 mV shunt range: use a smaller shunt`);
  let calibration = Math.trunc(0.04096 / ((maxCurrentA / 32768) * shuntOhms)) & 0xfffe;
  if (calibration > 0xfffe) calibration = 0xfffe;
  if (calibration < 2) throw new RangeError('INA219: shunt and max current give a calibration below 2; use a larger shunt or max current');
  // The current LSB the truncated calibration really gives.
  const currentLsb = 0.04096 / (calibration * shuntOhms);
  const config = ((busRangeVolts === 32 ? 1 : 0) << 13) | (pga << 11) | (0b0011 << 7) | (0b0011 << 3) | 0b111;
  return { calibration, currentLsb, powerLsb: 20 * currentLsb, pga, config };
}

export class Ina219 extends I2cDevice {
  readonly calibration: Ina219Calibration;
  /** Latest bus volts, current (A), power (W): indexed by Ina219Value. */
  readonly reading = new Float64Array(Ina219Value.SIZE);
  /** Raw bus voltage register of the latest sample (CNVR and OVF bits included). */
  busRegister = 0;
  /** Samples that found no new conversion. */
  staleSamples = 0;
  /** Samples with OVF set (current beyond the calibrated range). */
  overflows = 0;
  readonly #maxStale: number;
  #stale = 0;

  constructor(bus: I2cBus, address = 0x41, options: Ina219Options = {}) {
    super('INA219', options.label, bus, address, options.route);
    if (!(address >= 0x40 && address <= 0x4f)) throw new RangeError(`INA219 address must be 0x40..0x4f (A0/A1 straps), got ${hex(address)}`);
    this.calibration = ina219Calibration(options.shuntOhms ?? 0.1, options.maxCurrentA ?? 3.2, options.busRangeVolts ?? 16);
    this.#maxStale = options.maxStaleSamples ?? 3;
  }

  protected registerName(register: number): string {
    return ['Configuration (0x00)', 'Shunt voltage (0x01)', 'Bus voltage (0x02)', 'Power (0x03)', 'Current (0x04)', 'Calibration (0x05)'][register] ?? hex(register);
  }

  /** Reset (RST), check the default 0x399F reads back, then write and verify config and calibration. */
  open(): void {
    this.connect();
    this.#write(Ina219Reg.CONFIG, 0x8000);
    const reset = this.#read(Ina219Reg.CONFIG);
    if (reset !== INA219_DEFAULT_CONFIG) {
      throw this.problem(Ina219Reg.CONFIG, `reads ${hex(reset, 4)} after reset, not the INA219 default 0x399f${reset === 0x4127 ? ' (0x4127 is an INA226)' : ''}`, `check that an INA219 is at ${hex(this.address)} (A0/A1 straps; a PCA9685 also defaults to 0x40)`);
    }
    const { config, calibration } = this.calibration;
    this.#write(Ina219Reg.CONFIG, config);
    const configBack = this.#read(Ina219Reg.CONFIG);
    if (configBack !== config) throw this.problem(Ina219Reg.CONFIG, `reads ${hex(configBack, 4)} after writing ${hex(config, 4)}`, 'power-cycle the INA219');
    this.#write(Ina219Reg.CALIBRATION, calibration);
    const calBack = this.#read(Ina219Reg.CALIBRATION);
    if (calBack !== calibration) throw this.problem(Ina219Reg.CALIBRATION, `reads ${hex(calBack, 4)} after writing ${hex(calibration, 4)}`, 'power-cycle the INA219');
    this.#stale = 0;
  }

  /**
   * Once per tick: bus voltage (with CNVR/OVF), current, power (reading Power clears CNVR, so
   * the next sample's CNVR says whether the chip converted since). Fills `reading`.
   */
  sample(): void {
    this.connect();
    const bus = this.#read(Ina219Reg.BUS);
    const current = toInt16(this.#read(Ina219Reg.CURRENT));
    const power = this.#read(Ina219Reg.POWER);
    this.busRegister = bus;
    const r = this.reading;
    r[Ina219Value.BUS_VOLTS] = (bus >> 3) * 0.004;
    r[Ina219Value.CURRENT_A] = current * this.calibration.currentLsb;
    r[Ina219Value.POWER_W] = power * this.calibration.powerLsb;
    if ((bus & 0x0001) !== 0) this.overflows++;
    if ((bus & 0x0002) === 0) {
      this.staleSamples++;
      if (++this.#stale > this.#maxStale) {
        throw this.problem(Ina219Reg.BUS, `no new conversion (CNVR = 0) for ${this.#stale} samples`, 'the monitor stopped converting (stale values): power-cycle it; check MODE in Configuration is continuous');
      }
    } else {
      this.#stale = 0;
    }
  }

  /** Shunt voltage, volts (off the tick: `embody check`, calibration). */
  readShuntVolts(): number {
    this.connect();
    return toInt16(this.#read(Ina219Reg.SHUNT)) * 10e-6;
  }

  #read(register: number): number {
    try {
      return swap16(this.bus.readWord(this.address, register));
    } catch (error) {
      throw this.fail(error, register);
    }
  }

  #write(register: number, value: number): void {
    try {
      this.bus.writeWord(this.address, register, swap16(value));
    } catch (error) {
      throw this.fail(error, register);
    }
  }
}
