/**
 * PCA9685 register model (NXP datasheet, "7.3 Register definitions"), with the quirks drivers
 * trip over:
 * - PRE_SCALE (0xFE) is written only while MODE1.SLEEP = 1; otherwise the write is ignored.
 *   Values below 3 load as 3.
 * - Power-up: MODE1 = 0x11 (SLEEP | ALLCALL), MODE2 = 0x04, PRE_SCALE = 0x1E, every LEDn_OFF_H = 0x10
 *   (full OFF), ALLCALLADR = 0xE0 (7-bit 0x70): with ALLCALL set the chip also takes writes at 0x70.
 * - Auto-increment (MODE1.AI): the pointer advances after each byte, 0x45 → 0x00; without AI it stays.
 * - Sleep/restart ("7.3.1.1"): setting SLEEP while channels run sets RESTART; after SLEEP is
 *   cleared the oscillator needs 500 µs, and channels stay stopped until RESTART is cleared by
 *   writing 1 to it or by writing a PWM register (MODE2.OCH = 0).
 * - ALL_LED_* (0xFA-0xFD) load every channel's register at once and read back 0.
 * - /OE (an input here, `outputEnabled`): released → every output at the OUTNE level (0).
 * `pulses(out)` gives what a servo on each channel sees: the high time in µs, 0 for no pulses.
 */
import { DeviceModel, type SimClock } from './model.js';

const MODE1 = 0x00;
const MODE2 = 0x01;
const ALLCALLADR = 0x05;
const LED0 = 0x06;
const LED_END = 0x45;
const ALL_LED_ON_L = 0xfa;
const ALL_LED_OFF_H = 0xfd;
const PRE_SCALE = 0xfe;
const SLEEP = 0x10;
const RESTART = 0x80;
const AI = 0x20;
const ALLCALL = 0x01;
const FULL = 0x10;

export class Pca9685Model extends DeviceModel {
  readonly registers = new Uint8Array(256);
  /** The /OE pin, as a logical level: true = outputs enabled (pin low). */
  outputEnabled = true;
  /** Oscillator frequency of this part, Hz (25 MHz nominal). */
  oscillatorHz: number;
  #pointer = 0;
  /** [0] = when the oscillator is up after the last wake, seconds. */
  readonly #wakeAt = new Float64Array(1);
  /** Writes to PRE_SCALE that were ignored because SLEEP was 0. */
  ignoredPrescaleWrites = 0;

  constructor(clock: SimClock, options: { name?: string; oscillatorHz?: number } = {}) {
    super(options.name ?? 'PCA9685 model', clock);
    this.oscillatorHz = options.oscillatorHz ?? 25_000_000;
    this.powerOn();
  }

  /** Power-on reset: the datasheet's register defaults. */
  powerOn(): void {
    const r = this.registers;
    r.fill(0);
    r[MODE1] = SLEEP | ALLCALL;
    r[MODE2] = 0x04;
    r[0x02] = 0xe2;
    r[0x03] = 0xe4;
    r[0x04] = 0xe8;
    r[ALLCALLADR] = 0xe0;
    for (let c = 0; c < 16; c++) r[LED0 + 4 * c + 3] = FULL;
    r[PRE_SCALE] = 0x1e;
    this.#pointer = 0;
    this.#wakeAt[0] = 0;
  }

  get prescale(): number {
    return this.registers[PRE_SCALE];
  }

  get frameHz(): number {
    return this.oscillatorHz / (4096 * (this.registers[PRE_SCALE] + 1));
  }

  /** True when the PWM generator runs (awake, oscillator settled, no restart pending). */
  get running(): boolean {
    const mode1 = this.registers[MODE1];
    return (mode1 & (SLEEP | RESTART)) === 0 && this.clock.cell[0] >= this.#wakeAt[0];
  }

  answersWrite(address: number): boolean {
    return (this.registers[MODE1] & ALLCALL) !== 0 && address === this.registers[ALLCALLADR] >> 1;
  }

  write(data: Uint8Array, length: number): void {
    if (length === 0) return;
    this.#pointer = data[0];
    for (let k = 1; k < length; k++) {
      this.#store(this.#pointer, data[k]);
      this.#advance();
    }
  }

  read(out: Uint8Array, offset: number, length: number): void {
    for (let k = 0; k < length; k++) {
      const reg = this.#pointer;
      out[offset + k] = this.wrongId || (reg >= ALL_LED_ON_L && reg <= ALL_LED_OFF_H) ? 0 : this.registers[reg];
      this.#advance();
    }
  }

  /** High time per channel in µs as a servo sees it (0: no pulses), for channels 0..15. */
  pulses(out: Float64Array): void {
    const r = this.registers;
    const live = this.running && this.outputEnabled && (r[MODE2] & 0x10) === 0;
    const usPerCount = ((r[PRE_SCALE] + 1) * 1e6) / this.oscillatorHz;
    for (let c = 0; c < 16; c++) {
      const base = LED0 + 4 * c;
      if (!live || (r[base + 3] & FULL) !== 0 || (r[base + 1] & FULL) !== 0) {
        out[c] = 0;
        continue;
      }
      const on = ((r[base + 1] & 0x0f) << 8) | r[base];
      const off = ((r[base + 3] & 0x0f) << 8) | r[base + 2];
      out[c] = ((off - on + 4096) & 4095) * usPerCount;
    }
  }

  #advance(): void {
    if ((this.registers[MODE1] & AI) === 0) return;
    this.#pointer = this.#pointer === LED_END ? 0 : (this.#pointer + 1) & 0xff;
  }

  #anyChannelOn(): boolean {
    for (let c = 0; c < 16; c++) if ((this.registers[LED0 + 4 * c + 3] & FULL) === 0) return true;
    return false;
  }

  #store(reg: number, value: number): void {
    if (this.wrongId) return;
    const r = this.registers;
    if (reg === MODE1) {
      const old = r[MODE1];
      let restart = old & RESTART;
      if ((value & RESTART) !== 0) restart = 0; // writing 1 clears it; writing 0 does nothing
      const sleeping = (old & SLEEP) !== 0;
      const sleep = (value & SLEEP) !== 0;
      if (!sleeping && sleep && this.#anyChannelOn()) restart = RESTART;
      if (sleeping && !sleep) this.#wakeAt[0] = this.clock.cell[0] + 500e-6;
      r[MODE1] = (value & ~RESTART) | restart;
      return;
    }
    if (reg === PRE_SCALE) {
      if ((r[MODE1] & SLEEP) === 0) {
        this.ignoredPrescaleWrites++;
        return;
      }
      r[PRE_SCALE] = value < 3 ? 3 : value;
      return;
    }
    if (reg >= ALL_LED_ON_L && reg <= ALL_LED_OFF_H) {
      for (let c = 0; c < 16; c++) r[LED0 + 4 * c + (reg - ALL_LED_ON_L)] = value;
      return;
    }
    if (reg >= LED0 && reg <= LED_END) {
      r[reg] = value;
      if ((r[MODE2] & 0x08) === 0) r[MODE1] &= ~RESTART;
      return;
    }
    if (reg === 0xff) return; // TestMode: reserved
    r[reg] = value;
  }
}
