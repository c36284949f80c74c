/**
 * ADS1115 register model (TI SBAS444, "9.6 Register Map"): pointer register (2 bits), Config
 * (default 0x8583), Conversion, Lo/Hi_thresh (0x8000 / 0x7FFF), 16-bit MSB first; reads longer
 * than two bytes repeat the register.
 * Timing from the settable clock: a single-shot conversion started by writing OS = 1 in
 * power-down takes 1/DR seconds; until then Config reads OS = 0 and Conversion keeps the previous
 * result; the input is sampled when the conversion ends. Continuous mode (MODE = 0) converts every
 * 1/DR. Results: round(V / FS × 32768), clamped to the 16-bit range, FS from the PGA field.
 * Inputs: `ain[0..3]`, volts on AIN0..AIN3 (set them, or let ServoArmModel do it each step).
 * Faults: 'stale' = conversions never finish (OS stays 0, Conversion frozen); 'wrong-id' = Config
 * reads 0x0000 and writes are ignored.
 */
import { DeviceModel, type SimClock } from './model.js';

const DATA_RATES = Float64Array.of(8, 16, 32, 64, 128, 250, 475, 860);
const FULL_SCALE = Float64Array.of(6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256);

export class Ads1115Model extends DeviceModel {
  /** Volts on AIN0..AIN3. */
  readonly ain = new Float64Array(4);
  /** Registers: conversion, config, lo, hi. */
  readonly registers = new Uint16Array([0x0000, 0x8583, 0x8000, 0x7fff]);
  /** Conversions started (single-shot) or completed (continuous). */
  conversions = 0;
  #pointer = 0;
  #converting = false;
  /** [0] = when the running conversion ends, [1] = one conversion (1/DR), seconds: cached in a
   * typed array, since a method returning a double would box it per call. */
  readonly #doneAt = new Float64Array(2);

  constructor(clock: SimClock, name = 'ADS1115 model') {
    super(name, clock);
    this.#doneAt[1] = 1 / 128;
  }

  /** Power-up / general-call reset. */
  reset(): void {
    this.registers.set([0x0000, 0x8583, 0x8000, 0x7fff]);
    this.#doneAt[1] = 1 / 128;
    this.#converting = false;
    this.#pointer = 0;
  }

  get converting(): boolean {
    this.#update();
    return this.#converting;
  }

  write(data: Uint8Array, length: number): void {
    if (length === 0) return;
    this.#pointer = data[0] & 0x03;
    if (length < 3) return;
    this.#update();
    if (this.wrongId) return;
    const value = (data[1] << 8) | data[2];
    if (this.#pointer !== 1) {
      if (this.#pointer !== 0) this.registers[this.#pointer] = value; // Conversion is read-only
      return;
    }
    const continuous = (value & 0x0100) === 0;
    this.registers[1] = value & 0x7fff;
    this.#doneAt[1] = 1 / DATA_RATES[(value >> 5) & 0x07];
    if (continuous) {
      this.#converting = true;
      this.#doneAt[0] = this.clock.cell[0] + this.#doneAt[1];
    } else if ((value & 0x8000) !== 0 && !this.#converting) {
      this.#converting = true;
      this.#doneAt[0] = this.clock.cell[0] + this.#doneAt[1];
      this.conversions++;
    }
  }

  read(out: Uint8Array, offset: number, length: number): void {
    this.#update();
    let value: number;
    if (this.#pointer === 1) {
      value = this.wrongId ? 0 : (this.registers[1] & 0x7fff) | (this.#converting ? 0 : 0x8000);
    } else value = this.registers[this.#pointer];
    for (let k = 0; k < length; k++) out[offset + k] = (k & 1) === 0 ? value >> 8 : value & 0xff;
  }

  #update(): void {
    if (!this.#converting || this.stale) return;
    const now = this.clock.cell[0];
    if (now < this.#doneAt[0]) return;
    this.#sample();
    if ((this.registers[1] & 0x0100) === 0) {
      // Continuous: the latest completed conversion, the next already running.
      while (this.#doneAt[0] <= now) this.#doneAt[0] += this.#doneAt[1];
      this.conversions++;
    } else this.#converting = false;
  }

  #sample(): void {
    const config = this.registers[1];
    const mux = (config >> 12) & 0x07;
    let volts: number;
    if (mux >= 4) volts = this.ain[mux - 4];
    else if (mux === 0) volts = this.ain[0] - this.ain[1];
    else if (mux === 1) volts = this.ain[0] - this.ain[3];
    else if (mux === 2) volts = this.ain[1] - this.ain[3];
    else volts = this.ain[2] - this.ain[3];
    let code = Math.round((volts / FULL_SCALE[(config >> 9) & 0x07]) * 32768) | 0;
    if (!(volts < 8)) code = 32767; // | 0 above would wrap a huge input
    else if (!(volts > -8)) code = -32768;
    if (code > 32767) code = 32767;
    else if (code < -32768) code = -32768;
    this.registers[0] = code & 0xffff;
  }
}
