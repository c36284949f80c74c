/**
 * FeetechArmHardware over a real pseudo-terminal: the driver opens the tty, sets termios with
 * stty and speaks the protocol to scripts/feetech-bus-model.py, six STS3215 models with 1 Mbps byte
 * timing. Commands come from the safety envelope (the only way to get a SafeCommand).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BusStat, FeetechArmHardware, ParserCount } from '../../../src/hal/feetech/index.js';
import { HardwareError, createJointState } from '../../../src/hal/index.js';
import { feetechArmInput, type FeetechArmConfig, type JointDescription, type LerobotCalibration } from '../../../src/robot/index.js';
import { JointEnvelope, limitsFromJoints } from '../../../src/safety/index.js';
import { sleepMs } from '../../../src/hal/sleep.js';
import { startBusModel, type BusModel } from '../../support/feetech-bus.js';

const RATE_HZ = 100;
const DT = 1 / RATE_HZ;
const NAMES = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper'];

function joints(): JointDescription[] {
  return NAMES.map((name, k) => ({
    name,
    type: 'revolute' as const,
    driver: { kind: 'feetech' as const, id: k + 1, model: 'sts3215' as const },
    limits: { position: [-1.5, 1.5] as [number, number], velocity: 2, acceleration: 10, jerk: 200, effort: 3, soft_margin: 0.05 },
  }));
}

/**
 * max_missed_ticks 10 and max_error_fraction 0.9 (not the preset's 3 and 0.2) except where
 * silence or a storm is the test: a tty's input goes through a kernel worker thread, and on this
 * shared 2-core host at load 5 it delivered bytes 1.3-1.7 ms late at p99 (measured with an
 * SCHED_FIFO reader) and tens of ms late now and then; a real bus on an idle robot host does not
 * see that, and a healthy-path test must not fault on it.
 */
function config(port: string, calibration?: LerobotCalibration, edit: Partial<FeetechArmConfig> = {}): FeetechArmConfig {
  const section = { serial: { port, baud_rate: 1_000_000 }, retries: 2, max_missed_ticks: 10, max_error_fraction: 0.9, return_delay_us: 0, full_load_torque: 1.9 };
  return { ...feetechArmInput(section, joints(), calibration), ...edit };
}

let model: BusModel | undefined;
let arm: FeetechArmHardware | undefined;

afterEach(async () => {
  try {
    arm?.close();
  } catch {
    // the port may be gone in a fault test
  }
  arm = undefined;
  await model?.stop();
  model = undefined;
});

/** Run `ticks` control ticks at RATE_HZ (real time: the model moves in real time). */
function run(a: FeetechArmHardware, envelope: JointEnvelope, target: Float64Array, ticks: number): ReturnType<typeof createJointState> {
  const state = createJointState(a.jointCount);
  for (let k = 0; k < ticks; k++) {
    a.read(state);
    envelope.track(target);
    a.write(envelope.command);
    sleepMs(DT * 1000);
  }
  return state;
}

async function openArm(calibration?: LerobotCalibration, edit: Partial<FeetechArmConfig> = {}): Promise<{ a: FeetechArmHardware; m: BusModel; envelope: JointEnvelope; state: ReturnType<typeof createJointState> }> {
  model = await startBusModel();
  // The reader thread SCHED_FIFO as in production (there: the control priority − 1); root here.
  arm = new FeetechArmHardware(config(model.port, calibration, edit), { periodSeconds: DT, readerPriority: 20 });
  arm.open();
  const state = createJointState(6);
  arm.read(state);
  const envelope = new JointEnvelope(limitsFromJoints(joints()), DT);
  envelope.seed(state.position);
  return { a: arm, m: model, envelope, state };
}

