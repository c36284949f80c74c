/**
 * The main thread's handle on the control worker: starts it, sends operator commands, hands
 * over action chunks, and turns the worker's shared-memory rings into Observables for the
 * rest of the pipeline. Nothing here runs on the control path; it only reads what the worker
 * published and writes cells the worker polls once per tick.
 */
import { Worker } from 'node:worker_threads';
import { Observable, Subject, interval, mergeMap, from, share, takeUntil } from 'rxjs';
import type { RobotDescription } from '../robot/index.js';
import type { HardwareOptions } from '../hal/index.js';
import { SnapshotRecord } from './records.js';
import { SharedControlPort } from './shared-port.js';
import { CommandQueue } from './command-queue.js';
import {
  allocateShared,
  commandResultReasons,
  Ctrl,
  Mode,
  OperatorCommand,
  viewShared,
  type OperatorCommandCode,
  type SharedBuffers,
  type SharedLayout,
} from './shared-state.js';

export interface ControlWorkerData {
  readonly robot: RobotDescription;
  readonly layout: SharedLayout;
  readonly buffers: SharedBuffers;
  readonly outputJoints: readonly number[];
  readonly ticksPerAction: number;
  readonly blendSteps: number;
  readonly replanAfter: number;
  readonly autoArm: boolean;
  readonly spinMs?: number;
  /** SCHED_FIFO priority for the control thread only; 0 keeps SCHED_OTHER. */
  readonly realtimePriority: number;
  readonly hardware: HardwareOptions;
}

export interface ControlThreadOptions extends Omit<ControlWorkerData, 'layout' | 'buffers'> {
  readonly horizon: number;
  readonly worldSize: number;
}

import type { ControlEvent } from './event-ring.js';
export type { ControlEvent } from './event-ring.js';

export type { CommandOutcome } from './pipeline/control-port.js';
import type { CommandOutcome } from './pipeline/control-port.js';

export class ControlThread extends SharedControlPort {
  readonly events$: Observable<ControlEvent>;
  readonly chunkRequests$: Observable<number>;
  /** Resolves when the loop reports READY; rejects if the worker fails first. */
  readonly ready: Promise<void>;
  /** Resolves when the worker has exited (after a shutdown or a failure). */
  readonly exited: Promise<number>;
  readonly #worker: Worker;
  readonly #stop$ = new Subject<void>();
  readonly #commands = new CommandQueue((code, timeoutMs) => this.#sendCommand(code, timeoutMs));
  #failure: string | undefined;
  #scheduling = 'unknown';

