/**
 * The one narrow contract every piece of hardware implements (after ros2_control's
 * hardware_interface): open, then read() and write() once per control tick, then close.
 * The control worker only ever talks to these interfaces.
 */
import type { SafeCommand } from '../safety/index.js';

/** Measured joint state, one slot per joint in robot.yaml order. Preallocated by the caller. */
export interface JointState {
  readonly position: Float64Array;
  readonly velocity: Float64Array;
  readonly effort: Float64Array;
}

export function createJointState(jointCount: number): JointState {
  return {
    position: new Float64Array(jointCount),
    velocity: new Float64Array(jointCount),
    effort: new Float64Array(jointCount),
  };
}

export interface JointHardware {
  open(): void;
  /** Fill `out` with the latest measurement; must not allocate. Throws a HardwareError on failure. */
  read(out: JointState): void;
  /** Send the envelope's command; must not allocate. The sim advances its physics one tick here. */
  write(command: SafeCommand): void;
  /** Leave the hardware in its configured safe output state. */
  close(): void;
}

/** A safety input line (e-stop), read once per tick from the control thread: sync, no allocation. */
export interface DigitalInput {
  /** Logical level after active-low and debounce: 1 = asserted (pressed). */
  read(): 0 | 1;
  close(): void;
  readonly description: string;
}

/** A safety output line (brake release / drive enable): 1 = drives enabled, 0 = the safe level. */
export interface DigitalOutput {
  write(level: 0 | 1): void;
  close(): void;
  readonly description: string;
}

/** One camera frame; `data` is reused by the source, so consumers copy what they keep. */
export interface Frame {
  readonly camera: string;
  readonly sequence: number;
  /** Capture time, ms on the performance.now() clock of the thread that received it. */
  readonly timestampMs: number;
  readonly width: number;
  readonly height: number;
  /** Packed RGB24, row-major, width * height * 3 bytes. */
  readonly data: Uint8Array;
}

export class HardwareError extends Error {
  constructor(
    readonly device: string,
    message: string,
  ) {
    super(`${device}: ${message}`);
    this.name = 'HardwareError';
  }
}
