/**
 * Property tests of the envelope over random limits and random command streams (fast-check).
 * Every tick is checked: commanded positions inside the hard limits, and velocity,
 * acceleration and jerk (finite differences of the commanded positions) inside theirs. After a
 * stop, standstill is reached within the stopping distance the braking model predicts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JointDescription } from '../../src/robot/index.js';
import { stopDistanceUp } from '../../src/safety/braking.js';
import { JointEnvelope, Verdict } from '../../src/safety/envelope.js';
import { limitsFromJoints } from '../../src/safety/limits.js';

interface JointLimits {
  lower: number;
  range: number;
  velocity: number;
  acceleration: number;
  jerk: number;
  marginFraction: number;
}

const jointLimits: fc.Arbitrary<JointLimits> = fc.record({
  lower: fc.double({ min: -3, max: 1, noNaN: true }),
  range: fc.double({ min: 0.02, max: 5, noNaN: true }),
  velocity: fc.double({ min: 0.02, max: 6, noNaN: true }),
  acceleration: fc.double({ min: 0.1, max: 60, noNaN: true }),
  jerk: fc.double({ min: 1, max: 3000, noNaN: true }),
  marginFraction: fc.constantFrom(0, 0, 0.05, 0.2),
});

/** One tick's proposal, relative to the joint range so every kind of value reaches the edges. */
type Step =
  | { kind: 'value'; at: number[] }
  | { kind: 'bad'; value: number; joint: number }
  | { kind: 'short' }
  | { kind: 'alternate'; ticks: number }
  | { kind: 'hold'; at: number[]; ticks: number }
  | { kind: 'stop' };

