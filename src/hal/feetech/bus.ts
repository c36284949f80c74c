/**
 * One Feetech bus: instruction packets out, status packets in, over a SerialLink. Two kinds of
 * traffic:
 * - the tick's: SYNC_WRITE of the goals and SYNC_READ of the feedback block, into buffers made at
 *   construction (`SyncRead`), polled without waiting and without allocating;
 * - one-servo transactions (PING, READ, WRITE) at open, in `embody check` and calibration: they
 *   wait for the answer with a deadline and may allocate.
 */
import { sleepMs } from '../sleep.js';
import { StatusParser } from './parser.js';
import { BROADCAST_ID, Instruction, frame, packetSize } from './protocol.js';
import type { SerialLink } from './serial.js';

/** Slots of FeetechBus.stats. LATE_TICKS: ticks whose replies were not all in when the tick began (the slow path). */
export const BusStat = { TX_BYTES: 0, RX_BYTES: 1, SYNC_READS: 2, RETRIES: 3, MISSING_REPLIES: 4, LATE_TICKS: 5, SIZE: 6 } as const;

/** Wire time of one byte at `baudRate`, µs: start bit, 8 data bits, stop bit. */
export function byteMicros(baudRate: number): number {
  return 10e6 / baudRate;
}

/** The replies of one SYNC_READ: per servo its data block, its error byte, and whether it came. */
export class SyncRead {
  readonly ids: Uint8Array;
  readonly address: number;
  readonly length: number;
  readonly data: Uint8Array;
  readonly error: Uint8Array;
  readonly got: Uint8Array;
  /** Servo id → its slot, −1 for ids not in this read. */
  readonly #slot = new Int16Array(256).fill(-1);
  missing = 0;

