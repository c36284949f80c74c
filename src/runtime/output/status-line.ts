/**
 * One live line of status for a person at a terminal: mode, tick rate, lateness, contact.
 * Only on a TTY; structured logs stay on their own lines (the line is cleared before a log).
 */
export interface StatusFields {
  readonly mode: string;
  readonly tickRateHz: number;
  readonly latenessP99Us: number;
  readonly missed: number;
  readonly inferenceP50Ms: number;
  readonly starved: number;
  readonly contact: string;
  readonly task?: string;
  /** An openpi source: which brain drives ('remote', or 'local' while the server is out). */
  readonly brain?: string;
  /** The last warning (a camera stall, a fault), until the next one. */
  readonly alert?: string;
}

export function formatStatus(s: StatusFields): string {
  // Most important first: a narrow terminal cuts the end of the line.
  const parts = [
    `mode ${s.mode.padEnd(9)}`,
    ...(s.brain ? [s.brain === 'remote' ? 'brain remote' : `brain ${s.brain.toUpperCase()} (fallback)`] : []),
    `${s.tickRateHz.toFixed(1)} Hz`,
    `late p99 ${s.latenessP99Us.toFixed(0)} µs`,
    `missed ${s.missed}`,
    ...(s.task ? [s.task] : []),
    `touch ${s.contact}`,
    `infer ${s.inferenceP50Ms.toFixed(2)} ms`,
    `starved ${s.starved}`,
    ...(s.alert ? [`last: ${s.alert}`] : []),
  ];
  return parts.join(' | ');
}

export class StatusLine {
  readonly #out: NodeJS.WriteStream;
  #shown = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
  }

  get enabled(): boolean {
    return this.#out.isTTY === true;
  }

  show(fields: StatusFields): void {
    if (!this.enabled) return;
    const columns = this.#out.columns || 120;
    this.#out.write(`\r\x1b[2K${formatStatus(fields).slice(0, columns - 1)}`);
    this.#shown = true;
  }

  clear(): void {
    if (!this.#shown) return;
    this.#out.write('\r\x1b[2K');
    this.#shown = false;
  }
}
