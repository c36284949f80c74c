import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRandom, renderWristFrame, SimPlant, World } from '../../src/hal/sim/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { createTouchEstimator } from '../../src/tactile/index.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));
const camera = robot.cameras[0];
const pads = robot.fingertips;

describe('touch from the rendered fingertip pads', () => {
  function setup(): { estimate(force: number): { contact: number; force: number }; ready: () => boolean } {
    const plant = new SimPlant(robot, 1);
    const world = new Float64Array(plant.snapshotSize);
    const frame = new Uint8Array(camera.width * camera.height * 3);
    const random = createRandom(5);
    const estimator = createTouchEstimator(pads, camera.width, camera.height);
    return {
      ready: () => estimator.ready,
      estimate(force) {
        plant.writeSnapshot(world);
        world[World.LEFT_FORCE] = force;
        world[World.RIGHT_FORCE] = force;
        renderWristFrame(world, camera, pads, robot.sim?.camera_noise ?? 0, random, frame);
        estimator.update(frame);
        return { contact: estimator.contact[0], force: estimator.force[0] };
      },
    };
  }

  it('reads no contact from unloaded pads, through camera noise', () => {
    const touch = setup();
    for (let i = 0; i < 10; i++) touch.estimate(0);
    expect(touch.ready()).toBe(true);
    for (let i = 0; i < 30; i++) expect(touch.estimate(0).contact).toBeLessThan(0.1);
  });

  it('detects contact under grip force and its force proxy grows with the force', () => {
    const touch = setup();
    for (let i = 0; i < 10; i++) touch.estimate(0);
    const readings = [8, 15, 25, 40].map((force) => touch.estimate(force));
    for (const r of readings) expect(r.contact).toBeGreaterThan(0.9);
    for (let i = 1; i < readings.length; i++) expect(readings[i].force).toBeGreaterThan(readings[i - 1].force);
    expect(readings[3].force).toBeGreaterThan(0.3);
    expect(readings[3].force).toBeLessThan(3);
  });
});