  constructor(options: ControlThreadOptions) {
    const layout: SharedLayout = {
      jointCount: options.robot.joints.length,
      horizon: options.horizon,
      actionDim: options.outputJoints.length,
      worldSize: options.worldSize,
    };
    const buffers = allocateShared(layout);
    super(viewShared(layout, buffers));
    Atomics.store(this.shared.control, Ctrl.RUN, 1);
    const data: ControlWorkerData = {
      robot: options.robot,
      layout,
      buffers,
      outputJoints: options.outputJoints,
      ticksPerAction: options.ticksPerAction,
      blendSteps: options.blendSteps,
      replanAfter: options.replanAfter,
      autoArm: options.autoArm,
      spinMs: options.spinMs,
      realtimePriority: options.realtimePriority,
      hardware: options.hardware,
    };
    // Under the test runner this module is TypeScript source, but a worker thread cannot load
    // TypeScript (loader hooks do not reach it): it runs the build, which `npm test` makes first.
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(fromSource ? '../../dist/src/runtime/control-worker.js' : './control-worker.js', import.meta.url);
    this.#worker = new Worker(entry, { workerData: data });
    this.#worker.on('message', (message: { type?: string; message?: string }) => {
      if (message.type === 'error') this.#failure = message.message;
      if (message.type === 'scheduling') this.#scheduling = message.message ?? 'unknown';
    });
    this.exited = new Promise((resolve) => {
      this.#worker.once('error', (error) => {
        this.#failure ??= error.message;
      });
      this.#worker.once('exit', (code) => {
        this.#stop$.next();
        resolve(code);
      });
    });
    this.ready = this.#waitReady();
    this.events$ = interval(10).pipe(
      mergeMap(() => from(this.drainEvents())),
      takeUntil(this.#stop$),
      share(),
    );
    this.chunkRequests$ = new Observable<number>((subscriber) => {
      // From 0, not from the current sequence: a request the loop made before anyone subscribed
      // (it arms itself and asks at once) is answered now, not when it asks again 0.5 s later.
      let seen = 0;
      let closed = false;
      const wait = (): void => {
        if (closed) return;
        const result = Atomics.waitAsync(this.shared.control, Ctrl.CHUNK_REQUEST_SEQ, seen, 200);
        const next = (): void => {
          const now = Atomics.load(this.shared.control, Ctrl.CHUNK_REQUEST_SEQ);
          if (now !== seen) {
            seen = now;
            subscriber.next(now);
          }
          if (Atomics.load(this.shared.control, Ctrl.EXITED) === 1) subscriber.complete();
          else wait();
        };
        if (result.async) void result.value.then(next);
        else setImmediate(next);
      };
      wait();
      return () => {
        closed = true;
      };
    }).pipe(takeUntil(this.#stop$), share());
  }

  get hasExited(): boolean {
    return Atomics.load(this.shared.control, Ctrl.EXITED) === 1;
  }

  /** How the control thread is scheduled (SCHED_FIFO or why not). */
  get scheduling(): string {
    return this.#scheduling;
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  /**
   * Send an operator command and wait for the worker's verdict. The worker has one mailbox cell
   * and answers within a tick; the queue in front of it coalesces repeats, lets estop and
   * shutdown overtake and is bounded (command-queue.ts).
   */
  command(code: OperatorCommandCode, timeoutMs = 1000): Promise<CommandOutcome> {
    return this.#commands.submit(code, timeoutMs);
  }

  /** Commands refused because too many were waiting, and commands answered by another's verdict. */
  get commandStats(): { refused: number; coalesced: number } {
    return this.#commands.stats;
  }

  async #sendCommand(code: OperatorCommandCode, timeoutMs: number): Promise<CommandOutcome> {
    const control = this.shared.control;
    if (Atomics.load(control, Ctrl.EXITED) === 1) return { ok: false, reason: 'the control loop has stopped' };
    const seq = Atomics.load(control, Ctrl.COMMAND_SEQ) + 1;
    Atomics.store(control, Ctrl.COMMAND_CODE, code);
    Atomics.store(control, Ctrl.COMMAND_SEQ, seq);
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(control, Ctrl.COMMAND_ACK_SEQ) !== seq) {
      const left = deadline - performance.now();
      if (left <= 0) return { ok: false, reason: 'the control loop did not answer in time' };
      const acked = Atomics.load(control, Ctrl.COMMAND_ACK_SEQ);
      const wait = Atomics.waitAsync(control, Ctrl.COMMAND_ACK_SEQ, acked, Math.min(left, 50));
      if (wait.async) await wait.value;
    }
    const result = Atomics.load(control, Ctrl.COMMAND_RESULT);
    return result === 0 ? { ok: true } : { ok: false, reason: commandResultReasons[result] ?? `refused (${result})` };
  }

  /**
   * Press (1) or release (0) the simulated e-stop line: the GPIO model the HIL rig and tests
   * drive. Returns the last tick the worker had published before the edge.
   */
  setSimEstop(level: 0 | 1): number {
    const before = this.shared.snapshot[SnapshotRecord.header.tick];
    Atomics.store(this.shared.control, Ctrl.SIM_ESTOP_LINE, level);
    return before;
  }

  /** Push a simulated joint by `delta` (rad or m), as a person or a collision would. */
  pushSimJoint(joint: number, delta: number): void {
    Atomics.store(this.shared.control, Ctrl.SIM_PUSH_JOINT, joint);
    Atomics.store(this.shared.control, Ctrl.SIM_PUSH_MICRO, Math.round(delta * 1e6));
  }

  /** Simulated brake/enable output as the loop drives it: 1 = drives enabled. */
  get simBrakeLine(): number {
    return Atomics.load(this.shared.control, Ctrl.SIM_BRAKE_LINE);
  }

  static snapshotTick(snapshot: Float64Array): number {
    return snapshot[SnapshotRecord.header.tick];
  }

  /** Controlled stop, then the hardware's safe state; forces the loop down after the timeout. */
  async shutdown(timeoutMs = 3000): Promise<{ controlled: boolean; exitCode: number }> {
    const control = this.shared.control;
    let controlled = true;
    if (Atomics.load(control, Ctrl.EXITED) !== 1) {
      await this.command(OperatorCommand.SHUTDOWN, 500);
      const deadline = performance.now() + timeoutMs;
      while (Atomics.load(control, Ctrl.EXITED) !== 1 && performance.now() < deadline) {
        const wait = Atomics.waitAsync(control, Ctrl.EXITED, 0, 50);
        if (wait.async) await wait.value;
      }
      if (Atomics.load(control, Ctrl.EXITED) !== 1) {
        controlled = false;
        Atomics.store(control, Ctrl.RUN, 0);
      }
    }
    const exitCode = await this.exited;
    return { controlled, exitCode };
  }

  async #waitReady(): Promise<void> {
    const control = this.shared.control;
    for (;;) {
      if (Atomics.load(control, Ctrl.READY) === 1) return;
      if (Atomics.load(control, Ctrl.EXITED) === 1 || this.#failure) {
        throw new Error(`control worker failed to start: ${this.#failure ?? 'it exited'}`);
      }
      const wait = Atomics.waitAsync(control, Ctrl.READY, 0, 20);
      // Atomics.waitAsync does not keep the event loop alive (nodejs/node#61941): with the worker
      // already gone, Node would exit here with an unsettled await (code 13) instead of failing
      // with the worker's error. The timer keeps the loop alive.
      if (wait.async) await Promise.race([wait.value, new Promise((resolve) => setTimeout(resolve, 20))]);
    }
  }
}

export { Mode };
