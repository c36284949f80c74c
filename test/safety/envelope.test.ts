import { describe, expect, it } from 'vitest';
import type { JointDescription } from '../../src/hal/robot-description.js';
import { JointEnvelope, limitsFromJoints, Verdict } from '../../src/safety/envelope.js';
import { SafeCommand, takeEnvelopeKey, type EnvelopeKey } from '../../src/safety/safe-command.js';

function joint(overrides: Partial<JointDescription['limits']> = {}): JointDescription {
  return {
    name: 'j',
    type: 'revolute',
    driver: { kind: 'sim' },
    limits: { position: [-1, 1], velocity: 1, acceleration: 10, jerk: 100, effort: 5, soft_margin: 0, ...overrides },
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
    expect(envelope.apply(Float64Array.of(Number.NaN, 0))).toBe(Verdict.REJECTED);
    expect(envelope.apply(Float64Array.of(0, Number.POSITIVE_INFINITY))).toBe(Verdict.REJECTED);
    expect(envelope.apply(Float64Array.of(0))).toBe(Verdict.REJECTED);
    expect(commandOf(envelope)).toEqual([0.2, -0.3]);
  });

  it('clamps to the hard position limits and limits each step to the velocity limit', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0.995));
    expect(envelope.apply(Float64Array.of(5))).toBe(Verdict.LIMITED);
    expect(envelope.positionLimited).toBe(true);
    expect(envelope.command.position(0)).toBeCloseTo(1);
    envelope.seed(Float64Array.of(0));
    envelope.apply(Float64Array.of(0.5));
    expect(envelope.velocityLimited).toBe(true);
    expect(envelope.command.position(0)).toBeCloseTo(1 * dt);
  });

  it('slows motion toward a limit inside the soft margin but not motion away from it', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint({ soft_margin: 0.2 })]), dt);
    envelope.seed(Float64Array.of(0.9));
    envelope.apply(Float64Array.of(1));
    const toward = envelope.command.position(0) - 0.9;
    envelope.seed(Float64Array.of(0.9));
    envelope.apply(Float64Array.of(0));
    const away = 0.9 - envelope.command.position(0);
    expect(toward).toBeLessThan(away * 0.6);
    expect(away).toBeCloseTo(dt);
  });

  it('stops within the acceleration limit and reports rest', () => {
    const envelope = new JointEnvelope(limitsFromJoints([joint()]), dt);
    envelope.seed(Float64Array.of(0));
    for (let i = 0; i < 20; i++) envelope.apply(Float64Array.of(0.9));
    let previous = envelope.command.position(0);
    let previousVelocity = 1;
    let ticks = 0;
    while (!envelope.stopStep()) {
      const velocity = (envelope.command.position(0) - previous) / dt;
      expect(previousVelocity - velocity).toBeLessThanOrEqual(10 * dt + 1e-9);
      previous = envelope.command.position(0);
      previousVelocity = velocity;
      ticks++;
    }
    // 1 rad/s at 10 rad/s^2 takes 0.1 s = 10 ticks.
    expect(ticks).toBeGreaterThanOrEqual(9);
    expect(ticks).toBeLessThanOrEqual(11);
  });

  it('refuses inverted or zero limits with the joint named', () => {
    expect(() => limitsFromJoints([joint({ position: [1, -1] })])).toThrow(/joint 'j'.*inverted/);
    expect(() => limitsFromJoints([joint({ velocity: 0 })])).toThrow(/velocity/);
  });
});

describe('SafeCommand boundary', () => {
  it('cannot be minted or filled without the envelope key, and the key is handed out once', () => {
    const forged: EnvelopeKey = Symbol('embody.envelope') as unknown as EnvelopeKey;
    expect(() => new SafeCommand(forged, 3)).toThrow(/only be created by the safety envelope/);
    // envelope.ts took the key when it was imported above.
    expect(() => takeEnvelopeKey()).toThrow(/already taken/);
  });
});
