import { NEVER, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ERROR_BACKOFF_MS, GAP_RETRY_MS, InferenceStage, MAX_CONSECUTIVE_ERRORS, type ChunkPolicy, type ControlPort, type RuntimeEvent } from '../../../src/runtime/pipeline/index.js';
import { allocateShared, OperatorCommand, viewShared, type OperatorCommandCode } from '../../../src/runtime/shared-state.js';
import type { InferenceResult } from '../../../src/runtime/policy/runner.js';

/** The loop's side of the port, in memory: records commands and chunks. */
function port(): ControlPort & { commands: OperatorCommandCode[]; chunks: number } {
  const layout = { jointCount: 2, horizon: 4, actionDim: 2, worldSize: 0 };
  const shared = viewShared(layout, allocateShared(layout));
  const commands: OperatorCommandCode[] = [];
  const self = {
    shared,
    chunkRequests$: NEVER,
    mode: 3 as const,
    currentTick: 0,
    commands,
    chunks: 0,
    readSnapshot: () => true,
    counter: () => 0,
    publishChunk: () => {
      self.chunks++;
    },
    publishTouch: () => undefined,
    command: async (code: OperatorCommandCode) => {
      commands.push(code);
      return { ok: true };
    },
    drainEvents: () => [],
    drainTrace: () => 0,
    latenessPercentiles: () => ({ p50: 0, p99: 0, max: 0 }),
  };
  return self;
}

function stage(policy: ChunkPolicy, control: ControlPort, clock: { now: number }, events: RuntimeEvent[]): InferenceStage {
  return new InferenceStage({ control, policy, clock: { nowMs: () => clock.now }, frame: () => undefined, touch: { contact: [], force: [], area: [] }, instruction: () => '', emit: (e) => events.push(e) });
}

const latency = () => ({ p50: 0, p99: 0, max: 0, count: 0 });

describe('InferenceStage', () => {
  it('turns a throwing policy into events with a doubling back-off, and a run of failures into a stop', async () => {
    const control = port();
    const clock = { now: 0 };
    const events: RuntimeEvent[] = [];
    let calls = 0;
    const policy: ChunkPolicy = {
      infer: async () => {
        calls++;
        throw new Error('model exploded');
      },
      latencyPercentiles: latency,
    };
    const s = stage(policy, control, clock, events);
    s.request();
    await s.settled();
    expect(calls).toBe(1);
    // Within the back-off nothing is retried.
    clock.now += ERROR_BACKOFF_MS.first - 1;
    s.poll();
    await s.settled();
    expect(calls).toBe(1);
    for (let n = 1; n < MAX_CONSECUTIVE_ERRORS; n++) {
      clock.now += ERROR_BACKOFF_MS.max;
      s.poll();
      await s.settled();
    }
    expect(calls).toBe(MAX_CONSECUTIVE_ERRORS);
    expect(events.map((e) => e.kind)).toEqual(Array(MAX_CONSECUTIVE_ERRORS).fill('inference_error'));
    expect(events[0].message).toContain('model exploded');
    expect(events.at(-1)?.message).toContain('safe stop');
    await Promise.resolve();
    expect(control.commands).toEqual([OperatorCommand.STOP]);
    // Stopped: the request is dropped until the loop asks again.
    clock.now += ERROR_BACKOFF_MS.max;
    s.poll();
    await s.settled();
    expect(calls).toBe(MAX_CONSECUTIVE_ERRORS);
  });

  it('a policy that recovers after an error delivers its chunk and resets the count', async () => {
    const control = port();
    const clock = { now: 0 };
    const events: RuntimeEvent[] = [];
    let calls = 0;
    const policy: ChunkPolicy = {
      infer: async (sources, sink): Promise<InferenceResult> => {
        if (++calls === 1) throw new Error('once');
        sink.publishChunk(0, new Float64Array(8), 4);
        return { obsTick: 0, latencyMs: 1, gap: undefined };
      },
      latencyPercentiles: latency,
    };
    const s = stage(policy, control, clock, events);
    s.request();
    await s.settled();
    clock.now += ERROR_BACKOFF_MS.first;
    s.poll();
    await s.settled();
    expect(control.chunks).toBe(1);
    expect(s.stats).toMatchObject({ errors: 1, chunks: 1 });
    expect(control.commands).toEqual([]);
  });

  it('retries a request with a missing input until GAP_RETRY_MS, then reports the gap once and drops it', async () => {
    const control = port();
    const clock = { now: 0 };
    const events: RuntimeEvent[] = [];
    let calls = 0;
    const policy: ChunkPolicy = {
      infer: async () => {
        calls++;
        return { obsTick: 0, latencyMs: 0, gap: { missing: "camera 'wrist' has no frame yet" } };
      },
      latencyPercentiles: latency,
    };
    const s = stage(policy, control, clock, events);
    const retry$ = new Subject<void>();
    retry$.subscribe(() => s.poll());
    s.request();
    for (let t = 10; t <= GAP_RETRY_MS + 50; t += 10) {
      await s.settled();
      clock.now = t;
      retry$.next();
    }
    await s.settled();
    expect(calls).toBe(GAP_RETRY_MS / 10 + 1);
    expect(events.map((e) => e.kind)).toEqual(['observation_gap']);
    expect(events[0].message).toContain("camera 'wrist'");
  });

  it('reports a malformed output (its NaN chunk went to the loop) at most once a second', async () => {
    const control = port();
    const clock = { now: 0 };
    const events: RuntimeEvent[] = [];
    const policy: ChunkPolicy = {
      infer: async () => ({ obsTick: 0, latencyMs: 1, gap: undefined, malformed: 'output actions has shape [1, 1, 3], the manifest needs [1, 8, 4]' }),
      latencyPercentiles: latency,
    };
    const s = stage(policy, control, clock, events);
    for (const t of [0, 200, 900, 1100]) {
      clock.now = t;
      s.request();
      await s.settled();
    }
    // At 0 and 1100 ms; the ones at 200 and 900 ms fall inside the first's second.
    expect(events.map((e) => e.kind)).toEqual(['policy_output_malformed', 'policy_output_malformed']);
    expect(events[0].message).toContain('shape [1, 1, 3]');
    expect(s.stats.chunks).toBe(4);
  });
});
