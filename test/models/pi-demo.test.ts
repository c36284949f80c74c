/**
 * The pi-demo policy (models/pi-demo, built for robots/pi-servo-arm.yaml) end to end through the
 * built `embody` on the EMULATED hardware: the real I2C drivers (PCA9685 pulses, AS5600 encoders
 * behind the TCA9548A, the fingertip FSRs on the ADS1115, the INA219) talking to register-level
 * chip models that move the plant simulator. One seed (robot.yaml's sim.seed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/runtime/output/report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'embody-pi-demo-'));
  // The suite runs against the build (pretest builds it); fail loudly if it is missing.
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('pi-demo on the emulated servo arm', () => {
  it('lifts the cube through the real drivers on chip models, with no fault', async () => {
    const report = join(directory, 'pi-demo.json');
    const args = ['--single-threaded-gc', cli, 'run', '--robot', join(root, 'robots/pi-servo-arm.yaml'), '--hal', 'emulated', '--duration', '10', '--broker', 'none', '--report', report];
    const child = spawn(process.execPath, args, { env: { ...process.env, EMBODY_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, output).toBe(0);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.robot_id).toBe('pi-servo-arm-01');
    expect(result.control_rate_hz).toBe(100);
    expect(result.policy).toMatchObject({ name: 'pi-demo-reach-grasp-lift', model: 'pi-demo-int8.onnx' });
    // The learned policy, seeing encoder angles, the wrist camera and touch, lifted the cube.
    expect(result.task).toMatchObject({ object_grasped: true, object_lifted: true });
    expect(result.faults).toEqual([]);
    expect(result.transitions.map((t) => t.to)).not.toContain('FAULT');
    expect(result.hardware_errors).toBe(0);
    expect(result.safety_interventions.rejected_actions).toBe(0);
    expect(result.safety_interventions.standstill_faults).toBe(0);
    expect(result.final_mode).toBe('STOPPED');
    expect(result.controlled_shutdown).toBe(true);
  }, 40_000);
});
