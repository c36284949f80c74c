/**
 * PCA9685 16-channel, 12-bit PWM controller (NXP datasheet PCA9685, Rev. 4), driving hobby
 * servos: one pulse of 0.5-2.5 ms per 20 ms frame (50 Hz) per channel.
 *
 * Register map ("7.3 Register definitions", Table 4):
 *   0x00 MODE1   bit7 RESTART, bit6 EXTCLK, bit5 AI (auto-increment), bit4 SLEEP (oscillator off),
 *                bit3-1 SUB1-3, bit0 ALLCALL. Power-on value 0x11 (SLEEP | ALLCALL).
 *   0x01 MODE2   bit4 INVRT, bit3 OCH (0: outputs change on STOP), bit2 OUTDRV (1: totem pole),
 *                bit1-0 OUTNE (00: LEDn = 0 while /OE is high). Power-on 0x04.
 *   0x02-0x04 SUBADR1-3, 0x05 ALLCALLADR (0xE0 = 7-bit 0x70).
 *   0x06 + 4n    LEDn_ON_L, ON_H, OFF_L, OFF_H (n = 0..15): 12-bit ON and OFF counts of a 4096-count
 *                period; ON_H bit4 = full ON, OFF_H bit4 = full OFF (full OFF wins).
 *   0xFA-0xFD    ALL_LED_ON_L … ALL_LED_OFF_H: write-only, load every channel at once.
 *   0xFE PRE_SCALE  "7.3.5 PWM frequency PRE_SCALE": prescale = round(osc / (4096 × rate)) − 1,
 *                   3..255; power-on 0x1E (200 Hz). Writable ONLY while SLEEP = 1 (writes are
 *                   ignored otherwise), so the frequency is set before waking the oscillator.
 * Sequencing ("7.3.1.1 Restart mode"): after clearing SLEEP the oscillator needs up to 500 µs; if
 * RESTART reads 1 (PWM was running when SLEEP was set), writing 1 to RESTART resumes the channels.
 * With AI = 1 a block write walks LEDn_ON_L … and updates several channels in one transaction;
 * with OCH = 0 they all change at the STOP, so the channels of one tick move together.
 * Output enable: the /OE pin (active low) forces every output to the OUTNE level (0) at once,
 * independent of I2C: the hard-off path when the bus itself is down.
 *
 * Internal oscillator: 25 MHz nominal, a few % off on real parts; `oscillatorHz` trims it (the
 * per-servo µs calibration absorbs the rest).
 */
import type { I2cBus } from '../bus/types.js';
import { hex } from '../bus/types.js';
import type { GpioOutput } from '../gpio/types.js';
import { sleepMs } from '../sleep.js';
import { I2cDevice } from './i2c-device.js';

export const Pca9685Reg = {
  MODE1: 0x00,
  MODE2: 0x01,
  SUBADR1: 0x02,
  ALLCALLADR: 0x05,
  LED0_ON_L: 0x06,
  ALL_LED_ON_L: 0xfa,
  ALL_LED_OFF_H: 0xfd,
  PRE_SCALE: 0xfe,
} as const;

export const Mode1 = { RESTART: 0x80, EXTCLK: 0x40, AI: 0x20, SLEEP: 0x10, SUB1: 0x08, SUB2: 0x04, SUB3: 0x02, ALLCALL: 0x01 } as const;
export const Mode2 = { INVRT: 0x10, OCH: 0x08, OUTDRV: 0x04 } as const;
/** Bit 4 of LEDn_ON_H / LEDn_OFF_H. */
export const FULL = 0x10;
export const PCA9685_CHANNELS = 16;
export const PCA9685_DEFAULT_ADDRESS = 0x40;
export const PCA9685_OSCILLATOR_HZ = 25_000_000;
/** "the oscillator requires 500 µs to be up and running after SLEEP is set to 0". */
export const PCA9685_WAKE_US = 500;

/** PRE_SCALE for a PWM frequency ("7.3.5"): round(osc / (4096 × rate)) − 1, limited to 3..255. */
export function pca9685Prescale(frequencyHz: number, oscillatorHz = PCA9685_OSCILLATOR_HZ): number {
  return Math.min(255, Math.max(3, Math.round(oscillatorHz / (4096 * frequencyHz)) - 1));
}

export interface Pca9685Options {
  readonly label?: string;
  /** Servo frame rate (default 50 Hz). */
  readonly frequencyHz?: number;
  readonly oscillatorHz?: number;
  /** The /OE line: logical 1 = outputs enabled (wire it active-low). */
  readonly outputEnable?: GpioOutput;
}

