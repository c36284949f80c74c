/**
 * GPIO over the legacy sysfs interface (`/sys/class/gpio`), the interface the npm `onoff`
 * package drives. What opening a line does, in order (the same steps onoff takes, checked):
 * 1. resolve the global number base + line (chip-base.ts; 512+ on current kernels);
 * 2. write it to `export` unless `gpioN/` already exists, then wait (bounded, sleeping) until the
 *    line's files can be opened read-write: udev may still be changing their group to gpio;
 * 3. write `active_low`, then `direction` (`in`; for an output `high`/`low`, which the kernel
 *    applies as the RAW electrical level, ignoring active_low: we pass initial XOR active_low so
 *    the logical initial level is right, something onoff's `'high'` does not do for you), then
 *    `edge` = `both` for an input whose line has an `edge` file (lines without IRQs have none);
 * 4. read `active_low`, `direction` and `edge` back and refuse a mismatch (onoff ignores errors
 *    on a line that was exported before it started, e.g. by a crashed earlier run);
 * 5. hold the line's `value` file open. Each read() is one `fs.readSync` of 2 bytes at position 0
 *    into a buffer allocated here (the kernel re-reads the pin on every read at offset 0); the
 *    byte must be '0' or '1', anything else (a short read, a garbled file) is a HardwareError
 *    rather than a guess. Each write() is one `fs.writeSync` of a preallocated '0'/'1' byte.
 *
 * Two drivers do steps 2-4:
 * - 'fs' (default): this file, with plain synchronous fs calls. Safe on any thread; it is the
 *   one the control worker must use.
 * - 'onoff': `new Gpio(n, 'in', 'both', { activeLow })` from the onoff package, plus the
 *   read-back of step 4, plus `watch()` for edge interrupts when `onEdge` is given. Main thread
 *   only: onoff loads the native `epoll` addon, whose module initialiser registers a uv_async
 *   handle on the MAIN thread's event loop (`uv_default_loop()`) and is not context-aware;
 *   loading it from a worker corrupts the main loop and the process dies with SIGSEGV (seen here
 *   on Node 20), and loading it on both threads fails with "Module did not self-register". So
 *   this driver refuses to run off the main thread. Reads go through our own `value` fd in both
 *   drivers: onoff's readSync() is allocation-free too, but treats a short read or any byte other
 *   than '1' as 0, which for an e-stop means "released" (fail-open).
 *
 * Edge interrupts (`onEdge`) arrive on the main thread's event loop, so they are a notification
 * for a thread that runs its loop (a monitor, the HIL harness), never for the control worker; the
 * tick-synchronous read() is the safety path. No debounceTimeout is passed to onoff: its debounce
 * is a symmetric trailing one, which would delay an e-stop.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Gpio as OnoffGpio } from 'onoff';
import { HardwareError } from '../types.js';
import { DEFAULT_SYSFS_GPIO_ROOT, resolveSysfsLine, type ChipBaseOptions, type SysfsLine } from './chip-base.js';
import { AsymmetricDebounce } from './debounce.js';
import { sleepMs } from '../sleep.js';
import { errorMessage, fixFor } from './sync.js';
import { gpioDeviceName, type GpioInput, type GpioLevel, type GpioLineConfig, type GpioOutput } from './types.js';

/** onoff's hard-coded root. */
export const ONOFF_SYSFS_ROOT = '/sys/class/gpio';

export type SysfsDriver = 'fs' | 'onoff';

export interface SysfsOptions extends ChipBaseOptions {
  /** The control tick period; release debouncing is counted in ticks of this length. */
  readonly tickPeriodMs: number;
  /** Who exports and configures the line (see the file header). Default 'fs'. */
  readonly driver?: SysfsDriver;
  /**
   * Driver 'onoff' only: called on the main thread's event loop on every edge (onoff `watch()`,
   * epoll on the value file). Not a safety path.
   */
  readonly onEdge?: (error: Error | null, level: GpioLevel) => void;
  /** How long to wait for the exported line's files to become accessible. Default 2000 ms. */
  readonly permissionTimeoutMs?: number;
}

const ASCII_0 = 0x30;
const ASCII_1 = 0x31;
const ZERO = Buffer.from('0');
const ONE = Buffer.from('1');

type OnoffModule = typeof import('onoff');

