/**
 * GPIO over the gpiochip character device (/dev/gpiochipN), for kernels without sysfs GPIO,
 * through Debian's libgpiod command-line tools (package `gpiod`, v1.6 on Debian 12:
 * `gpiodetect`, `gpioget`, `gpiomon`, `gpioset`). The control worker cannot do async I/O, and the
 * character device needs ioctls Node cannot issue, so the tools hold the line and we talk to them
 * through files:
 *
 * Input (e-stop):
 * 1. `gpioget [-l] <chip> <line>` once (spawnSync) for the initial level;
 * 2. `gpiomon -b [-l] --format='%e %o' <chip> <line>` in the background, its stdout redirected
 *    to a regular file in `runDir` (default os.tmpdir(); put it on a tmpfs such as /run or
 *    /dev/shm), `-b` making every event line reach the file at once;
 * 3. open waits (bounded) until gpiomon holds the line: its /proc/<pid>/fd has the line's
 *    anonymous inode (`anon_inode:gpio-event` for the v1 uAPI, `anon_inode:gpio-line` for v2);
 * 4. each read() does fs.readSync of whatever the file grew by since the last offset into a
 *    preallocated buffer and parses bytes: each complete line starting with '1' is a rising edge
 *    (level 1), '0' (v1) or '2' (v2 tools) a falling edge; the human-readable format
 *    (`event:  RISING EDGE …` / `event: FALLING EDGE …`) is understood too. With `-l` the kernel
 *    reports edges of the logical level, so rising = asserted. The last complete edge is the
 *    level; a partial line waits for the next read();
 * 5. each read() also reads /proc/<pid>/stat through a held fd (preallocated buffer): a gpiomon
 *    that died (zombie or gone) is a HardwareError, not a frozen level.
 * Known gap: an edge between gpioget's read and gpiomon's line request (a few ms at open) is
 * missed; libgpiod v1.6's gpiomon cannot report the initial level, and the line cannot be read by
 * another process while gpiomon holds it. A binding to libgpiod (or v2's `gpiomon`) would close it.
 * The log file grows by ~4 bytes per edge (a bouncing contact adds a few hundred bytes per press).
 *
 * Output (brake / drive enable):
 * `gpioset [-l] --mode=signal <chip> <line>=<level>` holds the line until SIGTERM. write() with
 * the level already set costs one liveness read; a change of level stops that process (SIGTERM,
 * waits until it is gone) and starts a new one, and waits until it holds the line: several ms,
 * with allocation, during which the line is released, and on a Raspberry Pi a released line goes
 * back to an input (floating or pulled). So wire the brake so that an undriven line means "brake
 * engaged", and change the level rarely (on arm/disarm, not per tick).
 *
 * The tools run under `setpriv --pdeathsig TERM` when util-linux's setpriv exists, so they end
 * with the thread that started them instead of holding the line after a crash.
 * What only a real board can test: the ioctls (line requests, edge events, active-low), the
 * fd names in /proc, the tools' real output and exit paths, and the timing of all of it.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HardwareError } from '../types.js';
import { AsymmetricDebounce } from './debounce.js';
import { dieWithParent } from '../die-with-parent.js';
import { sleepMs } from '../sleep.js';
import { errorCode, errorMessage, PERMISSION_FIX } from './sync.js';
import { gpioDeviceName, type GpioInput, type GpioLevel, type GpioLineConfig, type GpioOutput } from './types.js';

export interface ChardevOptions {
  readonly tickPeriodMs: number;
  /** Where the gpiochip devices are (default /dev). */
  readonly devRoot?: string;
  /** Where the libgpiod tools are (default: search $PATH, then /usr/bin, /usr/sbin, /bin). */
  readonly toolDir?: string;
  /** Directory for gpiomon's event log (default os.tmpdir()); a tmpfs is best. */
  readonly runDir?: string;
  /** How long to wait for a tool to hold the line. Default 3000 ms. */
  readonly readyTimeoutMs?: number;
}

