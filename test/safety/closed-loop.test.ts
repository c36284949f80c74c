/**
 * The envelope in the real control worker, closed around the simulated arm at 200 Hz, against
 * adversarial policies built here: one that answers NaN, one far outside the limits, one that
 * flips between the limits at the control rate, one that stops answering. Every tick of the
 * trace is checked against the limits of robot.yaml. Then the e-stop (latency, categories,
 * brake line, reset rules) and monitored standstill.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { hardwareWorldSize } from '../../src/hal/index.js';
import type { RobotDescription } from '../../src/robot/index.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { ControlThread } from '../../src/runtime/control-thread.js';
import {
  CommandResult,
  Counter,
  Ctrl,
  EventKind,
  Mode,
  OperatorCommand,
  type ModeCode,
} from '../../src/runtime/shared-state.js';
import { SnapshotRecord, TraceRecord } from '../../src/runtime/records.js';
import { Intervention, STALL_PERIODS, WorkspaceGuard } from '../../src/safety/index.js';

const robotFile = fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url));
const baseRobot = loadRobotDescription(robotFile);
const n = baseRobot.joints.length;
const horizon = 16;
const dt = 1 / baseRobot.control.rate_hz;

interface TraceRecord {
  tick: number;
  mode: ModeCode;
  estop: number;
  powered: number;
  position: Float64Array;
  command: Float64Array;
}

let control: ControlThread | undefined;
let policy: Subscription | undefined;

afterEach(async () => {
  policy?.unsubscribe();
  policy = undefined;
  await control?.shutdown(2000);
  control = undefined;
});

function start(robot: RobotDescription = baseRobot, ticksPerAction = 10): ControlThread {
  control = new ControlThread({
    robot,
    horizon,
    outputJoints: robot.joints.map((_, i) => i),
    ticksPerAction,
    blendSteps: 0,
    replanAfter: 4,
    autoArm: false,
    worldSize: hardwareWorldSize(robot, { kind: 'sim' }),
    realtimePriority: 0,
    hardware: { kind: 'sim' },
  });
  return control;
}

function commandNow(c: ControlThread): Float64Array {
  const snapshot = new Float64Array(c.snapshotSize);
  c.readSnapshot(snapshot);
  return snapshot.slice(SnapshotRecord.block('command', n), SnapshotRecord.block('command', n) + n);
}

/** What a policy answers: the target of `joint` at action `step`, given the current command. */
type Policy = (step: number, joint: number, command: Float64Array) => number;

/** Answer every chunk request with `policy`, while `answering()` says so. */
function serve(c: ControlThread, policy_: Policy, answering: () => boolean = () => true): void {
  let k = 0;
  policy = c.chunkRequests$.subscribe(() => {
    if (!answering()) return;
    const command = commandNow(c);
    const chunk = new Float64Array(horizon * n);
    for (let s = 0; s < horizon; s++) for (let j = 0; j < n; j++) chunk[s * n + j] = policy_(k * horizon + s, j, command);
    c.publishChunk(ControlThread.snapshotTick(c.shared.snapshot), chunk, horizon);
    k++;
  });
}

/** Joint 0 drifts steadily (so the arm is moving), the rest hold. */
const drift: Policy = (step, j, command) => (j === 0 ? command[0] + 0.01 * ((step % horizon) + 1) : command[j]);

