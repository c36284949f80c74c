import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimPlant } from '../../src/hal/sim/index.js';
import { createJointState } from '../../src/hal/types.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { createExpert } from '../../models/expert.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));
const fourJoints = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm-4dof.yaml', import.meta.url)));

function run(plant: SimPlant, targets: Float64Array, seconds: number): void {
  const ticks = Math.round(seconds / plant.dt);
  for (let i = 0; i < ticks; i++) plant.step(targets);
}

describe('simulated plant', () => {
  it('servos track their targets and stop at the hard limits', () => {
    const plant = new SimPlant(robot, 1);
    const targets = Float64Array.from(plant.position);
    targets[0] = 0.5;
    run(plant, targets, 2);
    expect(plant.position[0]).toBeCloseTo(0.5, 3);
    targets[0] = 99;
    run(plant, targets, 5);
    expect(plant.position[0]).toBe(robot.joints[0].limits.position[1]);
  });

  it('never moves a joint faster than its physical limit, and reports effort within the limit', () => {
    const plant = new SimPlant(robot, 1);
    const targets = Float64Array.from(plant.position);
    targets[1] = plant.position[1] + 1;
    const state = createJointState(robot.joints.length);
    let fastest = 0;
    for (let i = 0; i < 200; i++) {
      plant.step(targets);
      plant.readJoints(state);
      fastest = Math.max(fastest, Math.abs(state.velocity[1]));
      expect(Math.abs(state.effort[1])).toBeLessThanOrEqual(robot.joints[1].limits.effort + 1e-9);
    }
    expect(fastest).toBeLessThanOrEqual(1.5 * robot.joints[1].limits.velocity + 1e-9);
    expect(fastest).toBeGreaterThan(0.5 * robot.joints[1].limits.velocity);
  });

  it('the scripted expert grasps and lifts the cube; releasing it drops it back on the table', () => {
    const plant = new SimPlant(robot, 3);
    const expert = createExpert(robot, 20);
    const targets = new Float64Array(robot.joints.length);
    for (let k = 0; k < 160 && !plant.truth.lifted; k++) {
      expert.act(plant, targets);
      run(plant, targets, 0.05);
    }
    expect(plant.truth.grasped).toBe(true);
    expect(plant.truth.lifted).toBe(true);
    expect(plant.truth.gripForce).toBeGreaterThan(4);
    targets[plant.gripperIndex] = 0.08;
    run(plant, targets, 1.5);
    expect(plant.truth.grasped).toBe(false);
    expect(plant.truth.object[2]).toBeCloseTo((robot.sim?.object.size ?? 0) / 2, 6);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = new SimPlant(robot, 11);
    const b = new SimPlant(robot, 11);
    const c = new SimPlant(robot, 12);
    expect(Array.from(a.truth.object)).toEqual(Array.from(b.truth.object));
    expect(Array.from(a.truth.object)).not.toEqual(Array.from(c.truth.object));
  });

  it('builds any body from its YAML: a 4-joint arm without a camera', () => {
    const plant = new SimPlant(fourJoints, 1);
    expect(plant.jointCount).toBe(4);
    const targets = Float64Array.from(plant.position).map((p) => p + 0.01);
    run(plant, targets, 1);
    plant.position.forEach((p, i) => expect(p).toBeCloseTo(targets[i], 3));
  });
});
