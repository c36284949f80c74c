import { describe, expect, it } from 'vitest';
import { ActionQueue } from '../../src/runtime/action-queue.js';

/** Largest change between consecutive ticks of the sampled trajectory. */
function maxStep(samples: number[]): number {
  let max = 0;
  for (let i = 1; i < samples.length; i++) max = Math.max(max, Math.abs(samples[i] - samples[i - 1]));
  return max;
}

function ramp(start: number, step: number, count: number): Float64Array {
  return Float64Array.from({ length: count }, (_, k) => start + step * (k + 1));
}

describe('ActionQueue', () => {
  it('continues from the command executed on the previous tick, then interpolates between actions', () => {
    const queue = new ActionQueue(1, 8, 10, 0);
    const out = new Float64Array(1);
    queue.join(0, 0, ramp(1, 1, 8), 0, 8, Float64Array.of(0.5));
    // 0.5 was commanded at tick -1; the first action (2) is due at tick 10.
    expect(queue.sample(0, out)).toBe(true);
    expect(out[0]).toBeCloseTo(0.5 + 1.5 / 11);
    queue.sample(5, out);
    expect(out[0]).toBeCloseTo(0.5 + (1.5 * 6) / 11);
    queue.sample(10, out);
    expect(out[0]).toBeCloseTo(2);
    queue.sample(25, out);
    expect(out[0]).toBeCloseTo(3.5);
  });

  it('drops actions whose time passed during inference and reports how many', () => {
    const queue = new ActionQueue(1, 8, 10, 0);
    const dropped = queue.join(25, 0, ramp(0, 1, 8), 0, 8, Float64Array.of(2.5));
    // Actions for ticks 10 and 20 are in the past at tick 25.
    expect(dropped).toBe(2);
    const out = new Float64Array(1);
    queue.sample(30, out);
    expect(out[0]).toBeCloseTo(3);
  });

  it('joins a new chunk without a jump even when the policy changed its mind', () => {
    const queue = new ActionQueue(1, 16, 10, 3);
    const out = new Float64Array(1);
    const samples: number[] = [];
    queue.join(0, 0, ramp(0, 0.1, 16), 0, 16, Float64Array.of(0));
    for (let t = 0; t < 40; t++) {
      queue.sample(t, out);
      samples.push(out[0]);
    }
    // The new chunk is offset by +0.5 from the old plan: a naive splice would jump by 0.5.
    const current = Float64Array.of(out[0]);
    queue.join(40, 35, ramp(0.5 + 0.35, 0.1, 16), 0, 16, current);
    for (let t = 40; t < 120; t++) {
      queue.sample(t, out);
      samples.push(out[0]);
    }
    const plannedStep = 0.1 / 10;
    expect(maxStep(samples.slice(0, 40))).toBeCloseTo(plannedStep, 6);
    // Blending spreads the 0.5 offset over several actions: bounded, and far below the offset.
    expect(maxStep(samples)).toBeLessThan(0.5 / 4);
    expect(Math.abs(samples[40] - samples[39])).toBeLessThan(2 * plannedStep);
  });

  it('keeps the motion going through a join: no one-tick stall where the new chunk starts', () => {
    const queue = new ActionQueue(1, 16, 10, 3);
    const out = new Float64Array(1);
    const steps: number[] = [];
    let last = 0;
    // On the line from the start: 0.01 per tick, so -0.01 was commanded at tick -1.
    queue.join(0, 0, ramp(0, 0.1, 16), 0, 16, Float64Array.of(-0.01));
    for (let t = 0; t < 120; t++) {
      // The same plan again from an observation at tick 35, joined at tick 40 with the last command.
      if (t === 40) queue.join(40, 35, ramp(0.35, 0.1, 16), 0, 16, Float64Array.of(last));
      queue.sample(t, out);
      if (t > 0) steps.push(out[0] - last);
      last = out[0];
    }
    // A plan that agrees with itself is a constant velocity, through the join too.
    for (const step of steps) expect(step).toBeCloseTo(0.01, 6);
  });

  it('blends a chunk that arrives just before the old one ends against the old motion, not against a stop', () => {
    const queue = new ActionQueue(1, 8, 10, 3);
    const out = new Float64Array(1);
    let last = -0.01;
    const steps: number[] = [];
    queue.join(0, 0, ramp(0, 0.1, 8), 0, 8, Float64Array.of(last)); // ends at tick 80
    for (let t = 0; t < 140; t++) {
      // The same line again from an observation at tick 70, arriving at 78: two ticks before the end.
      if (t === 78) queue.join(78, 70, ramp(0.7, 0.1, 8), 0, 8, Float64Array.of(last));
      queue.sample(t, out);
      if (t > 0) steps.push(out[0] - last);
      last = out[0];
    }
    for (const step of steps) expect(step).toBeCloseTo(0.01, 6);
  });

  it('fades a disagreeing chunk in tick by tick: no kink at the join larger than the plan\'s own', () => {
    const queue = new ActionQueue(1, 16, 10, 3);
    const out = new Float64Array(1);
    const samples: number[] = [];
    queue.join(0, 0, ramp(0, 0.1, 16), 0, 16, Float64Array.of(-0.01));
    for (let t = 0; t < 160; t++) {
      if (t === 40) queue.join(40, 35, ramp(0.35 + 0.05, 0.1, 16), 0, 16, Float64Array.of(samples[39]));
      queue.sample(t, out);
      samples.push(out[0]);
    }
    const accel = samples.slice(2).map((v, i) => Math.abs(v - 2 * samples[i + 1] + samples[i]));
    // 0.05 faded in over 40 ticks by a smoothstep: at most 6 · 0.05 / 40² per tick², no spike.
    expect(Math.max(...accel)).toBeLessThan((6 * 0.05) / 40 ** 2 + 1e-9);
    expect(samples[159]).toBeCloseTo(0.01 * 159 + 0.05, 6);
  });

  it('holds the last action (never zeros) and reports starvation after the chunk runs out', () => {
    const queue = new ActionQueue(2, 4, 10, 0);
    const out = new Float64Array(2);
    queue.join(0, 0, Float64Array.of(1, -1, 2, -2, 3, -3, 4, -4), 0, 4, Float64Array.of(0, 0));
    expect(queue.sample(40, out)).toBe(true);
    expect(queue.sample(41, out)).toBe(false);
    expect(Array.from(out)).toEqual([4, -4]);
    expect(queue.remainingTicks(41)).toBe(0);
  });

  it('reports an empty queue without touching the output', () => {
    const queue = new ActionQueue(1, 4, 10, 0);
    const out = Float64Array.of(7);
    expect(queue.sample(3, out)).toBe(false);
    expect(out[0]).toBe(7);
    expect(queue.isEmpty).toBe(true);
  });
});
