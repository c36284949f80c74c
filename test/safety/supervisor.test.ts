/**
 * The safety supervisor on its own, tick by tick: each input gets the stop it demands, with its
 * cause, and each observation is reported once, on change. The control loop's closed-loop tests
 * and the HIL scenarios check the same decisions applied to a running arm.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RobotDescription } from '../../src/robot/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { ResetRefusal, SafetySupervisor, STALL_PERIODS, Stop, StopCause, type SupervisorReport } from '../../src/safety/index.js';

const base = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));
const rate = base.control.rate_hz;
const n = base.joints.length;

function robotWith(estopCategory: 0 | 1): RobotDescription {
  return { ...base, estop: { ...base.estop, stop_category: estopCategory } };
}

function recorder(): { report: SupervisorReport; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    report: {
      estopLevel: (level) => seen.push(`estop ${level}`),
      estopTrip: () => seen.push('trip'),
      stall: (gapMs, reseeded) => seen.push(`stall ${gapMs.toFixed(0)} ${reseeded}`),
      timingDegraded: (perMille) => seen.push(`degraded ${perMille}`),
      deviation: (cause, joint) => seen.push(`deviation ${cause} ${joint}`),
      stale: (stale, touchStale) => seen.push(`stale ${stale} ${touchStale}`),
      rejected: (count) => seen.push(`rejected ${count}`),
    },
  };
}

const at = (values: number[]): { position(i: number): number } => ({ position: (i) => values[i] });

describe('SafetySupervisor', () => {
  it('an e-stop press is a fault with power off now (category 0) or at rest (category 1), reported once, and blocks reset until released', () => {
    const zero = recorder();
    const cat0 = new SafetySupervisor(robotWith(0), zero.report);
    expect(cat0.judgeEstop(0)).toBe(Stop.NONE);
    expect(cat0.judgeEstop(1)).toBe(Stop.FAULT_POWER_OFF);
    expect(cat0.cause).toBe(StopCause.ESTOP);
    expect(cat0.judgeEstop(1)).toBe(Stop.NONE); // held: no second trip
    expect(zero.seen).toEqual(['estop 1', 'trip']);
    expect(cat0.resetRefusal(true, { powered: false, atRest: true })).toBe(ResetRefusal.ESTOP_ASSERTED);
    cat0.judgeEstop(0);
    expect(cat0.resetRefusal(true, { powered: false, atRest: true })).toBe(ResetRefusal.NONE);

    const one = new SafetySupervisor(robotWith(1), recorder().report);
    expect(one.judgeEstop(1)).toBe(Stop.FAULT);
    expect(one.powerOffNow(false)).toBe(false); // still moving: power stays for the controlled stop
    expect(one.powerOffNow(true)).toBe(true);
    expect(one.powerOffNow(true)).toBe(false); // once
    expect(one.softwareEstop()).toBe(Stop.FAULT);
    expect(one.cause).toBe(StopCause.SOFTWARE_ESTOP);
  });

  it('a hardware error is a fault stopped like the e-stop; reset waits for healthy hardware and rest', () => {
    const cat1 = new SafetySupervisor(robotWith(1), recorder().report);
    expect(cat1.hardwareFailed(true)).toBe(Stop.FAULT);
    expect(cat1.cause).toBe(StopCause.HARDWARE_FAULT);
    expect(cat1.powerOffNow(true)).toBe(true);
    expect(new SafetySupervisor(robotWith(0), recorder().report).hardwareFailed(true)).toBe(Stop.FAULT_POWER_OFF);
    expect(cat1.resetRefusal(false, { powered: true, atRest: true })).toBe(ResetRefusal.HARDWARE_FAILING);
    expect(cat1.resetRefusal(true, { powered: true, atRest: false })).toBe(ResetRefusal.STILL_MOVING);
  });

  it('max_consecutive_rejections rejected actions in a row are a controlled stop; an accepted one starts the count over', () => {
    const { report, seen } = recorder();
    const s = new SafetySupervisor(base, report);
    const max = base.control.max_consecutive_rejections;
    for (let k = 1; k < max; k++) expect(s.judgeAction(true)).toBe(Stop.NONE);
    expect(s.judgeAction(false)).toBe(Stop.NONE);
    for (let k = 1; k < max; k++) expect(s.judgeAction(true)).toBe(Stop.NONE);
    expect(s.judgeAction(true)).toBe(Stop.CONTROLLED);
    expect(s.cause).toBe(StopCause.REJECTION_LIMIT);
    expect(seen.at(-1)).toBe(`rejected ${max}`);
  });

  it('actions older than action_timeout_ms brake, reported when they go stale and when fresh again, not every tick', () => {
    const { report, seen } = recorder();
    const s = new SafetySupervisor(base, report);
    const timeoutTicks = Math.round((base.safety.action_timeout_ms * rate) / 1000);
    expect(s.judgeFreshness(timeoutTicks, 0, true)).toBe(Stop.NONE);
    expect(s.judgeFreshness(timeoutTicks + 1, 0, true)).toBe(Stop.BRAKE);
    expect(s.judgeFreshness(timeoutTicks + 2, 0, true)).toBe(Stop.BRAKE);
    expect(s.judgeFreshness(timeoutTicks + 3, timeoutTicks + 3, true)).toBe(Stop.NONE);
    expect(seen).toEqual(['stale true false', 'stale false false']);
  });

  it('with a touch force limit, touch older than the cameras allow (or none yet) brakes too', () => {
    const robot: RobotDescription = { ...base, gripper: { ...base.gripper!, max_touch_force: 0.5 } };
    const { report, seen } = recorder();
    const s = new SafetySupervisor(robot, report);
    const limitTicks = Math.round((Math.min(...robot.cameras.map((c) => c.stale_after_ms)) * rate) / 1000);
    expect(s.touchFresh(100, 0)).toBe(false); // no estimate yet
    expect(s.touchFresh(100, 100 - limitTicks)).toBe(true);
    expect(s.touchFresh(100, 99 - limitTicks)).toBe(false);
    expect(s.judgeFreshness(100, 100, false)).toBe(Stop.BRAKE);
    expect(seen).toEqual(['stale true true']);
  });

  it('standstill trips only after the servos settled, following only while driven; either latches until reset', () => {
    const { report, seen } = recorder();
    const s = new SafetySupervisor(base, report);
    const command = at(new Array<number>(n).fill(0));
    const pushed = new Float64Array(n);
    pushed[1] = 0.1; // 0.1 rad off a held command: beyond the standstill tolerance, within following's
    let tick = 0;
    let stop: number = Stop.NONE;
    // Settling (0.5 s) first: no trip however far off.
    for (; tick < rate / 2 - 1; tick++) expect(s.judgeMotion(tick, true, true, pushed, command)).toBe(Stop.NONE);
    for (; tick < rate * 2 && stop === Stop.NONE; tick++) stop = s.judgeMotion(tick, true, true, pushed, command);
    expect(stop).toBe(Stop.FAULT);
    expect(s.cause).toBe(StopCause.STANDSTILL_VIOLATION);
    expect(s.joint).toBe(1);
    for (let k = 0; k < rate; k++) expect(s.judgeMotion(tick + k, true, true, pushed, command)).toBe(Stop.NONE);
    expect(seen).toEqual([`deviation ${StopCause.STANDSTILL_VIOLATION} 1`]);

    s.reset();
    const far = new Float64Array(n);
    far[2] = 1.0; // far beyond the following tolerance while moving
    stop = Stop.NONE;
    for (let k = 0; k < rate && stop === Stop.NONE; k++) stop = s.judgeMotion(k, false, true, far, command);
    expect(stop).toBe(Stop.FAULT);
    expect(s.cause).toBe(StopCause.FOLLOWING_ERROR);
    expect(s.joint).toBe(2);
    // Not driven (power off, BOOT): nothing to follow.
    const idle = new SafetySupervisor(base, recorder().report);
    for (let k = 0; k < rate; k++) expect(idle.judgeMotion(k, false, false, far, command)).toBe(Stop.NONE);
  });

  it('a stall restarts the envelope at rest (when it can), and a window with too many missed deadlines is a controlled stop', () => {
    const { report, seen } = recorder();
    const s = new SafetySupervisor(base, report);
    expect(s.judgeTiming(STALL_PERIODS, true)).toBe(Stop.NONE);
    expect(s.restartAtRest).toBe(false);
    expect(s.judgeTiming(STALL_PERIODS + 1, true)).toBe(Stop.NONE);
    expect(s.restartAtRest).toBe(true);
    expect(s.judgeTiming(0, true)).toBe(Stop.NONE);
    expect(s.restartAtRest).toBe(false);
    expect(seen[0]).toBe(`stall ${(((STALL_PERIODS + 1) * 1000) / rate).toFixed(0)} true`);
    // Every other deadline missed: half the deadlines, beyond max_missed_fraction.
    let stop: number = Stop.NONE;
    for (let k = 0; k < 2 * rate && stop === Stop.NONE; k++) stop = s.judgeTiming(1, true);
    expect(stop).toBe(Stop.CONTROLLED);
    expect(s.cause).toBe(StopCause.TIMING_DEGRADED);
    expect(seen.some((line) => line.startsWith('degraded '))).toBe(true);
  });
});