  constructor(ids: readonly number[], address: number, length: number) {
    this.ids = Uint8Array.from(ids);
    this.address = address;
    this.length = length;
    this.data = new Uint8Array(ids.length * length);
    this.error = new Uint8Array(ids.length);
    this.got = new Uint8Array(ids.length);
    ids.forEach((id, k) => (this.#slot[id] = k));
  }

  slotOf(id: number): number {
    return this.#slot[id];
  }

  reset(): void {
    this.got.fill(0);
    this.missing = this.ids.length;
  }
}

export class FeetechBus {
  readonly link: SerialLink;
  readonly baudRate: number;
  readonly parser = new StatusParser();
  /** Bytes sent and received, sync reads, retries and replies missing: totals. */
  readonly stats = new Float64Array(BusStat.SIZE);
  /** The id of the latest reply from a servo the read did not ask (−1: none yet): a mis-numbered servo. */
  strangerId = -1;
  /** Outgoing packets: each is framed at #queued and sent by flush() (one write per tick). */
  readonly #tx = new Uint8Array(1024);
  #queued = 0;

  constructor(link: SerialLink, baudRate: number) {
    this.link = link;
    this.baudRate = baudRate;
  }

  /**
   * Bytes waiting in the port into the parser; returns how many came. A read that does not fill
   * the room took all the kernel had, so one read is enough in a healthy tick (Node 20's readSync
   * allocates a small error-context object per call).
   */
  drain(): number {
    const parser = this.parser;
    let total = 0;
    for (;;) {
      const at = parser.reserve();
      const room = parser.room;
      const n = this.link.read(parser.buffer, at, room);
      if (n <= 0) break;
      parser.commit(n);
      total += n;
      if (n < room) break;
    }
    this.stats[BusStat.RX_BYTES] += total;
    return total;
  }

  /** Throw away whatever the port holds (stale replies) before a new exchange. */
  discardInput(): void {
    this.drain();
    this.parser.clear();
  }

  /** Frame a packet whose parameters are at #tx[#queued + 5 ...) and queue it. */
  #queue(id: number, instruction: number, params: number): void {
    this.#queued += frame(this.#tx, id, instruction, params, this.#queued);
  }

  /** Send every queued packet in one write. */
  flush(): void {
    const n = this.#queued;
    if (n === 0) return;
    this.#queued = 0;
    this.link.write(this.#tx, n);
    this.stats[BusStat.TX_BYTES] += n;
  }

  /** A one-servo instruction (parameters at #tx[5 ...), nothing queued): sent at once. */
  #send(id: number, instruction: number, params: number): void {
    this.#queue(id, instruction, params);
    this.flush();
  }

  /** Queue a SYNC_WRITE of `length` bytes at `address` to `count` servos: `values[k]` (little-endian) to `ids[k]`; flush() sends it. */
  syncWrite(address: number, length: number, ids: Uint8Array, values: Int32Array, count: number): void {
    const tx = this.#tx;
    const base = this.#queued + 5;
    tx[base] = address;
    tx[base + 1] = length;
    let at = base + 2;
    for (let k = 0; k < count; k++) {
      tx[at++] = ids[k];
      const v = values[k];
      for (let b = 0; b < length; b++) tx[at++] = (v >> (8 * b)) & 0xff;
    }
    this.#queue(BROADCAST_ID, Instruction.SYNC_WRITE, at - base);
  }

  /** Queue a SYNC_READ of the block of `read` from every servo whose reply is still missing (all after reset()); flush() sends it. */
  requestSyncRead(read: SyncRead): void {
    const tx = this.#tx;
    const base = this.#queued + 5;
    tx[base] = read.address;
    tx[base + 1] = read.length;
    let at = base + 2;
    const ids = read.ids;
    for (let k = 0; k < ids.length; k++) if (read.got[k] === 0) tx[at++] = ids[k];
    this.#queue(BROADCAST_ID, Instruction.SYNC_READ, at - base);
    this.stats[BusStat.SYNC_READS]++;
  }

  /** Parse what has come so far into `read`; returns how many replies are still missing. */
  pollSyncRead(read: SyncRead): number {
    this.drain();
    const parser = this.parser;
    const length = read.length;
    while (parser.next()) {
      const k = read.slotOf(parser.id);
      if (k < 0) {
        this.strangerId = parser.id;
        continue;
      }
      if (parser.length !== length || read.got[k] === 1) continue;
      const data = read.data;
      const params = parser.params;
      const base = k * length;
      for (let i = 0; i < length; i++) data[base + i] = params[i];
      read.error[k] = parser.error;
      read.got[k] = 1;
      read.missing--;
    }
    return read.missing;
  }

  /** Wire time of a SYNC_READ of `read` for `servos` servos and its replies, µs (no return delay). */
  syncReadMicros(read: SyncRead, servos: number): number {
    return (packetSize(2 + servos) + servos * packetSize(read.length)) * byteMicros(this.baudRate);
  }

  /**
   * Wait until every reply of `read` came or `deadline` (performance.now() ms) passed; returns the
   * number missing. Sleeps in steps of 0.1 ms: this is the retry path, not the tick's.
   */
  awaitSyncRead(read: SyncRead, deadline: number): number {
    while (this.pollSyncRead(read) > 0) {
      if (performance.now() >= deadline) break;
      sleepMs(0.1);
    }
    return read.missing;
  }

  /** One status packet from `id` within `timeoutMs`, or undefined. */
  #answer(id: number, timeoutMs: number): { error: number; data: Uint8Array } | undefined {
    const deadline = performance.now() + timeoutMs;
    const parser = this.parser;
    for (;;) {
      this.drain();
      while (parser.next()) {
        if (parser.id === id) return { error: parser.error, data: parser.params.slice(0, parser.length) };
      }
      if (performance.now() >= deadline) return undefined;
      sleepMs(0.1);
    }
  }

  /** PING: the servo's error byte, or undefined when nothing answered. */
  ping(id: number, timeoutMs = 10): number | undefined {
    this.flush();
    this.discardInput();
    this.#send(id, Instruction.PING, 0);
    return this.#answer(id, timeoutMs)?.error;
  }

  /** READ `length` bytes at `address`: the bytes and the error byte, or undefined. */
  read(id: number, address: number, length: number, timeoutMs = 10): { error: number; data: Uint8Array } | undefined {
    this.flush();
    this.discardInput();
    this.#tx[5] = address;
    this.#tx[6] = length;
    this.#send(id, Instruction.READ, 2);
    const answer = this.#answer(id, timeoutMs);
    return answer !== undefined && answer.data.length === length ? answer : undefined;
  }

  /** WRITE `bytes` at `address`; the error byte of the acknowledgement, or undefined. */
  write(id: number, address: number, bytes: readonly number[], timeoutMs = 10): number | undefined {
    this.flush();
    this.discardInput();
    this.#tx[5] = address;
    bytes.forEach((b, i) => (this.#tx[6 + i] = b & 0xff));
    this.#send(id, Instruction.WRITE, 1 + bytes.length);
    return this.#answer(id, timeoutMs)?.error;
  }
}
