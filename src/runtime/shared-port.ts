/**
 * The half of a ControlPort that is only shared memory: reading the loop's snapshot, counters,
 * events, trace and lateness histogram, and writing the cells it polls (chunks, touch). The
 * control worker's handle (ControlThread) and the HIL's in-thread loop (VirtualControl) both
 * extend it, so the pipeline reads the same records the same way on either clock.
 */
import type { Observable } from 'rxjs';
import { EventRingReader, type ControlEvent } from './event-ring.js';
import type { CommandOutcome, ControlPort } from './pipeline/control-port.js';
import { CHUNK_HEADER_SIZE, ChunkRecord, SnapshotRecord, TraceRecord } from './records.js';
import { Counter, Ctrl, TRACE_CAPACITY, type ModeCode, type OperatorCommandCode, type SharedViews } from './shared-state.js';

export abstract class SharedControlPort implements ControlPort {
  readonly shared: SharedViews;
  abstract readonly chunkRequests$: Observable<number>;
  readonly #events: EventRingReader;
  #traceRead = 0;
  #chunkSeq = 0;

  constructor(shared: SharedViews) {
    this.shared = shared;
    this.#events = new EventRingReader(shared);
  }

  abstract command(code: OperatorCommandCode, timeoutMs?: number): Promise<CommandOutcome>;

  get mode(): ModeCode {
    return Atomics.load(this.shared.control, Ctrl.MODE) as ModeCode;
  }

  /** The tick the loop published last. */
  get currentTick(): number {
    return this.shared.snapshot[SnapshotRecord.header.tick];
  }

  get snapshotSize(): number {
    return this.shared.snapshot.length;
  }

  counter(index: number): number {
    return this.shared.counters[index];
  }

  /** Hand a chunk of absolute targets (robot units) computed from the observation at obsTick. */
  publishChunk(obsTick: number, values: Float32Array | Float64Array, count: number): void {
    const chunk = this.shared.chunk;
    chunk[ChunkRecord.observationTick] = obsTick;
    chunk[ChunkRecord.actionCount] = count;
    const n = count * this.shared.layout.actionDim;
    for (let i = 0; i < n; i++) chunk[CHUNK_HEADER_SIZE + i] = values[i];
    Atomics.store(this.shared.control, Ctrl.CHUNK_SEQ, ++this.#chunkSeq);
  }

  /** The latest touch estimate (squeeze and contact) for the envelope, stamped with its frame's tick. */
  publishTouch(force: number, frameTick: number, contact: boolean): void {
    const counters = this.shared.counters;
    counters[Counter.TOUCH_FORCE] = force;
    counters[Counter.TOUCH_CONTACT] = contact ? 1 : 0;
    counters[Counter.TOUCH_TICK] = frameTick;
  }

  /** Copy the latest consistent snapshot into `out`; false if none yet, or the loop kept writing. */
  readSnapshot(out: Float64Array): boolean {
    const control = this.shared.control;
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = Atomics.load(control, Ctrl.SNAPSHOT_SEQ);
      if (before % 2 === 1) continue;
      out.set(this.shared.snapshot);
      if (Atomics.load(control, Ctrl.SNAPSHOT_SEQ) === before) return before > 0;
    }
    return false;
  }

  drainEvents(): ControlEvent[] {
    return this.#events.drain();
  }

  /**
   * Hand every trace record written since the last drain to `record` (a view that is reused;
   * copy what you keep). Returns how many records were lost because the ring wrapped.
   */
  drainTrace(record: (values: Float64Array) => void): number {
    const control = this.shared.control;
    const write = Atomics.load(control, Ctrl.TRACE_WRITE);
    let lost = 0;
    // Leave a margin: the loop may be writing the oldest slot right now.
    if (write - this.#traceRead > TRACE_CAPACITY - 16) {
      lost = write - (TRACE_CAPACITY - 16) - this.#traceRead;
      this.#traceRead = write - (TRACE_CAPACITY - 16);
    }
    const size = TraceRecord.size(this.shared.layout.jointCount);
    for (; this.#traceRead < write; this.#traceRead++) {
      const base = (this.#traceRead % TRACE_CAPACITY) * size;
      record(this.shared.trace.subarray(base, base + size));
    }
    return lost;
  }

  /** Lateness histogram percentiles, µs. */
  latenessPercentiles(): { p50: number; p99: number; max: number } {
    const bins = this.shared.lateness;
    let total = 0;
    for (let i = 0; i < bins.length; i++) total += bins[i];
    const pick = (q: number): number => {
      const target = Math.ceil(q * total);
      let seen = 0;
      for (let i = 0; i < bins.length; i++) {
        seen += bins[i];
        if (seen >= target) return i;
      }
      return bins.length - 1;
    };
    return {
      p50: total ? pick(0.5) : 0,
      p99: total ? pick(0.99) : 0,
      max: this.shared.counters[Counter.MAX_LATENESS_NS] / 1000,
    };
  }
}
