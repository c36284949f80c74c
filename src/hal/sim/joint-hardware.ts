/**
 * The simulated joints behind the same JointHardware contract real drivers implement. write()
 * takes the envelope's SafeCommand and advances the plant one control period, so the plant
 * runs in lock-step with the control clock inside the control worker.
 */
import type { SafeCommand } from '../../safety/safe-command.js';
import { HardwareError, type JointHardware, type JointState } from '../types.js';
import type { SimPlant } from './plant.js';

export class SimJointHardware implements JointHardware {
  readonly #plant: SimPlant;
  readonly #targets: Float64Array;
  #open = false;

  constructor(plant: SimPlant) {
    this.#plant = plant;
    this.#targets = Float64Array.from(plant.position);
  }

  open(): void {
    this.#targets.set(this.#plant.position);
    this.#open = true;
  }

  read(out: JointState): void {
    if (!this.#open) throw new HardwareError('sim joints', 'read before open()');
    this.#plant.readJoints(out);
  }

  write(command: SafeCommand): void {
    if (!this.#open) throw new HardwareError('sim joints', 'write before open()');
    const targets = this.#targets;
    for (let i = 0; i < targets.length; i++) targets[i] = command.position(i);
    this.#plant.step(targets);
  }

  /** Safe output state: servos hold where the joints are now. */
  close(): void {
    if (!this.#open) return;
    this.#targets.set(this.#plant.position);
    this.#open = false;
  }
}
