/**
 * A streaming parser of Feetech status packets (`FF FF ID LEN ERR P… CHK`). Bytes from the port
 * go in as they come (a read may end mid-packet); whole, checksummed packets come out. Anything
 * else is skipped byte by byte until the next `FF FF` header, so line noise, a half packet left
 * from a timed-out reply or the echo of a bus that loops TX back are survived, and counted.
 * Allocation-free: one buffer made in the constructor, compacted in place.
 */
import { BROADCAST_ID, HEADER, checksum } from './protocol.js';

/** Longest LEN a status packet can carry (the SDK's RXPACKET_MAX_LEN is 250 bytes in all). */
const MAX_LEN = 250 - 4;

/** Slots of StatusParser.counts. */
export const ParserCount = { PACKETS: 0, GARBAGE_BYTES: 1, CHECKSUM_ERRORS: 2, SIZE: 3 } as const;

export class StatusParser {
  /** The last packet's id, error byte and parameter count; its parameters are in `params`. */
  id = 0;
  error = 0;
  length = 0;
  readonly params = new Uint8Array(MAX_LEN);
  /** Packets parsed, bytes skipped as garbage, checksum failures: totals since construction. */
  readonly counts = new Float64Array(ParserCount.SIZE);
  readonly #buffer: Uint8Array;
  #start = 0;
  #end = 0;

  constructor(capacity = 4096) {
    this.#buffer = new Uint8Array(capacity);
  }

  /** Space to read into: the caller fills `buffer[at .. at+room)` and calls commit(n). */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  /** Where the next bytes go; makes room first (compacts, or drops the oldest bytes if full). */
  reserve(): number {
    const buffer = this.#buffer;
    if (this.#start > 0 && this.#end > buffer.length / 2) {
      buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === buffer.length) {
      // Full of bytes that never made a packet: drop them (counted as garbage).
      this.counts[ParserCount.GARBAGE_BYTES] += this.#end - this.#start;
      this.#start = 0;
      this.#end = 0;
    }
    return this.#end;
  }

  get room(): number {
    return this.#buffer.length - this.#end;
  }

  commit(n: number): void {
    this.#end += n;
  }

  /** Append bytes (tests and the device model's replies; the port reads straight into `buffer`). */
  push(bytes: Uint8Array, from = 0, to = bytes.length): void {
    let at = from;
    while (at < to) {
      const into = this.reserve();
      const n = Math.min(this.room, to - at);
      this.#buffer.set(bytes.subarray(at, at + n), into);
      this.commit(n);
      at += n;
    }
  }

  /** Bytes waiting that did not make a packet yet. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /** Forget whatever is buffered (a new request starts on a clean line). */
  clear(): void {
    if (this.#end > this.#start) this.counts[ParserCount.GARBAGE_BYTES] += this.#end - this.#start;
    this.#start = 0;
    this.#end = 0;
  }

  /**
   * The next whole packet into id/error/params/length: true, or false when the buffered bytes
   * hold none yet. Bytes before a header and packets with a bad checksum or an impossible
   * length are skipped (one byte at a time, so a header inside them is still found).
   */
  next(): boolean {
    const b = this.#buffer;
    const counts = this.counts;
    for (;;) {
      const s = this.#start;
      const available = this.#end - s;
      if (available < 6) {
        // Keep a possible header start; drop what cannot start one.
        this.#skipToHeader();
        return false;
      }
      if (b[s] !== HEADER || b[s + 1] !== HEADER || b[s + 2] === HEADER || b[s + 2] === BROADCAST_ID) {
        this.#skip();
        continue;
      }
      const len = b[s + 3];
      if (len < 2 || len > MAX_LEN) {
        this.#skip();
        continue;
      }
      const size = len + 4;
      if (available < size) return false;
      const end = s + size - 1;
      if (checksum(b, s + 2, end) !== b[end]) {
        counts[ParserCount.CHECKSUM_ERRORS]++;
        this.#skip();
        continue;
      }
      this.id = b[s + 2];
      this.error = b[s + 4];
      const n = len - 2;
      this.length = n;
      const params = this.params;
      for (let i = 0; i < n; i++) params[i] = b[s + 5 + i];
      this.#start = s + size;
      counts[ParserCount.PACKETS]++;
      return true;
    }
  }

  #skip(): void {
    this.#start++;
    this.counts[ParserCount.GARBAGE_BYTES]++;
  }

  /** With fewer than a packet's bytes left, drop leading bytes that cannot begin a header. */
  #skipToHeader(): void {
    const b = this.#buffer;
    while (this.#start < this.#end) {
      const s = this.#start;
      if (b[s] === HEADER && (s + 1 === this.#end || b[s + 1] === HEADER)) return;
      this.#skip();
    }
  }
}
