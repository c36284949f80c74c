/**
 * AS5600 driver (and TCA9548A driver) against the register models: STATUS checks at open (no
 * magnet, too weak, too strong), CONF read-back, 12-bit RAW ANGLE in one 3-byte read, the
 * pointer quirk of the RAW ANGLE/ANGLE registers, the ANGLE scaling, several encoders behind a mux,
 * and the fault modes.
 */
import { describe, expect, it } from 'vitest';
import { EmulatedI2cBus, I2cTransactionLog } from '../../../src/hal/bus/index.js';
import { As5600, As5600Reg, Tca9548a } from '../../../src/hal/devices/index.js';
import { As5600Model, SimClock, Tca9548aModel } from '../../../src/hal/sim/devices/index.js';

function setup() {
  const clock = new SimClock();
  const model = new As5600Model(clock);
  const log = new I2cTransactionLog();
  const bus = new EmulatedI2cBus(1, { retries: 0, log }).attach(0x36, model);
  const encoder = new As5600(bus, 0x36, { label: 'elbow' });
  return { clock, model, log, bus, encoder };
}

describe('AS5600 driver', () => {
  it('open(): STATUS, then CONF written and read back; sample() is one 3-byte read of STATUS + RAW ANGLE', () => {
    const { encoder, model, log } = setup();
    model.angle[0] = Math.PI / 2;
    encoder.open();
    expect(log.entries().slice(0, 3).map((e) => [e.op, e.register, e.data])).toEqual([
      ['readByte', As5600Reg.STATUS, [0x20]],
      ['writeBlock', As5600Reg.CONF_H, [0x01, 0x00]],
      ['readBlock', As5600Reg.CONF_H, [0x01, 0x00]],
    ]);
    log.clear();
    expect(encoder.sample()).toBe(1024);
    expect(log.entries()).toEqual([{ op: 'readBlock', address: 0x36, register: As5600Reg.STATUS, data: [0x20, 0x04, 0x00], ok: true }]);
    model.angle[0] = -0.001; // just below zero wraps to the top of the turn
    expect(encoder.sample()).toBe(4095);
    model.angle[0] = 2 * Math.PI * (4095 / 4096);
    expect(encoder.sample()).toBe(4095);
  });

  it('the model keeps the pointer on RAW ANGLE (high, low, high, low) when it was set there', () => {
    const { bus, model } = setup();
    model.angle[0] = (2 * Math.PI * 0x123) / 4096;
    const four = Buffer.alloc(4);
    bus.readBlock(0x36, As5600Reg.RAW_ANGLE_H, 4, four);
    expect([...four]).toEqual([0x01, 0x23, 0x01, 0x23]);
    bus.readBlock(0x36, 0x0b, 4, four); // from STATUS it increments: STATUS, RAW H, RAW L, ANGLE H
    expect([...four]).toEqual([0x20, 0x01, 0x23, 0x01]);
  });

  it('ANGLE is RAW ANGLE scaled by ZPOS/MPOS (the OTP-free path embody does not use)', () => {
    const { bus, model } = setup();
    model.angle[0] = Math.PI; // raw 2048
    bus.writeBlock(0x36, 0x01, 4, Buffer.from([0x04, 0x00, 0x0c, 0x00])); // ZPOS 1024, MPOS 3072
    const two = Buffer.alloc(2);
    bus.readBlock(0x36, As5600Reg.ANGLE_H, 2, two);
    expect(two.readUInt16BE(0)).toBe(2048); // half of a 180° range → 2048 of 4096
  });

  it('open() refuses a missing, weak or strong magnet with a fix; at run time weak/strong only count', () => {
    for (const [magnet, text] of [
      ['none', /no magnet detected \(STATUS 0x00, MD = 0\).*fix: mount/],
      ['weak', /magnet too weak \(ML\).*closer/],
      ['strong', /magnet too strong \(MH\).*further/],
    ] as const) {
      const { encoder, model } = setup();
      model.magnet = magnet;
      expect(() => encoder.open()).toThrow(text);
    }
    const { encoder, model } = setup();
    encoder.open();
    model.magnet = 'weak';
    encoder.sample();
    expect(encoder.magnetWarnings).toBe(1);
    model.magnet = 'none';
    expect(() => encoder.sample()).toThrow(/AS5600 'elbow' \(emulated i2c-1 0x36\): register STATUS \(0x0b\): no magnet detected/);
  });

  it('wrong identity (no WHO_AM_I: CONF does not read back) and NACK are named', () => {
    const wrong = setup();
    wrong.model.inject('wrong-id');
    expect(() => wrong.encoder.open()).toThrow(/no magnet detected/); // STATUS reads 0 on another chip
    // Another chip at 0x36 whose register 0x0B happens to read 0x20: CONF does not read back.
    const impostor = {
      name: 'impostor',
      holdsBus: false,
      pointer: 0,
      acknowledge: () => true,
      write(data: Uint8Array) {
        this.pointer = data[0];
      },
      read(out: Uint8Array, offset: number, length: number) {
        for (let k = 0; k < length; k++) out[offset + k] = this.pointer + k === 0x0b ? 0x20 : 0;
      },
    };
    const other = new EmulatedI2cBus(2, { retries: 0 }).attach(0x36, impostor);
    expect(() => new As5600(other, 0x36, { label: 'elbow' }).open()).toThrow(
      /AS5600 'elbow' \(emulated i2c-2 0x36\): register CONF \(0x07\): reads 0x0000 after writing 0x0100; fix: check that an AS5600 is at 0x36/,
    );
    const gone = setup();
    gone.encoder.open();
    gone.model.inject('nack');
    expect(() => gone.encoder.sample()).toThrow(/AS5600 'elbow' \(emulated i2c-1 0x36\): readBlock register STATUS \(0x0b\) failed: EREMOTEIO/);
  });

  it('stale: RAW ANGLE freezes while the magnet turns', () => {
    const { encoder, model } = setup();
    model.angle[0] = 1;
    encoder.open();
    const before = encoder.sample();
    model.inject('stale');
    model.angle[0] = 2;
    expect(encoder.sample()).toBe(before);
    model.clear();
    expect(encoder.sample()).not.toBe(before);
  });

  it('several encoders at 0x36 behind a TCA9548A: the mux is switched only when the channel changes', () => {
    const clock = new SimClock();
    const muxModel = new Tca9548aModel(clock);
    const log = new I2cTransactionLog();
    const bus = new EmulatedI2cBus(1, { retries: 0, log }).attach(0x70, muxModel);
    const models = [0, 1, 2].map((c) => {
      const m = new As5600Model(clock, `enc${c}`);
      m.angle[0] = (c + 1) * 0.5;
      bus.attachBehind(0x70, c, 0x36, m);
      return m;
    });
    const mux = new Tca9548a(bus, 0x70);
    mux.open();
    expect(muxModel.channelMask).toBe(0);
    const encoders = models.map((_, c) => new As5600(bus, 0x36, { label: `j${c}`, route: { mux, channel: c } }));
    encoders.forEach((e) => e.open());
    encoders.forEach((e, c) => expect(e.sample()).toBe(Math.round(((c + 1) * 0.5 * 4096) / (2 * Math.PI))));
    log.clear();
    encoders[2].sample();
    encoders[2].sample();
    expect(log.entries().filter((e) => e.op === 'sendByte')).toHaveLength(0);
    expect(encoders[1].device).toBe("AS5600 'j1' (emulated i2c-1 0x36, mux 0x70 ch 1)");
    muxModel.inject('nack');
    expect(() => encoders[0].sample()).toThrow(/TCA9548A 'mux'|TCA9548A \(emulated i2c-1 0x70\): sendByte failed: EREMOTEIO/);
  });

  it('TCA9548A open() checks its control register reads back', () => {
    const clock = new SimClock();
    const muxModel = new Tca9548aModel(clock).inject('wrong-id');
    const bus = new EmulatedI2cBus(1, { retries: 0 }).attach(0x70, muxModel);
    expect(() => new Tca9548a(bus, 0x70).open()).toThrow(/TCA9548A \(emulated i2c-1 0x70\): control register reads 0xff after writing 0xa5/);
    expect(() => new Tca9548a(bus, 0x40)).toThrow(RangeError);
  });
});
