/**
 * The simulated joints behind the same JointHardware contract real drivers implement. write()
 * takes the envelope's SafeCommand and advances the plant one control period, so the plant
 * runs in lock-step with the control clock inside the control worker.
 */
import type { SafeCommand } from '../../safety/index.js';
import { HardwareError, type JointHardware, type JointState } from '../types.js';
import type { SimPlant } from './plant.js';

/**
 * Shared cells through which a test or the HIL rig pushes a simulated joint: `joint` names it,
 * `micro` holds the push in µrad (or µm); the hardware applies it once and clears it.
 */
export interface SimPushCells {
  readonly cells: Int32Array;
  readonly joint: number;
  readonly micro: number;
}

export class SimJointHardware implements JointHardware {
  readonly #plant: SimPlant;
  readonly #targets: Float64Array;
  readonly #push: SimPushCells | undefined;
  #open = false;

  constructor(plant: SimPlant, push?: SimPushCells) {
    this.#plant = plant;
    this.#targets = Float64Array.from(plant.position);
    this.#push = push;
  }

  open(): void {
    this.#targets.set(this.#plant.position);
    this.#open = true;
  }

  read(out: JointState): void {
    if (!this.#open) throw new HardwareError('sim joints', 'read before open()');
    const push = this.#push;
    if (push !== undefined) {
      const micro = Atomics.exchange(push.cells, push.micro, 0);
      if (micro !== 0) this.#plant.displace(Atomics.load(push.cells, push.joint), micro * 1e-6);
    }
    this.#plant.readJoints(out);
  }

  write(command: SafeCommand): void {
    if (!this.#open) throw new HardwareError('sim joints', 'write before open()');
    const targets = this.#targets;
    // Drive power off (category 0): the brakes clamp the joints where they are now.
    if (command.powered) for (let i = 0; i < targets.length; i++) targets[i] = command.position(i);
    else targets.set(this.#plant.position);
    this.#plant.step(targets);
  }

  /** Safe output state: servos hold where the joints are now. */
  close(): void {
    if (!this.#open) return;
    this.#targets.set(this.#plant.position);
    this.#open = false;
  }
}
