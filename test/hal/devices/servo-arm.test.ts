/**
 * ServoArmHardware, the real driver code, on the emulated buses: configuration checks, the open
 * sequence, a closed loop through the safety envelope (SafeCommands only come from there) in which
 * the servo model follows and the AS5600 readings converge, unpowered commands (/OE and full OFF),
 * fingertip force, the effort proxy, brown-out, every device fault ending in a HardwareError that
 * names the device, the bus budget per tick, and zero allocation per tick.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { busSeconds, I2cStat, I2cTransactionLog } from '../../../src/hal/bus/index.js';
import { ServoArmHardware, Supply } from '../../../src/hal/devices/index.js';
import { parseServoArmConfig } from '../../../src/robot/index.js';
import { createJointState, HardwareError, type JointState } from '../../../src/hal/types.js';
import { piServoArmExample, type EmulatedServoArmHardware } from '../../../src/hal/sim/devices/index.js';
import type { JointEnvelope } from '../../../src/safety/index.js';
import { DT, emulatedArm, envelopeFor, exampleConfig } from './support.js';

interface Rig {
  arm: EmulatedServoArmHardware;
  envelope: JointEnvelope;
  state: JointState;
  target: Float64Array;
  /** One control tick: read, track the target, write (the model steps inside write). */
  tick(): void;
}

function rig(arm: EmulatedServoArmHardware = emulatedArm()): Rig {
  arm.open();
  const n = arm.hardware.jointCount;
  const state = createJointState(n);
  arm.read(state);
  const envelope = envelopeFor(arm.hardware.config);
  envelope.seed(state.position);
  const target = Float64Array.from(state.position);
  return {
    arm,
    envelope,
    state,
    target,
    tick() {
      arm.read(state);
      envelope.track(target);
      arm.write(envelope.command);
    },
  };
}

function errorOf(fn: () => void): HardwareError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HardwareError);
    return error as HardwareError;
  }
  throw new Error('expected a HardwareError');
}

/** Run ticks until one throws; return that error. */
function faultWithin(r: Rig, ticks: number): HardwareError {
  return errorOf(() => {
    for (let k = 0; k < ticks; k++) r.tick();
  });
}

describe('servo arm configuration', () => {
  it('fills the defaults of the example arm', () => {
    const config = exampleConfig();
    expect(config.pca9685).toEqual({ address: 0x40, frequency_hz: 50, oscillator_hz: 25_000_000 });
    expect(config.follow).toBeUndefined(); // the safety layer's following_error watches by default
    expect(exampleConfig((c) => (c.follow = {})).follow).toEqual({ tolerance_rad: 0.35, timeout_ms: 500 });
    expect(config.retries).toBe(2);
    expect(config.joints[0].encoder).toEqual({ address: 0x36, mux_channel: 0, zero_raw: 2048, direction: 1, slow_filter: 1 });
    expect(config.power?.bus_range_v).toBe(16);
  });

  it('refuses address clashes, a mux channel without a mux, shared PWM channels, encoders sharing 0x36', () => {
    const messages = (edit: (c: ReturnType<typeof piServoArmExample>) => void): string[] => {
      const input = piServoArmExample();
      edit(input);
      const result = (() => {
        try {
          parseServoArmConfig(input);
          return [];
        } catch (error) {
          return (error as { issues: { message: string }[] }).issues.map((i) => i.message);
        }
      })();
      return result;
    };
    expect(messages((c) => (c.power = { ...c.power, address: 0x40 }))).toEqual([expect.stringMatching(/the INA219 at 0x40 clashes with the PCA9685 on bus 1/)]);
    expect(messages((c) => delete c.mux)).toContain('mux_channel needs a `mux` (TCA9548A) section');
    expect(messages((c) => (c.joints[1].channel = 0))).toEqual([expect.stringMatching(/PCA9685 channel 0 is already used by 'base_yaw'/)]);
    const twoDirect = messages((c) => {
      c.joints[0].encoder = { zero_raw: 0 };
      c.joints[1].encoder = { zero_raw: 0 };
    });
    expect(twoDirect[0]).toMatch(/the AS5600 of 'shoulder_pitch' at 0x36 clashes with the AS5600 of 'base_yaw' on bus 1: give each chip its own address/);
    expect(twoDirect).toHaveLength(5); // and one directly on the bus clashes with every 0x36 behind the mux
    expect(messages((c) => (c.joints[2].encoder = { mux_channel: 1 }))).toEqual([expect.stringMatching(/clashes with the AS5600 of 'shoulder_pitch' on bus 1 \(mux channel 1\)/)]);
    expect(messages((c) => (c.joints[0].servo = { min_us: 2500, max_us: 500, min_angle: 0, max_angle: 1 }))).toContain('min_us must be below max_us');
    expect(messages((c) => (c.fsr!.fingertips[0].calibration = [[1, 0], [0.5, 2]]))).toContain('volts must increase from point to point');
    expect(messages((c) => (c.power = { ...c.power, shunt_ohms: 0.2, max_current_a: 3 }))).toEqual([expect.stringMatching(/at most 0.32 V/)]);
    // One bus per encoder instead of a mux is fine.
    expect(
      messages((c) => {
        delete c.mux;
        c.joints.forEach((j, i) => (j.encoder = { bus: 3 + i }));
      }),
    ).toEqual([]);
  });

  it('refuses an ADC data rate that cannot finish a conversion within a tick', () => {
    const config = exampleConfig((c) => (c.fsr!.data_rate = 128));
    expect(() => new ServoArmHardware(config, { periodSeconds: 0.005 })).toThrow(/7.81 ms, too long for a 5.00 ms tick; fix: raise fsr.data_rate/);
  });
});