async function collect(c: ControlThread, ms: number, into: TraceRecord[]): Promise<void> {
  const deadline = performance.now() + ms;
  const drain = (): void => {
    c.drainTrace((r) =>
      into.push({
        tick: r[TraceRecord.header.tick],
        mode: r[TraceRecord.header.mode] as ModeCode,
        estop: r[TraceRecord.header.estop],
        powered: r[TraceRecord.header.powered],
        position: r.slice(TraceRecord.block('position', n), TraceRecord.block('position', n) + n),
        command: r.slice(TraceRecord.block('command', n), TraceRecord.block('command', n) + n),
      }),
    );
  };
  while (performance.now() < deadline) {
    drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  drain();
}

async function waitFor(predicate: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every limit violation in the trace: hard position limits, and velocity/acceleration/jerk of the commands. */
function violations(records: TraceRecord[], robot: RobotDescription = baseRobot): string[] {
  const out: string[] = [];
  const tolerance = 1e-6;
  for (let j = 0; j < n; j++) {
    const { position, velocity, acceleration, jerk } = robot.joints[j].limits;
    let v0 = 0;
    let a0 = 0;
    let steps = 0; // envelope steps since the last start from rest
    for (let k = 0; k < records.length; k++) {
      const r = records[k];
      const p = r.command[j];
      if (p < position[0] || p > position[1]) out.push(`tick ${r.tick} joint ${j}: command ${p} outside [${position[0]}, ${position[1]}]`);
      if (r.position[j] < position[0] - 1e-9 || r.position[j] > position[1] + 1e-9) out.push(`tick ${r.tick} joint ${j}: measured ${r.position[j]} outside`);
      // Consecutive records are consecutive envelope steps even when the clock skipped a tick
      // number (a missed deadline): the envelope steps once per executed tick.
      if (k === 0 || r.powered === 0 || records[k - 1].powered === 0) {
        v0 = 0;
        a0 = 0;
        steps = 0;
        continue;
      }
      // A stall (more than STALL_PERIODS deadlines missed before a tick: the host held the loop off the CPU, as a
      // loaded 2-core machine does) re-seeds the envelope at rest at the held command: the
      // first command after it is judged from rest, as the HIL judges it.
      if (r.tick - records[k - 1].tick - 1 > STALL_PERIODS) {
        v0 = 0;
        a0 = 0;
        steps = 1;
      }
      steps++;
      const v = (p - records[k - 1].command[j]) / dt;
      const a = (v - v0) / dt;
      const jk = (a - a0) / dt;
      if (Math.abs(v) > velocity * (1 + tolerance) + 1e-9) out.push(`tick ${r.tick} joint ${j}: velocity ${v} > ${velocity}`);
      if (steps >= 2 && Math.abs(a) > acceleration * (1 + tolerance) + 1e-6) out.push(`tick ${r.tick} joint ${j}: acceleration ${a} > ${acceleration}`);
      if (steps >= 3 && Math.abs(jk) > jerk * (1 + tolerance) + 1e-3) out.push(`tick ${r.tick} joint ${j}: jerk ${jk} > ${jerk}`);
      v0 = v;
      a0 = a;
    }
  }
  return out;
}

async function armed(c: ControlThread): Promise<void> {
  await c.ready;
  expect((await c.command(OperatorCommand.ARM)).ok).toBe(true);
}

describe('adversarial policies on the simulated arm', () => {
  it('NaN everywhere: every action rejected, the arm holds, SAFE_STOP after the configured count, zero violations', async () => {
    const c = start();
    await armed(c);
    const records: TraceRecord[] = [];
    serve(c, () => Number.NaN);
    await collect(c, 800, records);
    expect(c.mode).toBe(Mode.SAFE_STOP);
    expect(c.counter(Counter.REJECTED_ACTIONS)).toBeGreaterThanOrEqual(baseRobot.control.max_consecutive_rejections);
    expect(violations(records)).toEqual([]);
    const home = records[0].command;
    for (const r of records) for (let j = 0; j < n; j++) expect(Math.abs(r.command[j] - home[j])).toBeLessThan(1e-6);
  });

  it('far outside the limits: clamped and shaped, every joint ends at a limit, never past it', async () => {
    // Without the workspace box, which would (rightly) stop the arm before its joint limits.
    const c = start({ ...baseRobot, safety: { ...baseRobot.safety, workspace: undefined } });
    await armed(c);
    const records: TraceRecord[] = [];
    serve(c, (_step, j) => (j % 2 === 0 ? 100 : -100));
    await collect(c, 3500, records);
    expect(c.mode).toBe(Mode.RUNNING);
    expect(violations(records)).toEqual([]);
    expect(c.counter(Counter.POSITION_CLAMPS)).toBeGreaterThan(100);
    const last = records[records.length - 1].command;
    baseRobot.joints.forEach((joint, j) => {
      const limit = j % 2 === 0 ? joint.limits.position[1] : joint.limits.position[0];
      expect(Math.abs(last[j] - limit)).toBeLessThan(0.01);
    });
    const events = c.drainEvents().filter((e) => e.kind === EventKind.INTERVENTION && e.code === Intervention.POSITION_CLAMP);
    expect(events.length).toBeGreaterThanOrEqual(n);
    expect(events[0].joint).toBeGreaterThanOrEqual(0);
    // The queue interpolates toward the far target, so what reached the envelope is beyond the limit, not 100 itself.
    expect(Math.abs(events[0].requested)).toBeGreaterThan(Math.abs(events[0].commanded));
  });

  it('far outside the limits with the workspace box: the fingertips stay in the box (within the braking graze)', async () => {
    const c = start();
    await armed(c);
    const records: TraceRecord[] = [];
    serve(c, (_step, j) => (j % 2 === 0 ? 100 : -100));
    await collect(c, 2500, records);
    expect(violations(records)).toEqual([]);
    const guard = new WorkspaceGuard(baseRobot, baseRobot.safety.workspace!);
    const worst = Math.max(...records.map((r) => guard.excursion(r.command)));
    expect(worst).toBeLessThan(0.005);
    expect(c.counter(Counter.INTERVENTION_COUNTS + Math.log2(Intervention.WORKSPACE))).toBeGreaterThan(0);
  });

  it('flipping between the limits at the control rate: shaped, zero violations, bounded motion', async () => {
    const c = start(baseRobot, 1);
    await armed(c);
    const records: TraceRecord[] = [];
    serve(c, (step, j) => {
      const [lo, hi] = baseRobot.joints[j].limits.position;
      return step % 2 === 0 ? lo : hi;
    });
    await collect(c, 2500, records);
    expect(violations(records)).toEqual([]);
    expect(c.counter(Counter.SHAPED_TICKS)).toBeGreaterThan(200);
    // A jerk-limited joint cannot follow a 100 Hz square wave: the motion stays small.
    const spread = Math.max(...records.map((r) => r.command[1])) - Math.min(...records.map((r) => r.command[1]));
    expect(spread).toBeLessThan(0.05);
  });

  it('stops answering: holds, then a controlled stop to rest within the action timeout, and resumes when actions return', async () => {
    const c = start();
    await armed(c);
    const records: TraceRecord[] = [];
    let answering = true;
    serve(c, drift, () => answering);
    await collect(c, 800, records);
    answering = false;
    const silentFrom = ControlThread.snapshotTick(c.shared.snapshot);
    await collect(c, 1500, records);
    expect(c.mode).toBe(Mode.RUNNING);
    expect(violations(records)).toEqual([]);
    const events = c.drainEvents();
    const stale = events.find((e) => e.kind === EventKind.STALE_ACTIONS && e.value === 1);
    expect(stale).toBeDefined();
    const timeoutTicks = (baseRobot.safety.action_timeout_ms / 1000) * baseRobot.control.rate_hz;
    expect(stale!.tick - silentFrom).toBeLessThanOrEqual(timeoutTicks + horizon * 10 + 2);
    const tail = records.slice(-20);
    for (const r of tail) expect(r.command[0]).toBeCloseTo(tail[0].command[0], 9);
    expect(c.counter(Counter.STALE_ACTION_TICKS)).toBeGreaterThan(0);
    answering = true;
    await waitFor(() => c.drainEvents().some((e) => e.kind === EventKind.STALE_ACTIONS && e.value === 0));
  });
});

describe('e-stop', () => {
  for (const category of [0, 1] as const) {
    it(`category ${category}: the tick that first reads the line pressed already commands the stop, FAULT latches, reset needs release`, async () => {
      const robot: RobotDescription = { ...baseRobot, estop: { kind: 'sim', stop_category: category }, brake_output: { kind: 'sim' } };
      const c = start(robot);
      await armed(c);
      serve(c, drift);
      const records: TraceRecord[] = [];
      await collect(c, 600, records);
      expect(c.mode).toBe(Mode.RUNNING);
      expect(c.simBrakeLine).toBe(1);
      const before = c.setSimEstop(1);
      await collect(c, 800, records);
      const first = records.findIndex((r) => r.estop === 1);
      expect(first).toBeGreaterThan(0);
      const pressed = records[first];
      // Sampled at the start of the tick, stopped in the same tick: at most one period after the edge.
      expect(pressed.tick - before).toBeLessThanOrEqual(2);
      expect(pressed.mode).toBe(Mode.FAULT);
      if (category === 0) {
        expect(pressed.powered).toBe(0);
        expect(c.simBrakeLine).toBe(0);
      } else {
        expect(pressed.powered).toBe(1);
        // The command decelerates from that tick on: velocity shrinks monotonically to rest.
        const velocity = (k: number): number => (records[k].command[0] - records[k - 1].command[0]) / dt;
        expect(Math.abs(velocity(first + 3))).toBeLessThan(Math.abs(velocity(first - 1)) + 1e-9);
        expect(records[records.length - 1].powered).toBe(0);
        expect(c.simBrakeLine).toBe(0);
        expect(violations(records.slice(0, first + 200))).toEqual([]);
      }
      expect(c.mode).toBe(Mode.FAULT);
      expect(await c.command(OperatorCommand.ARM)).toMatchObject({ ok: false });
      const refused = await c.command(OperatorCommand.RESET);
      expect(refused.ok).toBe(false);
      expect(refused.reason).toMatch(/still pressed/);
      c.setSimEstop(0);
      await waitFor(() => Atomics.load(c.shared.control, Ctrl.ESTOP_LEVEL) === 0);
      expect(c.mode).toBe(Mode.FAULT);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(c.mode).toBe(Mode.FAULT);
      expect((await c.command(OperatorCommand.RESET)).ok).toBe(true);
      expect(c.mode).toBe(Mode.IDLE);
      await waitFor(() => c.simBrakeLine === 1);
      const kinds = c.drainEvents().map((e) => e.kind);
      expect(kinds).toContain(EventKind.ESTOP);
      expect(kinds).toContain(EventKind.DRIVE_POWER);
    });
  }

  it('the software e-stop reaches the same latch, and is never refused', async () => {
    const c = start();
    await c.ready;
    expect((await c.command(OperatorCommand.ESTOP)).ok).toBe(true);
    expect(c.mode).toBe(Mode.FAULT);
    expect(c.counter(Counter.ESTOP_TRIPS)).toBe(1);
    expect((await c.command(OperatorCommand.ESTOP)).ok).toBe(true);
  });
});

describe('unexpected contact', () => {
  it('a pad that starts touching while the gripper is not closing raises an event naming the gripper', async () => {
    const c = start();
    await armed(c);
    serve(c, (_step, j, command) => command[j]);
    await waitFor(() => c.mode === Mode.RUNNING);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const tick = (): number => ControlThread.snapshotTick(c.shared.snapshot);
    const stamp = setInterval(() => c.publishTouch(0.2, tick(), true), 20);
    await waitFor(() => c.drainEvents().some((e) => e.kind === EventKind.UNEXPECTED_CONTACT && e.joint === baseRobot.joints.findIndex((j) => j.name === 'gripper')));
    clearInterval(stamp);
  });
});

describe('monitored standstill', () => {
  it('a push on a held joint trips FAULT with an event naming the joint', async () => {
    const c = start();
    await c.ready;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(c.mode).toBe(Mode.IDLE);
    c.pushSimJoint(2, 0.2);
    await waitFor(() => c.mode === Mode.FAULT);
    const event = c.drainEvents().find((e) => e.kind === EventKind.STANDSTILL_VIOLATION);
    expect(event).toMatchObject({ joint: 2 });
    expect(Math.abs(event!.commanded - event!.requested)).toBeGreaterThan(0.02);
    expect(c.counter(Counter.STANDSTILL_FAULTS)).toBe(1);
    const reset = await c.command(OperatorCommand.RESET);
    expect(reset.ok).toBe(true);
    expect(CommandResult.ACCEPTED).toBe(0);
  });
});
