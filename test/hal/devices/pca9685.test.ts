/**
 * PCA9685 driver against the register model: the open sequence on the wire (MODE1 read-back,
 * PRE_SCALE set in SLEEP, all channels off, wake, RESTART), the prescale-only-in-SLEEP quirk,
 * pulse widths a servo sees, full OFF and /OE, and each fault mode as a named HardwareError.
 */
import { describe, expect, it } from 'vitest';
import { EmulatedI2cBus, I2cTransactionLog } from '../../../src/hal/bus/index.js';
import { I2cDeviceError, Mode1, Pca9685, pca9685Prescale, Pca9685Reg } from '../../../src/hal/devices/index.js';
import { createGpioModelCells, GpioLineModel } from '../../../src/hal/gpio/index.js';
import { HardwareError } from '../../../src/hal/types.js';
import { Pca9685Model, SimClock } from '../../../src/hal/sim/devices/index.js';

function setup(options: { oe?: boolean } = {}) {
  const clock = new SimClock();
  const model = new Pca9685Model(clock);
  const log = new I2cTransactionLog();
  const bus = new EmulatedI2cBus(1, { retries: 1, log }).attach(0x40, model);
  const cells = createGpioModelCells(1);
  const oe = options.oe ? new GpioLineModel({ chip: 'model', line: 17, active_low: true, debounce_ms: 0 }, { tickPeriodMs: 10, cells }) : undefined;
  const pca = new Pca9685(bus, 0x40, { label: 'servos', outputEnable: oe });
  return { clock, model, log, bus, pca, cells };
}

function errorOf(fn: () => void): HardwareError {
  try {
    fn();
  } catch (error) {
    return error as HardwareError;
  }
  throw new Error('did not throw');
}

