/**
 * A serial port for the control thread: the tty opened directly, configured with termios at open
 * (`stty` on the open fd: raw, 8N1, no flow control, the baud rate, VMIN = 0 and VTIME = 0), then
 * read and written with synchronous fs calls. VMIN = VTIME = 0 makes a read return at once with
 * what the kernel holds (0 bytes when nothing came), so polling never throws EAGAIN and never
 * blocks, and a tick allocates nothing. docs/ARCHITECTURE.md says why not the `serialport` package.
 *
 * USB adapters with an FTDI chip hold received bytes up to their latency timer (16 ms by default)
 * before passing them on: at open the timer is read from sysfs and, where writable, set to 1 ms.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, realpathSync, writeFileSync, writevSync } from 'node:fs';
import path from 'node:path';
import { HardwareError } from '../types.js';
import { errorCode, errorText } from '../bus/errors.js';

/** What a driver needs of a byte stream: synchronous, non-blocking reads, whole writes. */
export interface SerialLink {
  readonly path: string;
  /** Bytes now available into buffer[at .. at+max); 0 when none. Throws a HardwareError when the port fails. */
  read(buffer: Uint8Array, at: number, max: number): number;
  /** Send buffer[0 .. n). Throws a HardwareError when the port fails. */
  write(buffer: Uint8Array, n: number): void;
  /**
   * From now on, bytes come from a reader thread through a shared ring, so read() makes no system
   * call (see TtySerialPort). Optional: a link without it is read directly.
   */
  startReader?(): void;
  close(): void;
}

/** Cells of the reader ring's Int32 header. HEAD/TAIL count bytes (mod 2^32), the data is a power of two. */
const Ring = { HEAD: 0, TAIL: 1, STOP: 2, STOPPED: 3, ERROR: 4, DROPPED: 5, READY: 6, SIZE: 8 } as const;
const RING_BYTES = 1 << 16;

/**
 * The reader thread's code (plain JavaScript, evaluated: a worker cannot load TypeScript, and this
 * needs nothing but fs). It opens the tty again without O_NONBLOCK and blocks in read() (VMIN 0,
 * VTIME 1: at most 100 ms, then it looks at STOP), copies what came into the ring and publishes
 * HEAD. A read error is published as ERROR (its errno name) and ends the thread.
 */
const READER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { path, header, data, priority } = workerData;
if (priority > 0) {
  // Woken as soon as the kernel hands over bytes: SCHED_FIFO just below the control thread
  // (it sleeps in read() nearly always). Refused without CAP_SYS_NICE: it stays SCHED_OTHER.
  try {
    const tid = fs.readlinkSync('/proc/thread-self').split('/').pop();
    require('node:child_process').spawnSync('chrt', ['-f', '-p', String(priority), tid]);
  } catch {}
}
const h = new Int32Array(header);
const ring = new Uint8Array(data);
const mask = ring.length - 1;
const chunk = new Uint8Array(4096);
const codes = ['EIO', 'ENXIO', 'ENODEV', 'EBADF', 'EACCES', 'ENOENT'];
let fd = -1;
try {
  fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
  Atomics.store(h, ${Ring.READY}, 1);
  Atomics.notify(h, ${Ring.READY});
  while (Atomics.load(h, ${Ring.STOP}) === 0) {
    const n = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (n <= 0) continue;
    const head = Atomics.load(h, ${Ring.HEAD});
    const used = (head - Atomics.load(h, ${Ring.TAIL})) | 0;
    const room = ring.length - used;
    const take = n < room ? n : room;
    if (take < n) Atomics.add(h, ${Ring.DROPPED}, n - take);
    for (let i = 0; i < take; i++) ring[(head + i) & mask] = chunk[i];
    Atomics.store(h, ${Ring.HEAD}, (head + take) | 0);
    Atomics.notify(h, ${Ring.HEAD});
  }
} catch (error) {
  const k = codes.indexOf(error && error.code);
  Atomics.store(h, ${Ring.ERROR}, k >= 0 ? k + 1 : 99);
} finally {
  if (fd >= 0) try { fs.closeSync(fd); } catch {}
  Atomics.store(h, ${Ring.STOPPED}, 1);
  Atomics.notify(h, ${Ring.STOPPED});
}
`;
const READER_ERRORS = ['EIO', 'ENXIO', 'ENODEV', 'EBADF', 'EACCES', 'ENOENT'];

export interface SerialOptions {
  readonly baudRate: number;
  /** Set an FTDI adapter's latency timer to 1 ms where sysfs lets us (default true). */
  readonly lowLatency?: boolean;
  /** SCHED_FIFO priority of the reader thread (startReader), 0 for normal scheduling (default). */
  readonly readerPriority?: number;
}

/** The USB latency timer of the adapter behind `port` (ms), where the kernel exposes one. */
export function latencyTimerFile(port: string): string | undefined {
  try {
    const name = path.basename(realpathSync(port));
    const file = `/sys/bus/usb-serial/devices/${name}/latency_timer`;
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function fixFor(code: string, port: string): string {
  switch (code) {
    case 'ENOENT':
      return `no such device: plug the bus adapter in, check \`ls /dev/serial/by-id/\` and give its path in robot.yaml (feetech.serial.port); a udev rule gives it a stable name (docs/HARDWARE.md)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission on ${port}: add the service user to the 'dialout' group, or run as root`;
    case 'EBUSY':
      return `another program holds ${port} (a LeRobot script, a serial monitor, ModemManager): stop it`;
    case 'EIO':
      return `the adapter went away (unplugged, or a brown-out reset it): check the USB cable and the bus board's supply; \`dmesg\` tells more`;
    default:
      return `check the adapter and \`dmesg\``;
  }
}

