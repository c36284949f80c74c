/**
 * AS5600 register model (ams datasheet, "Register Description"): a magnet angle in, 12-bit RAW
 * ANGLE out, STATUS from the magnet's strength, CONF and ZPOS/MPOS/MANG read/write, ANGLE scaled
 * by them; 0x36 only.
 * Pointer quirk: a pointer written to the high byte of RAW ANGLE (0x0C), ANGLE (0x0E) or
 * MAGNITUDE (0x1B) stays on that register pair (high, low, high, low…); any other start
 * auto-increments.
 * Truth: `angle[0]` = magnet angle, rad (ServoArmModel sets it from the joint and the mounting).
 * Faults: 'stale' = RAW ANGLE and ANGLE frozen at their last value; 'wrong-id' = STATUS reads 0
 * and CONF ignores writes (some other chip). `magnet` = 'none' | 'weak' | 'strong' | 'ok'.
 */
import { DeviceModel, type ModelFault, type SimClock } from './model.js';

export type MagnetState = 'ok' | 'weak' | 'strong' | 'none';

const STATUS = 0x0b;
const RAW_H = 0x0c;
const ANGLE_H = 0x0e;
const AGC = 0x1a;
const MAGNITUDE_H = 0x1b;
const BURN = 0xff;
const COUNTS_PER_RAD = 4096 / (2 * Math.PI);

export class As5600Model extends DeviceModel {
  /** Truth: magnet angle, rad. */
  readonly angle = new Float64Array(1);
  magnet: MagnetState = 'ok';
  /** Stored registers (ZPOS, MPOS, MANG, CONF); the measured ones are computed on read. */
  readonly registers = new Uint8Array(256);
  /** BURN commands received (never sent by embody). */
  burns = 0;
  #pointer = 0;
  #sticky = false;
  #frozenRaw = 0;

  constructor(clock: SimClock, name = 'AS5600 model') {
    super(name, clock);
  }

  /** RAW ANGLE as the chip would output it now, 0..4095. */
  get rawAngle(): number {
    if (this.stale) return this.#frozenRaw;
    // `| 0` then `& 4095`: an int32 all the way, so returning it never boxes a double.
    return (Math.round(this.angle[0] * COUNTS_PER_RAD) | 0) & 4095;
  }

  protected override onFault(fault: ModelFault): void {
    if (fault === 'stale') {
      this.#frozenRaw = (Math.round(this.angle[0] * COUNTS_PER_RAD) | 0) & 4095;
    }
  }

  write(data: Uint8Array, length: number): void {
    if (length === 0) return;
    const start = data[0];
    this.#pointer = start;
    this.#sticky = start === RAW_H || start === ANGLE_H || start === MAGNITUDE_H;
    for (let k = 1; k < length; k++) {
      this.#store(this.#pointer, data[k]);
      this.#pointer = (this.#pointer + 1) & 0xff;
    }
  }

  read(out: Uint8Array, offset: number, length: number): void {
    const start = this.#pointer;
    for (let k = 0; k < length; k++) {
      const reg = this.#sticky ? start + (k & 1) : (start + k) & 0xff;
      out[offset + k] = this.#load(reg);
    }
    if (!this.#sticky) this.#pointer = (start + length) & 0xff;
  }

  #angleRegister(): number {
    const r = this.registers;
    const zpos = ((r[0x01] & 0x0f) << 8) | r[0x02];
    const mpos = ((r[0x03] & 0x0f) << 8) | r[0x04];
    const mang = ((r[0x05] & 0x0f) << 8) | r[0x06];
    const relative = (this.rawAngle - zpos + 4096) & 4095;
    const range = mang !== 0 ? mang : mpos !== 0 ? (mpos - zpos + 4096) & 4095 : 4096;
    if (range === 4096) return relative;
    return Math.min(4095, Math.round((Math.min(relative, range) * 4096) / range) | 0);
  }

  #load(reg: number): number {
    if (this.wrongId) return 0;
    switch (reg) {
      case STATUS:
        return this.magnet === 'none' ? 0 : 0x20 | (this.magnet === 'weak' ? 0x10 : 0) | (this.magnet === 'strong' ? 0x08 : 0);
      case RAW_H:
        return this.rawAngle >> 8;
      case RAW_H + 1:
        return this.rawAngle & 0xff;
      case ANGLE_H:
        return this.#angleRegister() >> 8;
      case ANGLE_H + 1:
        return this.#angleRegister() & 0xff;
      case AGC:
        return this.magnet === 'weak' ? 255 : this.magnet === 'strong' ? 0 : 128;
      case MAGNITUDE_H:
        return this.magnet === 'none' ? 0 : 0x07;
      case MAGNITUDE_H + 1:
        return this.magnet === 'none' ? 0 : 0xd0;
      default:
        return this.registers[reg];
    }
  }

  #store(reg: number, value: number): void {
    if (reg === BURN) {
      this.burns++;
      return;
    }
    if (this.wrongId) return;
    if (reg === 0x01 || reg === 0x03 || reg === 0x05) this.registers[reg] = value & 0x0f;
    else if (reg === 0x07) this.registers[reg] = value & 0x3f;
    else if (reg === 0x02 || reg === 0x04 || reg === 0x06 || reg === 0x08) this.registers[reg] = value;
    // everything else is read-only
  }
}
