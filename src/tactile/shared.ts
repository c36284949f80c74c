/**
 * The memory a TouchWorker shares with its estimator thread: a triple-buffered frame slot (the
 * camera side always writes a free slot and publishes it; the estimator always takes the newest,
 * so a slow estimate skips frames instead of queueing them) and a seqlocked result block. Typed
 * arrays over SharedArrayBuffers with Atomics, like the control worker's shared state.
 */
import type { TouchReadout } from './estimator.js';

export const Ctrl = {
  /** Index of the published frame slot, | FRESH while the estimator has not taken it. */
  MIDDLE: 0,
  /** Bumped on every published frame; the estimator waits on it. */
  NOTIFY: 1,
  /** 1: the estimator thread exits. */
  STOP: 2,
  /** Result seqlock: odd while the estimator writes. */
  RESULT_SEQ: 3,
  /** 1 once the estimator thread runs. */
  STARTED: 4,
  SIZE: 8,
} as const;

export const FRESH = 4;

/** Result header (Float64) before the per-pad fields. */
export const Header = {
  SEQUENCE: 0,
  TIMESTAMP: 1,
  PROCESSED: 2,
  COST_US: 3,
  READY: 4,
  DROPPED: 5,
  SIZE: 8,
} as const;

/** Per-pad result fields, in this order. */
export const fields = [
  'contact',
  'inContact',
  'force',
  'proxy',
  'area',
  'peak',
  'centroidX',
  'centroidY',
  'major',
  'minor',
  'angle',
  'shearX',
  'shearY',
  'motionX',
  'motionY',
  'slip',
  'slipResidual',
  'gain',
  'noise',
  'drift',
  'flags',
] as const satisfies readonly (keyof TouchReadout)[];

export interface TouchShared {
  readonly control: Int32Array;
  /** Per slot: timestamp, sequence. */
  readonly slotHeader: Float64Array;
  /** Three frame slots of width * height * 3 bytes. */
  readonly slots: readonly Uint8Array[];
  readonly results: Float64Array;
}

export interface TouchSharedBuffers {
  readonly control: SharedArrayBuffer;
  readonly slotHeader: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  readonly results: SharedArrayBuffer;
  readonly frameBytes: number;
  readonly pads: number;
}

export function allocateTouchShared(frameBytes: number, pads: number): TouchSharedBuffers {
  return {
    control: new SharedArrayBuffer(Ctrl.SIZE * 4),
    slotHeader: new SharedArrayBuffer(3 * 2 * 8),
    slots: new SharedArrayBuffer(3 * frameBytes),
    results: new SharedArrayBuffer((Header.SIZE + pads * fields.length) * 8),
    frameBytes,
    pads,
  };
}

export function viewTouchShared(buffers: TouchSharedBuffers): TouchShared {
  const control = new Int32Array(buffers.control);
  return {
    control,
    slotHeader: new Float64Array(buffers.slotHeader),
    slots: [0, 1, 2].map((k) => new Uint8Array(buffers.slots, k * buffers.frameBytes, buffers.frameBytes)),
    results: new Float64Array(buffers.results),
  };
}
