/**
 * TCA9548A 1-to-8 switch model: one control register, no pointer; the byte written connects the
 * channels of its set bits (the last byte of a write wins), a read returns it; power-up 0x00.
 * The emulated bus consults `channelMask` to reach the chips behind it.
 */
import type { I2cMuxModel } from '../../bus/emulated.js';
import { DeviceModel, type SimClock } from './model.js';

export class Tca9548aModel extends DeviceModel implements I2cMuxModel {
  #control = 0;

  constructor(clock: SimClock, name = 'TCA9548A model') {
    super(name, clock);
  }

  get channelMask(): number {
    return this.#control;
  }

  write(data: Uint8Array, length: number): void {
    if (length > 0 && !this.wrongId) this.#control = data[length - 1];
  }

  read(out: Uint8Array, offset: number, length: number): void {
    for (let i = 0; i < length; i++) out[offset + i] = this.wrongId ? 0xff : this.#control;
  }

  /** Pulse /RESET: every channel off. */
  reset(): void {
    this.#control = 0;
  }
}
