/**
 * TouchWorker: the touch estimator off the main thread. The camera side posts each frame into a
 * free slot of a triple buffer (one copy of the pixels); the estimator thread always takes the
 * newest one, so when it falls behind it skips frames instead of queueing them. Results come
 * back through a seqlocked block of shared memory; read() copies the newest into this object's
 * arrays, which have the same names and meaning as the synchronous estimator's. No postMessage
 * and no allocation per frame on either side.
 *
 * The synchronous createTouchEstimator stays the reference: the HIL sim target runs it inline for
 * determinism, and this wrapper runs the very same code in the other thread.
 */
import { Worker } from 'node:worker_threads';
import type { FingertipDescription } from '../robot/index.js';
import type { Frame } from '../hal/types.js';
import type { TouchEstimatorOptions, TouchReadout } from './estimator.js';
import { Ctrl, FRESH, Header, allocateTouchShared, fields, viewTouchShared, type TouchShared } from './shared.js';
import type { TouchWorkerData } from './touch-worker.js';

export interface TouchWorkerOptions extends TouchEstimatorOptions {
  /** Camera name stamped on the frames the worker sees. */
  readonly camera?: string;
}

export class TouchWorker implements TouchReadout {
  readonly contact: Float64Array;
  readonly inContact: Uint8Array;
  readonly force: Float64Array;
  readonly proxy: Float64Array;
  readonly area: Float64Array;
  readonly peak: Float64Array;
  readonly centroidX: Float64Array;
  readonly centroidY: Float64Array;
  readonly major: Float64Array;
  readonly minor: Float64Array;
  readonly angle: Float64Array;
  readonly shearX: Float64Array;
  readonly shearY: Float64Array;
  readonly motionX: Float64Array;
  readonly motionY: Float64Array;
  readonly slip: Uint8Array;
  readonly slipResidual: Float64Array;
  readonly gain: Float64Array;
  readonly noise: Float64Array;
  readonly drift: Float64Array;
  readonly flags: Uint16Array;
  /** Of the result last read: the frame's sequence and timestamp, frames processed, estimate cost. */
  readonly header = new Float64Array(Header.SIZE);
  /** Resolves when the estimator thread has exited. */
  readonly exited: Promise<number>;

  readonly #shared: TouchShared;
  readonly #worker: Worker;
  readonly #frameBytes: number;
  readonly #pads: number;
  readonly #outputs: (Float64Array | Uint8Array | Uint16Array)[];
  #back = 0;
  #lastRead = 0;
  #failure: string | undefined;

