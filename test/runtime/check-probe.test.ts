/**
 * `embody check` probing the servo arm's chips, as a builder runs it: the built CLI on the preset
 * robot. Emulated: every chip model answers and reads back; real, on a machine without I2C: a
 * clear failure naming /dev/i2c-1 and the fix, not a crash; sim: not probed, said so; a robot
 * without servo_arm: no hardware section at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
const preset = join(root, 'robots/pi-servo-arm.yaml');

function check(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'check', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const DEVICES = [
  '/OE gpiochip0 line 17',
  'PCA9685 (servos) 0x40 on i2c-1',
  'ADS1115 (fingertips) 0x48 on i2c-1',
  'INA219 (servo rail) 0x41 on i2c-1',
  'TCA9548A (mux) 0x70 on i2c-1',
  ...['base_yaw', 'shoulder_pitch', 'elbow_pitch', 'wrist_pitch', 'wrist_roll', 'gripper'].map((joint, ch) => `AS5600 (${joint}) 0x36 via TCA9548A 0x70 ch ${ch}`),
];

beforeAll(() => {
  // The suite runs against the build (pretest builds it); fail loudly if it is missing.
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

describe('embody check on the servo arm preset', () => {
  it('--hal emulated: every device found, with what it read back; exit 0', () => {
    const { status, stdout, stderr } = check('--robot', preset, '--hal', 'emulated');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('hardware (--hal emulated: the real drivers on register-level chip models): probing servo_arm on i2c-1');
    for (const device of DEVICES) {
      const line = stdout.split('\n').find((l) => l.includes(device));
      expect(line, device).toMatch(/^ {2}ok +/);
    }
    expect(stdout).toMatch(/PCA9685 \(servos\) 0x40 on i2c-1 +MODE1 0x20 MODE2 0x04 PRE_SCALE 121 → 50\.03 Hz PWM/);
    expect(stdout).toMatch(/AS5600 \(elbow_pitch\).*STATUS 0x20 magnet detected, in range; RAW ANGLE \d+ → elbow_pitch -?\d\.\d{3} rad/);
    expect(stdout).toMatch(/INA219 .*Calibration 0x1062 read back.*rail \d\.\d\d V/);
    expect(stdout).toContain(`hardware ok: all ${DEVICES.length} devices answered and read back as configured`);
  });

  it.skipIf(existsSync('/dev/i2c-1'))('--hal real without /dev/i2c-1: exit 1, naming the adapter and the fix', () => {
    const { status, stdout, stderr } = check('--robot', preset, '--hal', 'real');
    expect(status).toBe(1);
    expect(stderr).not.toMatch(/at .*\.js:\d+/); // a report, not a stack trace
    expect(stdout).toMatch(/ERROR +PCA9685 \(servos\) 0x40 on i2c-1\n +error: \/dev\/i2c-1 not found\n +fix: enable I2C \(raspi-config nonint do_i2c 0/);
    expect(stderr).toMatch(/^check failed: /);
    expect(stderr).toContain('  PCA9685 (servos) 0x40 on i2c-1: error: /dev/i2c-1 not found\n    fix: enable I2C (raspi-config nonint do_i2c 0');
    // Said once; the rest are marked as not probed because of it.
    expect(stdout.match(/error: \/dev\/i2c-1 not found/g)).toHaveLength(1);
    expect(stdout).toMatch(/skipped +AS5600 \(gripper\) 0x36 via TCA9548A 0x70 ch 5 +not probed: \/dev\/i2c-1 not found/);
  });

  it('--hal real is the default for a robot with a servo arm', () => {
    const { stdout } = check('--robot', preset);
    expect(stdout).toContain('hardware (--hal real): probing servo_arm on i2c-1');
  });

  it('--hal sim: not probed, and says so', () => {
    const { status, stdout } = check('--robot', preset, '--hal', 'sim');
    expect(status).toBe(0);
    expect(stdout).toMatch(/hardware: not probed \(--hal sim/);
  });

  it('a robot without servo_arm: unchanged, no hardware section', () => {
    const { status, stdout } = check('--robot', join(root, 'robots/sim-arm.yaml'));
    expect(status).toBe(0);
    expect(stdout).toMatch(/^ok: /);
    expect(stdout).not.toContain('hardware');
  });
});
