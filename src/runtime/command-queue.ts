/**
 * Operator commands on their way to the loop's one mailbox cell, which takes one command per
 * tick. Without rules a flood wins: 10 000 queued `stop`s held a later `estop` (and SIGTERM's
 * shutdown) for 45 s. The rules:
 *
 * - `estop` and `shutdown` overtake every waiting command (only the one in the mailbox is
 *   finished first, within a tick); a waiting command they make moot is answered as superseded.
 * - `stop` supersedes every waiting arm, disarm, reset and stop: once it is done none of them
 *   would mean what its sender meant. Waiting stops share the new stop's answer (they coalesce).
 * - Another command right behind one with the same code shares its answer.
 * - At most MAX_WAITING commands wait; beyond that a new one is refused at once (never a stop,
 *   an estop or a shutdown: those always find their place by the rules above).
 */
import type { CommandOutcome } from './pipeline/control-port.js';
import { OperatorCommand, type OperatorCommandCode } from './shared-state.js';

/** Commands that may wait at once; the rules above keep safety commands from ever meeting it. */
export const MAX_WAITING = 16;

interface Waiting {
  readonly code: OperatorCommandCode;
  readonly timeoutMs: number;
  readonly outcome: Promise<CommandOutcome>;
  readonly settle: (outcome: CommandOutcome) => void;
}

const names: Record<number, string> = {
  [OperatorCommand.STOP]: 'stop',
  [OperatorCommand.ESTOP]: 'estop',
  [OperatorCommand.SHUTDOWN]: 'shutdown',
};

export class CommandQueue {
  readonly #send: (code: OperatorCommandCode, timeoutMs: number) => Promise<CommandOutcome>;
  readonly #waiting: Waiting[] = [];
  #busy = false;
  #refused = 0;
  #coalesced = 0;

  /** `send` puts one command in the mailbox and resolves with the loop's verdict. */
  constructor(send: (code: OperatorCommandCode, timeoutMs: number) => Promise<CommandOutcome>) {
    this.#send = send;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Commands refused because the queue was full, and commands answered by another's verdict. */
  get stats(): { refused: number; coalesced: number } {
    return { refused: this.#refused, coalesced: this.#coalesced };
  }

  submit(code: OperatorCommandCode, timeoutMs: number): Promise<CommandOutcome> {
    const queue = this.#waiting;
    if (code === OperatorCommand.ESTOP || code === OperatorCommand.SHUTDOWN) {
      const same = queue.find((w) => w.code === code);
      if (same) return this.#share(same);
      const entry = this.#entry(code, timeoutMs);
      this.#supersede((w) => w.code !== OperatorCommand.ESTOP && w.code !== OperatorCommand.SHUTDOWN && w.code !== OperatorCommand.STOP, names[code]);
      // Behind the other overtaking command if one waits (an estop stays first), before all else.
      const at = queue.findIndex((w) => w.code !== OperatorCommand.ESTOP && w.code !== OperatorCommand.SHUTDOWN);
      if (at < 0) queue.push(entry);
      else queue.splice(at, 0, entry);
      this.#pump();
      return entry.outcome;
    }
    if (code === OperatorCommand.STOP) {
      const existing = queue.find((w) => w.code === OperatorCommand.STOP);
      this.#supersede((w) => w.code !== OperatorCommand.ESTOP && w.code !== OperatorCommand.SHUTDOWN && w.code !== OperatorCommand.STOP, 'stop');
      if (existing) return this.#share(existing);
      const entry = this.#entry(code, timeoutMs);
      queue.push(entry);
      this.#pump();
      return entry.outcome;
    }
    const last = queue[queue.length - 1];
    if (last !== undefined && last.code === code) return this.#share(last);
    if (queue.length >= MAX_WAITING) {
      this.#refused++;
      return Promise.resolve({ ok: false, reason: `${MAX_WAITING} commands are already waiting for the control loop: refused, send it again` });
    }
    const entry = this.#entry(code, timeoutMs);
    queue.push(entry);
    this.#pump();
    return entry.outcome;
  }

  #entry(code: OperatorCommandCode, timeoutMs: number): Waiting {
    let settle: (outcome: CommandOutcome) => void = () => undefined;
    const outcome = new Promise<CommandOutcome>((resolve) => (settle = resolve));
    return { code, timeoutMs, outcome, settle };
  }

  #share(entry: Waiting): Promise<CommandOutcome> {
    this.#coalesced++;
    return entry.outcome;
  }

  /** Answer and drop waiting commands that a later `by` makes moot. */
  #supersede(moot: (w: Waiting) => boolean, by: string): void {
    const queue = this.#waiting;
    for (let i = queue.length - 1; i >= 0; i--) {
      const w = queue[i];
      if (!moot(w)) continue;
      queue.splice(i, 1);
      w.settle({ ok: false, reason: `superseded by a later ${by} before the control loop took it` });
    }
  }

  #pump(): void {
    if (this.#busy) return;
    const next = this.#waiting.shift();
    if (next === undefined) return;
    this.#busy = true;
    void this.#send(next.code, next.timeoutMs)
      .catch((error: unknown): CommandOutcome => ({ ok: false, reason: error instanceof Error ? error.message : String(error) }))
      .then((outcome) => {
        next.settle(outcome);
        this.#busy = false;
        this.#pump();
      });
  }
}
