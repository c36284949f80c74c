/**
 * What every bus does around a single transfer: argument checks, bounded retries, counting
 * (transactions, wire bytes, failures, retries) and the transaction log, then one I2cError that
 * names bus, address, register and a fix. Subclasses implement `transfer()`: one attempt, by
 * opcode, throwing an error with an errno `code` on failure. One retry loop for every operation
 * and integer-only arguments, so the success path allocates nothing and creates no closures.
 */
import { errorCode, errorText, I2cError, isRetryable } from './errors.js';
import type { I2cTransactionLog } from './log.js';
import { I2C_BLOCK_MAX, I2cOp, I2cStat, wireBytes, type I2cBus } from './types.js';

export interface I2cBusOptions {
  /** Extra attempts after a failed one (NACK, timeout, lost arbitration, EIO). Default 2. */
  readonly retries?: number;
  /** Record every attempt here (tests, debugging). */
  readonly log?: I2cTransactionLog;
}

/** An error thrown by one attempt, carrying an errno code like Node's system errors. */
export class I2cTransferFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'I2cTransferFault';
  }
}

export abstract class I2cBusBase implements I2cBus {
  readonly busNumber: number;
  readonly name: string;
  readonly stats = new Float64Array(I2cStat.SIZE);
  lastFailedAddress = -1;
  /** Attach or detach a transaction log at any time. */
  log: I2cTransactionLog | undefined;
  readonly retries: number;
  #closed = false;

  protected constructor(busNumber: number, name: string, options: I2cBusOptions = {}) {
    const retries = options.retries ?? 2;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new RangeError(`retries must be an integer 0..10, got ${retries}`);
    this.busNumber = busNumber;
    this.name = name;
    this.retries = retries;
    this.log = options.log;
  }

  /** One attempt of one transaction; returns the value read (0 for writes). */
  protected abstract transfer(op: number, address: number, register: number, value: number, length: number, buffer: Buffer | null): number;
  protected abstract release(): void;

  get closed(): boolean {
    return this.#closed;
  }

  readByte(address: number, register: number): number {
    return this.#run(I2cOp.READ_BYTE, address, register, 0, 1, null);
  }

  writeByte(address: number, register: number, value: number): void {
    this.#run(I2cOp.WRITE_BYTE, address, register, value & 0xff, 1, null);
  }

  readWord(address: number, register: number): number {
    return this.#run(I2cOp.READ_WORD, address, register, 0, 2, null);
  }

  writeWord(address: number, register: number, value: number): void {
    this.#run(I2cOp.WRITE_WORD, address, register, value & 0xffff, 2, null);
  }

  readBlock(address: number, register: number, length: number, into: Buffer): void {
    this.#run(I2cOp.READ_BLOCK, address, register, 0, length, into);
  }

  writeBlock(address: number, register: number, length: number, from: Buffer): void {
    this.#run(I2cOp.WRITE_BLOCK, address, register, 0, length, from);
  }

  sendByte(address: number, value: number): void {
    this.#run(I2cOp.SEND_BYTE, address, -1, value & 0xff, 1, null);
  }

  receiveByte(address: number): number {
    return this.#run(I2cOp.RECEIVE_BYTE, address, -1, 0, 1, null);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
  }

  #run(op: number, address: number, register: number, value: number, length: number, buffer: Buffer | null): number {
    if (this.#closed) throw this.#error(op, address, register, 'ECLOSED', 'the bus is closed', 1);
    if (!(address >= 0x03 && address <= 0x77 && (address | 0) === address)) {
      throw this.#error(op, address, register, 'EINVAL', `address must be a 7-bit address 0x03..0x77`, 1);
    }
    if (register > 0xff || (register < 0 && op < I2cOp.SEND_BYTE) || (register | 0) !== register) {
      throw this.#error(op, address, register, 'EINVAL', `register must be 0x00..0xff`, 1);
    }
    if (buffer !== null && !(length >= 1 && length <= I2C_BLOCK_MAX && length <= buffer.length && (length | 0) === length)) {
      throw this.#error(op, address, register, 'EINVAL', `block length ${length} must be 1..${I2C_BLOCK_MAX} and fit the buffer (${buffer.length})`, 1);
    }
    const stats = this.stats;
    const bytes = wireBytes(op, length);
    for (let attempt = 1; ; attempt++) {
      stats[I2cStat.TRANSACTIONS] += 1;
      stats[I2cStat.BYTES] += bytes;
      let result = 0;
      try {
        result = this.transfer(op, address, register, value, length, buffer);
      } catch (error) {
        stats[I2cStat.FAILURES] += 1;
        this.lastFailedAddress = address;
        if (this.log !== undefined) this.log.record(op, address, register, length, value, buffer, false);
        const code = errorCode(error);
        if (attempt > this.retries || !isRetryable(code)) {
          stats[I2cStat.ERRORS] += 1;
          throw this.#error(op, address, register, code, errorText(error), attempt);
        }
        stats[I2cStat.RETRIES] += 1;
        continue;
      }
      if (this.log !== undefined) this.log.record(op, address, register, length, op === I2cOp.READ_BYTE || op === I2cOp.READ_WORD || op === I2cOp.RECEIVE_BYTE ? result : value, buffer, true);
      return result;
    }
  }

  #error(op: number, address: number, register: number, code: string, detail: string, attempts: number): I2cError {
    return new I2cError(this.name, this.busNumber, address, register, op, code, detail, attempts);
  }
}
