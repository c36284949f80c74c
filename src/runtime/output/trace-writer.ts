/**
 * The per-tick trace as JSON lines: what the plant reported and what the HAL actually sent.
 * Drained from the worker's ring on the main thread and written through a bounded stream;
 * every line is written whole, so a file cut by kill -9 is readable up to its last line.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { TraceRecord } from '../records.js';
import { modeNames } from '../shared-state.js';

export class TraceWriter {
  readonly #stream: WriteStream;
  readonly #joints: readonly string[];
  #lines = 0;
  #lost = 0;
  #pending: string[] = [];

  constructor(file: string, joints: readonly string[]) {
    this.#stream = createWriteStream(file, { flags: 'w' });
    this.#joints = joints;
  }

  get lines(): number {
    return this.#lines;
  }

  get lost(): number {
    return this.#lost;
  }

  countLost(records: number): void {
    this.#lost += records;
  }

  /** Format one ring record (a TraceRecord). */
  add(record: Float64Array): void {
    const n = this.#joints.length;
    const h = TraceRecord.header;
    // Full precision: rounding to 6 decimals added ±32 rad/s³ of false jerk at 200 Hz, so the
    // jerk limit could not be verified from the trace.
    const block = (name: (typeof TraceRecord.blocks)[number]): number[] => {
      const at = TraceRecord.block(name, n);
      return Array.from(record.subarray(at, at + n));
    };
    this.#pending.push(
      JSON.stringify({
        tick: record[h.tick],
        t_ms: Math.round(record[h.timeMs] * 1000) / 1000,
        lateness_us: Math.round(record[h.latenessUs] * 10) / 10,
        mode: modeNames[record[h.mode]] ?? record[h.mode],
        estop: record[h.estop],
        powered: record[h.powered],
        position: block('position'),
        velocity: block('velocity'),
        effort: block('effort'),
        command: block('command'),
        // The envelope's input this tick (null while braking or holding): where it differs from
        // `command`, the envelope intervened.
        requested: block('requested').map((v) => (Number.isNaN(v) ? null : v)),
      }),
    );
    this.#lines++;
  }

  /** Write what was added since the last flush as one chunk. */
  flush(): void {
    if (this.#pending.length === 0) return;
    this.#stream.write(this.#pending.join('\n') + '\n');
    this.#pending = [];
  }

  close(): Promise<void> {
    this.flush();
    return new Promise((resolve, reject) => {
      this.#stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  }
}
