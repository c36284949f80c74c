/**
 * What every chip model shares: a settable clock (so conversion timing is deterministic in
 * tests) and the fault modes the HIL rig and the tests inject:
 * - 'nack'      the chip stops acknowledging its address (unplugged, dead, wrong address);
 *               `count` makes it transient (the next `count` transactions only), to exercise retries;
 * - 'stuck'     the chip holds SDA low: every transaction on its bus segment fails;
 * - 'wrong-id'  a different chip answers at the address: identity/config registers read other values;
 * - 'stale'     the measurement registers freeze (and a ready flag, where the chip has one, stops
 *               reporting new data): a hung converter.
 * Models allocate nothing per transaction or step, like the drivers they stand behind.
 */
import type { I2cDeviceModel } from '../../bus/emulated.js';

export type ModelFault = 'none' | 'nack' | 'stuck' | 'wrong-id' | 'stale';

/** Simulated time in seconds, in a typed array so advancing it never allocates. */
export class SimClock {
  readonly cell = new Float64Array(1);

  get seconds(): number {
    return this.cell[0];
  }

  set(seconds: number): void {
    this.cell[0] = seconds;
  }

  advance(seconds: number): void {
    this.cell[0] += seconds;
  }
}

export abstract class DeviceModel implements I2cDeviceModel {
  readonly name: string;
  readonly clock: SimClock;
  #fault: ModelFault = 'none';
  #nackLeft = 0;
  #refuse = false;
  /**
   * Holding SDA low ('stuck'). A plain field, not a getter: the bus reads it for every model on
   * every transaction, across model classes, and a megamorphic getter call allocated there.
   */
  holdsBus = false;
  /** Transactions addressed to this chip that it acknowledged. */
  transactions = 0;

  protected constructor(name: string, clock: SimClock) {
    this.name = name;
    this.clock = clock;
  }

  get fault(): ModelFault {
    return this.#fault;
  }

  /** Inject a fault; 'nack' with `count` NACKs only that many transactions, then recovers. */
  inject(fault: ModelFault, count?: number): this {
    if (fault === 'nack' && count !== undefined) {
      this.#nackLeft = count;
      this.#fault = 'none';
    } else {
      this.#fault = fault;
      this.#nackLeft = 0;
    }
    this.holdsBus = this.#fault === 'stuck';
    this.#refuse = this.#fault === 'nack';
    this.onFault(this.#fault);
    return this;
  }

  clear(): this {
    return this.inject('none');
  }

  acknowledge(): boolean {
    if (this.#refuse) return false;
    if (this.#nackLeft > 0) {
      this.#nackLeft--;
      return false;
    }
    this.transactions++;
    return true;
  }

  protected get stale(): boolean {
    return this.#fault === 'stale';
  }

  protected get wrongId(): boolean {
    return this.#fault === 'wrong-id';
  }

  /** A model may react to a fault being set (freeze values, say). */
  protected onFault(_fault: ModelFault): void {}

  abstract write(data: Uint8Array, length: number): void;
  abstract read(out: Uint8Array, offset: number, length: number): void;
}
