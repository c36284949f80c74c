/**
 * The one debouncer every GPIO backend uses, counted in control ticks (the worker samples the line
 * once per tick, so time is ticks × period). It is asymmetric because the input is an e-stop:
 * - an asserting sample (1) counts at once: the e-stop acts on the first sample that sees it;
 * - a release counts only once the line has read released on consecutive samples spanning at
 *   least `debounce_ms`. Samples k ticks apart span k·period, so that takes
 *   ceil(debounce_ms / period) + 1 consecutive released samples (1 when debounce_ms is 0). Any
 *   asserting sample in between restarts the count.
 * The debouncer starts at the line's level sampled when it was opened, so a line that is released
 * at start-up reads released at once (no spurious e-stop on every start).
 */
import type { GpioLevel } from './types.js';

/** Consecutive released samples needed before a release is reported. */
export function releaseSamplesFor(debounceMs: number, tickPeriodMs: number): number {
  if (!(Number.isFinite(tickPeriodMs) && tickPeriodMs > 0)) {
    throw new RangeError(`tick period must be a positive number of ms, got ${tickPeriodMs}`);
  }
  if (!(Number.isFinite(debounceMs) && debounceMs >= 0)) {
    throw new RangeError(`debounce_ms must be a non-negative number, got ${debounceMs}`);
  }
  // The epsilon keeps 10 / (10/3) from rounding up to an extra tick.
  return Math.ceil(debounceMs / tickPeriodMs - 1e-9) + 1;
}

export class AsymmetricDebounce {
  readonly releaseSamples: number;
  #level: GpioLevel;
  #released = 0;

  constructor(debounceMs: number, tickPeriodMs: number, initial: GpioLevel) {
    this.releaseSamples = releaseSamplesFor(debounceMs, tickPeriodMs);
    this.#level = initial;
  }

  get level(): GpioLevel {
    return this.#level;
  }

  /** Start over at `level`, as if the line had been stable there (used with the sample taken at open). */
  reset(level: GpioLevel): void {
    this.#level = level;
    this.#released = 0;
  }

  /** Feed one raw sample (logical level, 1 = asserted); returns the debounced level. */
  sample(raw: GpioLevel): GpioLevel {
    if (raw === 1) {
      this.#released = 0;
      this.#level = 1;
    } else if (this.#level === 1) {
      this.#released++;
      if (this.#released >= this.releaseSamples) {
        this.#level = 0;
        this.#released = 0;
      }
    }
    return this.#level;
  }
}
