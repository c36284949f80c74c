/**
 * The HIL's policy source: the production PolicyRunner behind a model of the link to it. The
 * pipeline asks it for chunks exactly as it asks the runner in `embody run`; this wrapper decides,
 * on the virtual clock, when the answer arrives (the scenario's policy latency, `policy_slow`),
 * whether it arrives at all (`policy_silent`), and what it says (`policy_nan`,
 * `policy_out_of_range`, `policy_oscillate` rewrite the runner's chunk as a broken model would).
 *
 * Inference itself runs at once (onnxruntime, inline); the sim target awaits `computed()` so a run
 * stays a pure function of its scenario, and `deliver(tick)` hands the chunk over when it is due.
 */
import type { RobotDescription } from '../robot/index.js';
import type { ChunkSink, ControlPort, InferenceResult, ObservationSources, PolicyRunner } from '../runtime/index.js';

export const PolicyFault = { NONE: 0, NAN: 1, OUT_OF_RANGE: 2, OSCILLATE: 3, SILENT: 4 } as const;
export type PolicyFaultCode = (typeof PolicyFault)[keyof typeof PolicyFault];

interface Held {
  readonly dueTick: number;
  deliver(): void;
}

export class VirtualPolicy {
  readonly #runner: PolicyRunner;
  readonly #robot: RobotDescription;
  readonly #control: Pick<ControlPort, 'readSnapshot'>;
  readonly #tick: () => number;
  readonly #latencyTicks: number;
  #fault: PolicyFaultCode = PolicyFault.NONE;
  #extraLatencyTicks = 0;
  #oscillate = 0;
  #computing: Promise<void> | undefined;
  #held: Held | undefined;
  #active = false;
  /** A request that arrived while the policy was silent: started when it speaks again. */
  #silenced: (() => void) | undefined;

  constructor(options: { runner: PolicyRunner; robot: RobotDescription; control: Pick<ControlPort, 'readSnapshot'>; tick: () => number; latencyTicks: number }) {
    this.#runner = options.runner;
    this.#robot = options.robot;
    this.#control = options.control;
    this.#tick = options.tick;
    this.#latencyTicks = options.latencyTicks;
  }

  set fault(fault: PolicyFaultCode) {
    this.#fault = fault;
    if (fault === PolicyFault.SILENT) return;
    const resume = this.#silenced;
    this.#silenced = undefined;
    resume?.();
  }

  set extraLatencyTicks(ticks: number) {
    this.#extraLatencyTicks = ticks;
  }

  latencyPercentiles(): { p50: number; p99: number; max: number; count: number } {
    return this.#runner.latencyPercentiles();
  }

  infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult> {
    return new Promise<InferenceResult>((resolve, reject) => {
      const start = (fresh: boolean): void => {
        // A server that was silent answers with what it sees when it speaks again.
        if (fresh) this.#control.readSnapshot(sources.snapshot);
        this.#computing = this.#compute(sources, sink, resolve, reject);
      };
      if (this.#fault === PolicyFault.SILENT) this.#silenced = () => start(true);
      else start(false);
    });
  }

  /** True once after an inference ran: its continuations in the pipeline are due. */
  takeActivity(): boolean {
    const active = this.#active;
    this.#active = false;
    return active;
  }

  /** Resolves when the inference started in this step has run (its answer may still be in transit). */
  async computed(): Promise<void> {
    while (this.#computing !== undefined) {
      this.#active = true;
      const computing = this.#computing;
      await computing;
      if (this.#computing === computing) this.#computing = undefined;
    }
  }

  /** Hand over the answer in transit if it is due by `tick`; true if one was delivered. */
  deliver(tick: number): boolean {
    const held = this.#held;
    if (held === undefined || held.dueTick > tick) return false;
    this.#held = undefined;
    held.deliver();
    return true;
  }

  async #compute(sources: ObservationSources, sink: ChunkSink, resolve: (r: InferenceResult) => void, reject: (e: unknown) => void): Promise<void> {
    const started = this.#tick();
    let chunk: { obsTick: number; values: Float64Array; count: number } | undefined;
    let result: InferenceResult;
    try {
      result = await this.#runner.infer(sources, {
        publishChunk: (obsTick, values, count) => {
          chunk = { obsTick, values: this.#faulted(values, count), count };
        },
      });
    } catch (error) {
      reject(error);
      return;
    }
    const answer = chunk;
    if (answer === undefined) {
      resolve(result); // nothing to send (an observation gap): answered at once
      return;
    }
    this.#held = {
      dueTick: started + this.#latencyTicks + this.#extraLatencyTicks,
      deliver: () => {
        sink.publishChunk(answer.obsTick, answer.values, answer.count);
        resolve(result);
      },
    };
  }

  #faulted(values: Float64Array, count: number): Float64Array {
    const joints = this.#runner.outputJoints;
    const dim = joints.length;
    const copy = values.slice(0, count * dim);
    if (this.#fault === PolicyFault.NAN) copy.fill(Number.NaN);
    else if (this.#fault === PolicyFault.OUT_OF_RANGE) {
      for (let k = 0; k < copy.length; k++) copy[k] = k % 2 === 0 ? 50 : -50;
    } else if (this.#fault === PolicyFault.OSCILLATE) {
      // Every action flips between the joints' limits: at one action per tick, a control-rate square wave.
      for (let k = 0; k < count; k++) {
        for (let d = 0; d < dim; d++) {
          const [lo, hi] = this.#robot.joints[joints[d]].limits.position;
          copy[k * dim + d] = (k + this.#oscillate) % 2 === 0 ? lo : hi;
        }
      }
      this.#oscillate++;
    }
    return copy;
  }
}
