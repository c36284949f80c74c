import { describe, expect, it } from 'vitest';
import type { JointDescription } from '../../src/robot/index.js';
import { ContactLimits, DeviationMonitor, limitsFromJoints } from '../../src/safety/index.js';

const joint = (name: string, type: 'revolute' | 'prismatic', effort: number): JointDescription => ({
  name,
  type,
  driver: { kind: 'sim' },
  limits: { position: [-1, 1], velocity: 1, acceleration: 10, jerk: 100, effort, soft_margin: 0 },
});
const joints = [joint('elbow', 'revolute', 10), joint('gripper', 'prismatic', 40)];
const limits = limitsFromJoints(joints);
const command = { position: (i: number) => [0.3, 0.05][i] };

function bounds(): { min: Float64Array; max: Float64Array } {
  return { min: new Float64Array(2).fill(-Infinity), max: new Float64Array(2).fill(Infinity) };
}

describe('ContactLimits', () => {
  it('stops a joint from advancing in the direction it pushes harder than its effort limit', () => {
    const contact = new ContactLimits(limits);
    const b = bounds();
    contact.apply(Float64Array.of(12, 0), Number.NaN, command, b.min, b.max);
    expect(b.max[0]).toBe(0.3);
    expect(b.min[0]).toBe(-Infinity);
    const c = bounds();
    contact.apply(Float64Array.of(-12, 0), Number.NaN, command, c.min, c.max);
    expect(c.min[0]).toBe(0.3);
    const d = bounds();
    contact.apply(Float64Array.of(9, 0), Number.NaN, command, d.min, d.max);
    expect(d.max[0]).toBe(Infinity);
  });

  it('backs the gripper off above its squeeze limit, holds near it, frees it below, by effort or by touch', () => {
    const contact = new ContactLimits(limits, { joint: 1, maxForce: 20, maxTouchForce: 2, backoffPerTick: 0.001 });
    const over = bounds();
    contact.apply(Float64Array.of(0, -25), Number.NaN, command, over.min, over.max);
    expect(over.min[1]).toBeCloseTo(0.051);
    const near = bounds();
    contact.apply(Float64Array.of(0, -19), Number.NaN, command, near.min, near.max);
    expect(near.min[1]).toBe(0.05);
    const free = bounds();
    contact.apply(Float64Array.of(0, -10), Number.NaN, command, free.min, free.max);
    expect(free.min[1]).toBe(-Infinity);
    const touch = bounds();
    contact.apply(Float64Array.of(0, -10), 2.5, command, touch.min, touch.max);
    expect(touch.min[1]).toBeCloseTo(0.051);
    // An opening push (positive effort) is not a squeeze.
    const opening = bounds();
    contact.apply(Float64Array.of(0, 30), Number.NaN, command, opening.min, opening.max);
    expect(opening.min[1]).toBe(-Infinity);
  });
});

describe('DeviationMonitor', () => {
  it('trips only after the joint stays off its command for the whole filter time, and names it', () => {
    const monitor = DeviationMonitor.standstill(joints, 20, 200); // 4 ticks
    const held = { position: (i: number) => [0.3, 0.05][i] };
    expect(monitor.violated(Float64Array.of(0.31, 0.05), held)).toBe(false);
    for (let k = 0; k < 3; k++) expect(monitor.violated(Float64Array.of(0.3, 0.053), held)).toBe(false);
    expect(monitor.violated(Float64Array.of(0.3, 0.053), held)).toBe(true);
    expect(monitor.joint).toBe(1);
    monitor.reset();
    expect(monitor.violated(Float64Array.of(0.3, 0.053), held)).toBe(false);
  });
});
