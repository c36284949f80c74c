/**
 * The control loop in this thread, one tick at a time, on a clock someone else steps: the HIL's
 * sim target drives it. It is a ControlPort like the worker's ControlThread, so the same Pipeline
 * (touch, observation, policy, chunk hand-over, operator commands through the same CommandQueue,
 * event naming) runs against it; only the thread and the clock differ.
 */
import { Subject } from 'rxjs';
import type { ClockReading } from './clock.js';
import { CommandQueue } from './command-queue.js';
import type { ControlLoop } from './control-loop.js';
import type { CommandOutcome } from './pipeline/control-port.js';
import { SharedControlPort } from './shared-port.js';
import { commandResultReasons, Ctrl, type OperatorCommandCode, type SharedViews } from './shared-state.js';

interface InFlight {
  readonly seq: number;
  readonly deadlineMs: number;
  readonly resolve: (outcome: CommandOutcome) => void;
}

export class VirtualControl extends SharedControlPort {
  readonly #requests = new Subject<number>();
  readonly chunkRequests$ = this.#requests.asObservable();
  readonly #loop: ControlLoop;
  readonly #nowMs: () => number;
  readonly #commands = new CommandQueue((code, timeoutMs) => this.#send(code, timeoutMs));
  #inFlight: InFlight | undefined;
  #lastRequest = 0;
  #answered = false;

  /** `nowMs` is the virtual clock that command timeouts are measured on. */
  constructor(shared: SharedViews, loop: ControlLoop, nowMs: () => number) {
    super(shared);
    this.#loop = loop;
    this.#nowMs = nowMs;
  }

  /** One tick of the loop. What it answered or asked for reaches the pipeline at `settle()`. */
  tick(reading: ClockReading): void {
    this.#loop.tick(reading);
  }

  /**
   * Answer the command in flight if the loop acked it (or it timed out on the virtual clock) and
   * announce a new chunk request. Call once per step, ticked or not (a stalled loop acks nothing),
   * after the step's inputs (camera frames) reached the pipeline.
   */
  settle(): void {
    const control = this.shared.control;
    const flight = this.#inFlight;
    if (flight !== undefined) {
      if (Atomics.load(control, Ctrl.COMMAND_ACK_SEQ) === flight.seq) {
        const result = Atomics.load(control, Ctrl.COMMAND_RESULT);
        this.#finish({ ok: result === 0, ...(result === 0 ? {} : { reason: commandResultReasons[result] ?? `refused (${result})` }) });
      } else if (this.#nowMs() >= flight.deadlineMs) {
        this.#finish({ ok: false, reason: 'the control loop did not answer in time' });
      }
    }
    const request = Atomics.load(control, Ctrl.CHUNK_REQUEST_SEQ);
    if (request !== this.#lastRequest) {
      this.#lastRequest = request;
      this.#requests.next(request);
    }
  }

  /** True once after a command was answered: its sender's continuation (and the queue's next command) runs in a microtask. */
  takeAnswered(): boolean {
    const answered = this.#answered;
    this.#answered = false;
    return answered;
  }

  command(code: OperatorCommandCode, timeoutMs = 1000): Promise<CommandOutcome> {
    return this.#commands.submit(code, timeoutMs);
  }

  close(): void {
    this.#finish({ ok: false, reason: 'the control loop has stopped' });
    this.#requests.complete();
    this.#loop.close();
  }

  #send(code: OperatorCommandCode, timeoutMs: number): Promise<CommandOutcome> {
    const control = this.shared.control;
    if (Atomics.load(control, Ctrl.EXITED) === 1) return Promise.resolve({ ok: false, reason: 'the control loop has stopped' });
    const seq = Atomics.load(control, Ctrl.COMMAND_SEQ) + 1;
    Atomics.store(control, Ctrl.COMMAND_CODE, code);
    Atomics.store(control, Ctrl.COMMAND_SEQ, seq);
    return new Promise((resolve) => {
      this.#inFlight = { seq, deadlineMs: this.#nowMs() + timeoutMs, resolve };
    });
  }

  #finish(outcome: CommandOutcome): void {
    const flight = this.#inFlight;
    if (flight === undefined) return;
    this.#inFlight = undefined;
    this.#answered = true;
    flight.resolve(outcome);
  }
}