const relative = fc.double({ min: -0.5, max: 1.5, noNaN: true });
const step = (joints: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('value' as const), at: fc.array(relative, { minLength: joints, maxLength: joints }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad' as const),
        value: fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e300, -1e300, 1e6),
        joint: fc.nat({ max: joints - 1 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'short' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('alternate' as const), ticks: fc.integer({ min: 2, max: 40 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('hold' as const),
        at: fc.array(relative, { minLength: joints, maxLength: joints }),
        ticks: fc.integer({ min: 5, max: 80 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'stop' as const }) },
  );

const scenario = fc
  .record({
    joints: fc.array(jointLimits, { minLength: 1, maxLength: 7 }),
    rateHz: fc.constantFrom(100, 200, 500, 1000),
    start: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .chain((s) => fc.record({ setup: fc.constant(s), steps: fc.array(step(s.joints.length), { minLength: 1, maxLength: 25 }) }));

function describeJoints(joints: JointLimits[]): JointDescription[] {
  return joints.map((j, i) => ({
    name: `j${i}`,
    type: 'revolute',
    driver: { kind: 'sim' },
    limits: {
      position: [j.lower, j.lower + j.range],
      velocity: j.velocity,
      acceleration: j.acceleration,
      jerk: j.jerk,
      effort: 1,
      soft_margin: j.marginFraction * j.range,
    },
  }));
}

/** Relative tolerance for finite differences of doubles (three divisions by dt). */
const TOLERANCE = 1e-6;

class Checker {
  readonly #prevP: Float64Array;
  readonly #prevV: Float64Array;
  readonly #prevA: Float64Array;
  #ticks = 0;
  constructor(
    readonly envelope: JointEnvelope,
    readonly joints: JointLimits[],
    readonly dt: number,
  ) {
    const n = joints.length;
    this.#prevP = Float64Array.from({ length: n }, (_, i) => envelope.command.position(i));
    this.#prevV = new Float64Array(n);
    this.#prevA = new Float64Array(n);
  }

  get ticks(): number {
    return this.#ticks;
  }

  check(): void {
    this.#ticks++;
    const { envelope, joints, dt } = this;
    for (let i = 0; i < joints.length; i++) {
      const j = joints[i];
      const p = envelope.command.position(i);
      const v = (p - this.#prevP[i]) / dt;
      const a = (v - this.#prevV[i]) / dt;
      const jerk = (a - this.#prevA[i]) / dt;
      const scale = Math.max(1, Math.abs(p)) * 1e-15;
      const where = `joint ${i} tick ${this.#ticks} p=${p} v=${v} a=${a} jerk=${jerk} limits=${JSON.stringify(j)} dt=${dt}`;
      if (p < j.lower || p > j.lower + j.range) throw new Error(`position outside limits: ${where}`);
      if (Math.abs(v) > j.velocity * (1 + TOLERANCE) + scale / dt) throw new Error(`velocity over limit: ${where}`);
      if (Math.abs(a) > j.acceleration * (1 + TOLERANCE) + (2 * scale) / dt / dt) throw new Error(`acceleration over limit: ${where}`);
      if (Math.abs(jerk) > j.jerk * (1 + TOLERANCE) + (4 * scale) / dt / dt / dt) throw new Error(`jerk over limit: ${where}`);
      this.#prevP[i] = p;
      this.#prevV[i] = v;
      this.#prevA[i] = a;
    }
  }
}

let totalTicks = 0;

function run(setup: { joints: JointLimits[]; rateHz: number; start: number }, steps: Step[]): void {
  const { joints, rateHz } = setup;
  const n = joints.length;
  const dt = 1 / rateHz;
  const envelope = new JointEnvelope(limitsFromJoints(describeJoints(joints)), dt);
  envelope.seed(Float64Array.from(joints, (j) => j.lower + setup.start * j.range));
  const checker = new Checker(envelope, joints, dt);
  const proposal = new Float64Array(n);
  const absolute = (rel: readonly number[]): void => {
    for (let i = 0; i < n; i++) proposal[i] = joints[i].lower + rel[i] * joints[i].range;
  };
  const tick = (): void => {
    envelope.track(proposal);
    checker.check();
  };
  for (const s of steps) {
    switch (s.kind) {
      case 'value':
        absolute(s.at);
        tick();
        break;
      case 'hold':
        absolute(s.at);
        for (let k = 0; k < s.ticks; k++) tick();
        break;
      case 'alternate':
        for (let k = 0; k < s.ticks; k++) {
          absolute(joints.map(() => (k % 2 === 0 ? -0.5 : 1.5)));
          tick();
        }
        break;
      case 'bad': {
        const bad = new Float64Array(proposal);
        bad[s.joint] = s.value;
        const verdict = envelope.track(bad);
        checker.check();
        if (!Number.isFinite(s.value)) expect(verdict).toBe(Verdict.REJECTED);
        break;
      }
      case 'short':
        expect(envelope.track(proposal.subarray(0, n - 1))).toBe(Verdict.REJECTED);
        checker.check();
        break;
      case 'stop': {
        const from = Float64Array.from({ length: n }, (_, i) => envelope.command.position(i));
        const reach = joints.map((j, i) => {
          const v = envelope.velocity(i);
          const a = envelope.acceleration(i);
          return {
            up: stopDistanceUp(v, a, j.acceleration, j.jerk),
            down: stopDistanceUp(-v, -a, j.acceleration, j.jerk),
            // Generous bound on the stop's duration: full speed, full ramps, twice over.
            ticks: Math.ceil((2 * (j.velocity / j.acceleration + (2 * j.acceleration) / j.jerk)) / dt) + 20,
          };
        });
        const limit = Math.max(...reach.map((r) => r.ticks));
        let rested = false;
        for (let k = 0; k < limit && !rested; k++) {
          rested = envelope.brake();
          checker.check();
        }
        if (!rested) throw new Error(`no standstill within ${limit} ticks`);
        for (let i = 0; i < n; i++) {
          const moved = envelope.command.position(i) - from[i];
          const slack = 2 * joints[i].velocity * dt + 1e-9;
          if (moved > reach[i].up + slack || -moved > reach[i].down + slack) {
            throw new Error(`joint ${i} stopped ${moved} from where the stop began; predicted up ${reach[i].up}, down ${reach[i].down}`);
          }
        }
        break;
      }
    }
  }
  totalTicks += checker.ticks;
}

describe('JointEnvelope properties', () => {
  it('never leaves position, velocity, acceleration or jerk limits, and stops within the predicted distance', () => {
    totalTicks = 0;
    fc.assert(
      fc.property(scenario, ({ setup, steps }) => run(setup, steps)),
      { numRuns: 1500, seed: 20261125 },
    );
    // The issue asks for at least 100 000 checked ticks in the suite.
    expect(totalTicks).toBeGreaterThanOrEqual(100_000);
  });

  it('regression: a stop right after holding 8e-13 above a lower limit of ~0 reaches standstill', () => {
    // Found by the fresh search (seed -2138517669): joint 4 never reported rest after the stop.
    const joints: JointLimits[] = [
      { lower: -3.158972968216258e-255, range: 0.12437876788453947, velocity: 0.7232186303227702, acceleration: 0.3396122522792554, jerk: 584.2628612959035, marginFraction: 0.2 },
      { lower: -1.1656109415773785e-95, range: 0.7018916467270817, velocity: 0.0771794808508011, acceleration: 2.4853310426730624, jerk: 6.418550412963213, marginFraction: 0.05 },
      { lower: -4.604051337477237e-63, range: 0.21583701919775228, velocity: 0.1069490526605443, acceleration: 0.2386044291342845, jerk: 17.838525830917224, marginFraction: 0 },
      { lower: -4.1188353267452544e-139, range: 2.830250889430201, velocity: 0.3102370279621683, acceleration: 0.3219176674187853, jerk: 142.21169174650103, marginFraction: 0.05 },
      { lower: -2.821220109288212e-250, range: 0.09646133270642102, velocity: 0.9803286843028228, acceleration: 0.5229135928284796, jerk: 77.49416654551437, marginFraction: 0.05 },
      { lower: -3.3643790996794114e-186, range: 0.05756357316012948, velocity: 5.3496338870111115, acceleration: 18.361783573422912, jerk: 97.14258709634709, marginFraction: 0.2 },
      { lower: -1.697756414077425e-213, range: 0.20841183899730686, velocity: 0.0871351639237391, acceleration: 0.5723257584841438, jerk: 15.976926697518731, marginFraction: 0 },
    ];
    run({ joints, rateHz: 100, start: 1.3583771465278538e-203 }, [
      { kind: 'hold', at: [0, 0, 0, 0, 8.033702663155919e-13, 0, 0], ticks: 5 },
      { kind: 'stop' },
      { kind: 'value', at: [0, 0, 0, 0, 0, 0, 0] },
    ]);
  });

  const freshRuns = Number(process.env.ENVELOPE_RUNS ?? 300);
  // A long search (ENVELOPE_RUNS=20000) outlasts the 60 s default test timeout on a loaded machine.
  it('holds the same properties with fresh random seeds', { timeout: Math.max(60_000, freshRuns * 100) }, () => {
    totalTicks = 0;
    fc.assert(fc.property(scenario, ({ setup, steps }) => run(setup, steps)), { numRuns: freshRuns });
    expect(totalTicks).toBeGreaterThan(0);
  });
});
