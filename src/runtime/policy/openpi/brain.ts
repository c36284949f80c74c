/**
 * A remote brain with a local spine: an openpi server drives while it answers in time; when the
 * link drops, the server errors, answers nonsense or misses the chunk's deadline, the local ONNX
 * policy answers the same request at once (the loop's action queue blends its chunk in, so there
 * is no jump) and a `policy_fallback` event says why. The link is re-opened with back-off; while
 * the local policy drives, each request is also sent to the server as a probe whose answer is
 * thrown away, and after `healthyRoundTrips` on-time answers in a row the server drives again
 * (`policy_restored`). With no local policy a failure is an inference error: the loop holds, and
 * the pipeline's error limit makes a safe stop.
 */
import type { RobotDescription } from '../../../robot/index.js';
import { SnapshotRecord } from '../../records.js';
import type { PolicyManifest } from '../manifest.js';
import type { ObservationSources } from '../observation.js';
import type { ChunkSink, InferenceResult } from '../runner.js';
import { OpenpiConnection, RemotePolicyError } from './connection.js';
import { RemotePolicy } from './remote-policy.js';

/** Back-off between connection attempts: doubles from the first to the last, ms. */
export const RECONNECT_BACKOFF_MS = { first: 100, max: 5000 } as const;
/** How long opening the link and reading the server's metadata may take, ms. */
export const CONNECT_TIMEOUT_MS = 3000;

/** The shape of the pipeline's RuntimeEvent this room raises (kept structural: the pipeline imports this room). */
export interface BrainEvent {
  readonly tick: number;
  readonly kind: 'policy_fallback' | 'policy_restored';
  readonly cause: string;
  readonly from: string;
  readonly to: string;
  readonly message: string;
}

export interface LocalPolicy {
  infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult>;
  latencyPercentiles(): Percentiles;
}

type Percentiles = { p50: number; p99: number; max: number; count: number };

/** Which brain drove, for the report and status. */
export interface BrainReport {
  readonly server: string;
  readonly driving: 'remote' | 'local';
  readonly remote_chunks: number;
  readonly local_chunks: number;
  readonly fallbacks: number;
  readonly restores: number;
  readonly remote_round_trip_ms: Percentiles;
}

export interface RemoteBrainOptions {
  readonly url: string;
  readonly apiKey?: string;
  readonly manifest: PolicyManifest;
  readonly robot: RobotDescription;
  readonly local?: LocalPolicy;
  /** A chunk later than this is a miss, ms. */
  readonly deadlineMs: number;
  readonly healthyRoundTrips: number;
  readonly emit: (event: BrainEvent) => void;
}

/** Of the robot's observation age limit (a camera's stale_after_ms), how much a remote answer may use. */
export const STALE_LIMIT_SHARE = 0.75;

/**
 * How late a chunk may come, ms: `source.deadline_ms` if given, else how long the rest of a chunk
 * lasts once the next one is asked for, less one action; never more than STALE_LIMIT_SHARE of the
 * observation age the loop accepts (the stale_after_ms of the cameras the policy sees: a later
 * chunk would be refused as stale, and the local answer to the same observation must still fit).
 */
export function defaultDeadlineMs(manifest: PolicyManifest, robot?: RobotDescription): number {
  const actions = Math.max(1, manifest.output.horizon - manifest.replan_after - 1);
  const given = manifest.source?.kind === 'openpi' ? manifest.source.deadline_ms : undefined;
  const chunkMs = given ?? (actions * 1000) / manifest.rate_hz;
  const cameras = new Set(manifest.inputs.flatMap((i) => (i.kind === 'camera' ? [i.camera] : [])));
  const limits = (robot?.cameras ?? []).filter((c) => cameras.has(c.name)).map((c) => c.stale_after_ms);
  return Math.min(chunkMs, ...limits.map((ms) => ms * STALE_LIMIT_SHARE));
}

