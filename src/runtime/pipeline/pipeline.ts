/**
 * The main-thread pipeline, one piece of code for `embody run` (real time, the control worker)
 * and the HIL sim target (virtual time, the same ControlLoop in this thread):
 *
 *   frames ──► touch ──► loop (squeeze, contact)          operator commands ──► loop / instruction
 *   chunk requests ──► observation ──► policy ──► chunk ──► loop
 *   loop's event ring + the pipeline's own events ──► events$ (named once) ──► observers
 *
 * The clock and the I/O are injected: `connect()` takes the loop's chunk requests, a retry cadence
 * and an event-drain cadence as Observables (intervals in real time, Subjects the HIL steps).
 */
import { Subject, Subscription, type Observable } from 'rxjs';
import type { RobotDescription } from '../../robot/index.js';
import type { Frame } from '../../hal/index.js';
import { OperatorCommand, readFaultText, type OperatorCommandCode } from '../shared-state.js';
import type { CommandOutcome, ControlPort } from './control-port.js';
import { describeEvent, type RuntimeEvent } from './events.js';
import { InferenceStage, type ChunkPolicy, type PipelineClock } from './inference.js';
import { TouchStage } from './touch.js';

/** An episode command for the recorder: start, stop, label success/failure, or a coaching note. */
export interface EpisodeRequest {
  readonly action: 'start' | 'stop' | 'label' | 'note';
  readonly label?: 'success' | 'failure';
  readonly note?: string;
}

/** What an operator can ask, from MQTT, the HIL, or a page. */
export type OperatorRequest =
  | { readonly kind: 'mode'; readonly command: 'arm' | 'disarm' | 'stop' | 'reset' | 'estop' }
  | { readonly kind: 'instruction'; readonly text: string }
  | ({ readonly kind: 'episode' } & EpisodeRequest);

/** Who answers episode requests (the recorder, when one runs); resolves with a refusal reason, or undefined. */
export type EpisodeHandler = (request: EpisodeRequest) => Promise<string | undefined>;

const modeCodes: Record<'arm' | 'disarm' | 'stop' | 'reset' | 'estop', OperatorCommandCode> = {
  arm: OperatorCommand.ARM,
  disarm: OperatorCommand.DISARM,
  stop: OperatorCommand.STOP,
  reset: OperatorCommand.RESET,
  estop: OperatorCommand.ESTOP,
};

export interface PipelineOptions {
  readonly robot: RobotDescription;
  readonly control: ControlPort;
  readonly policy: ChunkPolicy;
  readonly clock: PipelineClock;
}

export interface PipelineCadence {
  /** When to retry a request whose inputs were missing, or after a back-off (real time: every 10 ms). */
  readonly retry$: Observable<unknown>;
  /** When to read the loop's event ring (real time: every 10 ms). */
  readonly drain$: Observable<unknown>;
}

export class Pipeline {
  readonly robot: RobotDescription;
  readonly control: ControlPort;
  readonly policy: ChunkPolicy;
  readonly clock: PipelineClock;
  readonly touch: TouchStage;
  readonly inference: InferenceStage;
  readonly #events = new Subject<RuntimeEvent>();
  /** Every event, named: the loop's (in tick order) and the pipeline's own. */
  readonly events$: Observable<RuntimeEvent> = this.#events.asObservable();
  readonly #jointNames: readonly string[];
  #instruction = '';
  #episodes: EpisodeHandler | undefined;

  constructor(options: PipelineOptions) {
    this.robot = options.robot;
    this.control = options.control;
    this.policy = options.policy;
    this.clock = options.clock;
    this.#jointNames = options.robot.joints.map((j) => j.name);
    this.touch = new TouchStage(options.robot, options.control);
    this.inference = new InferenceStage({
      control: options.control,
      policy: options.policy,
      clock: options.clock,
      frame: (camera) => this.touch.frames.get(camera),
      touch: this.touch.state,
      instruction: () => this.#instruction,
      emit: (event) => this.emit(event),
    });
  }

  /** The instruction the policy sees now ('' until an operator sends one). */
  get instruction(): string {
    return this.#instruction;
  }

  /** Subscribe the stages to the loop's requests and the cadences; dispose the result to stop. */
  connect(cadence: PipelineCadence): Subscription {
    const subscriptions = new Subscription();
    subscriptions.add(this.control.chunkRequests$.subscribe(() => this.inference.request()));
    subscriptions.add(cadence.retry$.subscribe(() => this.inference.poll()));
    subscriptions.add(cadence.drain$.subscribe(() => this.drainEvents()));
    return subscriptions;
  }

  /** A camera frame arrived. */
  frame(camera: string, frame: Frame): void {
    this.touch.frame(camera, frame);
  }

  /** The recorder takes episode requests (one handler; undefined removes it). */
  handleEpisodes(handler: EpisodeHandler | undefined): void {
    this.#episodes = handler;
  }

  /** An operator's request: an instruction is the pipeline's, an episode the recorder's, a mode command goes to the loop. */
  async command(request: OperatorRequest): Promise<CommandOutcome> {
    if (request.kind === 'episode') {
      if (this.#episodes === undefined) return { ok: false, reason: 'recording is off: add a record: section to robot.yaml or run with --record DIR' };
      const refusal = await this.#episodes({ action: request.action, ...(request.label ? { label: request.label } : {}), ...(request.note !== undefined ? { note: request.note } : {}) });
      return refusal === undefined ? { ok: true } : { ok: false, reason: refusal };
    }
    if (request.kind === 'instruction') {
      this.#instruction = request.text;
      this.emit({ tick: this.control.currentTick, kind: 'instruction', cause: 'operator', detail: request.text, message: `instruction: ${request.text}` });
      return { ok: true };
    }
    return this.control.command(modeCodes[request.command]);
  }

  /** Publish one of the pipeline's own events (cameras, inference) beside the loop's. */
  emit(event: RuntimeEvent): void {
    this.#events.next(event);
  }

  /** Name every event the loop wrote since the last drain and publish it. */
  drainEvents(): void {
    for (const record of this.control.drainEvents()) {
      this.#events.next(describeEvent(record, this.#jointNames, (seq) => readFaultText(this.control.shared, seq)));
    }
  }

  /** The last events (after the loop stopped), then no more. */
  close(): void {
    this.drainEvents();
    this.#events.complete();
  }
}

