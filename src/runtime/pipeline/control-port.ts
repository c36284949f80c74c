/**
 * What the main-thread pipeline needs of the control loop, whichever thread the loop runs on:
 * `ControlThread` (the worker, real time, `embody run`) and the HIL's `VirtualControl` (the same
 * `ControlLoop` in this thread, one tick at a time on a virtual clock) both implement it, so the
 * pipeline and its observers are one piece of code for both.
 */
import type { Observable } from 'rxjs';
import type { ControlEvent } from '../event-ring.js';
import type { ModeCode, OperatorCommandCode, SharedViews } from '../shared-state.js';

export interface CommandOutcome {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface ControlPort {
  /** The shared-memory views the loop publishes into (read them through the readers in shared-state.ts). */
  readonly shared: SharedViews;
  /** Emits the request sequence number each time the loop asks for a new action chunk. */
  readonly chunkRequests$: Observable<number>;
  readonly mode: ModeCode;
  /** The tick the loop published last (a touch estimate is stamped with it). */
  readonly currentTick: number;
  /** Copy the latest consistent snapshot into `out`; false if none yet (or the writer kept writing). */
  readSnapshot(out: Float64Array): boolean;
  counter(index: number): number;
  /** Hand a chunk of absolute targets (robot units) computed from the observation at obsTick. */
  publishChunk(obsTick: number, values: Float32Array | Float64Array, count: number): void;
  /** The touch estimate the envelope uses: squeeze, the tick of its frame, whether some pad is in contact. */
  publishTouch(force: number, frameTick: number, contact: boolean): void;
  /** Send an operator command; resolves with the loop's verdict. */
  command(code: OperatorCommandCode): Promise<CommandOutcome>;
  /** Every event the loop wrote since the last drain, oldest first. */
  drainEvents(): ControlEvent[];
  /** Hand each trace record since the last drain to `record` (a reused view); returns records lost to wrap-around. */
  drainTrace(record: (values: Float64Array) => void): number;
  latenessPercentiles(): { p50: number; p99: number; max: number };
}
