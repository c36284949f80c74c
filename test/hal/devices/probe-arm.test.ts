/**
 * probeServoArm (`embody check`'s hardware probe) against the chip models: every device found
 * and read back on a healthy arm; each fault mode of each chip reported on that chip, without
 * hiding the others (except what a stuck bus or a failed mux makes unreachable, said once); and
 * every chip left safe: /OE released and never asserted, PCA9685 asleep with every channel full
 * OFF, the mux with every channel off.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { I2cStat } from '../../../src/hal/bus/index.js';
import {
  formatServoArmProbe,
  probeServoArm,
  servoArmProbeProblems,
  type DeviceProbe,
} from '../../../src/hal/devices/index.js';
import type { ServoArmConfig } from '../../../src/robot/index.js';
import type { GpioLevel, GpioOutput } from '../../../src/hal/gpio/types.js';
import { ServoArmModel, type ModelFault } from '../../../src/hal/sim/devices/index.js';
import { DT, exampleConfig } from './support.js';

interface Probed {
  model: ServoArmModel;
  results: DeviceProbe[];
  /** Every level written to /OE, in order. */
  oeWrites: GpioLevel[];
  byDevice(prefix: string): DeviceProbe;
}

/**
 * Probe the emulated arm built from `config` with `probeConfig` (the config as robot.yaml says it;
 * default the same); `prepare` injects faults before. /OE starts asserted so releasing it shows.
 */
function probe(prepare?: (model: ServoArmModel) => void, config: ServoArmConfig = exampleConfig(), probeConfig: ServoArmConfig = config): Probed {
  const model = new ServoArmModel(config, { periodSeconds: DT });
  model.step();
  prepare?.(model);
  const line = model.outputEnableLine();
  line.write(1);
  const oeWrites: GpioLevel[] = [];
  const outputEnable: GpioOutput = {
    description: line.description,
    write: (level) => {
      oeWrites.push(level);
      line.write(level);
    },
    close: () => line.close(),
  };
  const results = probeServoArm(probeConfig, {
    periodSeconds: DT,
    openBus: (n) => ({ bus: model.bus(n), release: () => undefined }),
    outputEnable,
    wait: (seconds) => model.clock.advance(seconds),
  });
  const byDevice = (prefix: string): DeviceProbe => {
    const found = results.find((r) => r.device.startsWith(prefix));
    if (!found) throw new Error(`no result for ${prefix} among ${results.map((r) => r.device).join(', ')}`);
    return found;
  };
  return { model, results, oeWrites, byDevice };
}

/** /OE released and never asserted, PCA9685 asleep and every channel full OFF, mux channels off, no pulses. */
function expectSafe({ model, oeWrites }: Probed): void {
  expect(oeWrites).not.toContain(1);
  expect(Atomics.load(model.outputEnableCells, 0)).toBe(0);
  const pca = model.models.pca9685;
  if (pca.fault === 'none' || pca.fault === 'stale') {
    expect(pca.registers[0x00] & 0x10, 'PCA9685 MODE1 SLEEP').toBe(0x10);
    for (let c = 0; c < 16; c++) expect(pca.registers[0x06 + 4 * c + 3] & 0x10, `LED${c} full OFF`).toBe(0x10);
  }
  const mux = model.models.mux;
  if (mux && (mux.fault === 'none' || mux.fault === 'stale') && !model.models.encoders.some((e) => e?.fault === 'stuck')) expect(mux.channelMask).toBe(0);
  model.step();
  const pulses = new Float64Array(16);
  pca.pulses(pulses);
  expect(Array.from(pulses)).toEqual(new Array(16).fill(0));
}

const ALL = [
  '/OE gpiochip0 line 17',
  'PCA9685 (servos) 0x40 on i2c-1',
  'ADS1115 (fingertips) 0x48 on i2c-1',
  'INA219 (servo rail) 0x41 on i2c-1',
  'TCA9548A (mux) 0x70 on i2c-1',
  'AS5600 (base_yaw) 0x36 via TCA9548A 0x70 ch 0',
  'AS5600 (shoulder_pitch) 0x36 via TCA9548A 0x70 ch 1',
  'AS5600 (elbow_pitch) 0x36 via TCA9548A 0x70 ch 2',
  'AS5600 (wrist_pitch) 0x36 via TCA9548A 0x70 ch 3',
  'AS5600 (wrist_roll) 0x36 via TCA9548A 0x70 ch 4',
  'AS5600 (gripper) 0x36 via TCA9548A 0x70 ch 5',
];

