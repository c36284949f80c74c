/**
 * AS5600 12-bit contactless magnetic rotary position sensor (ams datasheet AS5600, v1-06), the
 * joint encoder for hobby servos, which report no position themselves.
 *
 * Register map ("Register Description", Figure 21):
 *   0x00 ZMCO (OTP burn count) · 0x01-02 ZPOS · 0x03-04 MPOS · 0x05-06 MANG (start/stop/range, OTP)
 *   0x07-08 CONF   0x07: WD[5] FTH[4:2] SF[1:0]; 0x08: PWMF[7:6] OUTS[5:4] HYST[3:2] PM[1:0]
 *   0x0B STATUS    MD[5] magnet detected, ML[4] too weak (AGC at max), MH[3] too strong (AGC at min)
 *   0x0C-0D RAW ANGLE  12-bit, unscaled · 0x0E-0F ANGLE  12-bit, scaled by ZPOS/MPOS/MANG
 *   0x1A AGC · 0x1B-1C MAGNITUDE · 0xFF BURN (never written here: OTP, 3 burns per chip)
 * Address: fixed 0x36 ("I²C Interface"); several encoders need one bus or one TCA9548A channel
 * each (the AS5600L variant has a programmable address).
 * Pointer quirk ("I²C Modes"): with the pointer set to the high byte of RAW ANGLE, ANGLE or
 * MAGNITUDE, reads do not increment past the low byte, so they can be re-read without a pointer
 * write; from any other start the pointer increments normally. sample() starts at STATUS and reads
 * STATUS, RAW ANGLE high, RAW ANGLE low in one 3-byte transaction.
 * Slow filter ("Output Stage"): SF 00 = 16× (2.2 ms settling), 01 = 8× (1.1 ms), 10 = 4×
 * (0.55 ms), 11 = 2× (0.286 ms); noise goes up as settling goes down.
 * There is no WHO_AM_I: open() checks STATUS (a magnet in range) and that CONF reads back.
 * Zero and direction are applied in software (ServoArmHardware), so no OTP is burnt.
 */
import type { I2cBus } from '../bus/types.js';
import { hex } from '../bus/types.js';
import { I2cDevice, type MuxRoute } from './i2c-device.js';

export const As5600Reg = { ZMCO: 0x00, ZPOS_H: 0x01, CONF_H: 0x07, CONF_L: 0x08, STATUS: 0x0b, RAW_ANGLE_H: 0x0c, ANGLE_H: 0x0e, AGC: 0x1a, MAGNITUDE_H: 0x1b, BURN: 0xff } as const;
export const As5600Status = { MD: 0x20, ML: 0x10, MH: 0x08 } as const;
export const AS5600_ADDRESS = 0x36;
export const AS5600_COUNTS = 4096;

/**
 * RAW ANGLE `raw` as counts from `zeroRaw`, wrapped to one turn around it: −2048..2047. An
 * integer, so the control tick can call this without a boxed double.
 */
export function as5600Counts(raw: number, zeroRaw: number): number {
  let counts = raw - zeroRaw;
  if (counts >= AS5600_COUNTS / 2) counts -= AS5600_COUNTS;
  else if (counts < -AS5600_COUNTS / 2) counts += AS5600_COUNTS;
  return counts;
}

/**
 * Joint units per count of an encoder mounted with `direction` (±1) whose magnet turns once per
 * `travelPerTurn` of joint travel (2π rad for a magnet on the joint shaft). Joint position =
 * as5600UnitsPerCount(...) × as5600Counts(raw, zero_raw).
 */
export function as5600UnitsPerCount(direction = 1, travelPerTurn = 2 * Math.PI): number {
  return (direction * travelPerTurn) / AS5600_COUNTS;
}

export interface As5600Options {
  readonly label?: string;
  readonly route?: MuxRoute;
  /** Slow filter SF (0: 16×, 1: 8×, 2: 4×, 3: 2×). Default 1 (8×, 1.1 ms). */
  readonly slowFilter?: 0 | 1 | 2 | 3;
  /** Fast filter threshold FTH 0..7 (0: slow filter only). Default 0. */
  readonly fastFilterThreshold?: number;
  /** Throw from sample() when STATUS says the magnet is too weak or too strong, not only missing. */
  readonly strictMagnet?: boolean;
}