describe('PCA9685 driver', () => {
  it('prescale for 50 Hz is 121 (datasheet formula round(25 MHz / (4096 × 50)) − 1)', () => {
    expect(pca9685Prescale(50)).toBe(121);
    expect(pca9685Prescale(200)).toBe(30); // 0x1E, the power-up value
    expect(pca9685Prescale(1)).toBe(255);
    expect(pca9685Prescale(5000)).toBe(3);
  });

  it('open(): SLEEP + AI, MODE1 read-back, PRE_SCALE in SLEEP and read back, MODE2, all off, wake', () => {
    const { pca, model, log, clock } = setup();
    pca.open();
    const writes = log.entries().filter((e) => e.op !== 'readByte');
    expect(writes.map((e) => [e.register, e.data])).toEqual([
      [Pca9685Reg.MODE1, [Mode1.SLEEP | Mode1.AI]],
      [Pca9685Reg.PRE_SCALE, [121]],
      [Pca9685Reg.MODE2, [0x04]],
      [Pca9685Reg.ALL_LED_ON_L, [0, 0, 0, 0x10]],
      [Pca9685Reg.MODE1, [Mode1.AI]],
    ]);
    expect(model.prescale).toBe(121);
    expect(model.frameHz).toBeCloseTo(50.03, 2);
    expect(model.registers[Pca9685Reg.MODE1]).toBe(Mode1.AI); // ALLCALL cleared
    expect(model.running).toBe(false); // the oscillator needs 500 µs
    clock.advance(600e-6);
    expect(model.running).toBe(true);
  });

  it('the model ignores PRE_SCALE while awake (the quirk the open sequence exists for)', () => {
    const { model, bus } = setup();
    bus.writeByte(0x40, Pca9685Reg.MODE1, 0x00); // wake without setting the prescale
    bus.writeByte(0x40, Pca9685Reg.PRE_SCALE, 121);
    expect(model.prescale).toBe(0x1e);
    expect(model.ignoredPrescaleWrites).toBe(1);
    bus.writeByte(0x40, Pca9685Reg.MODE1, Mode1.SLEEP);
    bus.writeByte(0x40, Pca9685Reg.PRE_SCALE, 121);
    expect(model.prescale).toBe(121);
  });

  it('writes pulse widths as one block per 8 channels; the servo sees the µs asked for', () => {
    const { pca, model, log, clock } = setup();
    pca.open();
    clock.advance(0.001);
    pca.setSpan(0, 5);
    const cpu = pca.countsPerMicrosecond[0];
    const widths = [500, 1000, 1500, 2000, 2500, 1234];
    widths.forEach((us, ch) => pca.setCounts(ch, Math.round(us * cpu)));
    log.clear();
    pca.flush();
    const entries = log.entries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ op: 'writeBlock', register: 0x06 });
    expect(entries[0].data).toHaveLength(24);
    const seen = new Float64Array(16);
    model.pulses(seen);
    widths.forEach((us, ch) => expect(Math.abs(seen[ch] - us)).toBeLessThan(5)); // one count ≈ 4.9 µs
    expect(seen[6]).toBe(0); // untouched channels stay full OFF
    pca.setSpan(0, 15);
    log.clear();
    pca.flush();
    expect(log.entries().map((e) => [e.register, e.data.length])).toEqual([
      [0x06, 32],
      [0x26, 32],
    ]);
  });

  it('a wake with RESTART pending (PWM running when SLEEP was set) clears it', () => {
    const { pca, model, bus, clock } = setup();
    pca.open();
    clock.advance(0.001);
    pca.setCounts(0, 300);
    pca.flush();
    bus.writeByte(0x40, Pca9685Reg.MODE1, Mode1.SLEEP | Mode1.AI); // someone put it to sleep mid-run
    expect(model.registers[0] & Mode1.RESTART).toBe(Mode1.RESTART);
    pca.open();
    expect(model.registers[0] & Mode1.RESTART).toBe(0);
  });

  it('allOff() sets full OFF on every channel; /OE gates the outputs without I2C', () => {
    const { pca, model, clock, cells, log } = setup({ oe: true });
    pca.open();
    clock.advance(0.001);
    expect(cells[0]).toBe(0); // open leaves outputs disabled
    pca.setCounts(2, 300);
    pca.flush();
    const seen = new Float64Array(16);
    pca.enableOutputs(true);
    expect(cells[0]).toBe(1);
    model.outputEnabled = cells[0] === 1;
    model.pulses(seen);
    expect(seen[2]).toBeGreaterThan(1400);
    pca.enableOutputs(false);
    model.outputEnabled = cells[0] === 1;
    model.pulses(seen);
    expect(seen[2]).toBe(0);
    log.clear();
    pca.allOff();
    expect(log.entries()).toEqual([{ op: 'writeBlock', address: 0x40, register: 0xfa, data: [0, 0, 0, 0x10], ok: true }]);
    model.outputEnabled = true;
    model.pulses(seen);
    expect(Array.from(seen).every((us) => us === 0)).toBe(true);
    expect(pca.counts(2)).toBe(0);
  });

  it('close(): /OE released, full OFF, SLEEP', () => {
    const { pca, model, cells } = setup({ oe: true });
    pca.open();
    pca.enableOutputs(true);
    pca.close();
    expect(cells[0]).toBe(0);
    expect(model.registers[0] & Mode1.SLEEP).toBe(Mode1.SLEEP);
  });

  it('faults: NACK, stuck bus and wrong identity each name chip, bus, address and register', () => {
    const nack = setup();
    nack.model.inject('nack');
    const a = errorOf(() => nack.pca.open());
    expect(a).toBeInstanceOf(I2cDeviceError);
    expect(a.device).toBe("PCA9685 'servos' (emulated i2c-1 0x40)");
    expect(a.message).toMatch(/writeByte register MODE1 \(0x00\) failed after 2 attempts: EREMOTEIO .*fix: nothing acknowledged address 0x40/);

    const stuck = setup();
    stuck.pca.open();
    stuck.model.inject('stuck');
    const b = errorOf(() => stuck.pca.flush());
    expect(b.device).toMatch(/PCA9685 'servos' \(emulated i2c-1 0x40\)/);
    expect(b.message).toMatch(/writeBlock register LED0 \(0x06\) failed after 2 attempts: ETIMEDOUT .*pull-ups/);

    const wrong = setup();
    wrong.model.inject('wrong-id');
    const c = errorOf(() => wrong.pca.open());
    expect(c.message).toMatch(/register MODE1 \(0x00\): reads 0x00 after writing 0x30 .*INA219 also defaults to 0x40/);
  });

  it('rejects a frequency servos cannot use', () => {
    const { bus } = setup();
    expect(() => new Pca9685(bus, 0x40, { frequencyHz: 5000 })).toThrow(RangeError);
  });
});
