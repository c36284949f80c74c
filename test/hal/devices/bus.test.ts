/**
 * The bus layer: SMBus semantics on the emulated wire (byte order, pointer writes), routing by
 * address and through a TCA9548A, NACK / stuck-bus faults and retries with their counters, the
 * transaction log, the real i2c-bus adapter against a stand-in backend, and the async probe.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  busSeconds,
  EmulatedI2cBus,
  I2cError,
  I2cStat,
  I2cTransactionLog,
  LinuxI2cBus,
  openI2cBus,
  probeI2cBus,
  swap16,
  toInt16,
  wireBytes,
  I2cOp,
  type I2cDeviceModel,
  type I2cSyncBackend,
} from '../../../src/hal/bus/index.js';
import { HardwareError } from '../../../src/hal/types.js';
import { As5600Model, Pca9685Model, SimClock, Tca9548aModel } from '../../../src/hal/sim/devices/index.js';

/** A plain register file with an auto-incrementing pointer. */
class RegisterFile implements I2cDeviceModel {
  readonly registers = new Uint8Array(256);
  pointer = 0;
  holdsBus = false;
  nack = 0;
  constructor(readonly name: string) {}
  acknowledge(): boolean {
    if (this.nack > 0) {
      this.nack--;
      return false;
    }
    return true;
  }
  write(data: Uint8Array, length: number): void {
    this.pointer = data[0];
    for (let k = 1; k < length; k++) this.registers[(this.pointer + k - 1) & 0xff] = data[k];
  }
  read(out: Uint8Array, offset: number, length: number): void {
    for (let k = 0; k < length; k++) out[offset + k] = this.registers[(this.pointer + k) & 0xff];
  }
}

describe('wire helpers', () => {
  it('counts wire bytes per transaction, address bytes included, and the 400 kHz time', () => {
    expect(wireBytes(I2cOp.READ_BYTE, 1)).toBe(4);
    expect(wireBytes(I2cOp.WRITE_BYTE, 1)).toBe(3);
    expect(wireBytes(I2cOp.READ_WORD, 2)).toBe(5);
    expect(wireBytes(I2cOp.WRITE_WORD, 2)).toBe(4);
    expect(wireBytes(I2cOp.READ_BLOCK, 3)).toBe(6);
    expect(wireBytes(I2cOp.WRITE_BLOCK, 24)).toBe(26);
    expect(wireBytes(I2cOp.SEND_BYTE, 1)).toBe(2);
    expect(busSeconds(100)).toBeCloseTo(2.25e-3, 12);
    expect(swap16(0x1234)).toBe(0x3412);
    expect(toInt16(0xffff)).toBe(-1);
    expect(toInt16(0x7fff)).toBe(32767);
  });
});