export class As5600 extends I2cDevice {
  /** Latest RAW ANGLE, 0..4095. */
  raw = 0;
  /** Latest STATUS byte. */
  status = 0;
  /** Samples whose STATUS showed ML or MH (angle still valid, accuracy reduced). */
  magnetWarnings = 0;
  readonly #conf: Buffer;
  readonly #confBack = Buffer.alloc(2);
  readonly #block = Buffer.alloc(3);
  readonly #strict: boolean;

  constructor(bus: I2cBus, address = AS5600_ADDRESS, options: As5600Options = {}) {
    super('AS5600', options.label, bus, address, options.route);
    const sf = options.slowFilter ?? 1;
    const fth = options.fastFilterThreshold ?? 0;
    if (!(fth >= 0 && fth <= 7)) throw new RangeError(`AS5600 fast filter threshold must be 0..7, got ${fth}`);
    this.#conf = Buffer.from([(fth << 2) | sf, 0x00]);
    this.#strict = options.strictMagnet === true;
  }

  protected registerName(register: number): string {
    switch (register) {
      case As5600Reg.STATUS:
        return 'STATUS (0x0b)';
      case As5600Reg.RAW_ANGLE_H:
        return 'RAW ANGLE (0x0c)';
      case As5600Reg.CONF_H:
        return 'CONF (0x07)';
      default:
        return hex(register);
    }
  }

  /** STATUS must show a magnet in range; CONF must read back what is written. */
  open(): void {
    this.connect();
    const status = this.#readByte(As5600Reg.STATUS);
    this.#checkMagnet(status, true);
    try {
      this.bus.writeBlock(this.address, As5600Reg.CONF_H, 2, this.#conf);
      this.bus.readBlock(this.address, As5600Reg.CONF_H, 2, this.#confBack);
    } catch (error) {
      throw this.fail(error, As5600Reg.CONF_H);
    }
    const back = ((this.#confBack[0] & 0x3f) << 8) | this.#confBack[1];
    const want = (this.#conf[0] << 8) | this.#conf[1];
    if (back !== want) {
      throw this.problem(As5600Reg.CONF_H, `reads ${hex(back, 4)} after writing ${hex(want, 4)}`, `check that an AS5600 is at ${hex(this.address)}${this.route ? ` on mux channel ${this.route.channel}` : ''} and powered (VDD 3.3 V: 3V3 and VDD5V pins bridged)`);
    }
    this.raw = this.#sampleRaw();
  }

  /** Once per tick: STATUS and RAW ANGLE in one 3-byte read. Returns RAW ANGLE (0..4095). */
  sample(): number {
    this.connect();
    this.raw = this.#sampleRaw();
    return this.raw;
  }

  #sampleRaw(): number {
    const block = this.#block;
    try {
      this.bus.readBlock(this.address, As5600Reg.STATUS, 3, block);
    } catch (error) {
      throw this.fail(error, As5600Reg.STATUS);
    }
    const status = block[0];
    this.status = status;
    if ((status & (As5600Status.MD | As5600Status.ML | As5600Status.MH)) !== As5600Status.MD) this.#checkMagnet(status, this.#strict);
    return ((block[1] & 0x0f) << 8) | block[2];
  }

  #checkMagnet(status: number, strict: boolean): void {
    if ((status & As5600Status.MD) === 0) {
      throw this.problem(As5600Reg.STATUS, `no magnet detected (STATUS ${hex(status)}, MD = 0)`, 'mount a diametrically magnetised magnet centred over the chip, 0.5-3 mm away; check the chip is an AS5600');
    }
    if ((status & (As5600Status.ML | As5600Status.MH)) === 0) return;
    if (!strict) {
      this.magnetWarnings++;
      return;
    }
    const weak = (status & As5600Status.ML) !== 0;
    throw this.problem(As5600Reg.STATUS, `magnet too ${weak ? 'weak (ML)' : 'strong (MH)'}: STATUS ${hex(status)}`, weak ? 'move the magnet closer (gap 0.5-3 mm) or use a stronger one' : 'move the magnet further away');
  }

  #readByte(register: number): number {
    try {
      return this.bus.readByte(this.address, register);
    } catch (error) {
      throw this.fail(error, register);
    }
  }
}
