/**
 * An in-process I2C bus that routes each transaction by address to register-level device models
 * (src/hal/sim/devices), so the real driver code runs unchanged against emulated chips. It
 * emulates the wire, not the SMBus calls: a register read is a write of the register byte to the
 * model, then a read of the data bytes, exactly what a chip's address pointer sees; each model
 * decides what its pointer does (auto-increment, wrap, one register per pointer).
 *
 * Wire behaviour modelled here:
 * - nobody acknowledges the address → EREMOTEIO (what i2c-bcm2835 returns for a NACK);
 * - a device holding SDA low ('stuck') → every transaction on the bus fails with ETIMEDOUT, whatever
 *   its address, until the fault clears (as on a real bus: one stuck device takes the bus down);
 * - devices behind a TCA9548A mux are reached only while their channel is enabled; two devices
 *   answering the same address (two AS5600 on two enabled channels) both receive writes, and
 *   their read data is wired-AND, as open-drain lines do;
 * - a chip may acknowledge extra addresses for writes (PCA9685 ALL CALL at 0x70).
 * Routing and transfers allocate nothing: scratch buffers and responder lists are preallocated.
 */
import { I2cBusBase, I2cTransferFault, type I2cBusOptions } from './base.js';
import { hex, I2C_BLOCK_MAX, I2cOp } from './types.js';

/** A chip on the emulated wire. */
export interface I2cDeviceModel {
  readonly name: string;
  /** Holding SDA low: every transaction on this bus (segment) fails while true. */
  readonly holdsBus: boolean;
  /** Called once at the START of each transaction addressed to it: false = NACK. */
  acknowledge(): boolean;
  /** A write transaction's bytes after the address byte (for register chips: register, data…). */
  write(data: Uint8Array, length: number): void;
  /** A read transaction: fill out[offset .. offset+length). */
  read(out: Uint8Array, offset: number, length: number): void;
  /** Extra addresses the chip acknowledges for writes only (PCA9685 ALL CALL, sub-addresses). */
  answersWrite?(address: number): boolean;
}

/** A TCA9548A-like switch: `channelMask` bit n connects downstream channel n. */
export interface I2cMuxModel extends I2cDeviceModel {
  readonly channelMask: number;
}

interface MuxEntry {
  readonly address: number;
  readonly model: I2cMuxModel;
  /** [channel * 128 + address] → model. */
  readonly downstream: (I2cDeviceModel | undefined)[];
}

const MAX_RESPONDERS = 16;

export class EmulatedI2cBus extends I2cBusBase {
  readonly #direct: (I2cDeviceModel | undefined)[] = new Array<I2cDeviceModel | undefined>(128).fill(undefined);
  readonly #muxes: MuxEntry[] = [];
  /** Every model, direct or downstream, with where it sits (for the stuck-bus check). */
  readonly #all: { model: I2cDeviceModel; mux: MuxEntry | undefined; channel: number }[] = [];
  readonly #writers: I2cDeviceModel[] = [];
  readonly #responders: I2cDeviceModel[] = new Array<I2cDeviceModel>(MAX_RESPONDERS);
  #responderCount = 0;
  readonly #scratch = new Uint8Array(I2C_BLOCK_MAX + 2);
  readonly #wired = new Uint8Array(I2C_BLOCK_MAX + 2);

  constructor(busNumber = 1, options: I2cBusOptions = {}) {
    super(busNumber, `emulated i2c-${busNumber}`, options);
  }

