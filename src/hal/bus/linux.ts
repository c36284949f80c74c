/**
 * The real bus: /dev/i2c-N through the `i2c-bus` package's synchronous methods (each one an
 * ioctl(I2C_SMBUS) or read/write on a descriptor i2c-bus opened per address), so the control
 * worker can call it inside its tick. One LinuxI2cBus per adapter per thread (`openI2cBus` shares
 * it between drivers, reference-counted); a thread does its transactions one at a time, so the
 * kernel's adapter lock is the only serialisation needed against other processes.
 *
 * Timeouts: i2c-bus exposes no I2C_TIMEOUT/I2C_RETRIES ioctl and a synchronous ioctl cannot be
 * interrupted from JavaScript, so the per-transaction bound is the adapter driver's own (on a
 * Raspberry Pi, i2c-bcm2835 gives a transfer 1 s, and its clock-stretch timeout ends a transfer a
 * device stretches too long). A transfer that fails fast (NACK, lost arbitration, timeout) is
 * retried here up to `retries` times, then reported. Timing each transfer in JavaScript was not
 * done: performance.now() boxes a double per call on Node 20, and the control loop measures the
 * whole tick's lateness anyway.
 *
 * Threads: i2c-bus is a non-context-aware native addon (NODE_MODULE): only one live thread of a
 * process can load it (a second one gets "Module did not self-register"). embody loads it lazily,
 * in the control worker, at open; the main thread must not import it while a worker holds it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { I2CBus } from 'i2c-bus';
import { HardwareError } from '../types.js';
import { I2cBusBase, I2cTransferFault, type I2cBusOptions } from './base.js';
import { errorCode, errorText, i2cFix } from './errors.js';
import { I2cOp } from './types.js';

/** The synchronous subset of i2c-bus's Bus that embody uses (a test can stand in for it). */
export type I2cSyncBackend = Pick<
  I2CBus,
  | 'readByteSync'
  | 'writeByteSync'
  | 'readWordSync'
  | 'writeWordSync'
  | 'readI2cBlockSync'
  | 'writeI2cBlockSync'
  | 'sendByteSync'
  | 'receiveByteSync'
  | 'closeSync'
>;

export interface LinuxI2cBusOptions extends I2cBusOptions {
  /** i2c-bus `forceAccess`: use addresses a kernel driver already claimed (I2C_SLAVE_FORCE). */
  readonly forceAccess?: boolean;
  /** The backend to use instead of i2c-bus's openSync (tests). */
  readonly backend?: I2cSyncBackend;
}

type I2cBusModule = { openSync(busNumber: number, options?: { forceAccess?: boolean }): I2CBus };

function loadI2cBus(busNumber: number): I2cBusModule {
  try {
    return createRequire(import.meta.url)('i2c-bus') as I2cBusModule;
  } catch (error) {
    const text = errorText(error);
    const fix = text.includes('self-register')
      ? 'i2c-bus is a non-context-aware native addon and another thread of this process already loaded it: open the real buses in one thread only (the control worker)'
      : 'install it with `npm install` (its native build must be allowed: `npm install-scripts approve i2c-bus`) on a machine with make and a C++ compiler';
    throw new HardwareError(`i2c-${busNumber}`, `cannot load the i2c-bus native module (${text}); fix: ${fix}`);
  }
}

export class LinuxI2cBus extends I2cBusBase {
  readonly #backend: I2cSyncBackend;

  constructor(busNumber: number, options: LinuxI2cBusOptions = {}) {
    if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`I2C bus number must be a non-negative integer, got ${busNumber}`);
    super(busNumber, `i2c-${busNumber}`, options);
    if (options.backend) {
      this.#backend = options.backend;
    } else {
      // openSync only records the number (descriptors open per address on first use), so say
      // now, clearly, when the adapter is missing.
      const path = `/dev/i2c-${busNumber}`;
      if (!existsSync(path)) throw new HardwareError(this.name, `${path} does not exist (ENOENT); fix: ${i2cFix('ENOENT', busNumber, 0)}`);
      this.#backend = loadI2cBus(busNumber).openSync(busNumber, { forceAccess: options.forceAccess === true });
    }
  }

  protected transfer(op: number, address: number, register: number, value: number, length: number, buffer: Buffer | null): number {
    const b = this.#backend;
    switch (op) {
      case I2cOp.READ_BYTE:
        return b.readByteSync(address, register);
      case I2cOp.WRITE_BYTE:
        b.writeByteSync(address, register, value);
        return 0;
      case I2cOp.READ_WORD:
        return b.readWordSync(address, register);
      case I2cOp.WRITE_WORD:
        b.writeWordSync(address, register, value);
        return 0;
      case I2cOp.READ_BLOCK: {
        const got = b.readI2cBlockSync(address, register, length, buffer as Buffer);
        if (got !== length) throw new I2cTransferFault('EIO', `short read: ${got} of ${length} bytes`);
        return got;
      }
      case I2cOp.WRITE_BLOCK: {
        const put = b.writeI2cBlockSync(address, register, length, buffer as Buffer);
        if (put !== length) throw new I2cTransferFault('EIO', `short write: ${put} of ${length} bytes`);
        return put;
      }
      case I2cOp.SEND_BYTE:
        b.sendByteSync(address, value);
        return 0;
      default:
        return b.receiveByteSync(address);
    }
  }

  protected release(): void {
    try {
      this.#backend.closeSync();
    } catch (error) {
      throw new HardwareError(this.name, `close failed: ${errorText(error)}; fix: ${i2cFix(errorCode(error), this.busNumber, 0)}`);
    }
  }
}

interface Shared {
  readonly bus: LinuxI2cBus;
  refs: number;
}

const shared = new Map<number, Shared>();

/**
 * The one LinuxI2cBus of adapter `busNumber` in this thread, shared by every driver on it; each
 * call takes a reference and the bus closes when the last holder calls `release()`. Options only
 * apply when the bus is first opened.
 */
export function openI2cBus(busNumber: number, options: LinuxI2cBusOptions = {}): I2cBusHandle {
  let entry = shared.get(busNumber);
  if (entry === undefined || entry.bus.closed) {
    entry = { bus: new LinuxI2cBus(busNumber, options), refs: 0 };
    shared.set(busNumber, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    bus: held.bus,
    release: () => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0) {
        shared.delete(busNumber);
        held.bus.close();
      }
    },
  };
}

export interface I2cBusHandle {
  readonly bus: LinuxI2cBus;
  release(): void;
}
