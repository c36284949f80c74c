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
  close(): void;
}

export interface SerialOptions {
  readonly baudRate: number;
  /** Set an FTDI adapter's latency timer to 1 ms where sysfs lets us (default true). */
  readonly lowLatency?: boolean;
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

  constructor(port: string, options: SerialOptions) {
    this.path = port;
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

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeSync(fd);
  }
}