export class Pca9685 extends I2cDevice {
  readonly frequencyHz: number;
  readonly oscillatorHz: number;
  readonly prescale: number;
  /** Counts per µs of pulse at the programmed prescale: [0]. A typed array so reading it never boxes. */
  readonly countsPerMicrosecond = new Float64Array(1);
  readonly outputEnable: GpioOutput | undefined;
  /** LEDn registers as they are (or will be, after flush) on the chip: 4 bytes per channel. */
  readonly #shadow = Buffer.alloc(PCA9685_CHANNELS * 4);
  /** Views of #shadow for the block writes of flush(), made once by setSpan(). */
  #chunks: { register: number; length: number; view: Buffer }[] = [];
  readonly #allOff = Buffer.from([0, 0, 0, FULL]);
  #outputsEnabled = false;
  #open = false;

  constructor(bus: I2cBus, address = PCA9685_DEFAULT_ADDRESS, options: Pca9685Options = {}) {
    super('PCA9685', options.label, bus, address);
    this.frequencyHz = options.frequencyHz ?? 50;
    this.oscillatorHz = options.oscillatorHz ?? PCA9685_OSCILLATOR_HZ;
    if (!(this.frequencyHz >= 24 && this.frequencyHz <= 1526)) throw new RangeError(`PCA9685 frequency must be 24..1526 Hz, got ${this.frequencyHz}`);
    this.prescale = pca9685Prescale(this.frequencyHz, this.oscillatorHz);
    this.countsPerMicrosecond[0] = this.oscillatorHz / (1e6 * (this.prescale + 1));
    this.outputEnable = options.outputEnable;
    for (let c = 0; c < PCA9685_CHANNELS; c++) this.#shadow[c * 4 + 3] = FULL;
    this.setSpan(0, PCA9685_CHANNELS - 1);
  }

  /** The PWM frequency the chip really runs at with this prescale. */
  get actualFrequencyHz(): number {
    return this.oscillatorHz / (4096 * (this.prescale + 1));
  }

  get outputsEnabled(): boolean {
    return this.#outputsEnabled;
  }

  protected registerName(register: number): string {
    if (register === Pca9685Reg.MODE1) return 'MODE1 (0x00)';
    if (register === Pca9685Reg.MODE2) return 'MODE2 (0x01)';
    if (register === Pca9685Reg.PRE_SCALE) return 'PRE_SCALE (0xfe)';
    if (register >= Pca9685Reg.ALL_LED_ON_L && register <= Pca9685Reg.ALL_LED_OFF_H) return `ALL_LED (${hex(register)})`;
    if (register >= Pca9685Reg.LED0_ON_L && register < Pca9685Reg.LED0_ON_L + 64) return `LED${(register - 6) >> 2} (${hex(register)})`;
    return hex(register);
  }

  /**
   * Bring the chip to a known state, outputs off: check MODE1 reads back, set PRE_SCALE in SLEEP
   * and check it, totem-pole outputs changing on STOP, every channel full OFF, then wake the
   * oscillator (500 µs) and clear a pending RESTART. /OE stays deasserted (outputs disabled).
   */
  open(): void {
    this.enableOutputs(false);
    const want = Mode1.SLEEP | Mode1.AI;
    this.#writeByte(Pca9685Reg.MODE1, want);
    const mode1 = this.#readByte(Pca9685Reg.MODE1) & ~Mode1.RESTART;
    if (mode1 !== want) {
      throw this.problem(Pca9685Reg.MODE1, `reads ${hex(mode1)} after writing ${hex(want)} (SLEEP | AI)`, `check that a PCA9685 is at ${hex(this.address)}: an INA219 also defaults to 0x40; move one of them with its address jumpers`);
    }
    this.#writeByte(Pca9685Reg.PRE_SCALE, this.prescale);
    const prescale = this.#readByte(Pca9685Reg.PRE_SCALE);
    if (prescale !== this.prescale) {
      throw this.problem(Pca9685Reg.PRE_SCALE, `reads ${prescale} after writing ${this.prescale} in SLEEP`, 'the chip is not a PCA9685 or ignored SLEEP: power-cycle it and check the address');
    }
    this.#writeByte(Pca9685Reg.MODE2, Mode2.OUTDRV);
    const mode2 = this.#readByte(Pca9685Reg.MODE2);
    if ((mode2 & 0x1f) !== Mode2.OUTDRV) throw this.problem(Pca9685Reg.MODE2, `reads ${hex(mode2)} after writing ${hex(Mode2.OUTDRV)}`, 'power-cycle the PCA9685');
    this.#fullOffAll();
    // Wake: SLEEP = 0, ALLCALL = 0 (so a TCA9548A at 0x70 is not also this chip), AI = 1.
    this.#writeByte(Pca9685Reg.MODE1, Mode1.AI);
    sleepMs(1);
    const awake = this.#readByte(Pca9685Reg.MODE1);
    if ((awake & Mode1.RESTART) !== 0) this.#writeByte(Pca9685Reg.MODE1, Mode1.AI | Mode1.RESTART);
    const final = this.#readByte(Pca9685Reg.MODE1) & ~Mode1.RESTART;
    if (final !== Mode1.AI) throw this.problem(Pca9685Reg.MODE1, `reads ${hex(final)} after waking (want ${hex(Mode1.AI)})`, 'power-cycle the PCA9685; check its supply (VCC 3.3 V) and the address');
    this.#open = true;
  }

