/**
 * A policy session hosted in a child process (policy-process.ts). onnxruntime-node runs a model
 * synchronously on the thread that calls it, and a worker thread does not help: a worker that is
 * inside session.run() cannot be terminated, and process exit waits for it (then aborts). A child
 * process can always be killed, so a 5 s model holds no MQTT command, no signal and no watchdog
 * pet of the runtime, and a model that crashes takes only its own process down.
 *
 * The hand-over costs one IPC round trip per inference (measured in `npm run bench`). A child
 * that dies is started again on the next run; the run it was doing fails, and the pipeline counts
 * that like any inference error (back-off, five in a row a safe stop).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type * as ort from 'onnxruntime-node';
import { dieWithParent } from '../../hal/index.js';
import { isHostReply, type HostReply, type HostRequest, type WireTensor } from './host-protocol.js';
import type { ModelSignature, PolicySession, PolicyTensor } from './session.js';

/** The model did not load in the policy process: onnxruntime's reason. */
export class PolicyLoadError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PolicyLoadError';
  }
}

interface Pending {
  resolve(outputs: Record<string, PolicyTensor>): void;
  reject(error: Error): void;
}

/** How long a policy process may take to load its model and report, ms. */
const LOAD_TIMEOUT_MS = 120_000;
/** How long a failed write waits for the child's exit to give the real reason, ms. */
const SEND_ERROR_GRACE_MS = 1000;

function entry(): URL {
  // Under the test runner this module is TypeScript source; the child runs the build (npm test makes it first).
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? '../../../dist/src/runtime/policy/policy-process.js' : './policy-process.js', import.meta.url);
}

/**
 * The runtime's own Node options for the child, as fork() would pass them by default, less a
 * script given with -e/-p and --input-type, which only string input takes (fork drops the script
 * only when it picks execArgv itself; passed on, the child would run the parent's script instead
 * of the policy process, and --input-type with a file is an error).
 */
function nodeOptions(): string[] {
  const options: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const option = argv[i];
    if (option === '-e' || option === '--eval' || option === '-p' || option === '--print' || option === '--input-type') i++;
    else if (!/^(--eval|--print|--input-type)=/.test(option)) options.push(option);
  }
  return options;
}

class HostedModel {
  readonly child: ChildProcess;
  readonly ready: Promise<ModelSignature>;
  readonly #pending = new Map<number, Pending>();
  #gone: string | undefined;

  constructor(modelPath: string) {
    // The child dies with the runtime even inside a long session.run(), where it cannot see the
    // IPC channel close: a SIGKILLed runtime must not leave a model computing for nobody.
    const node = dieWithParent(process.execPath, nodeOptions(), 'KILL');
    this.child = fork(entry(), [modelPath], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execPath: node.command, execArgv: node.args });
    let stderr = '';
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    this.ready = new Promise<ModelSignature>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new PolicyLoadError(`the policy process did not load the model within ${LOAD_TIMEOUT_MS / 1000} s`));
        this.kill();
      }, LOAD_TIMEOUT_MS);
      this.child.on('message', (message: unknown) => {
        if (!isHostReply(message)) return;
        if (message.kind === 'ready') {
          clearTimeout(timer);
          resolve(message.signature);
        } else if (message.kind === 'failed') {
          clearTimeout(timer);
          reject(new PolicyLoadError(message.message));
        } else {
          this.#settle(message);
        }
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#gone = `the policy process exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
        reject(new PolicyLoadError(this.#gone));
        for (const p of this.#pending.values()) p.reject(new Error(this.#gone));
        this.#pending.clear();
      });
      this.child.once('error', (error) => reject(new PolicyLoadError(error.message)));
    });
  }

  get alive(): boolean {
    return this.#gone === undefined;
  }

  run(request: HostRequest): Promise<Record<string, PolicyTensor>> {
    if (this.#gone !== undefined) return Promise.reject(new Error(this.#gone));
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.child.send(request, (error) => {
        if (!error) return;
        // A child that was just killed refuses the write (EPIPE) before its exit is reported; the
        // exit handler then fails this run with the reason (signal, last stderr line). Only a
        // write error with no exit soon after is reported as itself.
        setTimeout(() => {
          if (!this.#pending.delete(request.id)) return;
          reject(error);
        }, SEND_ERROR_GRACE_MS).unref();
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  #settle(message: Extract<HostReply, { kind: 'result' | 'error' }>): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.kind === 'error') {
      pending.reject(new Error(message.message));
      return;
    }
    const outputs: Record<string, PolicyTensor> = {};
    for (const o of message.outputs) outputs[o.name] = { type: o.type as ort.Tensor.Type, dims: o.dims, data: o.data };
    pending.resolve(outputs);
  }
}

export class ProcessSession implements PolicySession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: ModelSignature['inputMetadata'];
  readonly outputMetadata: ModelSignature['outputMetadata'];
  readonly #modelPath: string;
  #model: HostedModel;
  #nextId = 1;
  #released = false;

  private constructor(modelPath: string, model: HostedModel, signature: ModelSignature) {
    this.#modelPath = modelPath;
    this.#model = model;
    this.inputNames = signature.inputNames;
    this.outputNames = signature.outputNames;
    this.inputMetadata = signature.inputMetadata;
    this.outputMetadata = signature.outputMetadata;
  }

  /** Starts the policy process and waits for the model's signature; PolicyLoadError if it does not load. */
  static async open(modelPath: string): Promise<ProcessSession> {
    const model = new HostedModel(modelPath);
    try {
      return new ProcessSession(modelPath, model, await model.ready);
    } catch (error) {
      model.kill();
      throw error;
    }
  }

  /** The policy process's pid (tests, diagnostics). */
  get pid(): number | undefined {
    return this.#model.child.pid;
  }

  async run(feeds: Record<string, ort.Tensor>): Promise<Readonly<Record<string, PolicyTensor>>> {
    if (this.#released) throw new Error('the policy session was released');
    if (!this.#model.alive) {
      // The last process died (its run failed then); a fresh one loads the same file.
      this.#model = new HostedModel(this.#modelPath);
      await this.#model.ready;
    }
    const wire: WireTensor[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      wire.push({ name, type: tensor.type, dims: tensor.dims, data: tensor.data as WireTensor['data'] });
    }
    return this.#model.run({ kind: 'run', id: this.#nextId++, feeds: wire });
  }

  /** Kills the policy process at once, mid-run or not: nothing in it is worth waiting for. */
  async release(): Promise<void> {
    this.#released = true;
    const child = this.#model.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#model.kill();
    await exited;
  }
}
