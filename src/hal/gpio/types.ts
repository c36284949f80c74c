/**
 * GPIO lines for the emergency-stop input and the brake/enable output. The control worker calls
 * read()/write() once per tick, synchronously: every backend does its I/O with blocking calls on
 * descriptors and buffers it opened at construction, and allocates nothing per call.
 * Failures are `HardwareError`s whose message names the chip, the line, the path tried and a fix.
 */
export { HardwareError } from '../types.js';

export type GpioLevel = 0 | 1;

export interface GpioInput {
  /** Logical level after active_low and debouncing: 1 = asserted. Synchronous, allocation-free. */
  read(): GpioLevel;
  close(): void;
  readonly description: string;
}

export interface GpioOutput {
  /** Logical level (after active_low): 1 = asserted. */
  write(level: GpioLevel): void;
  close(): void;
  readonly description: string;
}

export interface GpioLineConfig {
  /** Character-device name ('gpiochip0') or the chip's label ('pinctrl-bcm2711', 'pinctrl-rp1'). */
  chip: string;
  /** Offset of the line on that chip (the BCM number on a Raspberry Pi's main chip). */
  line: number;
  /** The line is asserted when electrically low (a normally-open button to ground with a pull-up, say). A normally-closed e-stop loop to ground reads HIGH when pressed or cut: that is active_low false. */
  active_low: boolean;
  /** An asserting sample counts at once; a release counts only after this long released. */
  debounce_ms: number;
}

export type GpioBackend = 'sysfs' | 'chardev' | 'model';

/** `gpio <chip>:<line>`, the device name every HardwareError of a line carries. */
export function gpioDeviceName(config: Pick<GpioLineConfig, 'chip' | 'line'>): string {
  return `gpio ${config.chip}:${config.line}`;
}
