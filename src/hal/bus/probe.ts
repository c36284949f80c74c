/**
 * Off-tick probing for `embody check`: does each configured address answer, and what does one
 * identity register read? This is the one place the promise API of i2c-bus is used: each read is
 * raced against a timer, so a hung adapter gives a clear "timed out" instead of a hung check
 * (the abandoned ioctl still finishes in libuv's pool; the bus is closed after it).
 *
 * Run it in a process that does not also start the control worker on real buses: i2c-bus can be
 * loaded by one live thread per process only (see linux.ts).
 */
import { createRequire } from 'node:module';
import type { PromisifiedBus } from 'i2c-bus';
import { errorCode, errorText, i2cFix } from './errors.js';
import { hex } from './types.js';

export interface ProbeTarget {
  readonly address: number;
  /** Register to read one byte from (default 0x00). */
  readonly register?: number;
  /** What the caller expects there, for the report ("PCA9685"). */
  readonly label?: string;
}

export interface ProbeResult {
  readonly address: number;
  readonly label: string;
  readonly answered: boolean;
  /** The byte read, when it answered. */
  readonly value?: number;
  readonly error?: string;
  readonly fix?: string;
}

export interface ProbeOptions {
  /** Per-read bound, ms (default 200). */
  readonly timeoutMs?: number;
  /** Open the promisified bus (default: i2c-bus's openPromisified). */
  readonly open?: (busNumber: number) => Promise<Pick<PromisifiedBus, 'readByte' | 'close'>>;
}

export async function probeI2cBus(busNumber: number, targets: readonly ProbeTarget[], options: ProbeOptions = {}): Promise<ProbeResult[]> {
  const timeoutMs = options.timeoutMs ?? 200;
  const open =
    options.open ??
    ((n: number) => (createRequire(import.meta.url)('i2c-bus') as { openPromisified(n: number): Promise<PromisifiedBus> }).openPromisified(n));
  const bus = await open(busNumber);
  const results: ProbeResult[] = [];
  try {
    for (const target of targets) {
      const label = target.label ?? hex(target.address);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      });
      try {
        const value = await Promise.race([bus.readByte(target.address, target.register ?? 0), timeout]);
        results.push({ address: target.address, label, answered: true, value });
      } catch (error) {
        results.push({ address: target.address, label, answered: false, error: errorText(error), fix: i2cFix(errorCode(error), busNumber, target.address) });
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    await bus.close();
  }
  return results;
}