  /** Put a chip on the bus at `address`. */
  attach(address: number, model: I2cDeviceModel): this {
    if (this.#direct[address] !== undefined) throw new RangeError(`${this.name}: ${hex(address)} already has ${this.#direct[address]?.name}`);
    this.#direct[address] = model;
    this.#all.push({ model, mux: undefined, channel: -1 });
    if (model.answersWrite) this.#writers.push(model);
    if (isMux(model)) this.#muxes.push({ address, model, downstream: new Array<I2cDeviceModel | undefined>(8 * 128).fill(undefined) });
    return this;
  }

  /** Put a chip on channel `channel` (0..7) of the mux at `muxAddress`. */
  attachBehind(muxAddress: number, channel: number, address: number, model: I2cDeviceModel): this {
    const mux = this.#muxes.find((m) => m.address === muxAddress);
    if (!mux) throw new RangeError(`${this.name}: no mux attached at ${hex(muxAddress)}`);
    if (!(channel >= 0 && channel < 8)) throw new RangeError(`mux channel must be 0..7, got ${channel}`);
    const slot = channel * 128 + address;
    if (mux.downstream[slot] !== undefined) throw new RangeError(`${this.name}: mux ${hex(muxAddress)} channel ${channel} already has ${hex(address)}`);
    mux.downstream[slot] = model;
    this.#all.push({ model, mux, channel });
    return this;
  }

  protected release(): void {
    // Nothing to free: the models belong to whoever built them.
  }

  protected transfer(op: number, address: number, register: number, value: number, length: number, buffer: Buffer | null): number {
    const isWrite = op === I2cOp.WRITE_BYTE || op === I2cOp.WRITE_WORD || op === I2cOp.WRITE_BLOCK || op === I2cOp.SEND_BYTE;
    this.#checkStuck(address);
    this.#route(address, isWrite);
    const s = this.#scratch;
    switch (op) {
      case I2cOp.READ_BYTE:
        s[0] = register;
        this.#write(s, 1);
        this.#read(s, 0, 1);
        return s[0];
      case I2cOp.WRITE_BYTE:
        s[0] = register;
        s[1] = value;
        this.#write(s, 2);
        return 0;
      case I2cOp.READ_WORD:
        s[0] = register;
        this.#write(s, 1);
        this.#read(s, 0, 2);
        return s[0] | (s[1] << 8);
      case I2cOp.WRITE_WORD:
        s[0] = register;
        s[1] = value & 0xff;
        s[2] = (value >> 8) & 0xff;
        this.#write(s, 3);
        return 0;
      case I2cOp.READ_BLOCK:
        s[0] = register;
        this.#write(s, 1);
        this.#read(buffer as Buffer, 0, length);
        return length;
      case I2cOp.WRITE_BLOCK: {
        s[0] = register;
        const from = buffer as Buffer;
        for (let i = 0; i < length; i++) s[i + 1] = from[i];
        this.#write(s, length + 1);
        return length;
      }
      case I2cOp.SEND_BYTE:
        s[0] = value;
        this.#write(s, 1);
        return 0;
      default:
        this.#read(s, 0, 1);
        return s[0];
    }
  }

  #checkStuck(address: number): void {
    const all = this.#all;
    for (let i = 0; i < all.length; i++) {
      const entry = all[i];
      if (!entry.model.holdsBus) continue;
      // Behind a mux, a stuck device only blocks the bus while its channel is connected.
      if (entry.mux !== undefined && (entry.mux.model.channelMask & (1 << entry.channel)) === 0) continue;
      throw new I2cTransferFault('ETIMEDOUT', `SDA held low by ${entry.model.name}; transfer to ${hex(address)} timed out`);
    }
  }

  #route(address: number, isWrite: boolean): void {
    let count = 0;
    const responders = this.#responders;
    const direct = this.#direct[address];
    if (direct !== undefined && direct.acknowledge()) responders[count++] = direct;
    const muxes = this.#muxes;
    for (let m = 0; m < muxes.length; m++) {
      const mask = muxes[m].model.channelMask;
      if (mask === 0) continue;
      for (let c = 0; c < 8; c++) {
        if ((mask & (1 << c)) === 0) continue;
        const model = muxes[m].downstream[c * 128 + address];
        if (model !== undefined && count < MAX_RESPONDERS && model.acknowledge()) responders[count++] = model;
      }
    }
    if (isWrite) {
      const writers = this.#writers;
      for (let w = 0; w < writers.length; w++) {
        const model = writers[w];
        if (model !== direct && count < MAX_RESPONDERS && model.answersWrite?.(address) === true && model.acknowledge()) responders[count++] = model;
      }
    }
    if (count === 0) throw new I2cTransferFault('EREMOTEIO', `no ACK from ${hex(address)}`);
    this.#responderCount = count;
  }

  #write(data: Uint8Array, length: number): void {
    for (let i = 0; i < this.#responderCount; i++) this.#responders[i].write(data, length);
  }

  #read(out: Uint8Array, offset: number, length: number): void {
    this.#responders[0].read(out, offset, length);
    const wired = this.#wired;
    for (let i = 1; i < this.#responderCount; i++) {
      this.#responders[i].read(wired, 0, length);
      for (let k = 0; k < length; k++) out[offset + k] &= wired[k];
    }
  }
}

function isMux(model: I2cDeviceModel): model is I2cMuxModel {
  return 'channelMask' in model;
}
