/**
 * The queue in front of the loop's one mailbox cell: a flood cannot delay an estop, repeats
 * coalesce, and the queue is bounded. Unit rules against a sender the test releases tick by
 * tick, then the real control worker under a flood of 10 000 stops.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { hardwareWorldSize } from '../../src/hal/index.js';
import { CommandQueue, MAX_WAITING } from '../../src/runtime/command-queue.js';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { ControlThread } from '../../src/runtime/control-thread.js';
import type { CommandOutcome } from '../../src/runtime/pipeline/index.js';
import { Mode, OperatorCommand, type OperatorCommandCode } from '../../src/runtime/shared-state.js';

/** A mailbox that takes a command only when the test says a tick passed. */
function mailbox(): { queue: CommandQueue; sent: OperatorCommandCode[]; tick: () => Promise<void> } {
  const sent: OperatorCommandCode[] = [];
  let release: (() => void) | undefined;
  const queue = new CommandQueue(
    (code) =>
      new Promise<CommandOutcome>((resolve) => {
        sent.push(code);
        release = () => resolve({ ok: true });
      }),
  );
  const tick = async (): Promise<void> => {
    const r = release;
    release = undefined;
    r?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { queue, sent, tick };
}

describe('CommandQueue', () => {
  it('a flood of stops is one stop; an estop behind it goes next', async () => {
    const { queue, sent, tick } = mailbox();
    const arm = queue.submit(OperatorCommand.ARM, 1000); // in the mailbox
    const stops = Array.from({ length: 10_000 }, () => queue.submit(OperatorCommand.STOP, 1000));
    const estop = queue.submit(OperatorCommand.ESTOP, 1000);
    expect(queue.waiting).toBe(2);
    await tick(); // arm answered, estop overtakes the stop
    await tick();
    await tick();
    expect(sent).toEqual([OperatorCommand.ARM, OperatorCommand.ESTOP, OperatorCommand.STOP]);
    expect((await arm).ok).toBe(true);
    expect((await estop).ok).toBe(true);
    const answers = await Promise.all(stops);
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(queue.stats.coalesced).toBe(9_999);
  });

  it('a stop supersedes waiting arms and resets, answering them why', async () => {
    const { queue, sent, tick } = mailbox();
    void queue.submit(OperatorCommand.DISARM, 1000);
    const reset = queue.submit(OperatorCommand.RESET, 1000);
    const arm = queue.submit(OperatorCommand.ARM, 1000);
    const stop = queue.submit(OperatorCommand.STOP, 1000);
    expect(await reset).toEqual({ ok: false, reason: expect.stringMatching(/superseded by a later stop/) });
    expect((await arm).ok).toBe(false);
    await tick();
    await tick();
    expect(sent).toEqual([OperatorCommand.DISARM, OperatorCommand.STOP]);
    expect((await stop).ok).toBe(true);
  });

  it('repeats right behind each other coalesce; beyond MAX_WAITING others are refused, a stop never', async () => {
    const { queue, tick } = mailbox();
    void queue.submit(OperatorCommand.DISARM, 1000); // in the mailbox
    const a = queue.submit(OperatorCommand.ARM, 1000);
    const b = queue.submit(OperatorCommand.ARM, 1000);
    expect(a).toBe(b);
    for (let i = 1; i < MAX_WAITING; i++) void queue.submit(i % 2 ? OperatorCommand.RESET : OperatorCommand.ARM, 1000);
    expect(queue.waiting).toBe(MAX_WAITING);
    expect(await queue.submit(OperatorCommand.DISARM, 1000)).toEqual({ ok: false, reason: expect.stringMatching(/already waiting/) });
    expect(queue.stats.refused).toBe(1);
    const stop = queue.submit(OperatorCommand.STOP, 1000);
    expect(queue.waiting).toBe(1);
    await tick();
    await tick();
    expect((await stop).ok).toBe(true);
  });
});

describe('the control worker under a command flood', () => {
  let control: ControlThread | undefined;
  afterEach(async () => {
    await control?.shutdown(1000);
    control = undefined;
  });

  it('answers an estop sent after 10 000 stops within a few ticks', async () => {
    const robot = loadRobotDescription(fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url)));
    control = new ControlThread({
      robot,
      horizon: 16,
      outputJoints: robot.joints.map((_, i) => i),
      ticksPerAction: 10,
      blendSteps: 3,
      replanAfter: 4,
      autoArm: true,
      worldSize: hardwareWorldSize(robot, { kind: 'sim' }),
      realtimePriority: 0,
      hardware: { kind: 'sim' },
    });
    await control.ready;
    const stops = Array.from({ length: 10_000 }, () => control!.command(OperatorCommand.STOP));
    const t0 = performance.now();
    const estop = await control.command(OperatorCommand.ESTOP);
    const ms = performance.now() - t0;
    expect(estop.ok).toBe(true);
    expect(ms).toBeLessThan(250); // a handful of 5 ms ticks, not 10 000 of them (45 s before)
    expect((await Promise.all(stops)).every((s) => s.ok)).toBe(true);
    expect(control.mode).toBe(Mode.FAULT);
  }, 30_000);
});