  private constructor(fingertips: readonly FingertipDescription[], width: number, height: number, options: TouchWorkerOptions) {
    const pads = fingertips.length;
    this.#pads = pads;
    this.#frameBytes = width * height * 3;
    const buffers = allocateTouchShared(this.#frameBytes, pads);
    this.#shared = viewTouchShared(buffers);
    Atomics.store(this.#shared.control, Ctrl.MIDDLE, 1);
    const f64 = (): Float64Array => new Float64Array(pads);
    this.contact = f64();
    this.inContact = new Uint8Array(pads);
    this.force = f64();
    this.proxy = f64();
    this.area = f64();
    this.peak = f64();
    this.centroidX = f64().fill(Number.NaN);
    this.centroidY = f64().fill(Number.NaN);
    this.major = f64();
    this.minor = f64();
    this.angle = f64();
    this.shearX = f64();
    this.shearY = f64();
    this.motionX = f64();
    this.motionY = f64();
    this.slip = new Uint8Array(pads);
    this.slipResidual = f64();
    this.gain = f64().fill(1);
    this.noise = f64();
    this.drift = f64();
    this.flags = new Uint16Array(pads).fill(1);
    this.#outputs = fields.map((f) => this[f]);
    const { camera, ...estimatorOptions } = options;
    const data: TouchWorkerData & { touchWorker: true } = {
      fingertips: fingertips.map((f) => ({ ...f })),
      width,
      height,
      options: estimatorOptions,
      buffers,
      camera: camera ?? fingertips[0]?.camera ?? 'camera',
      touchWorker: true,
    };
    // Under the test runner this module is TypeScript: the worker registers tsx itself (hooks
    // registered on the main thread do not reach a worker) and imports the source.
    const fromSource = import.meta.url.endsWith('.ts');
    this.#worker = fromSource
      ? new Worker(
          `const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(new URL('./touch-worker.ts', import.meta.url).href)});`,
          { eval: true, workerData: data },
        )
      : new Worker(new URL('./touch-worker.js', import.meta.url), { workerData: data });
    this.#worker.on('error', (error) => {
      this.#failure = error.message;
    });
    this.exited = new Promise((resolve) => this.#worker.once('exit', resolve));
  }

  /** Start the estimator thread; resolves once it runs. */
  static async start(fingertips: readonly FingertipDescription[], width: number, height: number, options: TouchWorkerOptions = {}): Promise<TouchWorker> {
    const touch = new TouchWorker(fingertips, width, height, options);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: { type?: string }): void => {
        if (message.type === 'started') {
          touch.#worker.off('error', reject);
          resolve();
        }
      };
      touch.#worker.on('message', onMessage);
      touch.#worker.once('error', reject);
      touch.exited.then((code) => reject(new Error(`touch worker exited (${code}) before it started${touch.#failure ? `: ${touch.#failure}` : ''}`)), reject);
    });
    return touch;
  }

  /** Why the thread failed, if it did. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Hand a frame to the estimator thread (copies its pixels into a free slot; newest wins). */
  post(frame: Frame): void {
    const { control, slotHeader, slots } = this.#shared;
    const back = this.#back;
    const data = frame.data;
    if (data.length !== this.#frameBytes) throw new Error(`touch worker: frame of ${data.length} bytes, expected ${this.#frameBytes}`);
    slots[back].set(data);
    slotHeader[2 * back] = frame.timestampMs;
    slotHeader[2 * back + 1] = frame.sequence;
    this.#back = Atomics.exchange(control, Ctrl.MIDDLE, back | FRESH) & 3;
    Atomics.add(control, Ctrl.NOTIFY, 1);
    Atomics.notify(control, Ctrl.NOTIFY);
  }

  /** Copy the newest result into this object's arrays; false when there is none newer than the last read. */
  read(): boolean {
    const { control, results } = this.#shared;
    for (let attempt = 0; attempt < 100; attempt++) {
      const before = Atomics.load(control, Ctrl.RESULT_SEQ);
      if (before === this.#lastRead) return false;
      if ((before & 1) === 1) continue;
      for (let h = 0; h < Header.SIZE; h++) this.header[h] = results[h];
      const pads = this.#pads;
      for (let f = 0; f < this.#outputs.length; f++) {
        const out = this.#outputs[f];
        const base = Header.SIZE + f * pads;
        for (let p = 0; p < pads; p++) out[p] = results[base + p];
      }
      if (Atomics.load(control, Ctrl.RESULT_SEQ) === before) {
        this.#lastRead = before;
        return true;
      }
    }
    return false;
  }

  /** Wait (without blocking the event loop) until a result newer than the last read exists. */
  async waitForResult(timeoutMs: number): Promise<boolean> {
    const { control } = this.#shared;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seq = Atomics.load(control, Ctrl.RESULT_SEQ);
      if (seq !== this.#lastRead && (seq & 1) === 0) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const wait = Atomics.waitAsync(control, Ctrl.RESULT_SEQ, seq, left);
      if (wait.async) await wait.value;
    }
  }

  get ready(): boolean {
    return this.header[Header.READY] === 1;
  }

  /** Sequence of the frame the last read result came from (-1 before any). */
  get frameSequence(): number {
    return this.header[Header.PROCESSED] > 0 ? this.header[Header.SEQUENCE] : -1;
  }

  /** Estimator cost of the last read result, µs. */
  get costUs(): number {
    return this.header[Header.COST_US];
  }

  async close(): Promise<void> {
    Atomics.store(this.#shared.control, Ctrl.STOP, 1);
    Atomics.add(this.#shared.control, Ctrl.NOTIFY, 1);
    Atomics.notify(this.#shared.control, Ctrl.NOTIFY);
    const timer = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
