/**
 * The window of recent command ids: a command delivered again (a QoS 1 redelivery, an operator
 * tool that retries until it sees an ack) is answered with the ack the first one got, and not
 * acted on again. Bounded both ways: the last `maxIds` ids, none older than `maxAgeMs`.
 *
 * A repeat is the same id on the same topic with the same payload bytes. The same id with
 * other content is another command reusing an id: the caller refuses it (a stop excepted).
 */
import { createHash } from 'node:crypto';

export const defaultRecentCommandIds = 256;
export const defaultRecentCommandMs = 10 * 60_000;

export interface RecentCommandsOptions {
  readonly maxIds?: number;
  readonly maxAgeMs?: number;
}

interface Entry {
  readonly digest: string;
  readonly at: number;
  /** The ack as published (JSON), once the first delivery was answered. */
  ack?: string;
  /** Repeats that arrived before the first delivery was answered: each gets the ack when it comes. */
  waiting: number;
}

export type Seen =
  | { readonly kind: 'new' }
  | { readonly kind: 'repeat'; readonly ack: string | undefined }
  | { readonly kind: 'reused' };

export class RecentCommands {
  readonly #entries = new Map<string, Entry>();
  readonly #maxIds: number;
  readonly #maxAgeMs: number;

  constructor(options: RecentCommandsOptions = {}) {
    this.#maxIds = Math.max(1, options.maxIds ?? defaultRecentCommandIds);
    this.#maxAgeMs = options.maxAgeMs ?? defaultRecentCommandMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Looks `id` up and, when it is new, remembers it. A repeat still waiting for the first
   * delivery's ack is counted, so `answered` can return one ack per delivery.
   */
  seen(id: string, topic: string, payload: Uint8Array, nowMs: number): Seen {
    this.#expire(nowMs);
    const digest = createHash('sha256').update(topic).update('\0').update(payload).digest('base64');
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      this.#entries.set(id, { digest, at: nowMs, waiting: 0 });
      while (this.#entries.size > this.#maxIds) this.#entries.delete(this.#entries.keys().next().value as string);
      return { kind: 'new' };
    }
    if (entry.digest !== digest) return { kind: 'reused' };
    if (entry.ack === undefined) entry.waiting++;
    return { kind: 'repeat', ack: entry.ack };
  }

  /** Forgets `id` (e.g. a reused id of a stop, which is acted on and then owns the id). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /**
   * Records the first answer to `id`; returns how many repeats were waiting for it (each is
   * answered with the same ack). 0 and nothing recorded for an id not in the window, or answered.
   */
  answered(id: string, ack: string): number {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.ack !== undefined) return 0;
    entry.ack = ack;
    const waiting = entry.waiting;
    entry.waiting = 0;
    return waiting;
  }

  #expire(nowMs: number): void {
    // Insertion order is arrival order: the oldest entries are first.
    for (const [id, entry] of this.#entries) {
      if (nowMs - entry.at <= this.#maxAgeMs) break;
      this.#entries.delete(id);
    }
  }
}
