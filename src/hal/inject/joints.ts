/**
 * Fault injection at the joint driver boundary, for the HIL harness: the wrapped driver is the
 * production one, the control loop sees the same JointHardware contract, and a scenario can
 * make a joint's sensor fail (reads throw), freeze (readings stop changing) or jump (an offset
 * appears). No allocation per tick while nothing is injected, nor while something is.
 */
import { HardwareError, type JointHardware, type JointState } from '../types.js';
import type { SafeCommand } from '../../safety/index.js';

export const JointFault = { NONE: 0, ERROR: 1, FREEZE: 2, JUMP: 3 } as const;
export type JointFaultCode = (typeof JointFault)[keyof typeof JointFault];

export class JointFaultInjector implements JointHardware {
  readonly #inner: JointHardware;
  readonly #names: readonly string[];
  readonly #fault: Int8Array;
  readonly #offset: Float64Array;
  readonly #frozen: Float64Array;
  readonly #frozenSet: Uint8Array;
  #active = 0;

  constructor(inner: JointHardware, jointNames: readonly string[]) {
    this.#inner = inner;
    this.#names = jointNames;
    const n = jointNames.length;
    this.#fault = new Int8Array(n);
    this.#offset = new Float64Array(n);
    this.#frozen = new Float64Array(n);
    this.#frozenSet = new Uint8Array(n);
  }

  /** Set or clear (NONE) a fault on one joint; `amount` is the JUMP offset. */
  inject(joint: number, fault: JointFaultCode, amount = 0): void {
    if (joint < 0 || joint >= this.#fault.length) throw new RangeError(`no joint ${joint}`);
    this.#fault[joint] = fault;
    this.#offset[joint] = fault === JointFault.JUMP ? amount : 0;
    this.#frozenSet[joint] = 0;
    this.#active = 0;
    for (let i = 0; i < this.#fault.length; i++) if (this.#fault[i] !== JointFault.NONE) this.#active++;
  }

  open(): void {
    this.#inner.open();
  }

  read(out: JointState): void {
    if (this.#active > 0) {
      for (let i = 0; i < this.#fault.length; i++) {
        if (this.#fault[i] === JointFault.ERROR) throw new HardwareError(`joint ${this.#names[i]}`, 'encoder read failed (injected)');
      }
    }
    this.#inner.read(out);
    if (this.#active === 0) return;
    for (let i = 0; i < this.#fault.length; i++) {
      const fault = this.#fault[i];
      if (fault === JointFault.FREEZE) {
        if (this.#frozenSet[i] === 0) {
          this.#frozen[i] = out.position[i];
          this.#frozenSet[i] = 1;
        }
        out.position[i] = this.#frozen[i];
        out.velocity[i] = 0;
      } else if (fault === JointFault.JUMP) {
        out.position[i] += this.#offset[i];
      }
    }
  }

  write(command: SafeCommand): void {
    this.#inner.write(command);
  }

  close(): void {
    this.#inner.close();
  }
}
