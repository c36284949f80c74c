/**
 * Bus errors. A failed transaction becomes an `I2cError`: a HardwareError whose device is the bus
 * and address ('i2c-1 0x40') and whose message names the operation, the register, the errno and
 * what to check. Drivers wrap it once more with their chip's name (devices/i2c-device.ts).
 */
import { HardwareError } from '../types.js';
import { hex, i2cOpNames } from './types.js';

/** The errno code of a thrown error (`EREMOTEIO`), or '' when it has none. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return '';
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What each errno means on an I2C adapter and what to do about it. Linux adapter drivers return
 * EREMOTEIO or ENXIO for a NACK (i2c-bcm2835 on a Raspberry Pi: EREMOTEIO), ETIMEDOUT when the
 * transfer did not finish (a device holding SCL or SDA low), EAGAIN for lost arbitration.
 */
export function i2cFix(code: string, busNumber: number, address: number): string {
  switch (code) {
    case 'EREMOTEIO':
    case 'ENXIO':
      return `nothing acknowledged address ${hex(address)}: check the device's power, SDA/SCL wiring and address jumpers, then \`i2cdetect -y ${busNumber}\`; behind a TCA9548A, check the mux channel`;
    case 'ETIMEDOUT':
    case 'EAGAIN':
      return `the bus did not complete the transfer (a device holding SDA or SCL low, a missing or doubled pull-up, or a brown-out): power-cycle the I2C devices, check that one set of 2.2-10 kOhm pull-ups is fitted, and shorten the wires`;
    case 'EIO':
      return `I/O error on the adapter: check wiring and pull-ups, lower the bus clock (dtparam=i2c_arm_baudrate=100000), and look at \`dmesg\``;
    case 'ENOENT':
      return `enable I2C (raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on in /boot/firmware/config.txt) and load i2c-dev (modprobe i2c-dev)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission on /dev/i2c-${busNumber}: add the service user to the 'i2c' group or run as root`;
    case 'EBUSY':
      return `a kernel driver owns address ${hex(address)} on this bus (an overlay bound it): remove that overlay or use another address`;
    case 'EINVAL':
      return `the request was malformed (address, register or length out of range, or an adapter without this SMBus function): check the configuration`;
    case 'ECLOSED':
      return 'the bus was used after close(): open the hardware again';
    default:
      return `check wiring, pull-ups and power, and \`dmesg\` for adapter errors`;
  }
}

/** Errors worth another attempt: a NACK or a timeout can be a glitch; a missing device node cannot. */
export function isRetryable(code: string): boolean {
  return code === 'EREMOTEIO' || code === 'ENXIO' || code === 'ETIMEDOUT' || code === 'EAGAIN' || code === 'EIO';
}

export class I2cError extends HardwareError {
  /** Which transaction, by I2cOp code. */
  readonly operation: number;
  /** The errno code ('EREMOTEIO', 'ETIMEDOUT', …). */
  readonly code: string;
  readonly fix: string;
  /** The message without the device prefix. */
  readonly text: string;

  constructor(
    readonly bus: string,
    readonly busNumber: number,
    readonly address: number,
    /** The register (command byte), or -1 for sendByte/receiveByte. */
    readonly register: number,
    operation: number,
    code: string,
    detail: string,
    attempts: number,
  ) {
    const fix = i2cFix(code, busNumber, address);
    const where = register >= 0 ? ` register ${hex(register)}` : '';
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const text = `${i2cOpNames[operation] ?? 'transfer'}${where} failed${tries}: ${code || 'error'} (${detail}); fix: ${fix}`;
    super(`${bus} ${hex(address)}`, text);
    this.name = 'I2cError';
    this.text = text;
    this.operation = operation;
    this.code = code;
    this.fix = fix;
  }
}
