/**
 * Reading the control loop's event ring: the worker writes fixed records into shared memory,
 * readers (the main thread's ControlThread, the HIL harness) decode what is new since their
 * last read. A reader that fell more than the ring behind skips to the oldest record left.
 */
import { EVENT_RECORD_SIZE, EventRecord as E } from './records.js';
import { Ctrl, EVENT_CAPACITY, type ModeCode, type SharedViews } from './shared-state.js';

/** One record of the worker's event ring, decoded. */
export interface ControlEvent {
  readonly tick: number;
  readonly kind: number;
  readonly code: number;
  readonly from: ModeCode;
  readonly to: ModeCode;
  readonly value: number;
  /** Joint index, or -1 when the event is not about one joint. */
  readonly joint: number;
  readonly requested: number;
  readonly commanded: number;
}

export class EventRingReader {
  readonly #shared: SharedViews;
  #read = 0;

  constructor(shared: SharedViews) {
    this.#shared = shared;
  }

  drain(): ControlEvent[] {
    const write = Atomics.load(this.#shared.control, Ctrl.EVENT_WRITE);
    const out: ControlEvent[] = [];
    if (write - this.#read > EVENT_CAPACITY) this.#read = write - EVENT_CAPACITY;
    const events = this.#shared.events;
    for (; this.#read < write; this.#read++) {
      const b = (this.#read % EVENT_CAPACITY) * EVENT_RECORD_SIZE;
      out.push({
        tick: events[b + E.tick],
        kind: events[b + E.kind],
        code: events[b + E.code],
        from: events[b + E.from] as ModeCode,
        to: events[b + E.to] as ModeCode,
        value: events[b + E.value],
        joint: events[b + E.joint],
        requested: events[b + E.requested],
        commanded: events[b + E.commanded],
      });
    }
    return out;
  }
}
