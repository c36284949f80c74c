/**
 * Episode requests through the pipeline: refused with a reason while nobody records, handed
 * (without the request's kind) to the recorder that registered, and its refusal passed back.
 */
import { fileURLToPath } from 'node:url';
import { NEVER } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../../src/runtime/index.js';
import { Pipeline, type ChunkPolicy, type ControlPort, type EpisodeRequest } from '../../../src/runtime/pipeline/index.js';
import { allocateShared, viewShared } from '../../../src/runtime/shared-state.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../../robots/sim-arm.yaml', import.meta.url)));

function pipeline(): Pipeline {
  const layout = { jointCount: robot.joints.length, horizon: 4, actionDim: robot.joints.length, worldSize: 0 };
  const control: ControlPort = {
    shared: viewShared(layout, allocateShared(layout)),
    chunkRequests$: NEVER,
    mode: 3,
    currentTick: 0,
    readSnapshot: () => true,
    counter: () => 0,
    publishChunk: () => undefined,
    publishTouch: () => undefined,
    command: async () => ({ ok: true }),
    drainEvents: () => [],
    drainTrace: () => 0,
    latenessPercentiles: () => ({ p50: 0, p99: 0, max: 0 }),
  };
  const policy: ChunkPolicy = { infer: async () => ({ obsTick: 0 }) as never, latencyPercentiles: () => ({ p50: 0, p99: 0, max: 0, count: 0 }) };
  return new Pipeline({ robot, control, policy, clock: { nowMs: () => 0 } });
}

describe('Pipeline episode requests', () => {
  it('refuses them while nobody records, saying how to turn recording on', async () => {
    expect(await pipeline().command({ kind: 'episode', action: 'start' })).toEqual({ ok: false, reason: expect.stringMatching(/recording is off: add a record: section to robot.yaml or run with --record DIR/) });
  });

  it('hands them to the registered recorder and passes its refusal back; unregistering refuses again', async () => {
    const p = pipeline();
    const seen: EpisodeRequest[] = [];
    p.handleEpisodes(async (request) => {
      seen.push(request);
      return request.action === 'label' ? 'no episode is open: send start first' : undefined;
    });
    expect(await p.command({ kind: 'episode', action: 'note', note: 'slower' })).toEqual({ ok: true });
    expect(await p.command({ kind: 'episode', action: 'label', label: 'failure' })).toEqual({ ok: false, reason: 'no episode is open: send start first' });
    expect(seen).toEqual([{ action: 'note', note: 'slower' }, { action: 'label', label: 'failure' }]);
    p.handleEpisodes(undefined);
    expect((await p.command({ kind: 'episode', action: 'stop' })).ok).toBe(false);
  });
});