describe('EmulatedI2cBus', () => {
  it('speaks SMBus: register pointer first, words low byte first, blocks in order', () => {
    const chip = new RegisterFile('chip');
    const bus = new EmulatedI2cBus(1).attach(0x20, chip);
    bus.writeByte(0x20, 0x10, 0xab);
    expect(chip.registers[0x10]).toBe(0xab);
    expect(bus.readByte(0x20, 0x10)).toBe(0xab);
    bus.writeWord(0x20, 0x00, 0x1234);
    expect([chip.registers[0], chip.registers[1]]).toEqual([0x34, 0x12]);
    expect(bus.readWord(0x20, 0x00)).toBe(0x1234);
    bus.writeBlock(0x20, 0x40, 3, Buffer.from([1, 2, 3]));
    const into = Buffer.alloc(3);
    bus.readBlock(0x20, 0x40, 3, into);
    expect([...into]).toEqual([1, 2, 3]);
    bus.sendByte(0x20, 0x7f);
    expect(chip.pointer).toBe(0x7f);
    expect(bus.receiveByte(0x20)).toBe(chip.registers[0x7f]);
    expect(bus.stats[I2cStat.TRANSACTIONS]).toBe(8);
    expect(bus.stats[I2cStat.BYTES]).toBe(3 + 4 + 4 + 5 + 5 + 6 + 2 + 2);
  });

  it('a NACK is an I2cError naming bus, address, register, errno and a fix', () => {
    const bus = new EmulatedI2cBus(3, { retries: 2 });
    let error: unknown;
    try {
      bus.readWord(0x48, 0x01);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(I2cError);
    expect(error).toBeInstanceOf(HardwareError);
    const e = error as I2cError;
    expect(e.device).toBe('emulated i2c-3 0x48');
    expect(e.code).toBe('EREMOTEIO');
    expect(e.register).toBe(0x01);
    expect(e.message).toMatch(/readWord register 0x01 failed after 3 attempts: EREMOTEIO/);
    expect(e.message).toMatch(/i2cdetect -y 3/);
    expect(bus.stats[I2cStat.TRANSACTIONS]).toBe(3);
    expect(bus.stats[I2cStat.RETRIES]).toBe(2);
    expect(bus.stats[I2cStat.ERRORS]).toBe(1);
  });

  it('retries a transient NACK and succeeds, counting the failed attempts', () => {
    const chip = new RegisterFile('chip');
    chip.registers[5] = 42;
    const bus = new EmulatedI2cBus(1, { retries: 2 }).attach(0x20, chip);
    chip.nack = 2;
    expect(bus.readByte(0x20, 5)).toBe(42);
    expect(bus.stats[I2cStat.FAILURES]).toBe(2);
    expect(bus.stats[I2cStat.RETRIES]).toBe(2);
    expect(bus.stats[I2cStat.ERRORS]).toBe(0);
    chip.nack = 3;
    expect(() => bus.readByte(0x20, 5)).toThrow(/after 3 attempts/);
  });

  it('a stuck device takes the whole bus down (ETIMEDOUT for every address) until released', () => {
    const a = new RegisterFile('a');
    const b = new RegisterFile('b');
    const bus = new EmulatedI2cBus(1, { retries: 0 }).attach(0x20, a).attach(0x21, b);
    a.holdsBus = true;
    expect(() => bus.readByte(0x21, 0)).toThrow(/ETIMEDOUT.*SDA held low by a.*fix: .*pull-ups/);
    a.holdsBus = false;
    expect(bus.readByte(0x21, 0)).toBe(0);
  });

  it('rejects bad arguments without touching the wire, and use after close', () => {
    const bus = new EmulatedI2cBus(1).attach(0x20, new RegisterFile('a'));
    expect(() => bus.readByte(0x80, 0)).toThrow(/EINVAL/);
    expect(() => bus.readByte(0x20, 0x100)).toThrow(/EINVAL/);
    expect(() => bus.readBlock(0x20, 0, 33, Buffer.alloc(40))).toThrow(/block length 33/);
    expect(() => bus.readBlock(0x20, 0, 4, Buffer.alloc(2))).toThrow(/fit the buffer/);
    expect(bus.stats[I2cStat.TRANSACTIONS]).toBe(0);
    bus.close();
    expect(() => bus.readByte(0x20, 0)).toThrow(/ECLOSED/);
  });

  it('routes through a TCA9548A: a device is reachable only on its enabled channel; two answering are wired-AND', () => {
    const clock = new SimClock();
    const mux = new Tca9548aModel(clock);
    const left = new As5600Model(clock, 'left');
    const right = new As5600Model(clock, 'right');
    left.angle[0] = Math.PI / 2; // raw 1024 = 0x0400
    right.angle[0] = Math.PI; // raw 2048 = 0x0800
    const bus = new EmulatedI2cBus(1, { retries: 0 }).attach(0x70, mux).attachBehind(0x70, 0, 0x36, left).attachBehind(0x70, 3, 0x36, right);
    const raw = Buffer.alloc(2);
    expect(() => bus.readBlock(0x36, 0x0c, 2, raw)).toThrow(/EREMOTEIO/);
    bus.sendByte(0x70, 0b0000_0001);
    bus.readBlock(0x36, 0x0c, 2, raw);
    expect(raw.readUInt16BE(0)).toBe(1024);
    bus.sendByte(0x70, 0b0000_1000);
    bus.readBlock(0x36, 0x0c, 2, raw);
    expect(raw.readUInt16BE(0)).toBe(2048);
    expect(bus.receiveByte(0x70)).toBe(0b0000_1000);
    bus.sendByte(0x70, 0b0000_1001);
    bus.readBlock(0x36, 0x0c, 2, raw);
    expect(raw.readUInt16BE(0)).toBe(1024 & 2048); // both drive the open-drain line
    // A stuck encoder blocks the bus only while its channel is connected.
    right.inject('stuck');
    expect(() => bus.readByte(0x36, 0x0b)).toThrow(/ETIMEDOUT/);
    expect(() => bus.sendByte(0x70, 0b0000_0001)).toThrow(/ETIMEDOUT/);
    mux.reset(); // the TCA9548A /RESET pin: the way out
    bus.sendByte(0x70, 0b0000_0001);
    bus.readBlock(0x36, 0x0c, 2, raw);
    expect(raw.readUInt16BE(0)).toBe(1024);
  });

  it("a PCA9685 with ALLCALL set also takes writes at 0x70 (its power-up state)", () => {
    const clock = new SimClock();
    const pca = new Pca9685Model(clock);
    const mux = new Tca9548aModel(clock);
    const bus = new EmulatedI2cBus(1).attach(0x40, pca).attach(0x70, mux);
    bus.writeByte(0x70, 0x06, 0x12); // meant for the mux: the PCA9685 stores it in LED0_ON_L too
    expect(pca.registers[0x06]).toBe(0x12);
    bus.writeByte(0x40, 0x00, 0x10); // MODE1 without ALLCALL
    bus.writeByte(0x70, 0x06, 0x34);
    expect(pca.registers[0x06]).toBe(0x12);
  });

  it('logs transactions with their data in wire order, failures included', () => {
    const chip = new RegisterFile('chip');
    const log = new I2cTransactionLog(4);
    const bus = new EmulatedI2cBus(1, { retries: 0, log }).attach(0x20, chip);
    bus.writeWord(0x20, 0x05, 0x1000);
    bus.readByte(0x20, 0x05);
    expect(() => bus.readByte(0x21, 0x00)).toThrow();
    bus.writeBlock(0x20, 0x10, 2, Buffer.from([9, 8]));
    bus.sendByte(0x20, 1);
    expect(log.count).toBe(5);
    const entries = log.entries();
    expect(entries).toHaveLength(4); // a ring of 4
    expect(entries[0]).toEqual({ op: 'readByte', address: 0x20, register: 0x05, data: [0x00], ok: true });
    expect(entries[1]).toMatchObject({ op: 'readByte', address: 0x21, ok: false });
    expect(entries[2]).toEqual({ op: 'writeBlock', address: 0x20, register: 0x10, data: [9, 8], ok: true });
    expect(entries[3]).toEqual({ op: 'sendByte', address: 0x20, register: -1, data: [1], ok: true });
  });
});

/** i2c-bus's sync API, routed to an emulated bus's device (errors as Node's errno errors). */
function fakeBackend(chip: RegisterFile, fail: { code?: string; times: number; shortRead?: boolean } = { times: 0 }): I2cSyncBackend & { calls: number; closed: boolean } {
  const bus = new EmulatedI2cBus(1, { retries: 0 }).attach(0x20, chip);
  const backend = {
    calls: 0,
    closed: false,
    check(): void {
      backend.calls++;
      if (fail.times > 0) {
        fail.times--;
        throw Object.assign(new Error(`${fail.code}: remote I/O error`), { code: fail.code, errno: -121, syscall: 'readByte' });
      }
    },
    readByteSync: (a: number, c: number) => (backend.check(), bus.readByte(a, c)),
    writeByteSync: (a: number, c: number, v: number) => (backend.check(), bus.writeByte(a, c, v)),
    readWordSync: (a: number, c: number) => (backend.check(), bus.readWord(a, c)),
    writeWordSync: (a: number, c: number, v: number) => (backend.check(), bus.writeWord(a, c, v)),
    readI2cBlockSync: (a: number, c: number, l: number, b: Buffer) => (backend.check(), bus.readBlock(a, c, l, b), fail.shortRead ? l - 1 : l),
    writeI2cBlockSync: (a: number, c: number, l: number, b: Buffer) => (backend.check(), bus.writeBlock(a, c, l, b), l),
    sendByteSync: (a: number, v: number) => (backend.check(), bus.sendByte(a, v)),
    receiveByteSync: (a: number) => (backend.check(), bus.receiveByte(a)),
    closeSync: () => {
      backend.closed = true;
    },
  };
  return backend as unknown as I2cSyncBackend & { calls: number; closed: boolean };
}

describe('LinuxI2cBus (i2c-bus sync API)', () => {
  it('maps every operation to the i2c-bus *Sync call and counts bytes', () => {
    const chip = new RegisterFile('chip');
    const backend = fakeBackend(chip);
    const bus = new LinuxI2cBus(1, { backend });
    expect(bus.name).toBe('i2c-1');
    bus.writeWord(0x20, 0, 0xbeef);
    expect(bus.readWord(0x20, 0)).toBe(0xbeef);
    bus.writeBlock(0x20, 8, 2, Buffer.from([1, 2]));
    const b = Buffer.alloc(2);
    bus.readBlock(0x20, 8, 2, b);
    expect([...b]).toEqual([1, 2]);
    expect(backend.calls).toBe(4);
    expect(bus.stats[I2cStat.BYTES]).toBe(4 + 5 + 4 + 5);
    bus.close();
    expect(backend.closed).toBe(true);
  });

  it('retries EREMOTEIO up to the limit, then throws with the kernel errno and a fix', () => {
    const chip = new RegisterFile('chip');
    const ok = new LinuxI2cBus(1, { retries: 2, backend: fakeBackend(chip, { code: 'EREMOTEIO', times: 2 }) });
    expect(ok.readByte(0x20, 0)).toBe(0);
    expect(ok.stats[I2cStat.RETRIES]).toBe(2);
    const bad = new LinuxI2cBus(1, { retries: 1, backend: fakeBackend(chip, { code: 'EREMOTEIO', times: 5 }) });
    expect(() => bad.readByte(0x20, 7)).toThrow(/i2c-1 0x20: readByte register 0x07 failed after 2 attempts: EREMOTEIO .*i2cdetect -y 1/);
  });

  it('does not retry what cannot heal (EACCES) and names the fix', () => {
    const bus = new LinuxI2cBus(1, { retries: 3, backend: fakeBackend(new RegisterFile('c'), { code: 'EACCES', times: 1 }) });
    expect(() => bus.readByte(0x20, 0)).toThrow(/EACCES.*'i2c' group/);
    expect(bus.stats[I2cStat.TRANSACTIONS]).toBe(1);
  });

  it('a short block read is an error', () => {
    const bus = new LinuxI2cBus(1, { retries: 0, backend: fakeBackend(new RegisterFile('c'), { times: 0, shortRead: true }) });
    expect(() => bus.readBlock(0x20, 0, 3, Buffer.alloc(3))).toThrow(/short read: 2 of 3 bytes/);
  });

  it('a missing adapter is a clear error at open (the real i2c-bus path)', () => {
    expect(() => new LinuxI2cBus(97)).toThrow(/i2c-97: \/dev\/i2c-97 does not exist \(ENOENT\); fix: enable I2C .*modprobe i2c-dev/);
    expect(() => openI2cBus(97)).toThrow(HardwareError);
  });

  it('the real i2c-bus module: a kernel errno becomes an I2cError (ENOENT is not retried)', () => {
    const i2c = createRequire(import.meta.url)('i2c-bus') as { openSync(n: number): I2cSyncBackend };
    const bus = new LinuxI2cBus(97, { retries: 2, backend: i2c.openSync(97) });
    expect(() => bus.readWord(0x40, 0x02)).toThrow(/i2c-97 0x40: readWord register 0x02 failed: ENOENT .*enable I2C/);
    expect(bus.stats[I2cStat.TRANSACTIONS]).toBe(1);
    bus.close();
  });

  it('i2c-bus loads in a worker thread (the control worker) only if no other live thread of the process loaded it', () => {
    const repo = fileURLToPath(new URL('../../..', import.meta.url));
    const script = (mainLoads: boolean): string => `
      const { Worker } = require('node:worker_threads');
      ${mainLoads ? "require('i2c-bus');" : ''}
      const w = new Worker(\`
        const bus = require('i2c-bus').openSync(97);
        try { bus.readByteSync(0x40, 0); } catch (e) { console.log('worker:', e.code); }
      \`, { eval: true });
      w.on('error', (e) => console.log('worker error:', e.message));`;
    const alone = spawnSync(process.execPath, ['-e', script(false)], { cwd: repo, encoding: 'utf8' });
    expect(alone.stdout).toContain('worker: ENOENT');
    const both = spawnSync(process.execPath, ['-e', script(true)], { cwd: repo, encoding: 'utf8' });
    expect(both.stdout).toContain('worker error: Module did not self-register');
  });

  it('openI2cBus shares one bus object per adapter and closes it with the last holder', () => {
    const backend = fakeBackend(new RegisterFile('c'));
    const a = openI2cBus(5, { backend });
    const b = openI2cBus(5);
    expect(b.bus).toBe(a.bus);
    a.release();
    expect(backend.closed).toBe(false);
    b.release();
    b.release();
    expect(backend.closed).toBe(true);
    expect(a.bus.closed).toBe(true);
  });
});

describe('probeI2cBus (off the tick, promise API)', () => {
  it('reports who answers, with a timeout for a hung read', async () => {
    let closed = false;
    const results = await probeI2cBus(
      1,
      [
        { address: 0x40, label: 'PCA9685' },
        { address: 0x41, label: 'INA219' },
        { address: 0x48, label: 'ADS1115' },
      ],
      {
        timeoutMs: 30,
        open: () =>
          Promise.resolve({
            readByte: (address: number) => {
              if (address === 0x40) return Promise.resolve(0x11);
              if (address === 0x41) return Promise.reject(Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' }));
              return new Promise<number>(() => undefined);
            },
            close: () => {
              closed = true;
              return Promise.resolve();
            },
          }),
      },
    );
    expect(results[0]).toEqual({ address: 0x40, label: 'PCA9685', answered: true, value: 0x11 });
    expect(results[1]).toMatchObject({ address: 0x41, answered: false, error: 'Remote I/O error' });
    expect(results[1].fix).toMatch(/nothing acknowledged address 0x41/);
    expect(results[2]).toMatchObject({ answered: false, error: 'no answer within 30 ms' });
    expect(closed).toBe(true);
  });
});
