/**
 * The control clock: fixed-rate ticks on absolute deadlines, hand-written because neither
 * setInterval nor rxjs' interval() can hold a 200 Hz rate to tens of microseconds (they run on
 * the event loop's timers, which drift and coalesce). Deadline k is start + k * period, so
 * lateness never accumulates into drift. It sleeps with Atomics.wait until a short margin
 * before the deadline, then spins: the kernel's wake-up jitter (cyclictest: ~20 µs average,
 * ~60 µs max idle on these machines) lands inside the spin instead of on the tick.
 *
 * A tick that comes later than a whole period is not run twice to catch up: the skipped
 * deadlines are counted as missed and the clock moves to the next future deadline.
 *
 * The clock is an Observable so the control loop composes like every other source, but it
 * emits one mutable ClockReading (no allocation per tick) and runs synchronously: it owns the
 * thread it is subscribed on, which is why it lives in the control worker.
 */
import { Observable } from 'rxjs';

/**
 * Slots of ClockReading.time. DEADLINE_MS is the deadline this tick serves (after a skip, the next
 * future one); LATENESS_MS is measured from the deadline it waited for, so it includes a skip's gap.
 */
export const ClockTime = { DEADLINE_MS: 0, NOW_MS: 1, LATENESS_MS: 2 } as const;

export interface ClockReading {
  /** Index of the deadline this tick serves (skips forward over missed ones). */
  tick: number;
  /** Deadlines skipped just before this tick. */
  missed: number;
  /**
   * deadline, now and lateness in ms (see ClockTime). A typed array rather than object
   * fields: V8 boxes a double stored into an object field, one allocation per tick.
   */
  readonly time: Float64Array;
}

export interface PreciseClockOptions {
  periodMs: number;
  /** Spin for this long before each deadline instead of sleeping; default 0.25 ms. */
  spinMs?: number;
  /** Checked once per tick; the clock completes when it returns false. */
  running: () => boolean;
  /** Cell used only as a sleep target for Atomics.wait (never notified on purpose). */
  sleepCell: Int32Array;
  /** Wall time source in ms; injectable for tests. */
  now?: () => number;
}

export function preciseClock(options: PreciseClockOptions): Observable<ClockReading> {
  const { periodMs, running, sleepCell } = options;
  const spinMs = options.spinMs ?? 0.25;
  const now = options.now ?? (() => performance.now());
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`clock period must be > 0 ms, got ${periodMs}`);

  return new Observable<ClockReading>((subscriber) => {
    const reading: ClockReading = { tick: 0, missed: 0, time: new Float64Array(3) };
    const time = reading.time;
    const startMs = now() + periodMs;
    let tick = 0;
    while (!subscriber.closed && running()) {
      let deadline = startMs + tick * periodMs;
      let t = now();
      const sleepMs = deadline - spinMs - t;
      if (sleepMs > 0) Atomics.wait(sleepCell, 0, 0, sleepMs);
      t = now();
      while (t < deadline) t = now();
      let missed = 0;
      // Lateness against the deadline this tick waited for, before skipping: a 3 s stall shows as 3 s.
      const latenessMs = t - deadline;
      if (t - deadline >= periodMs) {
        missed = Math.floor((t - deadline) / periodMs);
        tick += missed;
        deadline = startMs + tick * periodMs;
      }
      reading.tick = tick;
      reading.missed = missed;
      time[ClockTime.DEADLINE_MS] = deadline;
      time[ClockTime.NOW_MS] = t;
      time[ClockTime.LATENESS_MS] = latenessMs;
      subscriber.next(reading);
      tick++;
    }
    subscriber.complete();
  });
}