class LatencyRing {
  readonly #values = new Float64Array(4096);
  #count = 0;
  add(ms: number): void {
    this.#values[this.#count++ % this.#values.length] = ms;
  }
  percentiles(): Percentiles {
    const values = Array.from(this.#values.subarray(0, Math.min(this.#count, this.#values.length))).sort((a, b) => a - b);
    if (values.length === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
    const at = (q: number): number => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
    return { p50: at(0.5), p99: at(0.99), max: values[values.length - 1], count: values.length };
  }
}

export class RemoteBrain {
  readonly #options: RemoteBrainOptions;
  readonly #remote: RemotePolicy;
  readonly #roundTrips = new LatencyRing();
  readonly #chunks = new LatencyRing();
  #driving: 'remote' | 'local' = 'remote';
  #connection: OpenpiConnection | undefined;
  #metadata: Readonly<Record<string, unknown>> | undefined;
  #connecting: Promise<void> | undefined;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #lastError: Error = new RemotePolicyError('connect', 'not connected yet');
  #healthy = 0;
  #closed = false;
  #tick = 0;
  #counts = { remote: 0, local: 0, fallbacks: 0, restores: 0 };

  constructor(options: RemoteBrainOptions) {
    this.#options = options;
    this.#remote = new RemotePolicy(options.manifest, options.robot);
    this.#connect();
  }

  get driving(): 'remote' | 'local' {
    return this.#driving;
  }

  /** The metadata of the last server connected to. */
  get metadata(): Readonly<Record<string, unknown>> | undefined {
    return this.#metadata;
  }

  brain(): BrainReport {
    const c = this.#counts;
    return { server: this.#options.url, driving: this.#driving, remote_chunks: c.remote, local_chunks: c.local, fallbacks: c.fallbacks, restores: c.restores, remote_round_trip_ms: this.#roundTrips.percentiles() };
  }

  latencyPercentiles(): Percentiles {
    return this.#chunks.percentiles();
  }

  async infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult> {
    this.#tick = sources.snapshot[SnapshotRecord.header.tick];
    this.#connect();
    if (this.#driving === 'remote') {
      if (this.#connection === undefined && this.#connecting !== undefined) await this.#connecting;
      const connection = this.#connection;
      if (connection?.isOpen && !connection.busy) {
        try {
          const answer = await this.#remote.infer(connection, sources, sink, this.#options.deadlineMs);
          if (answer.gap === undefined) {
            this.#counts.remote++;
            this.#roundTrips.add(answer.latencyMs);
            this.#chunks.add(answer.latencyMs);
          }
          return answer;
        } catch (error) {
          this.#fallBack(error instanceof Error ? error : new Error(String(error)));
        }
      } else {
        this.#fallBack(connection?.busy ? new RemotePolicyError('deadline', 'the last request is still unanswered') : this.#lastError);
      }
    }
    const local = this.#options.local;
    if (local === undefined) throw new Error(`remote policy unavailable (${this.#lastError.message}) and no local policy to fall back on`);
    this.#probe(sources);
    const started = performance.now();
    const result = await local.infer(sources, sink);
    if (result.gap === undefined) {
      this.#counts.local++;
      this.#chunks.add(performance.now() - started);
    }
    return result;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#connection?.close();
  }

  #fallBack(error: Error): void {
    this.#lastError = error;
    if (this.#driving !== 'remote') return;
    this.#driving = 'local';
    this.#healthy = 0;
    this.#counts.fallbacks++;
    const reason = error instanceof RemotePolicyError ? error.reason : 'error';
    const to = this.#options.local ? 'local' : 'none';
    this.#options.emit({
      tick: this.#tick,
      kind: 'policy_fallback',
      cause: reason,
      from: 'remote',
      to,
      message: `remote policy at ${this.#options.url}: ${error.message}; ${to === 'local' ? 'the local policy drives' : 'no local policy: the loop holds'}`,
    });
  }

  /** While the local policy drives: the same observation to the server, its answer only counted. */
  #probe(sources: ObservationSources): void {
    const connection = this.#connection;
    if (!connection?.isOpen || connection.busy) return;
    this.#remote.infer(connection, sources, undefined, this.#options.deadlineMs).then(
      (answer) => {
        if (answer.gap !== undefined || this.#driving === 'remote') return;
        this.#roundTrips.add(answer.latencyMs);
        if (++this.#healthy < this.#options.healthyRoundTrips) return;
        this.#driving = 'remote';
        this.#counts.restores++;
        this.#options.emit({
          tick: this.#tick,
          kind: 'policy_restored',
          cause: `${this.#healthy} on-time round trips`,
          from: 'local',
          to: 'remote',
          message: `remote policy at ${this.#options.url} answered ${this.#healthy} times in a row within ${Math.round(this.#options.deadlineMs)} ms: it drives again`,
        });
      },
      (error: unknown) => {
        this.#healthy = 0;
        if (error instanceof Error) this.#lastError = error;
      },
    );
  }

  #connect(): void {
    if (this.#closed || this.#connecting !== undefined || this.#retry !== undefined || this.#connection?.isOpen) return;
    const { url, apiKey } = this.#options;
    this.#connecting = OpenpiConnection.connect(url, { timeoutMs: CONNECT_TIMEOUT_MS, ...(apiKey === undefined ? {} : { apiKey }) })
      .then(
        (connection) => {
          if (this.#closed) return connection.close();
          this.#failures = 0;
          this.#connection = connection;
          this.#metadata = connection.metadata;
          connection.onClose((why) => {
            if (this.#connection === connection) this.#connection = undefined;
            if (!this.#closed) this.#fallBack(why);
            this.#scheduleRetry(0);
          });
        },
        (error: unknown) => {
          this.#lastError = error instanceof Error ? error : new Error(String(error));
          if (this.#driving === 'remote' && this.#counts.remote > 0) this.#fallBack(this.#lastError);
          this.#scheduleRetry(Math.min(RECONNECT_BACKOFF_MS.max, RECONNECT_BACKOFF_MS.first * 2 ** this.#failures++));
        },
      )
      .finally(() => {
        this.#connecting = undefined;
      });
  }

  #scheduleRetry(ms: number): void {
    if (this.#closed || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, ms);
    this.#retry.unref();
  }
}
