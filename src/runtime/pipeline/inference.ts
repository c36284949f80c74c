/**
 * Chunk requests from the loop become action chunks: read the newest snapshot, build the
 * observation, ask the policy, hand the chunk to the loop. One attempt at a time (a request that
 * arrives while the policy is busy is answered by the chunk in flight, as the loop asks again when
 * it needs more). Clock-driven: the injected clock's `nowMs` and `retry$` decide when a request
 * whose inputs are missing (no camera frame yet) is tried again, so the same code runs on real time
 * and on the HIL's virtual time.
 *
 * An error from the policy is an event, counted, and retried after a back-off; a run of them is a
 * safe stop (a policy that keeps failing must not leave an armed robot holding forever).
 */
import type { BrainReport } from '../policy/openpi/index.js';
import type { ChunkSink, InferenceResult } from '../policy/runner.js';
import type { ObservationSources, TouchReadings } from '../policy/observation.js';
import { OperatorCommand } from '../shared-state.js';
import type { ControlPort } from './control-port.js';
import type { RuntimeEvent } from './events.js';

/** What produces action chunks: the local ONNX runner, a policy worker, a remote server. */
export interface ChunkPolicy {
  infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult>;
  latencyPercentiles(): { p50: number; p99: number; max: number; count: number };
  /** A remote source: which brain drives and how often each did. */
  brain?(): BrainReport;
}

export interface PipelineClock {
  /** Now, on the clock camera frames are stamped with (Frame.timestampMs), ms. */
  nowMs(): number;
}

/** How long a request whose inputs are missing is retried before it is dropped (the loop asks again). */
export const GAP_RETRY_MS = 400;
/** Back-off after a failed inference: doubles from the first to the last, ms. */
export const ERROR_BACKOFF_MS = { first: 50, max: 2000 } as const;
/** Consecutive failed inferences that make a safe stop. */
export const MAX_CONSECUTIVE_ERRORS = 5;
/** At most one observation-gap (or malformed-output) event per this long, ms. */
const GAP_REPORT_MS = 1000;

export interface InferenceStats {
  readonly attempts: number;
  readonly chunks: number;
  readonly errors: number;
  readonly gaps: number;
}

export class InferenceStage {
  readonly #control: ControlPort;
  readonly #policy: ChunkPolicy;
  readonly #clock: PipelineClock;
  readonly #emit: (event: RuntimeEvent) => void;
  readonly #snapshot: Float64Array;
  readonly #sources: ObservationSources;
  #requested = false;
  #requestedAt = 0;
  #busy: Promise<void> | undefined;
  #consecutiveErrors = 0;
  #retryAt = 0;
  #lastGapReport = -Infinity;
  #lastMalformedReport = -Infinity;
  #stats = { attempts: 0, chunks: 0, errors: 0, gaps: 0 };

  constructor(options: {
    control: ControlPort;
    policy: ChunkPolicy;
    clock: PipelineClock;
    frame: ObservationSources['frame'];
    touch: TouchReadings;
    instruction: () => string;
    emit: (event: RuntimeEvent) => void;
  }) {
    this.#control = options.control;
    this.#policy = options.policy;
    this.#clock = options.clock;
    this.#emit = options.emit;
    this.#snapshot = new Float64Array(options.control.shared.snapshot.length);
    const clock = options.clock;
    this.#sources = {
      snapshot: this.#snapshot,
      frame: options.frame,
      touch: options.touch,
      get instruction() {
        return options.instruction();
      },
      get nowMs() {
        return clock.nowMs();
      },
    };
  }

  get stats(): InferenceStats {
    return { ...this.#stats };
  }

  /** The loop asked for a chunk. */
  request(): void {
    if (!this.#requested) {
      this.#requested = true;
      this.#requestedAt = this.#clock.nowMs();
    }
    this.poll();
  }

  /** Try the pending request again (the clock's retry cadence calls this). */
  poll(): void {
    if (!this.#requested || this.#busy !== undefined || this.#clock.nowMs() < this.#retryAt) return;
    this.#control.readSnapshot(this.#snapshot);
    this.#stats.attempts++;
    this.#busy = this.#policy.infer(this.#sources, this.#control).then(
      (result) => this.#answered(result),
      (error: unknown) => this.#failed(error),
    ).finally(() => {
      this.#busy = undefined;
    });
  }

  /** Resolves when no inference is in flight. */
  async settled(): Promise<void> {
    while (this.#busy !== undefined) await this.#busy;
  }

  #answered(result: InferenceResult): void {
    this.#consecutiveErrors = 0;
    if (result.gap === undefined) {
      this.#requested = false;
      this.#stats.chunks++;
      if (result.malformed !== undefined) this.#reportMalformed(result.obsTick, result.malformed);
      return;
    }
    const now = this.#clock.nowMs();
    if (now - this.#requestedAt < GAP_RETRY_MS) return;
    // Gave up on this request: the loop holds, counts starvation, and asks again.
    this.#requested = false;
    this.#stats.gaps++;
    if (now - this.#lastGapReport < GAP_REPORT_MS) return;
    this.#lastGapReport = now;
    this.#emit({
      tick: result.obsTick,
      kind: 'observation_gap',
      cause: result.gap.missing,
      message: `observation incomplete (${result.gap.missing}): no chunk sent, the loop holds`,
    });
  }

  #reportMalformed(tick: number, what: string): void {
    const now = this.#clock.nowMs();
    if (now - this.#lastMalformedReport < GAP_REPORT_MS) return;
    this.#lastMalformedReport = now;
    this.#emit({ tick, kind: 'policy_output_malformed', cause: what, message: `policy output rejected: ${what}` });
  }

  #failed(error: unknown): void {
    this.#stats.errors++;
    const n = ++this.#consecutiveErrors;
    const backoff = Math.min(ERROR_BACKOFF_MS.max, ERROR_BACKOFF_MS.first * 2 ** (n - 1));
    this.#retryAt = this.#clock.nowMs() + backoff;
    const text = error instanceof Error ? error.message : String(error);
    const stop = n >= MAX_CONSECUTIVE_ERRORS;
    this.#emit({
      tick: this.#control.currentTick,
      kind: 'inference_error',
      cause: text,
      detail: String(n),
      message: stop
        ? `inference failed ${n} times in a row (${text}): safe stop`
        : `inference failed (${text}): retrying in ${backoff} ms (${n} in a row)`,
    });
    if (stop) {
      this.#requested = false;
      this.#consecutiveErrors = 0;
      void this.#control.command(OperatorCommand.STOP);
    }
  }
}
