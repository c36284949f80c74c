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
  it('starts the trajectory at the command being executed, then interpolates between actions', () => {
    const queue = new ActionQueue(1, 8, 10, 0);
    const out = new Float64Array(1);
    queue.join(0, 0, ramp(1, 1, 8), 0, 8, Float64Array.of(0.5));
    expect(queue.sample(0, out)).toBe(true);
    expect(out[0]).toBeCloseTo(0.5);
    queue.sample(5, out);
    expect(out[0]).toBeCloseTo((0.5 + 2) / 2);
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