describe('ServoArmHardware on the emulated bus', () => {
  it('open(): PCA9685 first (clearing ALLCALL before the mux at 0x70 is used), then mux, encoders, ADC, INA219; outputs off', () => {
    const arm = emulatedArm();
    const log = new I2cTransactionLog(8192);
    arm.model.bus(1).log = log;
    arm.open();
    const order = log.entries().map((e) => e.address);
    const firstOf = (a: number): number => order.indexOf(a);
    expect(firstOf(0x40)).toBe(0);
    expect(firstOf(0x40)).toBeLessThan(firstOf(0x70));
    expect(firstOf(0x70)).toBeLessThan(firstOf(0x36));
    expect(firstOf(0x36)).toBeLessThan(firstOf(0x48));
    expect(firstOf(0x48)).toBeLessThan(firstOf(0x41));
    expect(arm.model.outputEnableCells[0]).toBe(0);
    expect(arm.hardware.outputsEnabled).toBe(false);
    expect(arm.hardware.devices.encoders).toHaveLength(6);
    const state = createJointState(6);
    arm.read(state);
    expect(Array.from(state.position).every((p) => Math.abs(p) < 1e-9)).toBe(true);
  });

  it('closed loop through the envelope: the servos follow and the encoders converge on them', () => {
    const r = rig(emulatedArm(exampleConfig(), { initialPositions: [0.1, -0.2, 0.3, 0, 0.05, -0.1] }));
    expect(r.state.position[2]).toBeCloseTo(0.3, 2); // measured, not assumed
    const goal = [0.8, -0.6, 1.0, -0.4, 0.5, 0.3];
    for (let k = 0; k < 300; k++) {
      // A smooth sweep toward the goal, then hold.
      const s = Math.min(1, k / 150);
      for (let i = 0; i < 6; i++) r.target[i] = r.state.position[i] * 0 + (1 - s) * r.target[i] + s * goal[i];
      r.tick();
      expect(r.arm.hardware.outputsEnabled).toBe(true);
    }
    const lsb = (2 * Math.PI) / 4096;
    for (let i = 0; i < 6; i++) {
      expect(Math.abs(r.envelope.command.position(i) - goal[i])).toBeLessThan(1e-6);
      expect(Math.abs(r.arm.model.angle[i] - goal[i])).toBeLessThan(0.01); // the servo follows
      expect(Math.abs(r.state.position[i] - r.arm.model.angle[i])).toBeLessThan(lsb); // the encoder reads it
      expect(Math.abs(r.state.velocity[i])).toBeLessThan(0.05);
    }
    const pulses = new Float64Array(16);
    r.arm.model.models.pca9685.pulses(pulses);
    // 0.8 rad on a 500-2500 µs / ±90° servo: 1500 + 0.8 × 2000/π µs.
    expect(Math.abs(pulses[0] - (1500 + (0.8 * 2000) / Math.PI))).toBeLessThan(5);
  });

  it('tracks a moving target: encoder error stays within the servo lag, velocity is measured', () => {
    const r = rig();
    let worst = 0;
    for (let k = 0; k < 400; k++) {
      const t = k * DT;
      for (let i = 0; i < 6; i++) r.target[i] = 0.4 * Math.sin(1.5 * t + i);
      r.tick();
      if (k > 100) for (let i = 0; i < 6; i++) worst = Math.max(worst, Math.abs(r.state.position[i] - r.envelope.command.position(i)));
    }
    expect(worst).toBeLessThan(0.08);
    expect(Math.max(...Array.from(r.state.velocity, Math.abs))).toBeGreaterThan(0.2);
  });

  it('unpowered command (category 0): /OE released and every channel full OFF; power back resumes', () => {
    const r = rig();
    for (let k = 0; k < 20; k++) r.tick();
    r.envelope.cutPower(r.state.position);
    expect(r.envelope.command.powered).toBe(false);
    r.arm.read(r.state);
    r.arm.write(r.envelope.command);
    const { pca9685 } = r.arm.model.models;
    expect(r.arm.model.outputEnableCells[0]).toBe(0);
    expect(pca9685.outputEnabled).toBe(false);
    for (let c = 0; c < 16; c++) expect(pca9685.registers[0x06 + 4 * c + 3] & 0x10).toBe(0x10);
    const pulses = new Float64Array(16);
    pca9685.outputEnabled = true; // even with /OE miswired, full OFF holds the servos unpulsed
    pca9685.pulses(pulses);
    expect(Array.from(pulses).every((us) => us === 0)).toBe(true);
    // Limp servos stay where they are.
    const before = Float64Array.from(r.arm.model.angle);
    for (let k = 0; k < 10; k++) {
      r.arm.read(r.state);
      r.arm.write(r.envelope.command);
    }
    expect(Array.from(r.arm.model.angle)).toEqual(Array.from(before));
    r.envelope.seed(r.state.position);
    r.target.set(r.state.position);
    r.tick();
    expect(r.arm.model.outputEnableCells[0]).toBe(1);
    r.arm.model.models.pca9685.pulses(pulses);
    expect(pulses[0]).toBeGreaterThan(400);
  });

  it('fingertip forces through the FSR divider and the piecewise-linear calibration', () => {
    const r = rig();
    r.arm.model.force[0] = 3;
    r.arm.model.force[1] = 8;
    for (let k = 0; k < 4; k++) r.tick();
    expect(r.arm.hardware.fingertipNames).toEqual(['left_pad', 'right_pad']);
    // Between calibration points (2 N and 5 N) the line overestimates the concave FSR curve a little.
    expect(r.arm.hardware.fingertipForce[0]).toBeGreaterThan(2.9);
    expect(r.arm.hardware.fingertipForce[0]).toBeLessThan(3.5);
    expect(r.arm.hardware.fingertipForce[1]).toBeGreaterThan(7.5);
    expect(r.arm.hardware.fingertipForce[1]).toBeLessThan(8.8);
    r.arm.model.forceFunction = (tip, seconds) => (tip === 0 ? 10 : seconds > 0 ? 0 : 0);
    for (let k = 0; k < 4; k++) r.tick();
    expect(r.arm.hardware.fingertipForce[0]).toBeCloseTo(10, 1); // a calibration point, to the ADC LSB (125 µV)
    expect(r.arm.hardware.fingertipForce[1]).toBe(0);
  });

  it('effort proxy: rail current above idle, shared by tracking error, signed by it', () => {
    const r = rig();
    for (let k = 0; k < 50; k++) r.tick();
    const restAmps = r.arm.hardware.supply[Supply.AMPS];
    const restEffort = Math.max(...Array.from(r.state.effort, Math.abs));
    r.target[1] = 1.2; // one joint moves
    let peak = 0;
    let sign = 0;
    for (let k = 0; k < 40; k++) {
      r.tick();
      if (Math.abs(r.state.effort[1]) > peak) {
        peak = Math.abs(r.state.effort[1]);
        sign = Math.sign(r.state.effort[1]);
      }
    }
    expect(r.arm.hardware.supply[Supply.VOLTS]).toBeGreaterThan(5.5);
    expect(restAmps).toBeGreaterThan(0.5); // six servos holding
    expect(peak).toBeGreaterThan(3 * restEffort);
    expect(sign).toBe(1);
  });

  it('brown-out while powered: HardwareError naming the INA219; a dead rail with the drives off is expected', () => {
    const r = rig();
    for (let k = 0; k < 5; k++) r.tick();
    r.arm.model.supplyVolts[0] = 4.3;
    const error = faultWithin(r, 5);
    expect(error.device).toBe("INA219 'servo rail' (emulated i2c-1 0x41)");
    expect(error.message).toMatch(/servo rail brown-out: 4\.\d\d V < 4.5 V for 2 samples.*fix:/);

    const off = rig();
    off.arm.model.supplyVolts[0] = 0;
    off.envelope.cutPower(off.state.position);
    for (let k = 0; k < 10; k++) {
      off.arm.read(off.state);
      off.arm.write(off.envelope.command);
    }
  });

  it('overcurrent trip when configured', () => {
    const r = rig(emulatedArm(exampleConfig((c) => (c.power = { ...c.power, trip_current_a: 0.5 }))));
    const error = faultWithin(r, 10);
    expect(error.message).toMatch(/servo rail overcurrent: 0\.\d\d A > trip_current_a 0.5 A/);
  });

  it('a transient NACK is absorbed by the retries (counted, no fault)', () => {
    const r = rig();
    r.arm.model.models.encoders[3]?.inject('nack', 2);
    for (let k = 0; k < 5; k++) r.tick();
    expect(r.arm.model.bus(1).stats[I2cStat.RETRIES]).toBe(2);
  });

  // With the driver's own follow check on (the gripper exempt, as it sits off its command when holding).
  const withFollow = (): EmulatedServoArmHardware =>
    emulatedArm(
      exampleConfig((c) => {
        c.follow = {};
        c.joints[5].follow = false;
      }),
    );

  const faults: [string, (a: EmulatedServoArmHardware) => void, RegExp, RegExp][] = [
    ['encoder NACK', (a) => a.model.models.encoders[2]?.inject('nack'), /^AS5600 'elbow_pitch' \(emulated i2c-1 0x36, mux 0x70 ch 2\)$/, /readBlock register STATUS \(0x0b\) failed after 3 attempts: EREMOTEIO/],
    ['encoder holding SDA (stuck bus)', (a) => a.model.models.encoders[4]?.inject('stuck'), /\(emulated i2c-1 0x[0-9a-f]+/, /ETIMEDOUT.*SDA held low by AS5600 model \(wrist_roll\)/],
    ['magnet lost', (a) => a.model.models.encoders[0] && (a.model.models.encoders[0].magnet = 'none'), /^AS5600 'base_yaw'/, /no magnet detected/],
    ['encoder stale (frozen RAW ANGLE)', (a) => a.model.models.encoders[1]?.inject('stale'), /^servo 'shoulder_pitch' \(PCA9685 channel 1; AS5600 'shoulder_pitch' \(emulated i2c-1 0x36, mux 0x70 ch 1\)\)$/, /from the command .* for 500 ms .*frozen encoder/],
    ['ADC NACK', (a) => a.model.models.adc?.inject('nack'), /^ADS1115 'fingertips' \(emulated i2c-1 0x48\)$/, /register Config \(0x01\) failed after 3 attempts: EREMOTEIO/],
    ['ADC stale', (a) => a.model.models.adc?.inject('stale'), /^ADS1115 'fingertips' \(emulated i2c-1 0x48\)$/, /conversion still running/],
    ['INA219 NACK', (a) => a.model.models.power?.inject('nack'), /^INA219 'servo rail' \(emulated i2c-1 0x41\)$/, /Bus voltage \(0x02\) failed after 3 attempts/],
    ['INA219 stale', (a) => a.model.models.power?.inject('stale'), /^INA219 'servo rail' \(emulated i2c-1 0x41\)$/, /CNVR = 0/],
    ['PCA9685 NACK', (a) => a.model.models.pca9685.inject('nack'), /^PCA9685 'servos' \(emulated i2c-1 0x40\)$/, /writeBlock register LED0 \(0x06\) failed after 3 attempts: EREMOTEIO/],
    ['mux NACK', (a) => a.model.models.mux?.inject('nack'), /^TCA9548A 'mux' \(emulated i2c-1 0x70\)$/, /sendByte failed after 3 attempts: EREMOTEIO/],
  ];

  for (const [name, inject, device, message] of faults) {
    it(`fault: ${name} → HardwareError naming the device`, () => {
      const r = rig(withFollow());
      const goal = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
      for (let k = 0; k < 10; k++) r.tick();
      inject(r.arm);
      r.target.set(goal);
      const error = faultWithin(r, 100);
      expect(error.device).toMatch(device);
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/fix: /);
      // The safe state is still reachable: /OE needs no I2C.
      try {
        r.arm.close();
      } catch {
        // the bus may still be down; /OE went first
      }
      expect(r.arm.model.outputEnableCells[0]).toBe(0);
    });
  }

  it('wrong identity at open is a HardwareError for each chip', () => {
    for (const [pick, text] of [
      [(a: EmulatedServoArmHardware) => a.model.models.pca9685, /PCA9685 'servos'.*MODE1/],
      [(a: EmulatedServoArmHardware) => a.model.models.adc, /ADS1115 'fingertips'.*0x8583/],
      [(a: EmulatedServoArmHardware) => a.model.models.power, /INA219 'servo rail'.*0x399f/],
      [(a: EmulatedServoArmHardware) => a.model.models.encoders[5], /AS5600 'gripper'/],
      [(a: EmulatedServoArmHardware) => a.model.models.mux, /TCA9548A 'mux'/],
    ] as const) {
      const arm = emulatedArm();
      pick(arm)?.inject('wrong-id');
      expect(() => arm.open()).toThrow(text);
      expect(arm.model.outputEnableCells[0]).toBe(0);
    }
  });

  it('the follow check is off by default, and a gripper can opt out of it', () => {
    const plain = rig();
    plain.arm.model.models.encoders[1]?.inject('stale');
    plain.target[1] = 1.0;
    for (let k = 0; k < 150; k++) plain.tick(); // the safety layer's following_error would trip instead
    const gripper = rig(withFollow());
    const pca = gripper.arm.model.models.pca9685;
    for (let k = 0; k < 5; k++) gripper.tick();
    gripper.target[5] = 1.0;
    for (let k = 0; k < 150; k++) {
      gripper.tick();
      gripper.arm.model.angle[5] = 0; // squeezing an object: the fingers do not get there
    }
    expect(pca.fault).toBe('none');
  });

  it('close(): /OE released, all OFF, PCA9685 asleep', () => {
    const r = rig();
    for (let k = 0; k < 10; k++) r.tick();
    r.arm.close();
    expect(r.arm.model.outputEnableCells[0]).toBe(0);
    expect(r.arm.model.models.pca9685.registers[0] & 0x10).toBe(0x10);
    expect(() => r.arm.read(r.state)).toThrow(/before open/);
  });

  it('bus traffic per tick fits 40% of a 100 Hz period on a 400 kHz bus', () => {
    const r = rig();
    for (let k = 0; k < 10; k++) r.tick();
    const stats = r.arm.model.bus(1).stats;
    const t0 = stats[I2cStat.TRANSACTIONS];
    const b0 = stats[I2cStat.BYTES];
    const ticks = 100;
    for (let k = 0; k < ticks; k++) {
      r.target[0] = 0.3 * Math.sin(k * 0.05);
      r.tick();
    }
    const perTick = (stats[I2cStat.TRANSACTIONS] - t0) / ticks;
    const bytes = (stats[I2cStat.BYTES] - b0) / ticks;
    // 6 × (mux select + STATUS/RAW ANGLE), ADS1115 3, INA219 3, PCA9685 1 block.
    expect(perTick).toBe(6 * 2 + 3 + 3 + 1);
    expect(bytes).toBe(6 * (2 + 6) + (5 + 5 + 4) + 3 * 5 + (2 + 24));
    expect(busSeconds(bytes)).toBeLessThan(0.4 * 0.01);
  });
});

