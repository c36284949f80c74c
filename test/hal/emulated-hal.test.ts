/**
 * `--hal emulated` on the preset: openRobotHardware gives the real ServoArmHardware on emulated
 * buses, and the chip models move the plant simulator. A pulse moves the plant's joint, the AS5600
 * models report it, the fingertip FSRs on the ADS1115 report the plant's grip force as the
 * gripper's effort, and a category-0 stop releases /OE with every output off.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createJointState, defaultHalKind, halKindProblem, openRobotHardware, robotForHal, type RobotHardware } from '../../src/hal/index.js';
import { ServoArmHardware } from '../../src/hal/devices/index.js';
import { EmulatedServoArmHardware } from '../../src/hal/sim/devices/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { JointEnvelope, limitsFromJoints } from '../../src/safety/index.js';

const repo = path.resolve(import.meta.dirname, '../..');
const robot = loadRobotDescription(path.join(repo, 'robots/pi-servo-arm.yaml'));
const simArm = loadRobotDescription(path.join(repo, 'robots/sim-arm.yaml'));
const dt = 1 / robot.control.rate_hz;
const GRIPPER = robot.joints.findIndex((j) => j.name === 'gripper');
const ELBOW = robot.joints.findIndex((j) => j.name === 'elbow_pitch');

function open(): { hw: RobotHardware; envelope: JointEnvelope; state: ReturnType<typeof createJointState>; tick(target?: Float64Array): void } {
  const hw = openRobotHardware(robot, { kind: 'emulated', seed: 3 });
  hw.joints.open();
  const state = createJointState(robot.joints.length);
  hw.joints.read(state);
  const envelope = new JointEnvelope(limitsFromJoints(robot.joints), dt);
  envelope.seed(state.position);
  const hold = Float64Array.from(state.position);
  return {
    hw,
    envelope,
    state,
    tick(target = hold) {
      hw.joints.read(state);
      envelope.track(target);
      hw.joints.write(envelope.command);
    },
  };
}

describe('--hal emulated', () => {
  it('is the real servo-arm driver on chip models, with the plant and the models exposed', () => {
    const { hw } = open();
    expect(hw.joints).toBeInstanceOf(EmulatedServoArmHardware);
    expect((hw.joints as EmulatedServoArmHardware).hardware).toBeInstanceOf(ServoArmHardware);
    expect(hw.plant).toBeDefined();
    expect(hw.devices?.models.encoders.filter((e) => e !== undefined)).toHaveLength(6);
    hw.joints.close();
  });

  it('reads the plant through the AS5600 models, to a count, and a PWM pulse moves the plant', () => {
    const r = open();
    const plant = r.hw.plant!;
    const count = (2 * Math.PI) / 4096;
    for (let i = 0; i < GRIPPER; i++) expect(Math.abs(r.state.position[i] - plant.position[i])).toBeLessThanOrEqual(count);
    expect(Math.abs(r.state.position[GRIPPER] - plant.position[GRIPPER])).toBeLessThanOrEqual(0.24 / 4096);
    const target = Float64Array.from(r.state.position);
    target[ELBOW] -= 0.3;
    const start = plant.position[ELBOW];
    for (let k = 0; k < 150; k++) r.tick(target);
    expect(plant.position[ELBOW]).toBeCloseTo(start - 0.3, 2);
    expect(r.state.position[ELBOW]).toBeCloseTo(start - 0.3, 2);
    // A PCA9685 count is 4.88 µs: 0.0115 rad on a 270° servo over 2000 µs.
    const pulses = new Float64Array(16);
    r.hw.devices!.models.pca9685.pulses(pulses);
    expect(pulses[2]).toBeCloseTo(1500 + ((start - 0.3) * 2000) / (2 * 2.356), -1);
    r.hw.joints.close();
  });

  it("gives the fingertip FSRs' force as the gripper's effort (what gripper.max_force limits)", () => {
    const r = open();
    const model = r.hw.devices!;
    model.forceFunction = () => 12;
    for (let k = 0; k < 10; k++) r.tick();
    expect(r.state.effort[GRIPPER]).toBeCloseTo(-12, 0);
    model.forceFunction = undefined;
    for (let k = 0; k < 10; k++) r.tick();
    expect(r.state.effort[GRIPPER]).toBeCloseTo(0, 1);
    r.hw.joints.close();
  });

  it('a category-0 stop releases /OE and turns every servo output off', () => {
    const r = open();
    for (let k = 0; k < 5; k++) r.tick();
    const model = r.hw.devices!;
    expect(Atomics.load(model.outputEnableCells, 0)).toBe(1);
    r.envelope.cutPower(r.state.position);
    r.hw.joints.write(r.envelope.command);
    expect(Atomics.load(model.outputEnableCells, 0)).toBe(0);
    const pulses = new Float64Array(16);
    model.models.pca9685.pulses(pulses);
    expect(Array.from(pulses.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    r.hw.joints.close();
  });

  it('an encoder that stops answering is a HardwareError naming the AS5600 and its joint', () => {
    const r = open();
    r.tick();
    r.hw.devices!.models.encoders[ELBOW]!.inject('nack');
    expect(() => r.hw.joints.read(r.state)).toThrow(/AS5600.*elbow_pitch|elbow_pitch.*AS5600/);
    r.hw.joints.close();
  });

  it('chooses and refuses HAL kinds with the fix', () => {
    expect(defaultHalKind(robot)).toBe('real');
    expect(defaultHalKind(simArm)).toBe('sim');
    expect(halKindProblem(simArm, 'emulated')).toMatch(/no hardware to emulate; use --hal sim/);
    expect(halKindProblem(simArm, 'real')).toMatch(/use --hal sim/);
    expect(halKindProblem(robot, 'emulated')).toBeUndefined();
    expect(halKindProblem(robot, 'real')).toBeUndefined();
    expect(robotForHal(robot, 'emulated').cameras[0].backend).toBe('sim');
    expect(robotForHal(robot, 'real').cameras[0].backend).toBe('v4l2');
  });
});
