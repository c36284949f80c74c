/**
 * The emulated chips a scenario reaches: which chip model each i2c_fault names (checked against
 * the robot, refused with the scenario's file and line), injecting into it, and reading the
 * actuator outputs off the PCA9685 and /OE models as a rig's probe would.
 */
import type { RobotDescription } from '../robot/index.js';
import type { ServoArmModel } from '../hal/sim/devices/servo-arm-model.js';
import type { DeviceModel } from '../hal/sim/devices/model.js';
import { robotServoArm } from '../hal/index.js';
import { ConfigError, displayFile, type ConfigProblem } from '../runtime/index.js';
import type { I2C_FAULTS, LoadedScenario, Stimulus } from './scenario.js';

/** Bits of TargetRun.outputs. */
export const Outputs = {
  /** The output-enable line asserted (emulated: the PCA9685 /OE cell; sim: drive power on). */
  ENABLED: 1,
  /** A servo gets pulses on some channel (emulated: PCA9685 model awake, a channel set to pulse, /OE asserted; sim: drive power on). */
  PULSING: 2,
} as const;

/**
 * The actuator outputs now, as Outputs bits. Emulated: ENABLED is the /OE line as the driver left
 * it; PULSING is whether a servo would get pulses on some channel: the PCA9685 model awake, a
 * channel neither full OFF nor ON = OFF in its registers, and /OE asserted. Without an /OE line
 * there is no hard-off, and both bits are PULSING. Sim: drive power.
 */
export function outputsNow(devices: ServoArmModel | undefined, powered: number): number {
  if (devices === undefined) return powered ? Outputs.ENABLED | Outputs.PULSING : 0;
  const line = devices.config.output_enable !== undefined;
  const enabled = !line || Atomics.load(devices.outputEnableCells, 0) === 1;
  let pulsing = false;
  const pca = devices.models.pca9685;
  if (enabled && pca.running) {
    const r = pca.registers;
    for (let c = 0; c < 16 && !pulsing; c++) {
      const base = 6 + 4 * c;
      if ((r[base + 3] & 0x10) !== 0) continue; // full OFF
      const on = ((r[base + 1] & 0x0f) << 8) | r[base];
      const off = ((r[base + 3] & 0x0f) << 8) | r[base + 2];
      pulsing = (r[base + 1] & 0x10) !== 0 || on !== off;
    }
  }
  if (!line) return pulsing ? Outputs.ENABLED | Outputs.PULSING : 0;
  return (enabled ? Outputs.ENABLED : 0) | (pulsing ? Outputs.PULSING : 0);
}

export function applyChipFault(chip: DeviceModel | undefined, fault: (typeof I2C_FAULTS)[number], count: number | undefined): void {
  if (chip === undefined) throw new Error('i2c_fault on a chip that is not there (checked when the scenario starts)');
  if (fault === 'clear') chip.clear();
  else chip.inject(fault, count);
}

/**
 * The chip model each i2c_fault names, checked against the robot's servo_arm: an unknown chip is
 * refused with the scenario file and line, like any other scenario problem.
 */
export function chipsOfStimuli(loaded: LoadedScenario, robot: RobotDescription, devices: ServoArmModel | undefined): Map<Stimulus, DeviceModel> {
  const chips = new Map<Stimulus, DeviceModel>();
  const problems: ConfigProblem[] = [];
  const arm = devices?.config ?? (robot.servo_arm === undefined ? undefined : robotServoArm(robot));
  const encoderJoints = arm?.joints.filter((j) => j.encoder !== undefined).map((j) => `encoder:${j.name}`) ?? [];
  const available = [
    ...(devices ? ['pca9685'] : []),
    ...(devices?.models.mux ? ['mux'] : []),
    ...(devices?.models.adc ? ['adc'] : []),
    ...(devices?.models.power ? ['power'] : []),
    ...encoderJoints,
  ];
  loaded.scenario.stimuli.forEach((s, i) => {
    if (s.do !== 'i2c_fault' && s.do !== 'brownout') return;
    const field = s.do === 'i2c_fault' ? 'device' : 'do';
    const where = ['stimuli', i, field];
    const line = loaded.lineOf?.(where);
    const fail = (message: string, fix: string): void => {
      problems.push({ file: loaded.file, path: `stimuli[${i}].${field}`, message, fix, ...(line === undefined ? {} : { line }) });
    };
    if (devices === undefined) {
      fail(`${s.do} needs the emulated chips, but the scenario runs on hal ${loaded.scenario.hal}`, 'add `hal: emulated` (on a robot with a servo_arm section)');
      return;
    }
    if (s.do === 'brownout') {
      if (!devices.models.power) fail(`${displayFile(loaded.robotFile)} has no INA219 on the servo rail (servo_arm.power): nothing sees a brown-out`, 'add servo_arm.power to the robot, or drop the stimulus');
      return;
    }
    const device = s.device;
    let chip: DeviceModel | undefined;
    if (device === 'pca9685') chip = devices.models.pca9685;
    else if (device === 'mux') chip = devices.models.mux;
    else if (device === 'adc') chip = devices.models.adc;
    else if (device === 'power') chip = devices.models.power;
    else {
      const joint = device.slice('encoder:'.length);
      const index = devices.config.joints.findIndex((j) => j.name === joint);
      chip = index >= 0 ? devices.models.encoders[index] : undefined;
    }
    if (chip === undefined) fail(`${displayFile(loaded.robotFile)} has no chip '${device}'`, `use one of: ${available.join(', ')}`);
    else chips.set(s, chip);
  });
  if (problems.length > 0) throw new ConfigError(problems, `scenario ${displayFile(loaded.file)} has problems`);
  return chips;
}
