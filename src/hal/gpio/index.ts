/**
 * The GPIO folder's door: open the e-stop input and the brake/enable output on one of three
 * backends. All of them read/write synchronously and allocation-free once open, so the control
 * worker can call them every tick (see each backend's header for what open does):
 * - 'sysfs': /sys/class/gpio, global number = chip base + line (chip-base.ts); the default
 *   driver 'fs' is safe on the control worker, driver 'onoff' is main-thread only (sysfs.ts);
 * - 'chardev': /dev/gpiochipN through the libgpiod v1.6 tools (chardev.ts);
 * - 'model': a SharedArrayBuffer cell for the simulator and the HIL harness (model.ts).
 * Every failure is a HardwareError naming chip, line, the path tried and a fix.
 */
import { HardwareError } from '../types.js';
import { ChardevGpioInput, ChardevGpioOutput } from './chardev.js';
import { GpioLineModel } from './model.js';
import { SysfsGpioInput, SysfsGpioOutput, type SysfsDriver } from './sysfs.js';
import {
  gpioDeviceName,
  type GpioBackend,
  type GpioInput,
  type GpioLevel,
  type GpioLineConfig,
  type GpioOutput,
} from './types.js';

export * from './types.js';
export { AsymmetricDebounce, releaseSamplesFor } from './debounce.js';
export {
  DEFAULT_GPIO_BUS_ROOT,
  DEFAULT_SYSFS_GPIO_ROOT,
  listSysfsChips,
  resolveSysfsLine,
  type SysfsChip,
  type SysfsLine,
} from './chip-base.js';
export { ONOFF_SYSFS_ROOT, SysfsGpioInput, SysfsGpioOutput, type SysfsDriver } from './sysfs.js';
export { ChardevGpioInput, ChardevGpioOutput, GpiomonEventParser, GpiomonLogReader } from './chardev.js';
export { createGpioModelCells, getGpioModelLevel, GpioLineModel, setGpioModelLevel } from './model.js';

export interface GpioOpenOptions {
  readonly backend: GpioBackend;
  /** The control tick period, ms: release debouncing counts ticks of this length. */
  readonly tickPeriodMs: number;
  /** sysfs: the GPIO class directory (default /sys/class/gpio). */
  readonly sysfsRoot?: string;
  /** sysfs: the GPIO bus directory used to map gpiochipN names (default /sys/bus/gpio/devices). */
  readonly busRoot?: string;
  /** sysfs: 'fs' (default, any thread) or 'onoff' (main thread only). */
  readonly sysfsDriver?: SysfsDriver;
  /** sysfs with driver 'onoff', inputs: edge notifications on the main thread's event loop. */
  readonly onEdge?: (error: Error | null, level: GpioLevel) => void;
  /** chardev: where gpiochipN live (default /dev). */
  readonly devRoot?: string;
  /** chardev: where the libgpiod tools are (default $PATH). */
  readonly toolDir?: string;
  /** chardev: directory of gpiomon's event log (default os.tmpdir()). */
  readonly runDir?: string;
  /** chardev: how long a tool may take to hold the line (default 3000 ms). */
  readonly readyTimeoutMs?: number;
  /** sysfs (driver 'fs'): how long to wait for an exported line's files (default 2000 ms). */
  readonly permissionTimeoutMs?: number;
  /** model: the shared cells (createGpioModelCells); a fresh cell when absent. */
  readonly model?: Int32Array;
  /** model: which cell (default 0). */
  readonly modelIndex?: number;
}

export interface GpioOutputOpenOptions extends GpioOpenOptions {
  /** Logical level the output starts at. Default 0: the safe level (brakes on, drives off). */
  readonly initialLevel?: GpioLevel;
}

function validate(config: GpioLineConfig, options: GpioOpenOptions): void {
  const device = gpioDeviceName(config);
  if (typeof config.chip !== 'string' || config.chip === '') {
    throw new HardwareError(device, "chip must be a gpiochip name ('gpiochip0') or a chip label ('pinctrl-bcm2711')");
  }
  if (!Number.isInteger(config.line) || config.line < 0) {
    throw new HardwareError(device, `line must be a non-negative integer offset on the chip, got ${config.line}`);
  }
  if (typeof config.active_low !== 'boolean') {
    throw new HardwareError(device, `active_low must be true or false, got ${String(config.active_low)}`);
  }
  if (!(Number.isFinite(config.debounce_ms) && config.debounce_ms >= 0)) {
    throw new HardwareError(device, `debounce_ms must be a non-negative number, got ${config.debounce_ms}`);
  }
  if (!(Number.isFinite(options.tickPeriodMs) && options.tickPeriodMs > 0)) {
    throw new HardwareError(device, `tickPeriodMs must be a positive number, got ${options.tickPeriodMs}`);
  }
}

function unknownBackend(config: GpioLineConfig, backend: never): HardwareError {
  return new HardwareError(
    gpioDeviceName(config),
    `unknown GPIO backend '${String(backend)}': use 'sysfs', 'chardev' or 'model'`,
  );
}

export function openGpioInput(config: GpioLineConfig, options: GpioOpenOptions): GpioInput {
  validate(config, options);
  switch (options.backend) {
    case 'sysfs':
      return new SysfsGpioInput(config, {
        tickPeriodMs: options.tickPeriodMs,
        sysfsRoot: options.sysfsRoot,
        busRoot: options.busRoot,
        driver: options.sysfsDriver,
        onEdge: options.onEdge,
        permissionTimeoutMs: options.permissionTimeoutMs,
      });
    case 'chardev':
      return new ChardevGpioInput(config, options);
    case 'model':
      return new GpioLineModel(config, {
        tickPeriodMs: options.tickPeriodMs,
        cells: options.model,
        index: options.modelIndex,
      });
    default:
      throw unknownBackend(config, options.backend);
  }
}

export function openGpioOutput(config: GpioLineConfig, options: GpioOutputOpenOptions): GpioOutput {
  validate(config, options);
  const initialLevel = options.initialLevel ?? 0;
  switch (options.backend) {
    case 'sysfs':
      return new SysfsGpioOutput(config, {
        tickPeriodMs: options.tickPeriodMs,
        sysfsRoot: options.sysfsRoot,
        busRoot: options.busRoot,
        driver: options.sysfsDriver,
        permissionTimeoutMs: options.permissionTimeoutMs,
        initialLevel,
      });
    case 'chardev':
      return new ChardevGpioOutput(config, { ...options, initialLevel });
    case 'model': {
      const line = new GpioLineModel(config, {
        tickPeriodMs: options.tickPeriodMs,
        cells: options.model,
        index: options.modelIndex,
      });
      line.write(initialLevel);
      return line;
    }
    default:
      throw unknownBackend(config, options.backend);
  }
}
