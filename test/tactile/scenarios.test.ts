/**
 * Sim camera clips with known contact timelines (the simulator's pad renderer under a grip force
 * per frame), with pressure levels from 6 to 40 N, lighting steps and drift, sensor noise and
 * camera motion: the contact state (with hysteresis, both pads) must reach F1 >= 0.95 and catch
 * every onset within 2 frames. Each case runs 900 frames (30 s at 30 fps) with ~12 contacts.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { contactScenarios, evaluateContactClip, stressScenarios } from '../../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));

describe('contact on sim clips with known timelines', () => {
  const results: Record<string, string> = {};
  for (const [name, extra] of contactScenarios) {
    it(name, () => {
      for (const seed of [1, 2]) {
        const { state, probability } = evaluateContactClip(robot, seed, extra);
        results[`${name} #${seed}`] =
          `state F1 ${state.f1.toFixed(3)} (P ${state.precision.toFixed(3)} R ${state.recall.toFixed(3)}) worst onset ${state.worstOnset}; p>0.5 F1 ${probability.f1.toFixed(3)}`;
        expect(state.onsetFrames.length).toBeGreaterThanOrEqual(8);
        expect(state.f1).toBeGreaterThanOrEqual(0.95);
        expect(state.worstOnset).toBeGreaterThanOrEqual(0);
        expect(state.worstOnset).toBeLessThanOrEqual(2);
        expect(probability.f1).toBeGreaterThanOrEqual(0.95);
      }
    });
  }
  it('reports the harder conditions (not held to the bar)', () => {
    for (const [name, extra] of stressScenarios) {
      const { state, probability } = evaluateContactClip(robot, 1, extra);
      results[`${name} #1 (stress)`] = `state F1 ${state.f1.toFixed(3)} worst onset ${state.worstOnset}; p>0.5 F1 ${probability.f1.toFixed(3)}`;
      expect(state.f1).toBeGreaterThan(0.85);
    }
  });
  it('reports', () => {
    for (const [name, line] of Object.entries(results)) console.log(`${name}: ${line}`);
  });
});
