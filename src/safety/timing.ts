/**
 * Timing is a safety matter, not a restart (the watchdog judges liveness: src/runtime/systemd.ts).
 * Per tick the monitor takes the deadlines the clock skipped before it and answers with flags:
 *
 * - STALL: the gap before this tick was longer than STALL_PERIODS periods (the process was held
 *   off the CPU, or stopped: SIGSTOP, a frozen VM). The arm was not commanded meanwhile (a servo
 *   holds its last goal, a drive brakes), so the envelope's idea of its velocity is stale: the
 *   loop re-seeds it at rest at the held command and reports the gap.
 * - DEGRADED_BEGIN / DEGRADED_END: the fraction of the window's deadlines that were missed crossed
 *   half of `control.max_missed_fraction` (begin) or fell below a quarter of it (end): an event.
 * - STOP: the window is full and more than `max_missed_fraction` of its deadlines were missed: a
 *   controlled stop with its own cause, while the loop can still stop well.
 *
 * No allocation per tick: a ring of the missed counts of the last window's served ticks.
 */
export const TimingFlag = { STALL: 1, DEGRADED_BEGIN: 2, DEGRADED_END: 4, STOP: 8 } as const;

/** A gap of more than this many periods before a tick is a stall (re-seed and report). */
export const STALL_PERIODS = 5;

export interface TimingLimits {
  readonly rateHz: number;
  readonly windowMs: number;
  readonly maxMissedFraction: number;
}

export class TimingMonitor {
  readonly #missed: Int32Array;
  readonly #max: number;
  #write = 0;
  #served = 0;
  #sum = 0;
  #degraded = false;
  #worst = 0;

  constructor(limits: TimingLimits) {
    this.#missed = new Int32Array(Math.max(1, Math.round((limits.windowMs * limits.rateHz) / 1000)));
    this.#max = limits.maxMissedFraction;
  }

  /** Missed fraction of the deadlines in the current window (served ticks plus the ones skipped). */
  get missedFraction(): number {
    const served = Math.min(this.#served, this.#missed.length);
    return served === 0 ? 0 : this.#sum / (this.#sum + served);
  }

  /** The largest missed fraction of a full window so far. */
  get worstFraction(): number {
    return this.#worst;
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  /** One served tick with `missed` deadlines skipped just before it; TimingFlag bits. */
  observe(missed: number): number {
    const ring = this.#missed;
    const slot = this.#write;
    this.#sum += missed - ring[slot];
    ring[slot] = missed;
    this.#write = slot + 1 === ring.length ? 0 : slot + 1;
    this.#served++;
    let flags = missed > STALL_PERIODS ? TimingFlag.STALL : 0;
    const fraction = this.missedFraction;
    // A window is judged once it holds a whole window of deadlines (served or skipped).
    if (this.#served + this.#sum < ring.length) return flags;
    if (fraction > this.#worst) this.#worst = fraction;
    if (!this.#degraded && fraction >= this.#max / 2) {
      this.#degraded = true;
      flags |= TimingFlag.DEGRADED_BEGIN;
    } else if (this.#degraded && fraction < this.#max / 4) {
      this.#degraded = false;
      flags |= TimingFlag.DEGRADED_END;
    }
    if (fraction > this.#max) flags |= TimingFlag.STOP;
    return flags;
  }
}