describe('FeetechArmHardware on a pty bus', () => {
  it('opens: pings every servo, unlocks, writes Return_Delay_Time 0 and position mode, locks again, torque off', async () => {
    const { m, state } = await openArm();
    for (let id = 1; id <= 6; id++) {
      const s = await m.command({ cmd: 'state', id });
      expect(s).toMatchObject({ lock: 1, return_delay: 0, mode: 0, torque: 0 });
    }
    // The model starts servo k at 2048 + 40 k steps: the driver reads them as angles from mid-range.
    for (let k = 0; k < 6; k++) expect(state.position[k]).toBeCloseTo((40 * k + 0.5) * ((2 * Math.PI) / 4095), 6);
  });

  it('sync write and sync read round trip: goals reach every servo and the joints follow', async () => {
    const { a, m, envelope } = await openArm();
    const target = Float64Array.from([0.3, -0.2, 0.5, -0.4, 0.1, 0.2]);
    const state = run(a, envelope, target, 120);
    for (let k = 0; k < 6; k++) {
      const s = await m.command({ cmd: 'state', id: k + 1 });
      expect(s.torque).toBe(1);
      expect(Math.abs(Number(s.goal) - (2047.5 + (target[k] * 4095) / (2 * Math.PI)))).toBeLessThanOrEqual(1);
      expect(state.position[k]).toBeCloseTo(target[k], 1);
    }
    // No corrupt packet on a healthy bus; how many replies were late (and retried) depends on the
    // host's load (the tty kernel worker), so it is not asserted here.
    expect(a.bus?.parser.counts[ParserCount.CHECKSUM_ERRORS]).toBe(0);
    expect(a.bus?.stats[BusStat.SYNC_READS]).toBeGreaterThanOrEqual(120);
  });

  it('a corrupt checksum and garbage bytes are recovered within the tick, counted, no fault', async () => {
    const { a, m, envelope, state } = await openArm();
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 5);
    await m.command({ cmd: 'corrupt', id: 3, count: 1 });
    await m.command({ cmd: 'garbage', count: 7 });
    run(a, envelope, target, 10);
    const counts = a.bus?.parser.counts;
    expect(counts?.[ParserCount.CHECKSUM_ERRORS]).toBe(1);
    expect(counts?.[ParserCount.GARBAGE_BYTES]).toBeGreaterThanOrEqual(7);
    expect(a.bus?.stats[BusStat.RETRIES]).toBeGreaterThanOrEqual(1);
  });

  it('a servo that goes silent ends in a HardwareError naming its id and joint', async () => {
    const { a, m, envelope, state } = await openArm(undefined, { max_missed_ticks: 5 });
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 3);
    await m.command({ cmd: 'silent', id: 3, on: true });
    let error: unknown;
    try {
      run(a, envelope, target, 10);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HardwareError);
    expect(String((error as Error).message)).toMatch(/servo 3 'elbow_flex'.*silent: no valid reply for 5 ticks/);
  });

  it('a servo answering with the wrong id is silent under its own, and the fault names the id it used', async () => {
    const { a, m, envelope, state } = await openArm(undefined, { max_missed_ticks: 5 });
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 3);
    await m.command({ cmd: 'reply_as', id: 2, as: 9 });
    expect(() => run(a, envelope, target, 10)).toThrow(/servo 2 'shoulder_lift'.*silent: .*replies came from id 9, which no joint has/);
  });

  it('status error bits become a named fault: overload on servo 5', async () => {
    const { a, m, envelope, state } = await openArm();
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 3);
    await m.command({ cmd: 'error', id: 5, bits: 32 });
    expect(() => run(a, envelope, target, 3)).toThrow(/servo 5 'wrist_roll'.*status error 0x20: overload/);
  });

  it('a storm of corrupt replies ends in an error storm fault even though each retry succeeds', async () => {
    const { a, m, envelope, state } = await openArm(undefined, { max_error_fraction: 0.2 });
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 3);
    // Every other reply of servos 2 and 4 corrupt: each tick's first reply is bad, its retry good.
    await m.command({ cmd: 'corrupt', id: 2, count: 1000, every: 2 });
    await m.command({ cmd: 'corrupt', id: 4, count: 1000, every: 2 });
    expect(() => run(a, envelope, target, 40)).toThrow(/error storm: \d+ of \d+ replies in the last second were lost or corrupt/);
  });

  it('uses a LeRobot calibration as is: writes it to the servos and centres angles on its range', async () => {
    const calibration: LerobotCalibration = Object.fromEntries(
      NAMES.map((name, k) => [name, { id: k + 1, drive_mode: k === 1 ? 1 : 0, homing_offset: -100 + 10 * k, range_min: 1000, range_max: 3000 }]),
    );
    const { m, state } = await openArm(calibration);
    const s2 = await m.command({ cmd: 'state', id: 2 });
    expect(s2).toMatchObject({ homing_offset: -90, min: 1000, max: 3000, lock: 1 });
    // Servo 2 starts at actual 2088; Present = actual − offset = 2178; mid 2000; drive_mode 1 flips the sign.
    expect(state.position[1]).toBeCloseTo((-(2178 - 2000) * 2 * Math.PI) / 4095, 6);
  });

  it('the adapter going away (the pty closed) is a HardwareError naming the port, from the reader thread', async () => {
    const { a, m, envelope, state } = await openArm();
    const target = Float64Array.from(state.position);
    run(a, envelope, target, 3);
    await m.stop();
    expect(() => run(a, envelope, target, 20)).toThrow(/serial port \/dev\/pts\/\d+: (read|write) failed: EIO.*fix: the adapter went away/);
  });

  it('clears Phase bit 4 (angle feedback mode) at open, as LeRobot does, and leaves the other bits', async () => {
    model = await startBusModel();
    await model.command({ cmd: 'set', id: 4, address: 18, value: 0x1c });
    arm = new FeetechArmHardware(config(model.port), { periodSeconds: DT, readerPriority: 20 });
    arm.open();
    expect((await model.command({ cmd: 'state', id: 4 })).phase).toBe(0x0c);
    expect((await model.command({ cmd: 'state', id: 3 })).phase).toBe(0);
  });

  it('an id nobody answers fails open() naming the servo and joint', async () => {
    model = await startBusModel([1, 2, 3, 4, 6]);
    arm = new FeetechArmHardware(config(model.port), { periodSeconds: DT });
    expect(() => arm?.open()).toThrow(/servo 5 'wrist_roll'.*no answer to PING/);
  });
});
