/**
 * The live page in a real browser (Debian's chromium, driven by playwright-core) against a real
 * `embody run` of the simulated arm, and a real scrape of its /metrics judged by promtool: the
 * page loads, the camera image changes, contact shows when the gripper closes on the cube, arm
 * without the token is refused, Stop takes the robot to SAFE_STOP, an instruction with the token
 * reaches the policy.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
let child: ChildProcess | undefined;
let browser: Browser | undefined;
let output = '';
let base = '';
let exit: Promise<number | null>;

function robotFile(dir: string): string {
  const token = join(dir, 'operator.token');
  writeFileSync(token, 'page-test-token\n');
  chmodSync(token, 0o600);
  const doc = parseDocument(readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8'));
  doc.setIn(['policy', 'manifest'], join(root, 'models/demo/policy.yaml'));
  doc.setIn(['http', 'token_file'], token);
  const file = join(dir, 'robot.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function until(predicate: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embody-page-'));
  child = spawn(process.execPath, ['--single-threaded-gc', cli, 'run', '--robot', robotFile(dir), '--broker', 'none', '--http', '127.0.0.1:0', '--duration', '120'], {
    env: { ...process.env, EMBODY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  exit = new Promise((resolve) => child!.on('exit', (code) => resolve(code)));
  await waitFor(() => /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.test(output), 30_000, 'the live page address');
  base = /live page: (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)![1];
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'] });
});

afterAll(async () => {
  await browser?.close();
  child?.kill('SIGKILL');
});

describe('the live page of a real embody run', () => {
  it('serves /metrics that Prometheus parses, with the run in it', async () => {
    await waitFor(() => /mode RUNNING/.test(output), 30_000, 'RUNNING');
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
    expect(text).toMatch(/^embody_mode\{mode="RUNNING"\} 1$/m);
    expect(Number(/^embody_ticks_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^embody_tick_lateness_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^embody_touch_contact\{pad="left_pad"\} [01]$/m);
    expect(text).toMatch(/^embody_mqtt_link\{state="off"\} 1$/m);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('shows the camera, touch and joints live; refuses arm without the token; Stop moves the robot to SAFE_STOP', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${base}/`);
    await page.locator('#mode', { hasText: /^RUNNING$/ }).waitFor({ timeout: 20_000 });
    expect(await page.locator('.joint').count()).toBe(7);

    // ≥ 10 updates a second.
    const updates = async (): Promise<number> => Number(await page.locator('#numbers dd').nth(7).textContent());
    const before = await updates();
    const started = Date.now();
    await page.waitForTimeout(3000);
    expect((((await updates()) - before) * 1000) / (Date.now() - started)).toBeGreaterThanOrEqual(10);

    // The camera image changes: frames arrive and the pixels differ.
    const camera = page.locator('canvas.camera');
    await until(async () => Number(await camera.getAttribute('data-frames')) >= 3, 'three camera frames');
    const first = await camera.screenshot();
    await page.waitForTimeout(500);
    expect((await camera.screenshot()).equals(first)).toBe(false);

    // The demo policy grasps the cube: both pads show contact.
    await page.waitForSelector('.pad[data-pad="left_pad"][data-contact="on"]', { timeout: 40_000 });
    await page.waitForSelector('.pad[data-pad="right_pad"][data-contact="on"]', { timeout: 5_000 });
    await page.screenshot({ path: process.env.EMBODY_SCREENSHOT ?? join(tmpdir(), 'embody-live-page.png') });

    await page.click('#arm');
    await page.locator('#ack', { hasText: /arm refused: it needs the operator token/ }).waitFor({ timeout: 5_000 });

    await page.click('#stop');
    await page.locator('#mode', { hasText: /^SAFE_STOP$/ }).waitFor({ timeout: 5_000 });
    // The cause arrives with the mode_change event, which may trail the state update by one message.
    await page.locator('#cause', { hasText: /operator/ }).waitFor({ timeout: 5_000 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^embody_mode\{mode="SAFE_STOP"\} 1$/m);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);

    // With the token, arm is accepted by the page and judged by the loop (latched: reset first).
    await page.fill('#token', 'page-test-token');
    await page.click('#arm');
    // The loop refuses arm while SAFE_STOP is latched: the refusal is the loop's, not the token's.
    await page.locator('#ack', { hasText: /latched|reset|refused/ }).filter({ hasNotText: /token/ }).waitFor({ timeout: 5_000 });
    // An instruction with the token reaches the policy, and the page shows it.
    await page.fill('#instruction-text', 'lift the red cube');
    await page.click('#instruction-send');
    await page.locator('#numbers dd', { hasText: /^lift the red cube$/ }).waitFor({ timeout: 5_000 });
    expect(errors).toEqual([]);
    await page.close();

    child!.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