/**
 * Bytes in the young generation, where every short-lived object a tick could make lands. Not
 * heapUsed: after the forced gc() V8 may re-optimize the measuring loop, and the machine code and
 * deoptimization data that makes (code and old space, ~200 KB a round) are not tick garbage.
 */
function youngBytes(): number {
  let sum = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') sum += space.space_used_size;
  return sum;
}

describe('allocation', () => {
  it('one tick of read + write (model included) allocates nothing: young-generation bytes over 100k ticks after warm-up, no GC in between', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const r = rig();
    const { arm, state, envelope } = r;
    // Hold a command; move the servos away from it now and then so motion, effort and the
    // follow check run too.
    const angle = arm.model.angle;
    const loop = (ticks: number): void => {
      for (let k = 0; k < ticks; k++) {
        if ((k & 255) === 0) angle[k & 3] += (k & 256) === 0 ? 0.2 : -0.2;
        arm.read(state);
        arm.write(envelope.command);
      }
    };
    // GCs are reported asynchronously: collect them, and afterwards keep only rounds that no
    // scavenge interrupted (a scavenge would hide garbage).
    const gcTimes: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcTimes.push(entry.startTime);
    });
    observer.observe({ entryTypes: ['gc'] });
    type Round = { bytes: number; start: number; end: number };
    const measure = (run: (ticks: number) => void): Round[] => {
      run(50_000);
      const rounds: Round[] = [];
      for (let round = 0; round < 4; round++) {
        gc();
        const start = performance.now();
        const before = youngBytes();
        run(100_000);
        const bytes = (youngBytes() - before) / 100_000;
        rounds.push({ bytes, start, end: performance.now() });
      }
      return rounds;
    };
    envelope.track(r.target);
    const ticks = measure(loop);
    const sink: unknown[] = [0];
    const garbage = measure((n) => {
      loop(n);
      for (let k = 0; k < n; k++) sink[0] = { k };
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    observer.disconnect();
    const clean = (rounds: Round[]): Round[] => rounds.filter((round) => !gcTimes.some((t) => t > round.start && t < round.end));
    const quiet = clean(ticks);
    expect(quiet.length).toBeGreaterThan(0); // a tick that allocated would have caused scavenges
    // One boxed double per tick would be 16 B/tick.
    expect(Math.min(...quiet.map((q) => q.bytes))).toBeLessThan(0.05);
    // The check can see garbage: one small object per tick shows up as bytes or as scavenges.
    const seen = clean(garbage);
    expect(seen.length === 0 || Math.min(...seen.map((q) => q.bytes)) > 10).toBe(true);
  });
});
