/**
 * The trace (`--trace FILE.jsonl`): every control tick's record from the worker's trace ring,
 * drained ten times a second, and once more after the loop stopped.
 */
import { Subscription } from 'rxjs';
import { TraceWriter } from '../output/trace-writer.js';
import type { ControlPort } from '../pipeline/index.js';
import type { Observer, RunContext } from './observer.js';

const DRAIN_MS = 100;

export interface TraceObserver extends Observer {
  /** What was written, for the run report (after stop). */
  readonly summary: { readonly file: string; readonly lines: number; readonly lost: number } | undefined;
}

export function traceObserver(file: string): TraceObserver {
  const subscriptions = new Subscription();
  let writer: TraceWriter | undefined;
  let control: ControlPort | undefined;
  const drain = (): void => {
    if (writer === undefined || control === undefined) return;
    const w = writer;
    w.countLost(control.drainTrace((record) => w.add(record)));
  };
  return {
    name: 'trace',
    get summary() {
      return writer === undefined ? undefined : { file, lines: writer.lines, lost: writer.lost };
    },
    start({ pipeline, every }: RunContext) {
      control = pipeline.control;
      writer = new TraceWriter(file, pipeline.robot.joints.map((j) => j.name));
      subscriptions.add(
        every(DRAIN_MS).subscribe(() => {
          drain();
          writer?.flush();
        }),
      );
    },
    async stop() {
      subscriptions.unsubscribe();
      drain();
      await writer?.close();
    },
  };
}
