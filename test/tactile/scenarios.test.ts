/**
 * Sim camera clips with known contact timelines (the simulator's pad renderer under a grip force
 * per frame), with pressure levels from 6 to 40 N, lighting steps and drift, sensor noise and
 * camera motion: the contact state (with hysteresis, both pads) must reach F1 >= 0.95 and catch
 * every onset within 2 frames. Each case runs 900 frames (30 s at 30 fps) with ~12 contacts.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { contactScenarios, evaluateContactClip, stressScenarios, type ContactScore } from '../../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));

/** What each case scored, for the report: `held` cases are held to the bar in the header. */
interface Scored {
  readonly held: boolean;
  readonly state: ContactScore;
  readonly probability: ContactScore;
}

const SEEDS = [1, 2];
/** The bar of the header (and of contactScenarios' `npm run bench -- tactile` check). */
const MIN_F1 = 0.95;
const MAX_ONSET_FRAMES = 2;
/** The harder conditions are not held to MIN_F1, only to this. */
const STRESS_MIN_F1 = 0.85;

describe('contact on sim clips with known timelines', () => {
  const results = new Map<string, Scored>();
  for (const [name, extra] of contactScenarios) {
    it(name, () => {
      for (const seed of SEEDS) {
        const { state, probability } = evaluateContactClip(robot, seed, extra);
        results.set(`${name} #${seed}`, { held: true, state, probability });
        expect(state.onsetFrames.length).toBeGreaterThanOrEqual(8);
        expect(state.f1).toBeGreaterThanOrEqual(MIN_F1);
        expect(state.worstOnset).toBeGreaterThanOrEqual(0);
        expect(state.worstOnset).toBeLessThanOrEqual(MAX_ONSET_FRAMES);
        expect(probability.f1).toBeGreaterThanOrEqual(MIN_F1);
      }
    });
  }
  it('reports the harder conditions (not held to the bar)', () => {
    for (const [name, extra] of stressScenarios) {
      const { state, probability } = evaluateContactClip(robot, 1, extra);
      results.set(`${name} #1 (stress)`, { held: false, state, probability });
      expect(state.f1).toBeGreaterThan(STRESS_MIN_F1);
    }
  });
  it('reports every case, and every number it reports is within its bar', () => {
    const line = ({ held, state, probability }: Scored): string =>
      held
        ? `state F1 ${state.f1.toFixed(3)} (P ${state.precision.toFixed(3)} R ${state.recall.toFixed(3)}) worst onset ${state.worstOnset}; p>0.5 F1 ${probability.f1.toFixed(3)}`
        : `state F1 ${state.f1.toFixed(3)} worst onset ${state.worstOnset}; p>0.5 F1 ${probability.f1.toFixed(3)}`;
    for (const [name, scored] of results) console.log(`${name}: ${line(scored)}`);
    // One line per case: a case that threw before scoring leaves a hole, not a shorter report.
    expect([...results.keys()].sort()).toEqual(
      [...contactScenarios.flatMap(([name]) => SEEDS.map((seed) => `${name} #${seed}`)), ...stressScenarios.map(([name]) => `${name} #1 (stress)`)].sort(),
    );
    for (const [name, { held, state, probability }] of results) {
      // P and R need no bound of their own: F1 = 2PR / (P + R) >= f implies both >= f / (2 - f).
      const bar = held ? MIN_F1 : STRESS_MIN_F1;
      expect(state.f1, name).toBeGreaterThanOrEqual(bar);
      expect(probability.f1, name).toBeGreaterThanOrEqual(bar);
      // Onset is promised only for the held cases (under stress a contact may be caught late).
      if (held) expect(state.worstOnset, name).toBeGreaterThanOrEqual(0);
      if (held) expect(state.worstOnset, name).toBeLessThanOrEqual(MAX_ONSET_FRAMES);
    }
  });
});