  /**
   * Which channels flush() writes: first..last in blocks of at most 8 channels (32 bytes, the
   * i2c-dev block limit). Channels in between that no joint uses are written from the shadow
   * (full OFF), which is harmless.
   */
  setSpan(first: number, last: number): void {
    if (!(first >= 0 && last < PCA9685_CHANNELS && first <= last)) throw new RangeError(`PCA9685 channel span ${first}..${last} must lie in 0..15`);
    const chunks: { register: number; length: number; view: Buffer }[] = [];
    for (let c = first; c <= last; c += 8) {
      const n = Math.min(8, last - c + 1);
      chunks.push({ register: Pca9685Reg.LED0_ON_L + 4 * c, length: 4 * n, view: this.#shadow.subarray(4 * c, 4 * (c + n)) });
    }
    this.#chunks = chunks;
  }

  /** Set channel's pulse to `counts` (0..4095) of the 4096-count frame (0 = full OFF). Shadow only. */
  setCounts(channel: number, counts: number): void {
    const base = channel * 4;
    const s = this.#shadow;
    s[base] = 0;
    s[base + 1] = 0;
    if (counts <= 0) {
      s[base + 2] = 0;
      s[base + 3] = FULL;
    } else {
      const c = counts > 4095 ? 4095 : counts;
      s[base + 2] = c & 0xff;
      s[base + 3] = (c >> 8) & 0x0f;
    }
  }

  /** Set channel full OFF in the shadow (no pulses). */
  setOff(channel: number): void {
    this.setCounts(channel, 0);
  }

  /** Pulse counts of a channel in the shadow (0 when full OFF). */
  counts(channel: number): number {
    const s = this.#shadow;
    const base = channel * 4;
    if ((s[base + 3] & FULL) !== 0) return 0;
    return ((s[base + 3] & 0x0f) << 8) | s[base + 2];
  }

  /** Write the configured span of the shadow to the chip: one block transaction per 8 channels. */
  flush(): void {
    const chunks = this.#chunks;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      try {
        this.bus.writeBlock(this.address, chunk.register, chunk.length, chunk.view);
      } catch (error) {
        throw this.fail(error, chunk.register);
      }
    }
  }

  /** Every channel full OFF now (ALL_LED_OFF_H bit 4), shadow too. */
  allOff(): void {
    for (let c = 0; c < PCA9685_CHANNELS; c++) this.setCounts(c, 0);
    this.#fullOffAll();
  }

  /** Drive /OE (no-op without a line): false = outputs forced low at once. */
  enableOutputs(on: boolean): void {
    this.#outputsEnabled = on;
    if (this.outputEnable !== undefined) this.outputEnable.write(on ? 1 : 0);
  }

  /** Safe state: /OE deasserted first (works without I2C), then full OFF and SLEEP. */
  close(): void {
    this.enableOutputs(false);
    if (!this.#open) return;
    this.#open = false;
    this.allOff();
    this.#writeByte(Pca9685Reg.MODE1, Mode1.SLEEP | Mode1.AI);
  }

  /** Read MODE1 (a cheap liveness/reset check: a chip that reset reads SLEEP | ALLCALL). */
  readMode1(): number {
    return this.#readByte(Pca9685Reg.MODE1);
  }

  #fullOffAll(): void {
    try {
      this.bus.writeBlock(this.address, Pca9685Reg.ALL_LED_ON_L, 4, this.#allOff);
    } catch (error) {
      throw this.fail(error, Pca9685Reg.ALL_LED_ON_L);
    }
  }

  #readByte(register: number): number {
    try {
      return this.bus.readByte(this.address, register);
    } catch (error) {
      throw this.fail(error, register);
    }
  }

  #writeByte(register: number, value: number): void {
    try {
      this.bus.writeByte(this.address, register, value);
    } catch (error) {
      throw this.fail(error, register);
    }
  }
}