describe('probeServoArm on healthy chip models', () => {
  it('finds every device and reports what it read back', () => {
    const p = probe();
    expect(p.results.map((r) => r.device)).toEqual(ALL);
    expect(servoArmProbeProblems(p.results)).toEqual([]);
    for (const r of p.results) expect(r, r.device).toMatchObject({ status: 'ok', answered: true });

    const pca = p.byDevice('PCA9685');
    expect(pca.registers).toMatchObject({ MODE1: 0x20, MODE2: 0x04, PRE_SCALE: 121, MODE1_AFTER: 0x30 });
    expect(pca.values.frequency_hz).toBeCloseTo(50.03, 2);
    expect(pca.found).toMatch(/PRE_SCALE 121 → 50\.03 Hz.*left asleep/);

    expect(p.byDevice('TCA9548A').registers.CONTROL).toBe(0);

    const elbow = p.byDevice('AS5600 (elbow_pitch)');
    expect(elbow.registers).toMatchObject({ STATUS: 0x20, RAW_ANGLE: 2048, CONF: 0x0100 });
    expect(elbow.values.joint_position).toBeCloseTo(0, 6);
    expect(elbow.found).toMatch(/magnet detected, in range; RAW ANGLE 2048 → elbow_pitch 0\.000 rad/);

    const adc = p.byDevice('ADS1115');
    expect(adc.registers.Config & 0x7fff).toBe(0x43e3); // AIN0, ±4.096 V, 860 SPS, single-shot, comparator off
    expect(adc.values.left_pad_newtons).toBe(0);
    expect(adc.found).toMatch(/left_pad \(AIN0\) 0\.000 V → 0\.00 N, right_pad \(AIN1\)/);

    const ina = p.byDevice('INA219');
    expect(ina.registers).toMatchObject({ Configuration: 0x199f, Calibration: 0x1062 });
    expect(ina.values.bus_volts).toBeCloseTo(6.0 - 0.05 * 0.15, 2);
    expect(ina.notes).toEqual([]);
    expectSafe(p);
  });

  it('reads each encoder as its joint angle: zero_raw, direction and travel_per_turn', () => {
    const config = exampleConfig((c) => {
      const gripper = c.joints[5];
      if (gripper.encoder) Object.assign(gripper.encoder, { zero_raw: 1024, travel_per_turn: 0.24, direction: -1 });
      gripper.servo = { min_us: 1000, max_us: 2000, min_angle: 0, max_angle: 0.08 };
    });
    const p = probe((model) => {
      model.angle[2] = 0.5; // elbow_pitch
      model.step();
    }, config);
    // Settle: step() in probe() moved nothing (no pulses); the model reports the angles set.
    expect(p.byDevice('AS5600 (elbow_pitch)').values.joint_position).toBeCloseTo(0.5, 2);
    const gripper = p.byDevice('AS5600 (gripper)');
    expect(gripper.values.joint_position).toBeCloseTo(0.04, 3);
    expect(gripper.registers.RAW_ANGLE).toBe(1024 - 683);
    expect(gripper.found).toMatch(/gripper 0\.0400 \(travel_per_turn 0\.24\)/);
  });

  it('notes an encoder that reads outside its servo calibration (zero_raw or direction wrong)', () => {
    // The magnet sits at 2048 (the joint at 0); robot.yaml says zero_raw 0: that reads π.
    const wrong = exampleConfig((c) => {
      if (c.joints[1].encoder) c.joints[1].encoder.zero_raw = 0;
    });
    const p = probe(undefined, exampleConfig(), wrong);
    const shoulder = p.byDevice('AS5600 (shoulder_pitch)');
    expect(shoulder.status).toBe('ok');
    expect(shoulder.notes.join()).toMatch(/outside its servo calibration.*zero_raw \(0\)/);
  });

  it('notes a dead servo rail and an ADC too slow for the tick, without failing them', () => {
    const config = exampleConfig((c) => {
      if (c.fsr) c.fsr.data_rate = 8;
    });
    const p = probe((model) => {
      model.supplyVolts[0] = 0;
      model.step();
    }, config);
    expect(p.byDevice('INA219').status).toBe('ok');
    expect(p.byDevice('INA219').notes.join()).toMatch(/below brownout_volts 4\.5 V: the servo supply is off/);
    expect(p.byDevice('ADS1115').status).toBe('ok');
    expect(p.byDevice('ADS1115').notes.join()).toMatch(/data_rate 8 SPS.*raise fsr\.data_rate/);
  });
});

type Target = 'pca9685' | 'mux' | 'adc' | 'power' | 'encoder';
const TARGET_DEVICE: Record<Target, string> = {
  pca9685: 'PCA9685',
  mux: 'TCA9548A',
  adc: 'ADS1115',
  power: 'INA219',
  encoder: 'AS5600 (wrist_pitch)',
};
const MUXED = ALL.filter((d) => d.includes('via TCA9548A'));

function inject(model: ServoArmModel, target: Target, fault: ModelFault): void {
  const m = model.models;
  const chip = target === 'encoder' ? m.encoders[3] : m[target];
  if (!chip) throw new Error(`no ${target} model`);
  chip.inject(fault);
}

