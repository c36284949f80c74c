/**
 * A small ring of the last transactions, for tests and for debugging a device: fixed typed
 * arrays, so recording never allocates; `entries()` (off the tick) turns them into objects.
 */
import { I2C_BLOCK_MAX, i2cOpNames, type I2cOpName } from './types.js';

export interface I2cLogEntry {
  readonly op: I2cOpName;
  readonly address: number;
  /** -1 for sendByte/receiveByte. */
  readonly register: number;
  /** Data bytes in wire order after the register byte (a word: low byte first). */
  readonly data: number[];
  readonly ok: boolean;
}

export class I2cTransactionLog {
  readonly capacity: number;
  readonly #meta: Int32Array;
  readonly #data: Uint8Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 4096) {
    this.capacity = capacity;
    this.#meta = new Int32Array(capacity * 5);
    this.#data = new Uint8Array(capacity * I2C_BLOCK_MAX);
  }

  /** Transactions recorded since construction or clear() (the ring keeps the last `capacity`). */
  get count(): number {
    return this.#count;
  }

  clear(): void {
    this.#next = 0;
    this.#count = 0;
  }

  /** Record one attempt. `word` is the byte or word value; `block` the block data (length bytes). */
  record(op: number, address: number, register: number, length: number, word: number, block: Uint8Array | null, ok: boolean): void {
    const slot = this.#next;
    const m = slot * 5;
    this.#meta[m] = op;
    this.#meta[m + 1] = address;
    this.#meta[m + 2] = register;
    this.#meta[m + 3] = length;
    this.#meta[m + 4] = ok ? 1 : 0;
    const d = slot * I2C_BLOCK_MAX;
    if (block !== null) {
      for (let i = 0; i < length; i++) this.#data[d + i] = block[i];
    } else {
      this.#data[d] = word & 0xff;
      this.#data[d + 1] = (word >> 8) & 0xff;
    }
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    this.#count++;
  }

  /** The recorded transactions, oldest first. */
  entries(): I2cLogEntry[] {
    const kept = Math.min(this.#count, this.capacity);
    const first = this.#count > this.capacity ? this.#next : 0;
    const out: I2cLogEntry[] = [];
    for (let k = 0; k < kept; k++) {
      const slot = (first + k) % this.capacity;
      const m = slot * 5;
      const length = this.#meta[m + 3];
      const d = slot * I2C_BLOCK_MAX;
      out.push({
        op: i2cOpNames[this.#meta[m]],
        address: this.#meta[m + 1],
        register: this.#meta[m + 2],
        data: Array.from(this.#data.subarray(d, d + length)),
        ok: this.#meta[m + 4] === 1,
      });
    }
    return out;
  }
}
