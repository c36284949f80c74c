/**
 * Scenario files on the emulated HAL: the stimuli that act on the chip models are refused, with
 * the file, line, field and fix, where there are no chips to act on (or not the one named).
 * The scenarios themselves run in hil.test.ts with every other one (twice, digests compared).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHil } from '../../src/hil/index.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'embody-hil-emulated-'));
const simArm = path.resolve('robots/sim-arm.yaml');
const servoArm = path.resolve('robots/pi-servo-arm.yaml');

async function errorOf(name: string, lines: string[]): Promise<string> {
  const file = path.join(scratch, `${name}.yaml`);
  writeFileSync(file, [...lines, ''].join('\n'));
  const result = await runHil([file], { target: 'sim', out: () => undefined });
  expect(result.exitCode).toBe(1);
  return result.results[0].error ?? '(no error)';
}

describe('scenarios on the emulated HAL', () => {
  it('refuses an I2C stimulus in a scenario that does not run on the emulated chips', async () => {
    const error = await errorOf('no_hal', [
      'name: no_hal',
      `robot: ${servoArm}`,
      'duration_ms: 1000',
      'stimuli:',
      '  - { at_ms: 10, do: i2c_fault, device: adc, fault: stale }',
      '  - { at_ms: 20, do: brownout, volts: 4 }',
      'expect:',
      '  - { check: limits }',
    ]);
    expect(error).toMatch(/no_hal\.yaml:5: stimuli\[0\]\.do: i2c_fault acts on the emulated I2C chips, but the scenario runs on hal sim — fix: add `hal: emulated`/);
    expect(error).toMatch(/no_hal\.yaml:6: stimuli\[1\]\.do: brownout/);
  });

  it('refuses hal: emulated for a robot without I2C chips', async () => {
    const error = await errorOf('sim_robot', ['name: sim_robot', `robot: ${simArm}`, 'hal: emulated', 'duration_ms: 1000', 'expect:', '  - { check: limits }']);
    expect(error).toMatch(/sim_robot\.yaml:3: hal: .*sim-arm\.yaml has no servo_arm section: there are no chips to emulate — fix: use `hal: sim`/);
  });

  it('refuses a chip the robot does not have, listing the ones it has', async () => {
    const error = await errorOf('no_chip', [
      'name: no_chip',
      `robot: ${servoArm}`,
      'hal: emulated',
      'arm: manual',
      'duration_ms: 1000',
      'stimuli:',
      '  - { at_ms: 10, do: i2c_fault, device: "encoder:elbow", fault: nack }',
      'expect:',
      '  - { check: limits }',
    ]);
    expect(error).toMatch(/no_chip\.yaml:7: stimuli\[0\]\.device: .*pi-servo-arm\.yaml has no chip 'encoder:elbow' — fix: use one of: pca9685, mux, adc, power, encoder:base_yaw, .*encoder:elbow_pitch/);
  });

  it('refuses a NACK count on another fault, and outputs_off without a start', async () => {
    const error = await errorOf('bad_fields', [
      'name: bad_fields',
      `robot: ${servoArm}`,
      'hal: emulated',
      'duration_ms: 1000',
      'stimuli:',
      '  - { at_ms: 10, do: i2c_fault, device: adc, fault: stuck, count: 2 }',
      'expect:',
      '  - { check: outputs_off }',
    ]);
    expect(error).toMatch(/bad_fields\.yaml:6: stimuli\[0\]\.count: count is for a transient NACK burst, not for 'stuck'/);
    expect(error).toMatch(/bad_fields\.yaml:8: expect\[0\]: outputs_off needs either `after` and `within_ticks`, or `from_ms`/);
  });
});
