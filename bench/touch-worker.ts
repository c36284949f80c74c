/**
 * `npx tsx bench/touch-worker.ts`: is TouchWorker worth wiring into the runtime? For 640x480
 * frames with two fingertip pads, the main thread's cost per frame with the estimator inline
 * (updateFrame) beside its cost with the estimator in a TouchWorker (post: copy the frame into
 * the shared slot and notify; read: copy the result back), and the worker's latency from post
 * to a readable result. Frames are rendered up front; the same 32 are cycled.
 */
import { fileURLToPath } from 'node:url';
import type { FingertipDescription, RobotDescription } from '../src/robot/index.js';
import { loadRobotDescription } from '../src/runtime/config/index.js';
import { createTouchEstimator, TouchWorker } from '../src/tactile/index.js';
import { createSyntheticClip } from '../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../robots/sim-arm.yaml', import.meta.url)));

function quantiles(samples: number[]): { p50: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], p99: s[Math.floor(s.length * 0.99)], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function camera(width: number, height: number, rois: [number, number, number, number][]): RobotDescription {
  const wrist = { ...robot.cameras[0], width, height };
  return { ...robot, cameras: [wrist], fingertips: rois.map((roi, i): FingertipDescription => ({ name: `pad${i}`, camera: wrist.name, roi })) };
}

async function measure(label: string, r: RobotDescription, frames: number): Promise<void> {
  const { width, height } = r.cameras[0];
  const clip = createSyntheticClip(r, 32, { force: (k) => (k % 16 >= 6 ? 20 : 0), shear: (k) => (k % 16 >= 10 ? [1, 0] : [0, 0]), shift: (k) => [0.4 * Math.sin(k / 3), 0] });
  const images = Array.from({ length: 32 }, (_, k) => {
    const data = new Uint8Array(width * height * 3);
    clip.render(k, data);
    return data;
  });
  const frame = { camera: 'wrist', sequence: 0, timestampMs: 0, width, height, data: images[0] };
  const inline = createTouchEstimator(r.fingertips, width, height);
  const inlineUs: number[] = [];
  for (let k = 0; k < frames + 300; k++) {
    frame.sequence = k + 1;
    frame.timestampMs = k * 33.3;
    frame.data = images[k & 31];
    const t0 = performance.now();
    inline.updateFrame(frame);
    if (k >= 300) inlineUs.push((performance.now() - t0) * 1000);
  }
  const worker = await TouchWorker.start(r.fingertips, width, height);
  const postUs: number[] = [];
  const readUs: number[] = [];
  const latencyUs: number[] = [];
  const workerCostUs: number[] = [];
  try {
    for (let k = 0; k < frames + 300; k++) {
      frame.sequence = k + 1;
      frame.timestampMs = k * 33.3;
      frame.data = images[k & 31];
      const t0 = performance.now();
      worker.post(frame);
      const t1 = performance.now();
      await worker.waitForResult(5000);
      const t2 = performance.now();
      worker.read();
      const t3 = performance.now();
      if (k >= 300) {
        postUs.push((t1 - t0) * 1000);
        readUs.push((t3 - t2) * 1000);
        latencyUs.push((t2 - t0) * 1000);
        workerCostUs.push(worker.costUs);
      }
    }
  } finally {
    await worker.close();
  }
  const i = quantiles(inlineUs);
  const p = quantiles(postUs);
  const rd = quantiles(readUs);
  const l = quantiles(latencyUs);
  const w = quantiles(workerCostUs);
  const f = (q: { p50: number; p99: number; mean: number }): string => `p50 ${q.p50.toFixed(0)} µs, p99 ${q.p99.toFixed(0)} µs, mean ${q.mean.toFixed(0)} µs`;
  process.stdout.write(
    `touch-worker: ${label}: inline estimate ${f(i)}\n` +
      `touch-worker: ${label}: worker main-thread post ${f(p)}, read ${f(rd)}; in the worker ${f(w)}; post to result ${f(l)}\n` +
      `touch-worker: ${label}: main thread saves ${(i.mean - p.mean - rd.mean).toFixed(0)} µs per frame (${(((i.mean - p.mean - rd.mean) * 60) / 1e4).toFixed(2)} % of a core at 2 cameras x 30 fps); hand-over/inline ${((p.mean + rd.mean) / i.mean).toFixed(2)}\n`,
  );
}

await measure('640x480, two 133x133 pads', camera(640, 480, [[13, 333, 133, 133], [493, 333, 133, 133]]), 2000);
await measure('640x480, two 240x240 pads', camera(640, 480, [[0, 240, 240, 240], [400, 240, 240, 240]]), 2000);
await measure('640x480, one pad over the whole frame', camera(640, 480, [[0, 0, 640, 480]]), 1000);