function loadOnoff(device: string): OnoffModule {
  if (!isMainThread) {
    throw new HardwareError(
      device,
      "driver 'onoff' cannot run in a worker thread: onoff's native 'epoll' addon registers itself on the main " +
        "thread's event loop when loaded and crashes the process (SIGSEGV) from a worker; use driver 'fs' there",
    );
  }
  return createRequire(import.meta.url)('onoff') as OnoffModule;
}

interface OpenedLine {
  readonly line: SysfsLine;
  readonly lineDir: string;
  readonly exportedByUs: boolean;
  readonly onoff: OnoffGpio | undefined;
}

/** Steps 1-4 of the file header, for either driver. */
function openLine(
  config: GpioLineConfig,
  options: SysfsOptions,
  direction: 'in' | 'high' | 'low',
  device: string,
): OpenedLine {
  const root = options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT;
  const driver = options.driver ?? 'fs';
  if (driver !== 'fs' && driver !== 'onoff') {
    throw new HardwareError(device, `unknown sysfs driver '${String(driver)}': use 'fs' or 'onoff'`);
  }
  if (driver === 'onoff' && root !== ONOFF_SYSFS_ROOT) {
    throw new HardwareError(
      device,
      `driver 'onoff' always uses ${ONOFF_SYSFS_ROOT} (hard-coded in onoff), not ${root}; use driver 'fs' for another root`,
    );
  }
  if (options.onEdge !== undefined && driver !== 'onoff') {
    throw new HardwareError(device, "onEdge needs driver 'onoff' (edge interrupts come from onoff's epoll watcher)");
  }
  // Before touching anything: in a worker, even loading onoff would crash the process.
  const onoffModule = driver === 'onoff' ? loadOnoff(device) : undefined;
  const line = resolveSysfsLine(config, options);
  const lineDir = join(root, `gpio${line.global}`);
  const what = `${config.chip}:${config.line} (${line.chip.name}, label '${line.chip.label}', base ${line.chip.base})`;
  const exportedByUs = !existsSync(lineDir);
  let onoff: OnoffGpio | undefined;
  try {
    if (onoffModule !== undefined) {
      const { Gpio } = onoffModule;
      try {
        onoff =
          direction === 'in'
            ? new Gpio(line.global, 'in', 'both', { activeLow: config.active_low })
            : new Gpio(line.global, direction, 'none', { activeLow: config.active_low });
      } catch (error) {
        throw new HardwareError(
          device,
          `onoff could not export and configure ${what} as global number ${line.global} under ${root}: ` +
            `${errorMessage(error)}; ${fixFor(error)}`,
        );
      }
    } else {
      if (exportedByUs) {
        const exportPath = join(root, 'export');
        try {
          writeFileSync(exportPath, String(line.global));
        } catch (error) {
          throw new HardwareError(
            device,
            `writing ${line.global} to ${exportPath} to export ${what} failed: ${errorMessage(error)}; ${fixFor(error)}`,
          );
        }
      }
      const timeoutMs = options.permissionTimeoutMs ?? 2000;
      waitForAccess(lineDir, ['value', 'direction', 'active_low'], timeoutMs, device, what);
      // A line without an interrupt has no edge file (onoff issue 77); the tick read needs none.
      const withEdge = direction === 'in' && existsSync(join(lineDir, 'edge'));
      if (withEdge) waitForAccess(lineDir, ['edge'], timeoutMs, device, what);
      writeAttribute(lineDir, 'active_low', config.active_low ? '1' : '0', device);
      writeAttribute(lineDir, 'direction', direction, device);
      if (withEdge) writeAttribute(lineDir, 'edge', 'both', device);
    }
    verifyConfiguration(lineDir, config.active_low, direction, device, what);
    return { line, lineDir, exportedByUs, onoff };
  } catch (error) {
    releaseLine(root, line.global, exportedByUs, onoff);
    throw error;
  }
}

function waitForAccess(lineDir: string, names: string[], timeoutMs: number, device: string, what: string): void {
  const deadline = performance.now() + timeoutMs;
  for (const name of names) {
    const path = join(lineDir, name);
    for (;;) {
      try {
        closeSync(openSync(path, 'r+'));
        break;
      } catch (error) {
        if (performance.now() >= deadline) {
          throw new HardwareError(
            device,
            `${path} of ${what} did not become accessible within ${timeoutMs} ms after export: ` +
              `${errorMessage(error)}; ${fixFor(error)}`,
          );
        }
        sleepMs(1);
      }
    }
  }
}

