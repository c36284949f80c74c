/**
 * ADS1115 16-bit delta-sigma ADC with PGA and 4-input mux (TI datasheet SBAS444), reading the
 * fingertip force-sensing resistors (each in a voltage divider to one AINx).
 *
 * Register map ("9.6 Register Map"): a 2-bit address pointer selects
 *   00 Conversion  16-bit two's complement result, MSB first
 *   01 Config      OS[15] MUX[14:12] PGA[11:9] MODE[8] DR[7:5] COMP_MODE[4] COMP_POL[3]
 *                  COMP_LAT[2] COMP_QUE[1:0]; default 0x8583 after power-up or a general-call reset
 *   10 Lo_thresh (default 0x8000), 11 Hi_thresh (default 0x7FFF)
 * Every register is 16 bits, MSB first (SMBus words are LSB first: swapped here).
 * - OS: write 1 in power-down (single-shot) to start one conversion; reads 0 while converting,
 *   1 when idle ("9.6.3 Config Register").
 * - MUX 100..111 = AIN0..AIN3 against GND (single-ended).
 * - PGA full scale: 000 ±6.144 V, 001 ±4.096, 010 ±2.048 (default), 011 ±1.024, 100 ±0.512, 101+ ±0.256.
 * - MODE 1 = single-shot / power-down (default).
 * - DR: 8, 16, 32, 64, 128 (default), 250, 475, 860 samples/s; a single-shot conversion takes 1/DR.
 * - COMP_QUE 11 = comparator off, ALERT/RDY high-impedance.
 * Timing: conversion ready polling never blocks the tick. Each tick poll() reads Config; if OS says
 * idle, it reads the result of the conversion started last tick and starts the next input's. With
 * two fingertips each is refreshed every other tick. The data rate must finish a conversion within
 * a tick (checked by the caller: 1/DR < period).
 */
import { hex, swap16, toInt16, type I2cBus } from '../bus/types.js';
import { I2cDevice, type MuxRoute } from './i2c-device.js';
import { ADS1115_DATA_RATES, ADS1115_PGA_VOLTS, type Ads1115DataRate, type Ads1115Pga } from '../../robot/index.js';

export const Ads1115Reg = { CONVERSION: 0x00, CONFIG: 0x01, LO_THRESH: 0x02, HI_THRESH: 0x03 } as const;
export const ADS1115_DEFAULT_CONFIG = 0x8583;
export { ADS1115_DATA_RATES, ADS1115_PGA_VOLTS, type Ads1115DataRate, type Ads1115Pga };

export interface Ads1115Options {
  readonly label?: string;
  /** Samples per second (default 860). */
  readonly dataRate?: Ads1115DataRate;
  /** Full-scale range, volts (default 4.096: an FSR divider on 3.3 V). */
  readonly pgaVolts?: Ads1115Pga;
  /** AIN pins to read against GND, in the order results are stored (default [0]). */
  readonly inputs?: readonly number[];
  /** Consecutive polls that may find the conversion still running before it counts as hung (default 3). */
  readonly maxWaitTicks?: number;
  readonly route?: MuxRoute;
}

/** Config word for a single-shot conversion of AIN`input` against GND. */
export function ads1115Config(input: number, pgaVolts: number, dataRate: number): number {
  const pga = ADS1115_PGA_VOLTS.indexOf(pgaVolts as Ads1115Pga);
  const dr = ADS1115_DATA_RATES.indexOf(dataRate as Ads1115DataRate);
  if (pga < 0) throw new RangeError(`ADS1115 full scale must be one of ${ADS1115_PGA_VOLTS.join(', ')} V, got ${pgaVolts}`);
  if (dr < 0) throw new RangeError(`ADS1115 data rate must be one of ${ADS1115_DATA_RATES.join(', ')} SPS, got ${dataRate}`);
  if (!(input >= 0 && input <= 3 && Number.isInteger(input))) throw new RangeError(`ADS1115 input must be AIN0..AIN3, got ${input}`);
  return 0x8000 | ((0b100 + input) << 12) | (pga << 9) | 0x0100 | (dr << 5) | 0x0003;
}

export class Ads1115 extends I2cDevice {
  readonly dataRate: Ads1115DataRate;
  readonly pgaVolts: Ads1115Pga;
  readonly inputs: readonly number[];
  /** Latest raw result per input (two's complement counts). */
  readonly raw: Int32Array;
  /** Latest result per input, volts. */
  readonly volts: Float64Array;
  /** Results taken per input (so a caller sees which are fresh). */
  readonly samples: Uint32Array;
  /** Polls that found the conversion still running. */
  notReady = 0;
  readonly #configs: Uint16Array;
  readonly #maxWait: number;
  readonly #voltsPerCount: number;
  #slot = 0;
  #waiting = 0;