export class TtySerialPort implements SerialLink {
  readonly path: string;
  /** The adapter's latency timer after open, ms (undefined: not a USB-serial adapter that has one). */
  latencyTimerMs: number | undefined;
  #fd = -1;
  readonly #baudRate: number;
  readonly #readerPriority: number;
  #header: Int32Array | undefined;
  #ring: Uint8Array | undefined;
  #reader: Worker | undefined;

  constructor(port: string, options: SerialOptions) {
    this.path = port;
    this.#baudRate = options.baudRate;
    this.#readerPriority = options.readerPriority ?? 0;
    try {
      // O_NONBLOCK: the open itself must not wait for a carrier; reads poll anyway (VMIN = VTIME = 0).
      this.#fd = openSync(port, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch (error) {
      const code = errorCode(error);
      throw new HardwareError(`serial port ${port}`, `cannot open: ${code || errorText(error)}; fix: ${fixFor(code, port)}`);
    }
    const args = [String(options.baudRate), 'raw', '-echo', 'cs8', '-cstopb', '-parenb', '-crtscts', '-ixon', '-ixoff', 'clocal', 'cread', '-hupcl', 'min', '0', 'time', '0'];
    const stty = spawnSync('stty', args, { stdio: [this.#fd, 'ignore', 'pipe'], encoding: 'utf8' });
    if (stty.error !== undefined || stty.status !== 0) {
      this.close();
      const why = stty.error !== undefined ? errorText(stty.error) : stty.stderr.trim();
      throw new HardwareError(`serial port ${port}`, `cannot set ${options.baudRate} baud, raw 8N1 (stty ${args.join(' ')}): ${why}; fix: a tty that supports this rate (a USB-serial adapter, a pseudo-terminal), and coreutils' stty on PATH`);
    }
    this.latencyTimerMs = this.#lowLatency(options.lowLatency ?? true);
  }

  #lowLatency(set: boolean): number | undefined {
    const file = latencyTimerFile(this.path);
    if (file === undefined) return undefined;
    const read = (): number | undefined => {
      const ms = Number.parseInt(readFileSync(file, 'utf8'), 10);
      return Number.isFinite(ms) ? ms : undefined;
    };
    try {
      if (set && read() !== 1) writeFileSync(file, '1');
    } catch {
      // Read-only sysfs (no root): reported through latencyTimerMs, `embody check` warns.
    }
    try {
      return read();
    } catch {
      return undefined;
    }
  }

  read(buffer: Uint8Array, at: number, max: number): number {
    const header = this.#header;
    if (header !== undefined) return this.#readRing(header, buffer, at, max);
    try {
      return readSync(this.#fd, buffer, at, max, null);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EAGAIN') return 0;
      throw new HardwareError(`serial port ${this.path}`, `read failed: ${code || errorText(error)}; fix: ${fixFor(code, this.path)}`);
    }
  }

  /**
   * One-element arrays of views buffer[0..n), made once per length: Node 20's writeSync allocates
   * ~56 bytes per call (an error-context object), writevSync on a kept array nothing (measured).
   */
  #views: (Uint8Array[] | undefined)[] = [];
  #viewsOf: Uint8Array | undefined;

  write(buffer: Uint8Array, n: number): void {
    if (buffer !== this.#viewsOf) {
      this.#viewsOf = buffer;
      this.#views = [];
    }
    const views = (this.#views[n] ??= [buffer.subarray(0, n)]);
    let done = 0;
    let spins = 0;
    while (done < n) {
      let wrote: number;
      try {
        wrote = done === 0 ? writevSync(this.#fd, views) : writevSync(this.#fd, [buffer.subarray(done, n)]);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'EAGAIN' && ++spins < 1000) continue;
        throw new HardwareError(`serial port ${this.path}`, `write failed: ${code || errorText(error)}; fix: ${fixFor(code, this.path)}`);
      }
      done += wrote;
    }
  }

  /**
   * Hand reading to a thread of its own. A read() on a tty that finds no bytes yet waits for the
   * kernel worker that moves received bytes to the line discipline (flush_to_ldisc): an ordinary
   * SCHED_OTHER thread, so on a loaded host the control thread, SCHED_FIFO, was blocked in read()
   * for up to 12 ms (measured on a pty at load ~3). The reader thread takes that wait; the tick
   * copies bytes out of a shared ring.
   */
  startReader(): void {
    if (this.#reader !== undefined || this.#fd < 0) return;
    const stty = spawnSync('stty', ['min', '0', 'time', '1'], { stdio: [this.#fd, 'ignore', 'pipe'], encoding: 'utf8' });
    if (stty.error !== undefined || stty.status !== 0) throw new HardwareError(`serial port ${this.path}`, `cannot set VTIME for the reader thread (stty min 0 time 1): ${stty.error ? errorText(stty.error) : stty.stderr.trim()}`);
    const header = new SharedArrayBuffer(Ring.SIZE * 4);
    const data = new SharedArrayBuffer(RING_BYTES);
    this.#header = new Int32Array(header);
    this.#ring = new Uint8Array(data);
    this.#reader = new Worker(READER_SOURCE, { eval: true, workerData: { path: this.path, header, data, priority: this.#readerPriority } });
    this.#reader.unref();
    // Until the thread reads, nothing arrives: wait for it (a worker starts in tens of ms).
    const h = this.#header;
    Atomics.wait(h, Ring.READY, 0, 5000);
    if (Atomics.load(h, Ring.READY) !== 1) {
      const error = Atomics.load(h, Ring.ERROR);
      throw new HardwareError(`serial port ${this.path}`, error !== 0 ? `the reader thread could not open the port: ${READER_ERRORS[error - 1] ?? 'error'}` : 'the reader thread did not start within 5 s');
    }
  }

  #readRing(header: Int32Array, buffer: Uint8Array, at: number, max: number): number {
    const ring = this.#ring as Uint8Array;
    const tail = Atomics.load(header, Ring.TAIL);
    const available = (Atomics.load(header, Ring.HEAD) - tail) | 0;
    if (available === 0) {
      const error = Atomics.load(header, Ring.ERROR);
      if (error !== 0) {
        const code = READER_ERRORS[error - 1] ?? 'error';
        throw new HardwareError(`serial port ${this.path}`, `read failed: ${code} (reader thread); fix: ${fixFor(code, this.path)}`);
      }
      return 0;
    }
    const n = available < max ? available : max;
    const mask = RING_BYTES - 1;
    for (let i = 0; i < n; i++) buffer[at + i] = ring[(tail + i) & mask];
    Atomics.store(header, Ring.TAIL, (tail + n) | 0);
    return n;
  }

  /** Bytes the reader thread had to drop because the ring was full (nobody read for ~500 ticks). */
  get droppedBytes(): number {
    return this.#header ? Atomics.load(this.#header, Ring.DROPPED) : 0;
  }

  get baudRate(): number {
    return this.#baudRate;
  }

  close(): void {
    const header = this.#header;
    if (header !== undefined) {
      // The reader looks at STOP at least every 100 ms (VTIME 1); its fd is closed by itself.
      Atomics.store(header, Ring.STOP, 1);
      Atomics.wait(header, Ring.STOPPED, 0, 500);
      this.#header = undefined;
      this.#reader = undefined;
    }
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeSync(fd);
  }
}
