/**
 * Fault injection on camera frames, for the HIL harness: a stalled or dead camera delivers no
 * new frames; a dark or saturated one (exposure gone wrong) delivers frames that are; extra
 * sensor noise degrades them. Applied in place to the frame the production source produced.
 */
import type { Random } from '../sim/random.js';

export const CameraFault = { NONE: 0, STALL: 1, DEAD: 2, DARK: 3, SATURATED: 4, NOISE: 5 } as const;
export type CameraFaultCode = (typeof CameraFault)[keyof typeof CameraFault];

export class CameraFaultInjector {
  fault: CameraFaultCode = CameraFault.NONE;
  /** NOISE: pixel standard deviation, 0-255 scale. */
  noise = 0;
  readonly #random: Random;

  constructor(random: Random) {
    this.#random = random;
  }

  /** False when the camera delivers nothing this frame. */
  get delivers(): boolean {
    return this.fault !== CameraFault.STALL && this.fault !== CameraFault.DEAD;
  }

  apply(data: Uint8Array): void {
    switch (this.fault) {
      case CameraFault.DARK:
        for (let i = 0; i < data.length; i++) data[i] = data[i] >> 4;
        break;
      case CameraFault.SATURATED:
        data.fill(255);
        break;
      case CameraFault.NOISE:
        for (let i = 0; i < data.length; i++) {
          const v = data[i] + this.noise * this.#random.gaussian();
          data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
        break;
      default:
    }
  }
}