function writeAttribute(lineDir: string, name: string, value: string, device: string): void {
  const path = join(lineDir, name);
  try {
    writeFileSync(path, value);
  } catch (error) {
    throw new HardwareError(device, `writing '${value}' to ${path} failed: ${errorMessage(error)}; ${fixFor(error)}`);
  }
}

function readAttribute(lineDir: string, name: string, device: string): string {
  const path = join(lineDir, name);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new HardwareError(device, `reading ${path} failed: ${errorMessage(error)}; ${fixFor(error)}`);
  }
}

function verifyConfiguration(
  lineDir: string,
  activeLow: boolean,
  direction: 'in' | 'high' | 'low',
  device: string,
  what: string,
): void {
  const mismatch = (name: string, got: string, wanted: string): HardwareError =>
    new HardwareError(
      device,
      `${join(lineDir, name)} of ${what} reads '${got}' after configuration, wanted ${wanted}: another program ` +
        `owns or reconfigured the line; stop it, or unexport the line (echo N > unexport) and retry`,
    );
  const activeLowNow = readAttribute(lineDir, 'active_low', device);
  if (activeLowNow !== (activeLow ? '1' : '0')) throw mismatch('active_low', activeLowNow, activeLow ? "'1'" : "'0'");
  const directionNow = readAttribute(lineDir, 'direction', device);
  // The kernel reads back 'in' or 'out'; 'high'/'low' are accepted for an output as written.
  const directionOk = direction === 'in' ? directionNow === 'in' : ['out', 'high', 'low'].includes(directionNow);
  if (!directionOk) throw mismatch('direction', directionNow, direction === 'in' ? "'in'" : "'out'");
  if (direction === 'in' && existsSync(join(lineDir, 'edge'))) {
    const edgeNow = readAttribute(lineDir, 'edge', device);
    if (edgeNow !== 'both') throw mismatch('edge', edgeNow, "'both'");
  }
}

function releaseLine(root: string, global: number, exportedByUs: boolean, onoff: OnoffGpio | undefined): void {
  try {
    if (onoff !== undefined) {
      // onoff closes its fd and writes unexport (it does so even for a line it found exported).
      onoff.unexport();
    } else if (exportedByUs) {
      writeFileSync(join(root, 'unexport'), String(global));
    }
  } catch {
    // Releasing is best effort: the process may be on its way out because the line failed.
  }
}

function openValueFd(lineDir: string, flags: 'r' | 'r+', device: string, what: string): number {
  const path = join(lineDir, 'value');
  try {
    return openSync(path, flags);
  } catch (error) {
    throw new HardwareError(device, `opening ${path} of ${what} failed: ${errorMessage(error)}; ${fixFor(error)}`);
  }
}

export class SysfsGpioInput implements GpioInput {
  readonly description: string;
  /** The global sysfs number that was exported (base + line). */
  readonly globalNumber: number;
  readonly valuePath: string;
  readonly #device: string;
  readonly #root: string;
  readonly #opened: OpenedLine;
  readonly #buffer = Buffer.alloc(2);
  readonly #debounce: AsymmetricDebounce;
  #fd = -1;
  #closed = false;

