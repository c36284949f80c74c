/**
 * A GPIO line model for the simulator and the HIL harness: the line is one Int32 cell of a
 * SharedArrayBuffer, so another thread (a test, the HIL rig, the sim's fault injector) presses
 * and releases it with `Atomics.store` while the control worker reads it once per tick.
 *
 * The cell holds the LOGICAL level, 1 = asserted (pressed e-stop, enabled drives), which is what
 * the runtime's shared state and tests speak; active_low is wiring and is not modelled. The input
 * goes through the same asymmetric debouncer as the real backends, so release timing in the sim
 * is what it is on the robot. As an output, write() stores the level for the other side to see.
 */
import { HardwareError } from '../types.js';
import { AsymmetricDebounce } from './debounce.js';
import { errorMessage } from './sync.js';
import { gpioDeviceName, type GpioInput, type GpioLevel, type GpioLineConfig, type GpioOutput } from './types.js';

/** `count` model lines, all released (0). */
export function createGpioModelCells(count = 1): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * count));
}

/** Press (1) or release (0) a model line from any thread. */
export function setGpioModelLevel(cells: Int32Array, index: number, level: GpioLevel): void {
  Atomics.store(cells, index, level);
  Atomics.notify(cells, index);
}

export function getGpioModelLevel(cells: Int32Array, index: number): GpioLevel {
  return Atomics.load(cells, index) !== 0 ? 1 : 0;
}

export interface GpioModelOptions {
  readonly tickPeriodMs: number;
  /** The shared cells; a fresh single cell when absent. */
  readonly cells?: Int32Array;
  /** Which cell is this line. Default 0. */
  readonly index?: number;
}

export class GpioLineModel implements GpioInput, GpioOutput {
  readonly description: string;
  readonly cells: Int32Array;
  readonly index: number;
  readonly #device: string;
  readonly #debounce: AsymmetricDebounce;
  #closed = false;

  constructor(config: GpioLineConfig, options: GpioModelOptions) {
    this.#device = gpioDeviceName(config);
    this.cells = options.cells ?? createGpioModelCells(1);
    this.index = options.index ?? 0;
    if (!(this.cells.buffer instanceof SharedArrayBuffer)) {
      throw new HardwareError(this.#device, 'the model cells must live in a SharedArrayBuffer (createGpioModelCells)');
    }
    if (!Number.isInteger(this.index) || this.index < 0 || this.index >= this.cells.length) {
      throw new HardwareError(this.#device, `model index ${this.index} is outside the ${this.cells.length} cells`);
    }
    try {
      this.#debounce = new AsymmetricDebounce(
        config.debounce_ms,
        options.tickPeriodMs,
        getGpioModelLevel(this.cells, this.index),
      );
    } catch (error) {
      throw new HardwareError(this.#device, errorMessage(error));
    }
    this.description = `model gpio ${config.chip}:${config.line} (cell ${this.index})`;
  }

  read(): GpioLevel {
    if (this.#closed) throw new HardwareError(this.#device, 'read() after close()');
    return this.#debounce.sample(Atomics.load(this.cells, this.index) !== 0 ? 1 : 0);
  }

  write(level: GpioLevel): void {
    if (this.#closed) throw new HardwareError(this.#device, 'write() after close()');
    Atomics.store(this.cells, this.index, level === 1 ? 1 : 0);
  }

  close(): void {
    this.#closed = true;
  }
}