export interface ChardevOutputOptions extends ChardevOptions {
  /** Logical level the line starts at; default 0, the safe level. */
  readonly initialLevel?: GpioLevel;
}

const INSTALL_FIX = 'install the libgpiod tools: apt-get install gpiod';
const LF = 0x0a;

// ---------------------------------------------------------------------------------------------
// gpiomon output parsing (bytes, no strings)

/**
 * Streaming parser of gpiomon's output. Feed it bytes as they arrive; `level` follows the last
 * complete event line. Allocation-free.
 */
export class GpiomonEventParser {
  level: GpioLevel;
  /** Complete event lines seen. */
  events = 0;
  #atLineStart = true;
  #humanReadable = false;
  /** Edge of the line being read: -1 none yet, 0 falling, 1 rising. */
  #pending = -1;

  constructor(initial: GpioLevel) {
    this.level = initial;
  }

  feed(bytes: Uint8Array, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      if (b === LF) {
        if (this.#pending !== -1) {
          this.level = this.#pending === 1 ? 1 : 0;
          this.events++;
        }
        this.#pending = -1;
        this.#atLineStart = true;
        this.#humanReadable = false;
      } else if (this.#atLineStart) {
        this.#atLineStart = false;
        if (b === 0x31 /* '1' */) this.#pending = 1;
        else if (b === 0x30 /* '0' */ || b === 0x32 /* '2' */) this.#pending = 0;
        else if (b === 0x65 /* 'e' of "event:" */) this.#humanReadable = true;
      } else if (this.#humanReadable && this.#pending === -1) {
        if (b === 0x52 /* 'R' of RISING */) this.#pending = 1;
        else if (b === 0x46 /* 'F' of FALLING */) this.#pending = 0;
      }
    }
  }
}

/** Follows a growing gpiomon log file: poll() reads what is new and returns the level. */
export class GpiomonLogReader {
  readonly parser: GpiomonEventParser;
  readonly path: string;
  readonly #buffer: Buffer;
  #fd: number;
  #offset = 0;

