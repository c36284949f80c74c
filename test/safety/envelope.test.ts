import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import type { JointDescription } from '../../src/robot/index.js';
import { SimJointHardware } from '../../src/hal/sim/index.js';
import { Intervention, JointEnvelope, Verdict } from '../../src/safety/envelope.js';
import { limitsFromJoints } from '../../src/safety/limits.js';
import { SafeCommand, takeEnvelopeKey, type EnvelopeKey } from '../../src/safety/safe-command.js';
import { WorkspaceGuard } from '../../src/safety/workspace.js';

function joint(overrides: Partial<JointDescription['limits']> = {}): JointDescription {
  return {
    name: 'j',
    type: 'revolute',
    driver: { kind: 'sim' },
    limits: { position: [-1, 1], velocity: 1, acceleration: 10, jerk: 200, effort: 5, soft_margin: 0, ...overrides },
  };
}

const dt = 0.01;

function commandOf(envelope: JointEnvelope): number[] {
  return Array.from({ length: envelope.command.length }, (_, i) => envelope.command.position(i));
}

describe('JointEnvelope', () => {
  it('rejects NaN, Inf and short proposals and holds the last safe command', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint(), joint()]), dt);
    envelope.seed(Float64Array.of(0.2, -0.3));
    expect(envelope.track(Float64Array.of(Number.NaN, 0))).toBe(Verdict.REJECTED);
    expect(envelope.track(Float64Array.of(0, Number.POSITIVE_INFINITY))).toBe(Verdict.REJECTED);
    expect(envelope.track(Float64Array.of(0))).toBe(Verdict.REJECTED);
    expect(envelope.interventions[0] & Intervention.REJECTED).toBeTruthy();
    expect(commandOf(envelope)).toEqual([0.2, -0.3]);
  });

  it('follows a feasible trajectory exactly', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0));
    // Starts at rest with zero acceleration, so the trajectory must too: p = 0.1 (1 - cos t).
    for (let k = 1; k <= 100; k++) {
      const target = 0.1 * (1 - Math.cos(k * dt));
      expect(envelope.track(Float64Array.of(target))).toBe(Verdict.PASSED);
      expect(envelope.command.position(0)).toBeCloseTo(target, 12);
    }
  });

  it('shapes a step: reaches the target without overshoot, at no more than the velocity limit', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(-0.5));
    let previous = -0.5;
    let peak = 0;
    for (let k = 0; k < 300; k++) {
      envelope.track(Float64Array.of(0.5));
      const p = envelope.command.position(0);
      peak = Math.max(peak, (p - previous) / dt);
      expect(p).toBeLessThanOrEqual(0.5 + 1e-9);
      expect(p).toBeGreaterThanOrEqual(previous - 1e-12);
      previous = p;
    }
    expect(envelope.command.position(0)).toBeCloseTo(0.5, 6);
    expect(peak).toBeGreaterThan(0.95);
    expect(peak).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('clamps targets beyond the hard limits and comes to rest on the limit, not past it', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0.5));
    let verdict: number = Verdict.PASSED;
    for (let k = 0; k < 200; k++) verdict = envelope.track(Float64Array.of(5));
    expect(verdict).toBe(Verdict.LIMITED);
    expect(envelope.positionLimited).toBe(true);
    expect(envelope.interventions[0] & Intervention.POSITION_CLAMP).toBeTruthy();
    expect(envelope.command.position(0)).toBeLessThanOrEqual(1);
    expect(envelope.command.position(0)).toBeGreaterThan(0.999);
  });

  it('slows motion toward a limit inside the soft margin but not motion away from it', () => {
    const run = (from: number, to: number): number => {
      const envelope = new JointEnvelope(limitsFromJoints([joint({ soft_margin: 0.3 })]), dt);
      envelope.seed(Float64Array.of(from));
      for (let k = 0; k < 10; k++) envelope.track(Float64Array.of(to));
      return Math.abs(envelope.command.position(0) - from);
    };
    expect(run(0.8, 1)).toBeLessThan(run(0.8, 0) * 0.6);
  });

  it('brakes to rest within the acceleration and jerk limits', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(-0.9));
    for (let i = 0; i < 60; i++) envelope.track(Float64Array.of(0.9));
    expect(envelope.velocity(0)).toBeCloseTo(1, 6);
    let ticks = 0;
    while (!envelope.brake()) {
      expect(Math.abs(envelope.acceleration(0))).toBeLessThanOrEqual(10 + 1e-9);
      ticks++;
      expect(ticks).toBeLessThan(100);
    }
    // 1 rad/s at 10 rad/s^2 with 200 rad/s^3 ramps: 0.1 s + 0.05 s, about 15 ticks.
    expect(ticks).toBeGreaterThanOrEqual(13);
    expect(ticks).toBeLessThanOrEqual(18);
    expect(envelope.atRest).toBe(true);
  });

  it('comes to rest after a step of a few ulps next to a limit, holding and braking', () => {
    // A one-tick step of d leaves a speed of d/dt; stopping it takes d/dt² of acceleration,
    // far below the 2^-20 bisection step of the position check, which once let the joint creep
    // away from the limit at that speed for ever: never at rest, so no power-off after a
    // category-1 stop (fast-check counterexample, envelope.property.test.ts).
    const limitSets = [
      { position: [-2.8e-250, 0.0965] as [number, number], velocity: 0.98, acceleration: 0.523, jerk: 77.5, soft_margin: 0.0048 },
      { position: [-1, 1] as [number, number], velocity: 1, acceleration: 10, jerk: 200, soft_margin: 0 },
      { position: [0.3, 2.5] as [number, number], velocity: 2, acceleration: 10, jerk: 5000, soft_margin: 0.1 },
    ];
    for (const limits of limitSets) {
      for (const rate of [100, 1000]) {
        for (const side of [0, 1]) {
          const edge = limits.position[side];
          for (let exponent = -16; exponent <= -7; exponent++) {
            const target = Float64Array.of(edge + (side === 0 ? 1 : -1) * 10 ** exponent * Math.max(1, Math.abs(edge)));
            const where = `limits ${JSON.stringify(limits)} ${rate} Hz, target ${target[0]}`;
            const envelope = new JointEnvelope(limitsFromJoints([joint(limits)]), 1 / rate);
            envelope.seed(Float64Array.of(edge));
            let held = 0;
            while (held < 50 && !(envelope.track(target) >= 0 && envelope.atRest)) held++;
            expect(held, `holding, ${where}`).toBeLessThan(50);
            // Within the rest snap (envelope.ts REST_FRACTION), which swallows the smallest steps.
            expect(Math.abs(envelope.command.position(0) - target[0]), where).toBeLessThan(1e-10);
            envelope.seed(Float64Array.of(edge));
            envelope.track(target);
            let braked = 0;
            while (braked < 50 && !envelope.brake()) braked++;
            expect(braked, `braking, ${where}`).toBeLessThan(50);
          }
        }
      }
    }
  });

  it('bounds the target with targetMin/targetMax (force and effort limits)', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0));
    envelope.targetMax[0] = 0.1;
    for (let i = 0; i < 100; i++) envelope.track(Float64Array.of(0.5));
    expect(envelope.command.position(0)).toBeCloseTo(0.1, 6);
    expect(envelope.interventions[0] & Intervention.FORCE).toBeTruthy();
  });

  it('after cutPower the command is unpowered and frozen until re-seeded', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0));
    envelope.track(Float64Array.of(0.2));
    envelope.cutPower(Float64Array.of(0.05));
    expect(envelope.command.powered).toBe(false);
    expect(envelope.track(Float64Array.of(0.5))).toBe(Verdict.REJECTED);
    expect(envelope.command.position(0)).toBe(0.05);
    envelope.seed(Float64Array.of(0.05));
    expect(envelope.command.powered).toBe(true);
  });
});