  constructor(bus: I2cBus, address = 0x48, options: Ads1115Options = {}) {
    super('ADS1115', options.label, bus, address, options.route);
    if (!(address >= 0x48 && address <= 0x4b)) throw new RangeError(`ADS1115 address must be 0x48..0x4b (ADDR to GND, VDD, SDA, SCL), got ${hex(address)}`);
    this.dataRate = options.dataRate ?? 860;
    this.pgaVolts = options.pgaVolts ?? 4.096;
    this.inputs = options.inputs ?? [0];
    if (this.inputs.length < 1 || this.inputs.length > 4) throw new RangeError('ADS1115 reads 1..4 inputs');
    this.#configs = Uint16Array.from(this.inputs, (input) => ads1115Config(input, this.pgaVolts, this.dataRate));
    this.raw = new Int32Array(this.inputs.length);
    this.volts = new Float64Array(this.inputs.length);
    this.samples = new Uint32Array(this.inputs.length);
    this.#maxWait = options.maxWaitTicks ?? 3;
    this.#voltsPerCount = this.pgaVolts / 32768;
  }

  /** Seconds one conversion takes (1/DR). */
  get conversionSeconds(): number {
    return 1 / this.dataRate;
  }

  protected registerName(register: number): string {
    return ['Conversion (0x00)', 'Config (0x01)', 'Lo_thresh (0x02)', 'Hi_thresh (0x03)'][register] ?? hex(register);
  }

  /**
   * Identity: Config must read the power-up default 0x8583, or a single-shot configuration with
   * the comparator off (what this driver leaves after a restart). Then start the first input's
   * conversion and check the written bits read back (OS aside: it reads 0 while converting).
   */
  open(): void {
    this.connect();
    const config = this.#read(Ads1115Reg.CONFIG);
    const ours = (config & 0x0103) === 0x0103;
    if (config !== ADS1115_DEFAULT_CONFIG && !ours) {
      throw this.problem(Ads1115Reg.CONFIG, `reads ${hex(config, 4)}, not the power-up default 0x8583 nor a single-shot configuration`, `check that an ADS1115 is at ${hex(this.address)} (ADDR pin), or power-cycle it`);
    }
    this.#slot = 0;
    this.#waiting = 0;
    this.#start();
    const back = this.#read(Ads1115Reg.CONFIG);
    if ((back & 0x7fff) !== (this.#configs[0] & 0x7fff)) {
      throw this.problem(Ads1115Reg.CONFIG, `reads ${hex(back, 4)} after writing ${hex(this.#configs[0], 4)}`, 'the chip does not hold its configuration: check the address and the supply');
    }
  }

  /**
   * Once per tick, never waiting: if the conversion started last time is done, store it and start
   * the next input's. Returns the index of the input just stored, or -1 (still converting).
   */
  poll(): number {
    this.connect();
    const config = this.#read(Ads1115Reg.CONFIG);
    if ((config & 0x8000) === 0) {
      this.notReady++;
      if (++this.#waiting > this.#maxWait) {
        throw this.problem(Ads1115Reg.CONFIG, `conversion still running after ${this.#waiting} polls (OS = 0; one takes ${(1000 / this.dataRate).toFixed(2)} ms at ${this.dataRate} SPS)`, 'the ADC is hung or stale: power-cycle it; check that the data rate finishes within one control tick');
      }
      return -1;
    }
    this.#waiting = 0;
    const slot = this.#slot;
    const raw = toInt16(this.#read(Ads1115Reg.CONVERSION));
    this.raw[slot] = raw;
    this.volts[slot] = raw * this.#voltsPerCount;
    this.samples[slot]++;
    this.#slot = slot + 1 === this.#configs.length ? 0 : slot + 1;
    this.#start();
    return slot;
  }

  #start(): void {
    const config = this.#configs[this.#slot];
    try {
      this.bus.writeWord(this.address, Ads1115Reg.CONFIG, swap16(config));
    } catch (error) {
      throw this.fail(error, Ads1115Reg.CONFIG);
    }
  }

  #read(register: number): number {
    try {
      return swap16(this.bus.readWord(this.address, register));
    } catch (error) {
      throw this.fail(error, register);
    }
  }
}
