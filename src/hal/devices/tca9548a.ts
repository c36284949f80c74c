/**
 * TCA9548A 1-to-8 I2C switch (TI datasheet SCPS207). Used here because the AS5600 has one fixed
 * address (0x36): several encoders on one bus need one mux channel each (or one bus each).
 *
 * Datasheet facts used:
 * - "Device Address": 1110 A2 A1 A0 → 0x70..0x77 (0x70 with all address pins low).
 * - "Control Register": a single 8-bit register, no register pointer: the byte written is the
 *   register, bit n = 1 connects channel n (several may be on at once); reading returns it.
 *   A channel is connected after the STOP that ends the write. Power-up (and RESET low): 0x00,
 *   every channel off.
 * - Conflict to know: a PCA9685's ALL CALL address is 0x70 by default (ALLCALL bit in its MODE1);
 *   the PCA9685 driver clears that bit at open, so a mux at 0x70 works, but open the PCA9685
 *   first (ServoArmHardware does) or put the mux at 0x71+.
 */
import type { I2cBus } from '../bus/types.js';
import { hex } from '../bus/types.js';
import { I2cDevice } from './i2c-device.js';

export const TCA9548A_DEFAULT_ADDRESS = 0x70;

export class Tca9548a extends I2cDevice {
  /** Last value written to the control register (-1: unknown, select() writes). */
  #selected = -1;
  /** Mux selections actually written (skipped repeats are not counted). */
  switches = 0;

  constructor(bus: I2cBus, address = TCA9548A_DEFAULT_ADDRESS, label?: string) {
    super('TCA9548A', label, bus, address);
    if (!(address >= 0x70 && address <= 0x77)) throw new RangeError(`TCA9548A address must be 0x70..0x77, got ${hex(address)}`);
  }

  protected registerName(): string {
    return 'CONTROL';
  }

  /** Check the chip answers and its control register reads back; leave every channel off. */
  open(): void {
    for (const pattern of [0xa5, 0x00]) {
      this.#write(pattern);
      let back: number;
      try {
        back = this.bus.receiveByte(this.address);
      } catch (error) {
        throw this.fail(error, -1);
      }
      if (back !== pattern) {
        throw this.problem(-1, `control register reads ${hex(back)} after writing ${hex(pattern)}`, `a TCA9548A at ${hex(this.address)} reads back what was written: check the address (A0-A2 pins) and that no other chip answers there (a PCA9685's ALL CALL is 0x70)`);
      }
    }
  }

  /** Connect exactly `channel` (0..7). Skips the write when it is already the connected one. */
  select(channel: number): void {
    const mask = 1 << channel;
    if (mask === this.#selected) return;
    this.#write(mask);
  }

  /** Disconnect every channel. */
  deselect(): void {
    this.#write(0);
  }

  /** Forget what is connected (after a bus error the next select() writes again). */
  invalidate(): void {
    this.#selected = -1;
  }

  #write(mask: number): void {
    try {
      this.bus.sendByte(this.address, mask);
    } catch (error) {
      this.#selected = -1;
      throw this.fail(error, -1);
    }
    this.#selected = mask;
    this.switches++;
  }
}
