/**
 * The built `embody` command as systemd and a field tech run it: a real process, a real
 * notify socket owned by the test, real files for the report and trace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import unix from 'unix-dgram';
import { parse } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/runtime/output/report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
let directory: string;
const children: ChildProcess[] = [];
const sockets: { close(): void }[] = [];

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'embody-cli-'));
  // The suite runs against the build (pretest builds it); fail loudly if it is missing.
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const socket of sockets.splice(0)) socket.close();
});

function notifySocket(name: string): { path: string; messages: string[] } {
  const path = join(directory, `${name}.sock`);
  const messages: string[] = [];
  const socket = unix.createSocket('unix_dgram', (message: Buffer) => messages.push(message.toString()));
  socket.bind(path);
  sockets.push(socket);
  return { path, messages };
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ['--single-threaded-gc', cli, ...args], {
    env: { ...process.env, EMBODY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, output: () => output };
}

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('embody run', () => {
  it('tells systemd READY, STATUS and STOPPING, stops on SIGTERM with a controlled stop and exits 0', async () => {
    const notify = notifySocket('sigterm');
    const report = join(directory, 'sigterm.json');
    const proc = run(['run', '--broker', 'none', '--report', report], { NOTIFY_SOCKET: notify.path });
    await waitFor(() => notify.messages.some((m) => m.split('\n').includes('READY=1')), 20_000, 'READY=1');
    const ready = notify.messages.find((m) => m.includes('READY=1'))!;
    expect(ready).toMatch(/STATUS=/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    proc.child.kill('SIGTERM');
    expect(await proc.exit).toBe(0);
    expect(notify.messages.some((m) => m.includes('STOPPING=1'))).toBe(true);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.final_mode).toBe('STOPPED');
    expect(result.controlled_shutdown).toBe(true);
    expect(result.transitions.map((t) => t.to)).toEqual(expect.arrayContaining(['IDLE', 'ARMED', 'SAFE_STOP', 'STOPPED']));
  }, 60_000);

  it('stops on SIGHUP as on SIGTERM (controlled, report written, exit 0), and a --duration left to run does not hold the exit', async () => {
    const notify = notifySocket('sighup');
    const report = join(directory, 'sighup.json');
    const proc = run(['run', '--broker', 'none', '--duration', '120', '--report', report], { NOTIFY_SOCKET: notify.path });
    await waitFor(() => notify.messages.some((m) => m.split('\n').includes('READY=1')), 20_000, 'READY=1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const signalledAt = Date.now();
    proc.child.kill('SIGHUP');
    // Node's default for SIGHUP is to die at once with code null (signal) and no report.
    expect(await proc.exit).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.controlled_shutdown).toBe(true);
    expect(result.final_mode).toBe('STOPPED');
    expect(proc.output()).toMatch(/SIGHUP received/);
  }, 60_000);

  it('runs the demo until the cube is lifted and writes the report and one trace line per tick', async () => {
    const report = join(directory, 'demo.json');
    const trace = join(directory, 'demo.jsonl');
    const proc = run(['run', '--broker', 'none', '--duration', '9', '--report', report, '--trace', trace]);
    expect(await proc.exit).toBe(0);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.robot_id).toBe('sim-arm-01');
    expect(result.ticks).toBeGreaterThan(9 * 200 * 0.8);
    // The learned policy, seeing only joint state, the wrist camera and touch, lifted the cube.
    expect(result.task).toMatchObject({ object_grasped: true, object_lifted: true });
    expect(result.chunks_applied).toBeGreaterThan(10);
    expect(result.inference_latency_ms.count).toBeGreaterThan(10);
    expect(result.safety_interventions.rejected_actions).toBe(0);
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    expect(lines.length).toBe(result.trace?.lines);
    expect(result.trace?.lost).toBe(0);
    expect(lines.length).toBe(result.ticks);
    const first = JSON.parse(lines[0]) as { tick: number; position: number[]; command: number[] };
    expect(first.position).toHaveLength(7);
    expect(first.command).toHaveLength(7);
    // The commanded trajectory never jumps by more than the velocity limit allows per tick.
    let previous: number[] | undefined;
    let maxStep = 0;
    for (const line of lines) {
      const { command } = JSON.parse(line) as { command: number[] };
      if (previous) for (let j = 0; j < 6; j++) maxStep = Math.max(maxStep, Math.abs(command[j] - previous[j]));
      previous = command;
    }
    expect(maxStep).toBeLessThanOrEqual(2.0 / 200 + 1e-9);
    // Full precision, so a reader can verify the jerk limit from the trace (6 decimals added ±32 rad/s³).
    const digits = lines.flatMap((l) => (JSON.parse(l) as { command: number[] }).command.map((v) => (String(v).split('.')[1] ?? '').length));
    expect(Math.max(...digits)).toBeGreaterThan(6);
    // What the envelope was asked for rides beside what it sent: null outside RUNNING (braking or
    // holding), the policy's target while RUNNING.
    const parsed = lines.map((l) => JSON.parse(l) as { mode: string; requested: (number | null)[] });
    expect(parsed.every((l) => l.requested.length === 7)).toBe(true);
    expect(parsed.filter((l) => l.mode === 'IDLE').every((l) => l.requested.every((v) => v === null))).toBe(true);
    const running = parsed.filter((l) => l.mode === 'RUNNING');
    expect(running.length).toBeGreaterThan(100);
    expect(running.filter((l) => l.requested.every((v) => typeof v === 'number')).length).toBeGreaterThan(running.length * 0.9);
  }, 60_000);

  it('drives a different body (4-joint arm, linear delta policy) from its YAML alone', async () => {
    const report = join(directory, 'four.json');
    const trace = join(directory, 'four.jsonl');
    const proc = run(['run', '--robot', join(root, 'robots/sim-arm-4dof.yaml'), '--broker', 'none', '--duration', '3', '--report', report, '--trace', trace]);
    expect(await proc.exit).toBe(0);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.control_rate_hz).toBe(100);
    expect(result.chunks_applied).toBeGreaterThan(3);
    const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { command: number[] });
    expect(lines[0].command).toHaveLength(4);
    const span = Math.max(...lines.map((l) => l.command[0])) - Math.min(...lines.map((l) => l.command[0]));
    expect(span).toBeGreaterThan(0.01);
  }, 60_000);

  it('after a 2 s SIGSTOP the loop restarts at rest (no jump to the pre-stall velocity), reports the gap and stops', async () => {
    const report = join(directory, 'stall.json');
    const trace = join(directory, 'stall.jsonl');
    const proc = run(['run', '--broker', 'none', '--report', report, '--trace', trace]);
    await waitFor(() => proc.output().includes('"to":"RUNNING"'), 30_000, 'RUNNING');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the arm is moving now
    proc.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    proc.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    proc.child.kill('SIGTERM');
    expect(await proc.exit).toBe(0);
    const result = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    expect(result.timing.stalls).toBeGreaterThanOrEqual(1);
    expect(result.timing.longest_stall_ms).toBeGreaterThan(1500);
    expect(result.tick_lateness_us.max).toBeGreaterThan(1.5e6); // the stall shows in the lateness too
    expect(result.faults.map((f) => f.cause)).toContain('the loop missed too many deadlines (control.max_missed_fraction)');
    expect(proc.output()).toMatch(/"kind":"clock_stall".*control loop stalled for \d+ ms/);
    // Around the gap: the command was held while nothing ran, so the first command after it is
    // judged from rest. Resuming at the pre-stall velocity would be ~1.5 rad/s in one 5 ms tick.
    const robot = parse(readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8')) as { joints: { limits: { acceleration: number } }[] };
    const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tick: number; command: number[] });
    const gap = lines.findIndex((l, i) => i > 0 && l.tick - lines[i - 1].tick > 100);
    expect(gap).toBeGreaterThan(1);
    const dt = 1 / 200;
    const held = lines[gap - 1].command;
    const resumed = lines[gap].command;
    robot.joints.forEach((joint, j) => {
      const accelFromRest = Math.abs(resumed[j] - held[j]) / dt / dt;
      expect(accelFromRest).toBeLessThanOrEqual(joint.limits.acceleration * 1.01);
    });
  }, 60_000);

  it('refuses to start on a broken robot.yaml, naming the file, the field and the fix', async () => {
    const broken = join(directory, 'broken.yaml');
    const good = readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8').replace('../models/demo/policy.yaml', join(root, 'models/demo/policy.yaml'));
    writeFileSync(broken, good.replace('velocity: 1.5, acceleration: 8', 'velocity: 0, acceleration: 8'));
    const proc = run(['run', '--robot', broken, '--broker', 'none', '--duration', '1']);
    expect(await proc.exit).toBe(2);
    expect(proc.output()).toMatch(/broken\.yaml:\d+: joints\[0\]\.limits\.velocity: .*fix: /);
    const check = spawnSync(process.execPath, [cli, 'check', '--robot', broken], { encoding: 'utf8' });
    expect(check.status).toBe(2);
    expect(check.stderr).toMatch(/joints\[0\]\.limits\.velocity/);
  }, 30_000);

  it('check passes a legal but suspicious robot.yaml and prints its warning (a stop that would take 1.5e12 s)', () => {
    const slow = join(directory, 'slow-stop.yaml');
    const good = readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8').replace('../models/demo/policy.yaml', join(root, 'models/demo/policy.yaml'));
    writeFileSync(slow, good.replace('velocity: 1.5, acceleration: 8', 'velocity: 1.5, acceleration: 1e-12'));
    const check = spawnSync(process.execPath, [cli, 'check', '--robot', slow], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^ok: /);
    expect(check.stderr).toMatch(/1 warning \(not refused\):\n {2}.*slow-stop\.yaml:\d+: warning: joints\[0\]\.limits\.acceleration: joint `base_yaw` needs 1\.5e\+12 s to stop/);
  }, 30_000);

  it('model inspect and bench refuse a missing or non-ONNX file in one line naming the file and the cause, no stack', () => {
    const notOnnx = join(directory, 'not-a-model.onnx');
    writeFileSync(notOnnx, 'name: this is YAML, not ONNX\n');
    const missing = join(directory, 'missing.onnx');
    for (const command of ['inspect', 'bench']) {
      for (const [file, cause] of [
        [missing, /file not found/],
        [notOnnx, /not an ONNX model onnxruntime can load \(Protobuf parsing failed\)/],
      ] as const) {
        const args = [cli, 'model', command, file, ...(command === 'bench' ? ['--runs', '5'] : [])];
        const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
        expect(result.status, result.stderr).toBe(2);
        const lines = result.stderr.trim().split('\n');
        expect(lines, result.stderr).toHaveLength(1);
        expect(lines[0]).toContain(`embody model ${command}: ${file}: `);
        expect(lines[0]).toMatch(cause);
        expect(result.stdout).toBe('');
      }
    }
  }, 30_000);

  it('prints the robot.yaml JSON Schema', () => {
    const schema = spawnSync(process.execPath, [cli, 'schema'], { encoding: 'utf8' });
    expect(schema.status).toBe(0);
    const parsed = JSON.parse(schema.stdout) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(parsed.properties)).toEqual(expect.arrayContaining(['robot_id', 'joints', 'control', 'policy']));
    expect(parsed.required).toEqual(expect.arrayContaining(['robot_id', 'joints']));
  });
});
