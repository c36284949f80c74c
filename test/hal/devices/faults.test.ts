/**
 * No unhandled promise rejection under injected I2C faults (issue 8, item 5): the HIL scenarios
 * that break the emulated chips (NACK, stuck bus, wrong chip at power-up, hung converter, NACK
 * storm, brown-out, e-stop with the rail cut) run in a child `embody hil` process under Node's
 * --unhandled-rejections=strict, where any unhandled rejection kills the process. They must all
 * pass with exit code 0 and nothing about an unhandled rejection on stderr. A planted rejection
 * proves the harness would see one. Then `embody run` drives the preset on the emulated HAL
 * (the control worker with the real drivers) under the same flag.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
const scenarioDir = join(root, 'test/hil/scenarios');
/** The scenarios that inject faults into the emulated chips (and the preset's normal run). */
const scenarios = readdirSync(scenarioDir)
  .filter((f) => /^(i2c|servo)-.*\.yaml$/.test(f))
  .map((f) => join(scenarioDir, f));
const UNHANDLED = /unhandled|UnhandledPromiseRejection/i;

function node(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  // The suite runs against the build (pretest builds it); fail loudly if it is missing.
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

describe('injected I2C faults', () => {
  it('end every fault scenario as expected with no unhandled promise rejection (--unhandled-rejections=strict)', async () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(8);
    const result = await node(['--unhandled-rejections=strict', cli, 'hil', ...scenarios], 110_000);
    expect(result.stderr).not.toMatch(UNHANDLED);
    expect(result.stdout).toContain(`${scenarios.length}/${scenarios.length} scenarios passed`);
    expect(result.code).toBe(0);
  }, 120_000);

  it('would see one: a planted unhandled rejection fails the same command', async () => {
    const plant = 'data:text/javascript,setTimeout(() => Promise.reject(new Error("planted rejection")), 0);';
    const result = await node(['--unhandled-rejections=strict', '--import', plant, cli, 'hil', scenarios[0]], 60_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/planted rejection/);
  }, 60_000);

  it('embody run drives the preset on the emulated HAL with no unhandled promise rejection', async () => {
    const result = await node(
      ['--unhandled-rejections=strict', cli, 'run', '--robot', 'robots/pi-servo-arm.yaml', '--hal', 'emulated', '--broker', 'none', '--duration', '3', '--log-level', 'warn'],
      60_000,
    );
    expect(result.stderr).not.toMatch(UNHANDLED);
    expect(result.code).toBe(0);
  }, 60_000);
});
