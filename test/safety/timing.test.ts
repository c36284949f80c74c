/**
 * The timing monitor: stalls are named at once, a degraded window is reported with hysteresis,
 * and only a full window over control.max_missed_fraction asks for a stop.
 */
import { describe, expect, it } from 'vitest';
import { STALL_PERIODS, TimingFlag, TimingMonitor } from '../../src/safety/index.js';

const monitor = (): TimingMonitor => new TimingMonitor({ rateHz: 100, windowMs: 1000, maxMissedFraction: 0.2 });

function feed(m: TimingMonitor, ticks: number, missedEvery: number, missed: number): number {
  let flags = 0;
  for (let k = 1; k <= ticks; k++) flags |= m.observe(missedEvery > 0 && k % missedEvery === 0 ? missed : 0);
  return flags;
}

describe('TimingMonitor', () => {
  it('a clean loop is never flagged', () => {
    const m = monitor();
    expect(feed(m, 1000, 0, 0)).toBe(0);
    expect(m.missedFraction).toBe(0);
  });

  it('a gap of more than STALL_PERIODS periods is a stall, a shorter one is not', () => {
    const m = monitor();
    expect(m.observe(STALL_PERIODS) & TimingFlag.STALL).toBe(0);
    expect(m.observe(STALL_PERIODS + 1) & TimingFlag.STALL).toBe(TimingFlag.STALL);
  });

  it('about 11 % missed is reported as degraded but does not stop; recovery is reported once it falls under a quarter of the limit', () => {
    const m = monitor();
    // 3 deadlines missed every 25 served ticks: 3 / 28 = 10.7 % of the deadlines.
    const flags = feed(m, 400, 25, 3);
    expect(flags & TimingFlag.DEGRADED_BEGIN).toBe(TimingFlag.DEGRADED_BEGIN);
    expect(flags & TimingFlag.STOP).toBe(0);
    expect(m.degraded).toBe(true);
    expect(feed(m, 200, 0, 0) & TimingFlag.DEGRADED_END).toBe(TimingFlag.DEGRADED_END);
    expect(m.degraded).toBe(false);
    expect(m.worstFraction).toBeCloseTo(3 / 28, 2);
  });

  it('a third of the deadlines missed over a full window asks for a stop', () => {
    const m = monitor();
    feed(m, 200, 0, 0);
    let stopAt = -1;
    for (let k = 1; k <= 400 && stopAt < 0; k++) if (m.observe(k % 2 === 0 ? 1 : 0) & TimingFlag.STOP) stopAt = k;
    expect(stopAt).toBeGreaterThan(0);
    expect(m.missedFraction).toBeGreaterThan(0.2);
  });

  it('a window is judged only once it holds a whole window of deadlines', () => {
    const m = monitor();
    // Boot: a few slow first ticks are 50 % missed of what little has run, but not a window.
    expect(m.observe(0) & TimingFlag.STOP).toBe(0);
    expect(m.observe(1) & TimingFlag.STOP).toBe(0);
    // One long stall fills the window by itself: judged at once.
    expect(m.observe(300) & TimingFlag.STOP).toBe(TimingFlag.STOP);
  });
});
