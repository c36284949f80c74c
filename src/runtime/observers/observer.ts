/**
 * An observer is one side job of a run (telemetry, trace, report, status line, systemd, a
 * recorder, a live page): it starts over the pipeline's streams and stops at the end, and knows
 * nothing of the others. To add one, write a file like `status-line.ts` and add it to the list in
 * run.ts; nothing else changes.
 */
import type { Observable } from 'rxjs';
import type { CameraWorld } from '../../hal/camera/index.js';
import type { Logger } from '../logger.js';
import type { Pipeline } from '../pipeline/index.js';

export interface RunContext {
  readonly pipeline: Pipeline;
  readonly log: Logger;
  /** A cadence on the run's clock (real time: rxjs interval), for sampling. */
  every(ms: number): Observable<number>;
  /** Emits once, with the reason, when the run begins its controlled stop. */
  readonly stopping$: Observable<string>;
  /** The simulated world the cameras render (absent on real hardware). */
  readonly world?: CameraWorld;
  /** The files this run was configured from (absolute paths), for provenance (the recorder hashes them). */
  readonly source: RunSource;
}

export interface RunSource {
  readonly robotFile: string;
  readonly manifestFile: string;
  readonly modelPath: string;
  readonly policyName: string;
  /** Ticks of the control loop per policy action (control rate / policy rate). */
  readonly ticksPerAction: number;
  /** The joints of an action chunk, in the policy's order. */
  readonly actionJoints: readonly string[];
}

export interface Observer {
  /** For logs: which observer failed to start or stop. */
  readonly name: string;
  start(run: RunContext): void | Promise<void>;
  /** After the loop has stopped and its last events were published. Never throws. */
  stop(): void | Promise<void>;
}