describe('each fault of each chip is reported on that chip', () => {
  const targets: Target[] = ['pca9685', 'mux', 'adc', 'power', 'encoder'];

  describe.each(targets)('%s', (target) => {
    const device = TARGET_DEVICE[target];

    it('nack: that device is missing, every other one is still probed', () => {
      const p = probe((model) => inject(model, target, 'nack'));
      const r = p.byDevice(device);
      expect(r).toMatchObject({ status: 'missing', answered: false });
      expect(r.error).toMatch(/EREMOTEIO/);
      expect(r.fix).toMatch(/nothing acknowledged address 0x[0-9a-f]{2}.*i2cdetect -y 1/);
      for (const other of p.results) {
        if (other === r) continue;
        // Only what sits behind a missing mux cannot be reached.
        if (target === 'mux' && MUXED.includes(other.device)) {
          expect(other, other.device).toMatchObject({ status: 'skipped', answered: false });
          expect(other.error).toMatch(/not probed: it is behind TCA9548A \(mux\) 0x70 on i2c-1, which did not answer/);
        } else expect(other, other.device).toMatchObject({ status: 'ok' });
      }
      expectSafe(p);
    });

    it('wrong-id: that device answers but is wrong, named with why', () => {
      const p = probe((model) => inject(model, target, 'wrong-id'));
      const r = p.byDevice(device);
      expect(r).toMatchObject({ status: 'wrong', answered: true });
      const why: Record<Target, RegExp> = {
        pca9685: /MODE1 \(0x00\): reads 0x00 after writing 0x30/,
        mux: /control register reads 0xff after writing 0xa5/,
        adc: /Config \(0x01\): reads 0x0000, not the power-up default 0x8583/,
        power: /reads 0x4127 after reset.*INA226/,
        encoder: /STATUS \(0x0b\): no magnet detected/,
      };
      expect(r.error).toMatch(why[target]);
      expect(r.fix).toBeTruthy();
      const others = p.results.filter((o) => o !== r && !(target === 'mux' && MUXED.includes(o.device)));
      for (const other of others) expect(other, other.device).toMatchObject({ status: 'ok' });
      expectSafe(p);
    });

    it('stuck: the bus is said to be stuck once, where it showed; later devices on it are not probed', () => {
      const p = probe((model) => inject(model, target, 'stuck'));
      const failed = p.results.filter((r) => r.status === 'error');
      expect(failed).toHaveLength(1);
      const [first] = failed;
      expect(first.error).toMatch(/ETIMEDOUT.*i2c-1 (is stuck|went down)/);
      expect(first.fix).toMatch(/every device after this one on i2c-1 was not probed/);
      const after = p.results.slice(p.results.indexOf(first) + 1);
      expect(after.length).toBeGreaterThan(0);
      for (const r of after) {
        expect(r, r.device).toMatchObject({ status: 'skipped', answered: false });
        expect(r.error).toBe(`not probed: i2c-1 is stuck since ${first.device} (see there)`);
      }
      if (target === 'encoder') {
        // Behind the mux it is located: the bus went down when its channel was connected.
        expect(first.device).toBe('AS5600 (wrist_pitch) 0x36 via TCA9548A 0x70 ch 3');
        expect(first.error).toMatch(/went down when TCA9548A channel 3 was connected/);
        for (const d of ['base_yaw', 'shoulder_pitch', 'elbow_pitch']) expect(p.byDevice(`AS5600 (${d})`).status).toBe('ok');
      } else {
        // On the main segment it holds the very first transaction: which chip cannot be told.
        expect(first.device).toBe('PCA9685 (servos) 0x40 on i2c-1');
        expect(first.error).toMatch(/its first transaction timed out, so which chip or wire holds SDA\/SCL low cannot be told/);
      }
      // Bounded: one failing transaction and its retries, not one per register or device.
      expect(p.model.bus(1).stats[I2cStat.FAILURES]).toBe(3);
      expectSafe(p);
    });

    it('stale: a converter that stopped is caught; a frozen register is not visible at rest', () => {
      const p = probe((model) => inject(model, target, 'stale'));
      const r = p.byDevice(device);
      if (target === 'adc') {
        expect(r).toMatchObject({ status: 'wrong', answered: true });
        expect(r.error).toMatch(/conversion still running after 4 polls/);
      } else if (target === 'power') {
        expect(r).toMatchObject({ status: 'wrong', answered: true });
        expect(r.error).toMatch(/no new conversion \(CNVR = 0\) for 4 samples/);
      } else {
        // PCA9685 and TCA9548A have no measurement to freeze; an AS5600 frozen at rest reads
        // like one at rest (the run's following error catches it once the arm moves).
        expect(r.status).toBe('ok');
      }
      for (const other of p.results) if (other !== r) expect(other, other.device).toMatchObject({ status: 'ok' });
      expectSafe(p);
    });
  });

  it('a stuck chip on a channel of the mux check pattern (0xa5: channels 0, 2, 5, 7) shows at the mux, and says so', () => {
    const p = probe((model) => model.models.encoders[2]?.inject('stuck'));
    const mux = p.byDevice('TCA9548A');
    expect(mux.status).toBe('error');
    expect(mux.error).toMatch(/went down during the mux's own check.*channels 0, 2, 5 and 7/);
    for (const d of MUXED) expect(p.byDevice(d).status).toBe('skipped');
    expectSafe(p);
  });

  it('a magnet too weak or too strong: the encoder answers, is refused, and its reading is shown', () => {
    for (const [magnet, text] of [
      ['weak', /magnet too weak \(ML\).*fix: move the magnet closer/s],
      ['strong', /magnet too strong \(MH\)/],
      ['none', /no magnet detected/],
    ] as const) {
      const p = probe((model) => {
        const encoder = model.models.encoders[1];
        if (encoder) encoder.magnet = magnet;
      });
      const r = p.byDevice('AS5600 (shoulder_pitch)');
      expect(r).toMatchObject({ status: 'wrong', answered: true });
      expect(`${r.error}; fix: ${r.fix}`).toMatch(text);
      expect(r.registers.RAW_ANGLE).toBe(2048);
      expect(r.found).toMatch(/RAW ANGLE 2048 → shoulder_pitch 0\.000 rad/);
      expect(p.results.filter((o) => o.status !== 'ok')).toEqual([r]);
    }
  });

  it('a PCA9685 that fails a read-back after waking is put back to sleep', () => {
    const config = exampleConfig();
    const model = new ServoArmModel(config, { periodSeconds: DT });
    const real = model.bus(1);
    // MODE1 reads ALLCALL set once the chip is awake: open() fails its last check.
    const bus = new Proxy(real, {
      get(target, prop) {
        if (prop === 'readByte') {
          return (address: number, register: number): number => {
            const value = target.readByte(address, register);
            return address === 0x40 && register === 0x00 && (value & 0x10) === 0 ? value | 0x01 : value;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const results = probeServoArm(config, { periodSeconds: DT, openBus: () => ({ bus, release: () => undefined }), outputEnable: model.outputEnableLine(), wait: (s) => model.clock.advance(s) });
    const pca = results.find((r) => r.chip === 'PCA9685');
    expect(pca).toMatchObject({ status: 'wrong', answered: true });
    expect(pca?.error).toMatch(/reads 0x21 after waking/);
    expect(model.models.pca9685.registers[0x00] & 0x10).toBe(0x10);
    expect(results.filter((r) => r.status !== 'ok')).toEqual([pca]);
  });

  it('a bus that cannot be opened is said once, at the first device on it', () => {
    const config = exampleConfig();
    const results = probeServoArm(config, {
      periodSeconds: DT,
      openBus: () => {
        throw new Error('/dev/i2c-1 not found; fix: enable I2C');
      },
      outputEnable: new ServoArmModel(config, { periodSeconds: DT }).outputEnableLine(),
    });
    expect(results[1]).toMatchObject({ device: 'PCA9685 (servos) 0x40 on i2c-1', status: 'error', error: '/dev/i2c-1 not found', fix: 'enable I2C' });
    for (const r of results.slice(2)) expect(r.error).toBe('not probed: /dev/i2c-1 not found (see PCA9685 (servos) 0x40 on i2c-1)');
  });

  it.skipIf(existsSync('/dev/i2c-1'))('without /dev/i2c-1 the real bus says so, with the raspi-config fix', () => {
    const config = exampleConfig();
    const results = probeServoArm(config, { periodSeconds: DT, outputEnable: new ServoArmModel(config, { periodSeconds: DT }).outputEnableLine() });
    expect(results[1]).toMatchObject({ status: 'error', error: '/dev/i2c-1 not found' });
    expect(results[1].fix).toMatch(/raspi-config nonint do_i2c 0.*modprobe i2c-dev/);
  });

  it('the table lists every device, its verdict, and the error and fix under a failed one', () => {
    const p = probe((model) => model.models.power?.inject('nack'));
    const table = formatServoArmProbe(p.results);
    for (const d of ALL) expect(table).toContain(d);
    expect(table).toMatch(/^ {2}MISSING +INA219 \(servo rail\) 0x41 on i2c-1\n +error: .*EREMOTEIO.*\n +fix: nothing acknowledged address 0x41/m);
    expect(table).toMatch(/^ {2}ok +PCA9685 \(servos\) 0x40 on i2c-1 +MODE1 0x20/m);
  });
});