  constructor(path: string, initial: GpioLevel, bufferSize = 4096) {
    this.path = path;
    this.parser = new GpiomonEventParser(initial);
    this.#buffer = Buffer.alloc(bufferSize);
    this.#fd = openSync(path, 'r');
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  poll(): GpioLevel {
    const buffer = this.#buffer;
    for (;;) {
      const n = readSync(this.#fd, buffer, 0, buffer.length, this.#offset);
      if (n <= 0) break;
      this.parser.feed(buffer, 0, n);
      this.#offset += n;
      if (n < buffer.length) break;
    }
    return this.parser.level;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// tools, chips, processes

function findTool(name: string, toolDir: string | undefined, device: string): string {
  const dirs =
    toolDir !== undefined
      ? [toolDir]
      : [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/bin', '/usr/sbin', '/bin'];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  throw new HardwareError(device, `${name} not found (looked in ${[...new Set(dirs)].join(':')}): ${INSTALL_FIX}`);
}

interface ChardevChip {
  /** gpiochipN: what the tools are given. */
  readonly name: string;
  readonly path: string;
  readonly label: string;
  readonly lines: number;
}

const DEVICE_FIX =
  'the kernel exposes no such GPIO character device: check the chip name with `gpiodetect` (labels such as ' +
  'pinctrl-bcm2711 work too), and that the kernel has CONFIG_GPIO_CDEV';

/** Which /dev/gpiochipN the config means, and that the line is on it (gpiodetect). */
function resolveChardevChip(config: GpioLineConfig, options: ChardevOptions, device: string): ChardevChip {
  const devRoot = options.devRoot ?? '/dev';
  if (!Number.isInteger(config.line) || config.line < 0) {
    throw new HardwareError(device, `line must be a non-negative integer offset on the chip, got ${config.line}`);
  }
  const byName = /^gpiochip\d+$/.test(config.chip);
  if (byName) {
    const path = join(devRoot, config.chip);
    if (!existsSync(path)) throw new HardwareError(device, `no ${path}: ${DEVICE_FIX}`);
  } else {
    let present: string[] = [];
    try {
      present = readdirSync(devRoot).filter((n) => /^gpiochip\d+$/.test(n));
    } catch {
      // reported below
    }
    if (present.length === 0) {
      throw new HardwareError(
        device,
        `no ${join(devRoot, 'gpiochip*')} to look label '${config.chip}' up in: ${DEVICE_FIX}`,
      );
    }
  }
  const gpiodetect = findTool('gpiodetect', options.toolDir, device);
  const run = spawnSync(gpiodetect, [], { encoding: 'utf8', timeout: options.readyTimeoutMs ?? 3000 });
  const chips: ChardevChip[] = [];
  for (const text of (run.stdout ?? '').split('\n')) {
    const match = /^(gpiochip\d+) \[(.*)\] \((\d+) lines?\)/.exec(text.trim());
    if (match) chips.push({ name: match[1], path: join(devRoot, match[1]), label: match[2], lines: Number(match[3]) });
  }
  const chip = chips.find((c) => (byName ? c.name === config.chip : c.label === config.chip));
  if (chip === undefined) {
    throw new HardwareError(
      device,
      `${gpiodetect} lists no chip ${byName ? 'named' : 'labelled'} '${config.chip}' ` +
        `(it lists: ${chips.map((c) => `${c.name} [${c.label}]`).join(', ') || 'nothing'}` +
        `${run.stderr ? `; stderr: ${run.stderr.trim()}` : ''}): ${DEVICE_FIX}`,
    );
  }
  if (config.line >= chip.lines) {
    throw new HardwareError(
      device,
      `line ${config.line} is out of range: ${chip.path} [${chip.label}] has ${chip.lines} lines, offsets 0..${chip.lines - 1}`,
    );
  }
  try {
    accessSync(chip.path, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new HardwareError(device, `cannot open ${chip.path} read-write (${errorCode(error) ?? errorMessage(error)}): ${PERMISSION_FIX}`);
  }
  return chip;
}

function statPath(pid: number): string {
  return `/proc/${pid}/stat`;
}

/** The state letter of /proc/<pid>/stat, or undefined when the process is gone. */
function processState(pid: number): string | undefined {
  try {
    const text = readFileSync(statPath(pid), 'latin1');
    return text.charAt(text.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

function isGone(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === 'Z' || state === 'X';
}

function holdsGpioLine(pid: number, inodes: readonly string[]): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (inodes.includes(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
    } catch {
      // fd closed meanwhile
    }
  }
  return false;
}

function readTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().slice(-500);
  } catch {
    return '';
  }
}

/** A libgpiod tool running in the background, holding the line. */
class ToolProcess {
  readonly pid: number;
  readonly #device: string;
  readonly #name: string;
  readonly #errPath: string;
  readonly #statBuffer = Buffer.alloc(512);
  #statFd = -1;
  #stopped = false;

  constructor(
    device: string,
    tool: string,
    args: readonly string[],
    stdoutPath: string,
    errPath: string,
    lineInodes: readonly string[],
    timeoutMs: number,
  ) {
    this.#device = device;
    this.#name = tool;
    this.#errPath = errPath;
    const out = openSync(stdoutPath, 'w');
    const err = openSync(errPath, 'w');
    const { command, args: argv } = dieWithParent(tool, args, 'TERM');
    let pid: number | undefined;
    try {
      const child = spawn(command, argv, { stdio: ['ignore', out, err] });
      child.on('error', () => undefined); // reported through pid / the liveness checks
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(out);
      closeSync(err);
    }
    if (pid === undefined) {
      throw new HardwareError(device, `could not start ${command} ${argv.join(' ')}: ${INSTALL_FIX}`);
    }
    this.pid = pid;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (isGone(pid)) {
        this.stop();
        throw new HardwareError(
          device,
          `${tool} ${args.join(' ')} exited at start: ${readTail(errPath) || 'no message'}` +
            `; if the line is busy see \`gpioinfo\`, if access is denied: ${PERMISSION_FIX}`,
        );
      }
      if (holdsGpioLine(pid, lineInodes)) break;
      if (performance.now() >= deadline) {
        this.stop();
        throw new HardwareError(
          device,
          `${tool} ${args.join(' ')} did not take the line within ${timeoutMs} ms (no ${lineInodes.join(' or ')} ` +
            `among /proc/${pid}/fd): ${readTail(errPath) || 'no message'}`,
        );
      }
      sleepMs(2);
    }
    try {
      this.#statFd = openSync(statPath(pid), 'r');
    } catch (error) {
      this.stop();
      throw new HardwareError(device, `${tool} (pid ${pid}) vanished at start: ${errorMessage(error)}`);
    }
  }

  /** Throws unless the process is still running. Allocation-free while it is. */
  checkAlive(): void {
    let n = 0;
    try {
      n = readSync(this.#statFd, this.#statBuffer, 0, this.#statBuffer.length, 0);
    } catch {
      n = 0;
    }
    const buffer = this.#statBuffer;
    let close = -1;
    for (let i = n - 1; i >= 0; i--) {
      if (buffer[i] === 0x29 /* ')' */) {
        close = i;
        break;
      }
    }
    const state = close >= 0 && close + 2 < n ? buffer[close + 2] : 0;
    if (state === 0 || state === 0x5a /* 'Z' */ || state === 0x58 /* 'X' */) {
      throw new HardwareError(
        this.#device,
        `${this.#name} (pid ${this.pid}) is no longer running, the line is not monitored: ` +
          `${readTail(this.#errPath) || 'no message'}`,
      );
    }
  }

  /** SIGTERM, wait (bounded) until it is gone, SIGKILL if needed. */
  stop(timeoutMs = 1000): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#statFd >= 0) closeSync(this.#statFd);
    this.#statFd = -1;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    const deadline = performance.now() + timeoutMs;
    while (!isGone(this.pid)) {
      if (performance.now() >= deadline) {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // gone
        }
        break;
      }
      sleepMs(1);
    }
  }
}

function removeFiles(...paths: string[]): void {
  for (const path of paths) rmSync(path, { force: true });
}

function runFileBase(options: ChardevOptions, chip: ChardevChip, config: GpioLineConfig, kind: string): string {
  return join(options.runDir ?? tmpdir(), `embody-gpio-${process.pid}-${chip.name}-${config.line}-${kind}`);
}

// ---------------------------------------------------------------------------------------------
// the lines

export class ChardevGpioInput implements GpioInput {
  readonly description: string;
  readonly logPath: string;
  readonly #device: string;
  readonly #debounce: AsymmetricDebounce;
  readonly #monitor: ToolProcess;
  readonly #reader: GpiomonLogReader;
  readonly #errPath: string;
  #closed = false;

  constructor(config: GpioLineConfig, options: ChardevOptions) {
    const device = gpioDeviceName(config);
    this.#device = device;
    try {
      this.#debounce = new AsymmetricDebounce(config.debounce_ms, options.tickPeriodMs, 1);
    } catch (error) {
      throw new HardwareError(device, errorMessage(error));
    }
    const chip = resolveChardevChip(config, options, device);
    const gpioget = findTool('gpioget', options.toolDir, device);
    const gpiomon = findTool('gpiomon', options.toolDir, device);
    const activeLow = config.active_low ? ['-l'] : [];
    const lineArgs = [chip.name, String(config.line)];
    const get = spawnSync(gpioget, [...activeLow, ...lineArgs], {
      encoding: 'utf8',
      timeout: options.readyTimeoutMs ?? 3000,
    });
    const value = (get.stdout ?? '').trim();
    if (get.status !== 0 || (value !== '0' && value !== '1')) {
      throw new HardwareError(
        device,
        `${gpioget} ${[...activeLow, ...lineArgs].join(' ')} failed (exit ${get.status}, ` +
          `${get.error ? errorMessage(get.error) : (get.stderr ?? '').trim() || `output '${value}'`}); ` +
          `if the line is busy see \`gpioinfo ${chip.name}\`, if access is denied: ${PERMISSION_FIX}`,
      );
    }
    const initial: GpioLevel = value === '1' ? 1 : 0;
    const base = runFileBase(options, chip, config, 'in');
    this.logPath = `${base}.log`;
    this.#errPath = `${base}.err`;
    try {
      this.#monitor = new ToolProcess(
        device,
        gpiomon,
        ['-b', ...activeLow, '--format=%e %o', ...lineArgs],
        this.logPath,
        this.#errPath,
        ['anon_inode:gpio-event', 'anon_inode:gpio-line'],
        options.readyTimeoutMs ?? 3000,
      );
    } catch (error) {
      removeFiles(this.logPath, this.#errPath);
      throw error;
    }
    try {
      this.#reader = new GpiomonLogReader(this.logPath, initial);
    } catch (error) {
      this.#monitor.stop();
      removeFiles(this.logPath, this.#errPath);
      throw new HardwareError(device, `cannot open ${this.logPath}: ${errorMessage(error)}`);
    }
    this.#debounce.reset(initial);
    this.description =
      `chardev ${chip.path} [${chip.label}] line ${config.line}${config.active_low ? ' (active low)' : ''} via gpiomon`;
  }

  read(): GpioLevel {
    if (this.#closed) throw new HardwareError(this.#device, 'read() after close()');
    let raw: GpioLevel;
    try {
      raw = this.#reader.poll();
    } catch (error) {
      throw new HardwareError(this.#device, `reading ${this.logPath} failed: ${errorMessage(error)}`);
    }
    // After the poll: events written before gpiomon died are still taken.
    this.#monitor.checkAlive();
    return this.#debounce.sample(raw);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#monitor.stop();
    this.#reader.close();
    removeFiles(this.logPath, this.#errPath);
  }
}

export class ChardevGpioOutput implements GpioOutput {
  readonly description: string;
  readonly #device: string;
  readonly #gpioset: string;
  readonly #fixedArgs: readonly string[];
  readonly #line: string;
  readonly #outPath: string;
  readonly #errPath: string;
  readonly #timeoutMs: number;
  #holder: ToolProcess;
  #level: GpioLevel;
  #closed = false;

  constructor(config: GpioLineConfig, options: ChardevOutputOptions) {
    const device = gpioDeviceName(config);
    this.#device = device;
    const initial = options.initialLevel ?? 0;
    if (initial !== 0 && initial !== 1) {
      throw new HardwareError(device, `initialLevel must be 0 or 1, got ${String(initial)}`);
    }
    const chip = resolveChardevChip(config, options, device);
    this.#gpioset = findTool('gpioset', options.toolDir, device);
    this.#fixedArgs = [...(config.active_low ? ['-l'] : []), '--mode=signal', chip.name];
    this.#line = String(config.line);
    const base = runFileBase(options, chip, config, 'out');
    this.#outPath = `${base}.log`;
    this.#errPath = `${base}.err`;
    this.#timeoutMs = options.readyTimeoutMs ?? 3000;
    this.#level = initial;
    try {
      this.#holder = this.#start(initial);
    } catch (error) {
      removeFiles(this.#outPath, this.#errPath);
      throw error;
    }
    this.description =
      `chardev ${chip.path} [${chip.label}] line ${config.line} output${config.active_low ? ' (active low)' : ''} via gpioset`;
  }

  #start(level: GpioLevel): ToolProcess {
    return new ToolProcess(
      this.#device,
      this.#gpioset,
      [...this.#fixedArgs, `${this.#line}=${level}`],
      this.#outPath,
      this.#errPath,
      ['anon_inode:gpio-linehandle', 'anon_inode:gpio-line'],
      this.#timeoutMs,
    );
  }

  write(level: GpioLevel): void {
    if (this.#closed) throw new HardwareError(this.#device, 'write() after close()');
    this.#holder.checkAlive();
    if (level === this.#level) return;
    this.#holder.stop();
    this.#level = level;
    this.#holder = this.#start(level);
  }

  /** Stops gpioset: the line is released (see the header for what the pin does then). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#holder.stop();
    removeFiles(this.#outPath, this.#errPath);
  }
}
