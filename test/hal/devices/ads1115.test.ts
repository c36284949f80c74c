/**
 * ADS1115 driver against the register model: identity (default 0x8583), the config word on the
 * wire, MSB-first words, conversion timing from the clock (start one tick, read the next, never
 * wait), inputs taken in turn, volts, and the fault modes.
 */
import { describe, expect, it } from 'vitest';
import { EmulatedI2cBus, I2cTransactionLog } from '../../../src/hal/bus/index.js';
import { Ads1115, ads1115Config, Ads1115Reg } from '../../../src/hal/devices/index.js';
import { HardwareError } from '../../../src/hal/types.js';
import { Ads1115Model, SimClock } from '../../../src/hal/sim/devices/index.js';

function setup(inputs = [0, 1]) {
  const clock = new SimClock();
  const model = new Ads1115Model(clock);
  const log = new I2cTransactionLog();
  const bus = new EmulatedI2cBus(1, { retries: 0, log }).attach(0x48, model);
  const adc = new Ads1115(bus, 0x48, { label: 'fingertips', dataRate: 860, pgaVolts: 4.096, inputs });
  return { clock, model, log, bus, adc };
}

describe('ADS1115 driver', () => {
  it('config word: OS, MUX AINn-GND, PGA, single-shot, DR, comparator off', () => {
    expect(ads1115Config(0, 2.048, 128)).toBe(0xc583); // the default with OS=1 and MUX=AIN0-GND
    expect(ads1115Config(1, 4.096, 860)).toBe(0x8000 | (0b101 << 12) | (0b001 << 9) | 0x100 | (0b111 << 5) | 0x3);
    expect(() => ads1115Config(4, 4.096, 860)).toThrow(RangeError);
    expect(() => ads1115Config(0, 3.3, 860)).toThrow(/full scale/);
    expect(() => ads1115Config(0, 4.096, 100)).toThrow(/data rate/);
  });

  it('open(): reads the default 0x8583 (MSB first on the wire), starts AIN0 and reads the config back', () => {
    const { adc, log, model } = setup();
    adc.open();
    const entries = log.entries();
    expect(entries[0]).toEqual({ op: 'readWord', address: 0x48, register: Ads1115Reg.CONFIG, data: [0x85, 0x83], ok: true });
    const start = ads1115Config(0, 4.096, 860);
    expect(entries[1]).toEqual({ op: 'writeWord', address: 0x48, register: Ads1115Reg.CONFIG, data: [start >> 8, start & 0xff], ok: true });
    expect(model.converting).toBe(true);
    expect(entries[2].data[0] & 0x80).toBe(0); // OS = 0 while converting
  });

  it('a conversion takes 1/DR: poll() never waits, reads the result the tick after, and alternates inputs', () => {
    const { adc, model, clock, log } = setup();
    model.ain[0] = 1.0;
    model.ain[1] = 2.5;
    adc.open();
    clock.advance(0.5 / 860); // too early
    expect(adc.poll()).toBe(-1);
    expect(adc.notReady).toBe(1);
    clock.advance(1 / 860);
    log.clear();
    expect(adc.poll()).toBe(0);
    expect(adc.raw[0]).toBe(Math.round((1.0 / 4.096) * 32768));
    expect(adc.volts[0]).toBeCloseTo(1.0, 3);
    // Config read, Conversion read, next conversion (AIN1) started: 14 bytes on the wire.
    expect(log.entries().map((e) => [e.op, e.register])).toEqual([
      ['readWord', 1],
      ['readWord', 0],
      ['writeWord', 1],
    ]);
    clock.advance(0.01);
    expect(adc.poll()).toBe(1);
    expect(adc.volts[1]).toBeCloseTo(2.5, 3);
    clock.advance(0.01);
    model.ain[0] = 0.25;
    expect(adc.poll()).toBe(0);
    expect(adc.volts[0]).toBeCloseTo(0.25, 3);
    expect(Array.from(adc.samples)).toEqual([2, 1]);
  });

  it('clamps at full scale and reads negative differential codes as negative', () => {
    const { adc, model, clock } = setup([0]);
    model.ain[0] = 5.0;
    adc.open();
    clock.advance(0.01);
    adc.poll();
    expect(adc.raw[0]).toBe(32767);
    model.ain[0] = -0.1;
    clock.advance(0.01);
    adc.poll();
    expect(adc.raw[0]).toBeLessThan(0);
  });

  it('stale (conversion never finishes): not ready for more than maxWaitTicks polls is a HardwareError', () => {
    const { adc, model, clock } = setup();
    adc.open();
    clock.advance(0.01);
    expect(adc.poll()).toBe(0);
    model.inject('stale');
    clock.advance(0.01);
    expect(adc.poll()).toBe(-1);
    clock.advance(0.01);
    adc.poll();
    clock.advance(0.01);
    adc.poll();
    clock.advance(0.01);
    expect(() => adc.poll()).toThrow(/ADS1115 'fingertips' \(emulated i2c-1 0x48\): register Config \(0x01\): conversion still running after 4 polls.*fix:/);
  });

  it('wrong identity and NACK are HardwareErrors naming the chip', () => {
    const wrong = setup();
    wrong.model.inject('wrong-id');
    expect(() => wrong.adc.open()).toThrow(/ADS1115 'fingertips' \(emulated i2c-1 0x48\): register Config \(0x01\): reads 0x0000, not the power-up default 0x8583/);
    const gone = setup();
    gone.adc.open();
    gone.model.inject('nack');
    let error: unknown;
    try {
      gone.adc.poll();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HardwareError);
    expect((error as Error).message).toMatch(/readWord register Config \(0x01\) failed: EREMOTEIO/);
  });

  it('accepts its own single-shot configuration after a restart (no power cycle between runs)', () => {
    const { adc, clock, bus, model } = setup();
    adc.open();
    clock.advance(0.01);
    adc.poll();
    const again = new Ads1115(bus, 0x48, { inputs: [0, 1] });
    expect(() => again.open()).not.toThrow();
    expect(model.registers[1]).not.toBe(0x8583);
  });
});
