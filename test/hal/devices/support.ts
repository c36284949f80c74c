/**
 * Shared pieces of the device tests: the example arm's config and joints, an envelope around
 * them (the only way to get a SafeCommand), and an emulated arm.
 */
import type { JointDescription } from '../../../src/robot/index.js';
import { parseServoArmConfig, type ServoArmConfig, type ServoArmConfigInput } from '../../../src/robot/index.js';
import { EmulatedServoArmHardware, piServoArmExample, type ServoArmModelOptions } from '../../../src/hal/sim/devices/index.js';
import { JointEnvelope, limitsFromJoints } from '../../../src/safety/index.js';

export const RATE_HZ = 100;
export const DT = 1 / RATE_HZ;

export function exampleConfig(edit?: (c: ServoArmConfigInput) => void): ServoArmConfig {
  const input = piServoArmExample();
  edit?.(input);
  return parseServoArmConfig(input);
}

export function jointsOf(config: ServoArmConfig): JointDescription[] {
  return config.joints.map((j) => ({
    name: j.name,
    type: 'revolute' as const,
    driver: { kind: 'sim' as const },
    limits: { position: [-1.4, 1.4] as [number, number], velocity: 1.5, acceleration: 8, jerk: 150, effort: 5, soft_margin: 0.05 },
  }));
}

export function envelopeFor(config: ServoArmConfig): JointEnvelope {
  return new JointEnvelope(limitsFromJoints(jointsOf(config)), DT);
}

export function emulatedArm(config: ServoArmConfig = exampleConfig(), model: Omit<ServoArmModelOptions, 'periodSeconds'> = {}): EmulatedServoArmHardware {
  return new EmulatedServoArmHardware(config, { periodSeconds: DT, model });
}
