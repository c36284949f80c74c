/**
 * What the chip drivers share: where the chip is (bus, address, optionally a TCA9548A channel),
 * its name for errors, and the one error shape every driver throws: a HardwareError whose device
 * names the chip, bus and address ("AS5600 'elbow' (i2c-1 0x36, mux 0x70 ch 2)") and whose
 * message names the register and the fix from the bus error underneath.
 */
import { I2cError } from '../bus/errors.js';
import { hex, type I2cBus } from '../bus/types.js';
import { HardwareError } from '../types.js';

/** Where a chip behind a mux sits: the mux driver and its channel. */
export interface MuxRoute {
  readonly mux: { select(channel: number): void; readonly address: number };
  readonly channel: number;
}

/** A driver's failure: which chip, where, which register, why, what to do. */
export class I2cDeviceError extends HardwareError {
  constructor(
    device: string,
    readonly chip: string,
    readonly bus: string,
    readonly address: number,
    /** Register involved, or -1. */
    readonly register: number,
    message: string,
    readonly code: string,
  ) {
    super(device, message);
    this.name = 'I2cDeviceError';
  }
}

export abstract class I2cDevice {
  readonly bus: I2cBus;
  readonly address: number;
  readonly route: MuxRoute | undefined;
  /** "PCA9685 'servos' (i2c-1 0x40)": every error of this chip carries it. */
  readonly device: string;
  readonly chip: string;

  protected constructor(chip: string, label: string | undefined, bus: I2cBus, address: number, route?: MuxRoute) {
    this.chip = chip;
    this.bus = bus;
    this.address = address;
    this.route = route;
    const via = route ? `, mux ${hex(route.mux.address)} ch ${route.channel}` : '';
    this.device = `${chip}${label ? ` '${label}'` : ''} (${bus.name} ${hex(address)}${via})`;
  }

  /** Route the bus to this chip (a no-op without a mux; the mux skips a repeated selection). */
  protected connect(): void {
    if (this.route !== undefined) this.route.mux.select(this.route.channel);
  }

  /** Name of a register for messages ("MODE1 (0x00)"). */
  protected abstract registerName(register: number): string;

  /** Wrap a bus error (or anything thrown under a transaction) with this chip's identity. */
  protected fail(error: unknown, register: number): HardwareError {
    if (error instanceof I2cDeviceError) return error;
    const reg = error instanceof I2cError && error.register >= 0 ? error.register : register;
    const what = reg >= 0 ? ` register ${this.registerName(reg)}` : '';
    if (error instanceof I2cError) {
      return new I2cDeviceError(this.device, this.chip, this.bus.name, this.address, reg, error.text.replace(/ register 0x[0-9a-f]+/, what), error.code);
    }
    const text = error instanceof Error ? error.message : String(error);
    return new I2cDeviceError(this.device, this.chip, this.bus.name, this.address, reg, `${what.trim() || 'transfer'}: ${text}`, '');
  }

  /** A check of the chip itself failed (identity, read-back, status): no bus error underneath. */
  protected problem(register: number, message: string, fix: string): I2cDeviceError {
    const what = register >= 0 ? `register ${this.registerName(register)}: ` : '';
    return new I2cDeviceError(this.device, this.chip, this.bus.name, this.address, register, `${what}${message}; fix: ${fix}`, 'EPROTO');
  }
}