  constructor(config: GpioLineConfig, options: SysfsOptions) {
    this.#device = gpioDeviceName(config);
    this.#root = options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT;
    try {
      this.#debounce = new AsymmetricDebounce(config.debounce_ms, options.tickPeriodMs, 1);
    } catch (error) {
      throw new HardwareError(this.#device, errorMessage(error));
    }
    const opened = openLine(config, options, 'in', this.#device);
    this.#opened = opened;
    this.globalNumber = opened.line.global;
    this.valuePath = join(opened.lineDir, 'value');
    this.description =
      `sysfs gpio${opened.line.global} (${config.chip}:${config.line}, ${opened.line.chip.name} ` +
      `'${opened.line.chip.label}'${config.active_low ? ', active low' : ''}, driver ${options.driver ?? 'fs'})`;
    try {
      this.#fd = openValueFd(opened.lineDir, 'r', this.#device, this.description);
      this.#debounce.reset(this.#sample());
      if (options.onEdge !== undefined && opened.onoff !== undefined) {
        const onEdge = options.onEdge;
        try {
          opened.onoff.watch((error, value) => onEdge(error ?? null, value));
        } catch (error) {
          // onoff registered the listener before epoll refused the fd; unwatchAll() clears the
          // list and then throws on epoll's remove, after which unexport() can run normally.
          try {
            opened.onoff.unwatchAll();
          } catch {
            // expected, see above
          }
          throw new HardwareError(
            this.#device,
            `edge interrupts unavailable on ${this.valuePath}: onoff watch() failed (${errorMessage(error)}); ` +
              `epoll needs the kernel's sysfs value file of a line with an IRQ (edge file present)`,
          );
        }
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** One raw sample: logical level as the kernel reports it (active_low applied). */
  #sample(): GpioLevel {
    let bytes: number;
    try {
      bytes = readSync(this.#fd, this.#buffer, 0, 2, 0);
    } catch (error) {
      throw new HardwareError(this.#device, `reading ${this.valuePath} failed: ${errorMessage(error)}; ${fixFor(error)}`);
    }
    const byte = this.#buffer[0];
    if (bytes < 1 || (byte !== ASCII_0 && byte !== ASCII_1)) {
      throw new HardwareError(
        this.#device,
        `${this.valuePath} returned ${bytes} byte(s) starting with ${byte}, not '0' or '1'; is it a GPIO value file?`,
      );
    }
    return byte === ASCII_1 ? 1 : 0;
  }

  read(): GpioLevel {
    if (this.#closed) throw new HardwareError(this.#device, 'read() after close()');
    return this.#debounce.sample(this.#sample());
  }

  /** Closes the value fd and unexports the line if this object exported it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = -1;
    }
    releaseLine(this.#root, this.#opened.line.global, this.#opened.exportedByUs, this.#opened.onoff);
  }
}

export interface SysfsOutputOptions extends Omit<SysfsOptions, 'onEdge'> {
  /** The logical level the line takes when it becomes an output. */
  readonly initialLevel: GpioLevel;
}

export class SysfsGpioOutput implements GpioOutput {
  readonly description: string;
  readonly globalNumber: number;
  readonly valuePath: string;
  readonly #device: string;
  readonly #root: string;
  readonly #opened: OpenedLine;
  #fd = -1;
  #closed = false;

  constructor(config: GpioLineConfig, options: SysfsOutputOptions) {
    this.#device = gpioDeviceName(config);
    this.#root = options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT;
    if (options.initialLevel !== 0 && options.initialLevel !== 1) {
      throw new HardwareError(this.#device, `initialLevel must be 0 or 1, got ${String(options.initialLevel)}`);
    }
    // The kernel applies 'high'/'low' as the raw electrical level, before active_low.
    const raw = (options.initialLevel ^ (config.active_low ? 1 : 0)) as GpioLevel;
    const opened = openLine(config, options, raw === 1 ? 'high' : 'low', this.#device);
    this.#opened = opened;
    this.globalNumber = opened.line.global;
    this.valuePath = join(opened.lineDir, 'value');
    this.description =
      `sysfs gpio${opened.line.global} output (${config.chip}:${config.line}, ${opened.line.chip.name} ` +
      `'${opened.line.chip.label}'${config.active_low ? ', active low' : ''}, driver ${options.driver ?? 'fs'})`;
    try {
      this.#fd = opened.onoff === undefined ? openValueFd(opened.lineDir, 'r+', this.#device, this.description) : -1;
    } catch (error) {
      releaseLine(this.#root, opened.line.global, opened.exportedByUs, opened.onoff);
      throw error;
    }
  }

  write(level: GpioLevel): void {
    const onoff = this.#opened.onoff;
    if (this.#closed) throw new HardwareError(this.#device, 'write() after close()');
    try {
      if (onoff !== undefined) onoff.writeSync(level === 1 ? 1 : 0);
      else writeSync(this.#fd, level === 1 ? ONE : ZERO, 0, 1, 0);
    } catch (error) {
      throw new HardwareError(this.#device, `writing ${this.valuePath} failed: ${errorMessage(error)}; ${fixFor(error)}`);
    }
  }

  /**
   * Releases the line without writing it: write the safe level first. Unexporting hands the pin
   * back to its driver, which on a Raspberry Pi makes it an input (floating, or pulled): wire the
   * brake so that an undriven line means "brake engaged".
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = -1;
    }
    releaseLine(this.#root, this.#opened.line.global, this.#opened.exportedByUs, this.#opened.onoff);
  }
}