describe('envelope limits', () => {
  it('refuses inverted, zero and over-rated limits, naming the joint and the field', () => {
    expect(() => limitsFromJoints([joint({ position: [1, -1] })])).toThrow(/joint 'j'.*limits.position.*inverted/);
    expect(() => limitsFromJoints([joint({ velocity: 0 })])).toThrow(/limits.velocity 0 must be/);
    expect(() => limitsFromJoints([joint({ velocity: 3, rated: { velocity: 2 } })])).toThrow(/above the actuator's rated maximum 2 \(limits.rated.velocity\)/);
    expect(() => limitsFromJoints([joint({ soft_margin: 1.5 })])).toThrow(/soft_margin/);
  });
});

describe('workspace box', () => {
  it('keeps the fingertips of the sim arm inside the box when the policy drives them out', () => {
    const robot = loadRobotDescription(path.resolve('robots/sim-arm.yaml'));
    const box = { min: [0.1, -0.3, 0.05], max: [0.5, 0.3, 0.5] } as const;
    const guard = new WorkspaceGuard(robot, box);
    const envelope = new JointEnvelope(limitsFromJoints(robot.joints), 1 / robot.control.rate_hz, guard);
    const home = Float64Array.from(robot.joints, (j) => j.home ?? 0);
    envelope.seed(home);
    expect(guard.excursion(home)).toBe(0);
    // Push the shoulder down hard: the tip would go through the table (z < 0.05).
    const target = Float64Array.from(home);
    target[1] += 1.2;
    let braked = false;
    const command = new Float64Array(robot.joints.length);
    for (let k = 0; k < 400; k++) {
      envelope.track(target);
      braked ||= (envelope.interventions[1] & Intervention.WORKSPACE) !== 0;
      for (let i = 0; i < command.length; i++) command[i] = envelope.command.position(i);
    }
    expect(braked).toBe(true);
    expect(envelope.atRest).toBe(true);
    // Resting point inside; the braking path may graze the face by millimetres (SAFETY.md).
    expect(guard.excursion(command)).toBeLessThan(0.005);
  });
});

describe('SafeCommand boundary', () => {
  it('cannot be minted, filled or powered without the envelope key, and the key is handed out once', () => {
    const forged: EnvelopeKey = Symbol('embody.envelope') as unknown as EnvelopeKey;
    expect(() => new SafeCommand(forged, 3)).toThrow(/only be created by the safety envelope/);
    const real = new JointEnvelope(limitsFromJoints([joint()]), dt).command;
    expect(() => SafeCommand.writable(forged, real)).toThrow(/only the safety envelope/);
    expect(() => SafeCommand.setPowered(forged, real, true)).toThrow(/only the safety envelope/);
    // envelope.ts took the key when it was imported above.
    expect(() => takeEnvelopeKey()).toThrow(/already taken/);
  });

  it('drivers accept only a SafeCommand (type-level), and only the envelope takes the key (source-level)', () => {
    const hardware = SimJointHardware.prototype;
    // @ts-expect-error a raw position array is not a SafeCommand: drivers cannot be fed around the envelope
    expect(() => hardware.write.call(hardware, new Float64Array(1))).toThrow();
    const sources = listTs(path.resolve('src'));
    // safe-command.ts defines the key; everyone else may only use it through the envelope.
    const takers = sources.filter((file) => !file.endsWith('safe-command.ts') && /takeEnvelopeKey\(\)/.test(readFileSync(file, 'utf8')));
    expect(takers.map((f) => path.relative(process.cwd(), f))).toEqual(['src/safety/envelope.ts']);
    const writers = sources.filter((file) => /SafeCommand\.(writable|setPowered)\(/.test(readFileSync(file, 'utf8')));
    expect(writers.map((f) => path.relative(process.cwd(), f))).toEqual(['src/safety/envelope.ts']);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return listTs(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}
