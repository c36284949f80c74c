/**
 * TouchWorker runs the same estimator in a worker thread: identical outputs frame by frame when
 * every frame is waited for, and newest-frame-only when frames come faster than it estimates.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { createTouchEstimator, TouchWorker } from '../../src/tactile/index.js';
import { contactForce, createSyntheticClip } from '../../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));
const camera = robot.cameras[0];

describe('TouchWorker', () => {
  it('matches the synchronous estimator frame by frame', async () => {
    const clip = createSyntheticClip(robot, 60, { force: contactForce([{ start: 20, end: 40, force: 25 }]), shear: (k) => (k > 25 && k < 40 ? [1, 0] : [0, 0]) });
    const worker = await TouchWorker.start(robot.fingertips, camera.width, camera.height, { camera: 'wrist' });
    const reference = createTouchEstimator(robot.fingertips, camera.width, camera.height);
    const data = new Uint8Array(camera.width * camera.height * 3);
    try {
      for (let k = 0; k < 60; k++) {
        clip.render(k, data);
        const frame = { camera: 'wrist', sequence: k + 1, timestampMs: (k * 1000) / 30, width: camera.width, height: camera.height, data };
        worker.post(frame);
        reference.updateFrame(frame);
        expect(await worker.waitForResult(5000)).toBe(true);
        expect(worker.read()).toBe(true);
        expect(worker.frameSequence).toBe(k + 1);
        for (let p = 0; p < 2; p++) {
          expect(worker.contact[p]).toBe(reference.contact[p]);
          expect(worker.inContact[p]).toBe(reference.inContact[p]);
          expect(worker.force[p]).toBe(reference.force[p]);
          expect(worker.area[p]).toBe(reference.area[p]);
          expect(worker.shearX[p]).toBe(reference.shearX[p]);
          expect(worker.flags[p]).toBe(reference.flags[p]);
        }
        expect(worker.ready).toBe(reference.ready);
      }
      expect(worker.inContact[0]).toBe(0);
      expect(worker.read()).toBe(false); // nothing newer
    } finally {
      await worker.close();
    }
  });

  it('takes only the newest frame when frames arrive faster than it estimates', async () => {
    const clip = createSyntheticClip(robot, 1, { force: () => 0 });
    const data = new Uint8Array(camera.width * camera.height * 3);
    clip.render(0, data);
    const worker = await TouchWorker.start(robot.fingertips, camera.width, camera.height);
    try {
      // 500 frames posted in one go: the worker cannot estimate each, and must not queue them.
      for (let k = 1; k <= 500; k++) worker.post({ camera: 'wrist', sequence: k, timestampMs: k, width: camera.width, height: camera.height, data });
      const deadline = performance.now() + 5000;
      while (worker.frameSequence !== 500 && performance.now() < deadline) {
        await worker.waitForResult(500);
        worker.read();
      }
      expect(worker.frameSequence).toBe(500);
      const processed = worker.header[2];
      expect(processed).toBeGreaterThanOrEqual(1);
      expect(processed).toBeLessThan(500); // skipped, not queued
      console.log(`touch worker: 500 frames posted at once, ${processed} estimated, the last one among them`);
    } finally {
      await worker.close();
    }
  });
});
