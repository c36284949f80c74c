/**
 * The control worker for real (a worker thread running the sim plant at 200 Hz), driven the
 * way the pipeline drives it: operator commands, chunk requests and answers, shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { fileURLToPath } from 'node:url';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { ControlThread } from '../../src/runtime/control-thread.js';
import { Cause, Counter, EventKind, Mode, OperatorCommand } from '../../src/runtime/shared-state.js';
import { SnapshotRecord } from '../../src/runtime/records.js';
import { hardwareWorldSize } from '../../src/hal/index.js';

const robotFile = fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url));
const robot = loadRobotDescription(robotFile);
const jointCount = robot.joints.length;
const horizon = 16;
const ticksPerAction = 10;

let control: ControlThread | undefined;

function start(): ControlThread {
  control = new ControlThread({
    robot,
    horizon,
    outputJoints: robot.joints.map((_, i) => i),
    ticksPerAction,
    blendSteps: 3,
    replanAfter: 4,
    autoArm: false,
    worldSize: hardwareWorldSize(robot, { kind: 'sim' }),
    realtimePriority: 0,
    hardware: { kind: 'sim' },
  });
  return control;
}

function snapshotOf(c: ControlThread): Float64Array {
  const snapshot = new Float64Array(c.snapshotSize);
  expect(c.readSnapshot(snapshot)).toBe(true);
  return snapshot;
}

/** A chunk that holds the current command plus `offset` on every joint. */
function holdChunk(c: ControlThread, offset = 0, value?: number): Float64Array {
  const snapshot = snapshotOf(c);
  const chunk = new Float64Array(horizon * jointCount);
  for (let k = 0; k < horizon; k++) {
    for (let j = 0; j < jointCount; j++) chunk[k * jointCount + j] = value ?? snapshot[SnapshotRecord.block('command', jointCount) + j] + offset;
  }
  return chunk;
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  await control?.shutdown(2000);
  control = undefined;
});

describe('control worker', () => {
  it('boots to IDLE and reports READY only after healthy ticks', async () => {
    const c = start();
    expect(c.mode).toBe(Mode.BOOT);
    await c.ready;
    expect(c.mode).toBe(Mode.IDLE);
    const events = c.drainEvents();
    expect(events[0]).toMatchObject({ kind: EventKind.MODE_CHANGE, from: Mode.BOOT, to: Mode.IDLE, code: Cause.LOOP_HEALTHY });
    // The 20th healthy tick (ticks count from 0) is the first that may announce READY.
    expect(events[0].tick).toBeGreaterThanOrEqual(19);
  });

  it('arms, asks for a chunk, runs it, and refuses what the mode does not allow', async () => {
    const c = start();
    await c.ready;
    const firstRequest = firstValueFrom(c.chunkRequests$);
    expect(await c.command(OperatorCommand.ARM)).toEqual({ ok: true });
    expect(c.mode).toBe(Mode.ARMED);
    await firstRequest;
    const start0 = snapshotOf(c)[SnapshotRecord.block('command', jointCount)];
    c.publishChunk(snapshotOf(c)[0], holdChunk(c, 0.05), horizon);
    await waitFor(() => c.mode === Mode.RUNNING);
    expect(await c.command(OperatorCommand.ARM)).toMatchObject({ ok: false });
    // The chunk's first action is 10 ticks (50 ms) ahead; after 300 ms the command is there.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(snapshotOf(c)[SnapshotRecord.block('command', jointCount)]).toBeCloseTo(start0 + 0.05, 3);
    expect(c.counter(Counter.CHUNKS_APPLIED)).toBeGreaterThanOrEqual(1);
  });

  it('stop latches SAFE_STOP: arm is refused until reset, reset returns to IDLE', async () => {
    const c = start();
    await c.ready;
    await c.command(OperatorCommand.ARM);
    expect(await c.command(OperatorCommand.STOP)).toEqual({ ok: true });
    expect(c.mode).toBe(Mode.SAFE_STOP);
    const refused = await c.command(OperatorCommand.ARM);
    expect(refused.ok).toBe(false);
    expect(refused.reason).toMatch(/reset/);
    let reset = await c.command(OperatorCommand.RESET);
    for (let i = 0; i < 50 && !reset.ok; i++) reset = await c.command(OperatorCommand.RESET);
    expect(reset).toEqual({ ok: true });
    expect(c.mode).toBe(Mode.IDLE);
    // stop is never refused, not even in IDLE.
    expect(await c.command(OperatorCommand.STOP)).toEqual({ ok: true });
  });

  it('rejects NaN actions, holds, and trips SAFE_STOP after the configured number in a row', async () => {
    const c = start();
    await c.ready;
    const requests = c.chunkRequests$.pipe(take(1), toArray());
    await c.command(OperatorCommand.ARM);
    await firstValueFrom(requests);
    const held = snapshotOf(c).slice(SnapshotRecord.block('command', jointCount), SnapshotRecord.size(jointCount));
    c.publishChunk(snapshotOf(c)[0], holdChunk(c, 0, Number.NaN), horizon);
    await waitFor(() => c.mode === Mode.SAFE_STOP);
    expect(c.counter(Counter.REJECTED_ACTIONS)).toBe(robot.control.max_consecutive_rejections);
    const events = c.drainEvents();
    expect(events.some((e) => e.kind === EventKind.MODE_CHANGE && e.to === Mode.SAFE_STOP && e.code === Cause.REJECTION_LIMIT)).toBe(true);
    const command = snapshotOf(c).slice(SnapshotRecord.block('command', jointCount), SnapshotRecord.size(jointCount));
    for (let j = 0; j < jointCount; j++) expect(Number.isFinite(command[j])).toBe(true);
    for (let j = 0; j < jointCount; j++) expect(command[j]).toBeCloseTo(held[j], 2);
  });

  it('holds position and counts starvation when no chunk comes, without leaving RUNNING', async () => {
    const c = start();
    await c.ready;
    await c.command(OperatorCommand.ARM);
    await firstValueFrom(c.chunkRequests$);
    // One short chunk, then silence.
    c.publishChunk(snapshotOf(c)[0], holdChunk(c, 0), 2);
    await waitFor(() => c.counter(Counter.STARVED_TICKS) > 40);
    expect(c.mode).toBe(Mode.RUNNING);
    const events = c.drainEvents();
    expect(events.some((e) => e.kind === EventKind.STARVATION_BEGIN)).toBe(true);
  });

  it('shuts down with a controlled stop and exits cleanly', async () => {
    const c = start();
    await c.ready;
    await c.command(OperatorCommand.ARM);
    const result = await c.shutdown();
    expect(result).toEqual({ controlled: true, exitCode: 0 });
    expect(c.mode).toBe(Mode.STOPPED);
    control = undefined;
  });
});
