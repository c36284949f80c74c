/**
 * INA219 driver against the register model: the calibration arithmetic of the datasheet, reset
 * and read-back at open, current/power/bus voltage scaled by the calibration register, CNVR
 * (stale detection) and the fault modes.
 */
import { describe, expect, it } from 'vitest';
import { EmulatedI2cBus, I2cTransactionLog } from '../../../src/hal/bus/index.js';
import { Ina219, ina219Calibration, Ina219Reg, Ina219Value } from '../../../src/hal/devices/index.js';
import { Ina219Model, SimClock } from '../../../src/hal/sim/devices/index.js';

function setup() {
  const clock = new SimClock();
  const model = new Ina219Model(clock, { shuntOhms: 0.1 });
  const log = new I2cTransactionLog();
  const bus = new EmulatedI2cBus(1, { retries: 0, log }).attach(0x41, model);
  const ina = new Ina219(bus, 0x41, { label: 'servo rail', shuntOhms: 0.1, maxCurrentA: 3.2 });
  return { clock, model, log, bus, ina };
}

describe('INA219 driver', () => {
  it('calibration: Current_LSB = Imax / 2^15, Cal = trunc(0.04096 / (Current_LSB × R)), PGA from Imax × R', () => {
    const c = ina219Calibration(0.1, 3.2, 16);
    expect(c.calibration).toBe(4194); // trunc(0.04096 / (9.765625e-5 × 0.1)) = 4194
    expect(c.currentLsb).toBeCloseTo(9.766e-5, 8);
    expect(c.powerLsb).toBeCloseTo(20 * c.currentLsb, 12);
    expect(c.pga).toBe(3); // 320 mV
    expect(c.config).toBe((0 << 13) | (3 << 11) | (3 << 7) | (3 << 3) | 7);
    expect(ina219Calibration(0.1, 0.4).pga).toBe(0); // 40 mV
    expect(() => ina219Calibration(0.1, 5)).toThrow(/above the 320 mV shunt range/);
  });

  it('open(): RST, default 0x399F read back, config and calibration written and read back', () => {
    const { ina, log, model } = setup();
    ina.open();
    const ops = log.entries().map((e) => [e.op, e.register, e.data]);
    expect(ops[0]).toEqual(['writeWord', Ina219Reg.CONFIG, [0x80, 0x00]]);
    expect(ops[1]).toEqual(['readWord', Ina219Reg.CONFIG, [0x39, 0x9f]]);
    expect(model.registers[Ina219Reg.CALIBRATION]).toBe(4194);
    expect(model.registers[Ina219Reg.CONFIG]).toBe(ina.calibration.config);
  });

  it('values scale by the calibration register: current, power, bus voltage', () => {
    const { ina, model, clock } = setup();
    ina.open();
    model.current[0] = 1.5;
    model.busVolts[0] = 5.8;
    clock.advance(0.01);
    ina.sample();
    expect(ina.reading[Ina219Value.CURRENT_A]).toBeCloseTo(1.5, 3);
    expect(ina.reading[Ina219Value.BUS_VOLTS]).toBeCloseTo(5.8, 3);
    expect(ina.reading[Ina219Value.POWER_W]).toBeCloseTo(1.5 * 5.8, 1);
    // Without calibration the chip reports no current (the register's quirk).
    model.reset();
    model.current[0] = 1.5;
    clock.advance(0.01);
    ina.sample();
    expect(ina.reading[Ina219Value.CURRENT_A]).toBe(0);
  });

  it('reading Power clears CNVR; no new conversion for more than 3 samples is stale', () => {
    const { ina, model, clock } = setup();
    ina.open();
    clock.advance(0.01);
    ina.sample();
    expect(ina.busRegister & 0x2).toBe(0x2);
    ina.sample(); // no time passed: no new data
    expect(ina.staleSamples).toBe(1);
    model.inject('stale');
    for (let k = 0; k < 3; k++) {
      clock.advance(0.01);
      if (k < 2) ina.sample();
      else expect(() => ina.sample()).toThrow(/INA219 'servo rail' \(emulated i2c-1 0x41\): register Bus voltage \(0x02\): no new conversion \(CNVR = 0\) for 4 samples/);
    }
  });

  it('overcurrent beyond the shunt range sets OVF', () => {
    const { ina, model, clock } = setup();
    ina.open();
    model.current[0] = 10;
    clock.advance(0.01);
    ina.sample();
    expect(ina.overflows).toBe(1);
  });

  it('wrong identity: an INA226 at the address is named as such', () => {
    const { ina, model } = setup();
    model.inject('wrong-id');
    expect(() => ina.open()).toThrow(/register Configuration \(0x00\): reads 0x4127 after reset, not the INA219 default 0x399f \(0x4127 is an INA226\)/);
  });

  it('NACK names the chip and register', () => {
    const { ina, model } = setup();
    ina.open();
    model.inject('nack');
    expect(() => ina.sample()).toThrow(/INA219 'servo rail' \(emulated i2c-1 0x41\): readWord register Bus voltage \(0x02\) failed: EREMOTEIO/);
  });
});
