/**
 * The estimator thread of a TouchWorker: waits for a published frame, takes the newest, runs
 * the synchronous estimator on it and publishes the result under the seqlock. Never yields to
 * its event loop while running (Atomics.wait), like the control worker; exits on STOP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FingertipDescription } from '../robot/index.js';
import type { Frame } from '../hal/types.js';
import { createTouchEstimator, type TouchEstimatorOptions } from './estimator.js';
import { Ctrl, FRESH, Header, fields, viewTouchShared, type TouchSharedBuffers } from './shared.js';

export interface TouchWorkerData {
  readonly fingertips: readonly FingertipDescription[];
  readonly width: number;
  readonly height: number;
  readonly options: TouchEstimatorOptions;
  readonly buffers: TouchSharedBuffers;
  readonly camera: string;
}

export function runTouchWorker(data: TouchWorkerData): void {
  const shared = viewTouchShared(data.buffers);
  const { control, slotHeader, slots, results } = shared;
  const estimator = createTouchEstimator(data.fingertips, data.width, data.height, data.options);
  const pads = data.fingertips.length;
  const outputs = fields.map((f) => estimator[f]);
  // One mutable frame handed to the estimator; its data points at the slot being read.
  const frame: { camera: string; sequence: number; timestampMs: number; width: number; height: number; data: Uint8Array } = {
    camera: data.camera,
    sequence: 0,
    timestampMs: 0,
    width: data.width,
    height: data.height,
    data: slots[0],
  };
  let front = 2;
  Atomics.store(control, Ctrl.STARTED, 1);
  parentPort?.postMessage({ type: 'started' });
  for (;;) {
    if (Atomics.load(control, Ctrl.STOP) === 1) break;
    const notified = Atomics.load(control, Ctrl.NOTIFY);
    if ((Atomics.load(control, Ctrl.MIDDLE) & FRESH) === 0) {
      Atomics.wait(control, Ctrl.NOTIFY, notified, 1000);
      continue;
    }
    front = Atomics.exchange(control, Ctrl.MIDDLE, front) & 3;
    frame.data = slots[front];
    frame.timestampMs = slotHeader[2 * front];
    frame.sequence = slotHeader[2 * front + 1];
    const start = performance.now();
    estimator.updateFrame(frame as Frame);
    const cost = (performance.now() - start) * 1000;
    Atomics.add(control, Ctrl.RESULT_SEQ, 1);
    results[Header.SEQUENCE] = frame.sequence;
    results[Header.TIMESTAMP] = frame.timestampMs;
    results[Header.PROCESSED] = estimator.frames;
    results[Header.COST_US] = cost;
    results[Header.READY] = estimator.ready ? 1 : 0;
    results[Header.DROPPED] = estimator.dropped;
    for (let f = 0; f < outputs.length; f++) {
      const out = outputs[f];
      const base = Header.SIZE + f * pads;
      for (let p = 0; p < pads; p++) results[base + p] = out[p];
    }
    Atomics.add(control, Ctrl.RESULT_SEQ, 1);
    Atomics.notify(control, Ctrl.RESULT_SEQ);
  }
}

if (parentPort && (workerData as { touchWorker?: boolean } | undefined)?.touchWorker) {
  runTouchWorker(workerData as TouchWorkerData);
}
