/**
 * The openpi client against a protocol peer no embody code wrote (test/support/openpi_peer.py:
 * Python, Debian's websockets 10.4, msgpack and numpy, speaking openpi's server protocol), errors
 * included: each failure ends in the local policy driving, with a `policy_fallback` that says why,
 * and the server drives again only after a run of on-time answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../../../src/hal/types.js';
import { loadRobotDescription } from '../../../../src/runtime/config/index.js';
import type { PolicyManifest } from '../../../../src/runtime/policy/manifest.js';
import type { ObservationSources } from '../../../../src/runtime/policy/observation.js';
import { RemoteBrain, type BrainEvent, type LocalPolicy } from '../../../../src/runtime/policy/openpi/brain.js';
import { SnapshotRecord } from '../../../../src/runtime/records.js';
import type { RobotDescription } from '../../../../src/robot/index.js';

const peer = fileURLToPath(new URL('../../../support/openpi_peer.py', import.meta.url));
const robot: RobotDescription = loadRobotDescription(fileURLToPath(new URL('../../../../robots/sim-arm.yaml', import.meta.url)));
const joints = robot.joints.map((j) => j.name);
const modes = ['ok', 'error_after_2', 'nan', 'wrong_shape', 'slow_600', 'bad_key', 'needs_key'] as const;
const base = 20000 + Math.floor(Math.random() * 20000);
const port = (mode: (typeof modes)[number]): number => base + modes.indexOf(mode);
const children: ChildProcess[] = [];

function startPeer(at: number, list: readonly string[]): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn('/usr/bin/python3', [peer, 'serve', String(at), list.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve({ child, exited }));
    void exited.then((code) => reject(new Error(`peer exited ${String(code)}: ${err}`)));
  });
}

beforeAll(async () => {
  await startPeer(base, modes);
}, 60_000);
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

const manifest: PolicyManifest = {
  name: 'peer',
  source: { kind: 'openpi', url: 'ws://unused', healthy_round_trips: 3 },
  rate_hz: 20,
  replan_after: 4,
  blend_steps: 3,
  inputs: [
    { kind: 'camera', name: 'observation/image', camera: 'wrist', width: 8, height: 6, layout: 'NHWC', channels: 'rgb', scale: 1 },
    { kind: 'joint_state', name: 'observation/state', joints, fields: ['position'] },
    { kind: 'instruction', name: 'prompt', max_length: 64 },
  ],
  output: { name: 'actions', horizon: 16, joints, mode: 'absolute', units: robot.joints.map((j) => (j.type === 'prismatic' ? 'm' : 'rad')) },
};

function sources(): ObservationSources {
  const snapshot = new Float64Array(SnapshotRecord.size(joints.length));
  snapshot[SnapshotRecord.header.tick] = 42;
  joints.forEach((_, i) => (snapshot[SnapshotRecord.block('position', joints.length) + i] = 0.1 * i));
  const frame: Frame = { camera: 'wrist', sequence: 1, timestampMs: performance.now(), width: 32, height: 24, data: new Uint8Array(32 * 24 * 3).fill(51) };
  return { snapshot, frame: () => ({ ...frame, timestampMs: performance.now() }), touch: { contact: [], force: [], area: [] }, instruction: 'lift the cube', nowMs: performance.now() };
}

/** The local policy: a recognisable chunk (all 7), so the test sees which brain answered. */
const local: LocalPolicy = {
  async infer(s, sink) {
    sink.publishChunk(s.snapshot[SnapshotRecord.header.tick], new Float64Array(16 * joints.length).fill(7), 16);
    return { obsTick: s.snapshot[SnapshotRecord.header.tick], latencyMs: 0, gap: undefined };
  },
  latencyPercentiles: () => ({ p50: 0, p99: 0, max: 0, count: 0 }),
};

function brainFor(at: number, options: { deadlineMs?: number; withLocal?: boolean; apiKey?: string } = {}): { brain: RemoteBrain; events: BrainEvent[]; chunks: { count: number; values: number[] }[]; ask(): Promise<void> } {
  const events: BrainEvent[] = [];
  const chunks: { count: number; values: number[] }[] = [];
  const brain = new RemoteBrain({
    url: `ws://127.0.0.1:${at}`,
    manifest,
    robot,
    ...(options.withLocal === false ? {} : { local }),
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    deadlineMs: options.deadlineMs ?? 2000,
    healthyRoundTrips: 3,
    emit: (e) => events.push(e),
  });
  const sink = { publishChunk: (_t: number, v: Float64Array, count: number) => chunks.push({ count, values: Array.from(v.subarray(0, count * joints.length)) }) };
  return { brain, events, chunks, ask: async () => void (await brain.infer(sources(), sink)) };
}

describe('openpi remote brain against a Python openpi-protocol server', { timeout: 30_000 }, () => {
  it('answers GET /healthz with OK, as openpi\'s server does', async () => {
    const response = await fetch(`http://127.0.0.1:${port('ok')}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('OK\n');
  });

  it('sends uint8 HWC images, float32 state and the prompt, and maps the reply\'s actions to joints', async () => {
    const { brain, events, chunks, ask } = brainFor(port('ok'));
    await ask();
    brain.close();
    expect(events).toEqual([]);
    expect(brain.metadata).toMatchObject({ policy: 'openpi-peer', action_horizon: 16 });
    expect(chunks).toHaveLength(1);
    const { count, values } = chunks[0];
    expect(count).toBe(16);
    // The peer answers state[d] + 0.01 (k + 1), and the image mean / 255 in the last joint.
    for (let k = 0; k < 16; k++) {
      for (let d = 0; d < joints.length - 1; d++) expect(values[k * joints.length + d]).toBeCloseTo(0.1 * d + 0.01 * (k + 1), 5);
      expect(values[k * joints.length + joints.length - 1]).toBeCloseTo(51 / 255, 5);
    }
    expect(brain.brain()).toMatchObject({ driving: 'remote', remote_chunks: 1, local_chunks: 0, fallbacks: 0 });
  });

  it('falls back when the server errors (text frame, close 1011), naming the server\'s error', async () => {
    const { brain, events, chunks, ask } = brainFor(port('error_after_2'));
    await ask();
    await ask();
    await ask();
    brain.close();
    expect(chunks.map((c) => c.values[0] === 7)).toEqual([false, false, true]);
    expect(events[0]).toMatchObject({ kind: 'policy_fallback', cause: 'server_error', from: 'remote', to: 'local' });
    expect(events[0].message).toContain('RuntimeError: the model ran out of GPU memory');
    expect(brain.driving).toBe('local');
  });

  it.each([
    ['nan', /`actions`\[2, 0\] is NaN/],
    ['wrong_shape', /shape \[16, 6\], the manifest needs \[horizon, 7\]/],
    ['bad_key', /KeyError: 'observation\/wrist_image'/],
  ] as const)('falls back on a %s answer with a reason that names it', async (mode, reason) => {
    const { brain, events, chunks, ask } = brainFor(port(mode));
    await ask();
    brain.close();
    expect(chunks).toHaveLength(1);
    expect(chunks[0].values.every((v) => v === 7)).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0].kind).toBe('policy_fallback');
    expect(events[0].message).toMatch(reason);
  });

  it('falls back when a chunk misses its deadline, and the late answer is thrown away', async () => {
    const { brain, events, chunks, ask } = brainFor(port('slow_600'), { deadlineMs: 120 });
    const started = performance.now();
    await ask();
    const took = performance.now() - started;
    expect(took).toBeLessThan(500); // the local policy answered at the deadline, not after the server's 600 ms
    expect(events[0]).toMatchObject({ kind: 'policy_fallback', cause: 'deadline' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // the late reply arrives and is dropped
    await ask();
    brain.close();
    expect(chunks).toHaveLength(2);
    expect(chunks.every((c) => c.values[0] === 7)).toBe(true);
    expect(brain.brain()).toMatchObject({ driving: 'local', remote_chunks: 0, local_chunks: 2, fallbacks: 1, restores: 0 });
  });

  it('sends the API key as `Authorization: Api-Key KEY`; without it the server refuses and the local policy drives', async () => {
    const keyed = brainFor(port('needs_key'), { apiKey: 's3cret' });
    await keyed.ask();
    keyed.brain.close();
    expect(keyed.events).toEqual([]);
    expect(keyed.chunks[0].values[0]).not.toBe(7);
    const bare = brainFor(port('needs_key'));
    await bare.ask();
    bare.brain.close();
    expect(bare.chunks[0].values[0]).toBe(7);
    expect(bare.events[0]).toMatchObject({ kind: 'policy_fallback', cause: 'connect' });
    expect(bare.events[0].message).toMatch(/401/);
  });

  it('with no local policy a failure is an inference error (the loop holds, the pipeline stops)', async () => {
    const { brain, events, ask } = brainFor(port('nan'), { withLocal: false });
    await expect(ask()).rejects.toThrow(/no local policy to fall back on/);
    brain.close();
    expect(events[0]).toMatchObject({ kind: 'policy_fallback', to: 'none' });
  });

  it('a killed server: fallback, reconnect with back-off, and the server drives again after 3 on-time answers', async () => {
    const at = base + 100;
    const dying = await startPeer(at, ['die_after_3']);
    const { brain, events, chunks, ask } = brainFor(at);
    for (let i = 0; i < 3; i++) await ask();
    await ask(); // the 4th request kills the server mid-chunk
    expect(events[0]).toMatchObject({ kind: 'policy_fallback', cause: 'closed' });
    expect(chunks.map((c) => c.values[0] === 7)).toEqual([false, false, false, true]);
    await dying.exited;
    await startPeer(at, ['ok']);
    const deadline = Date.now() + 20_000;
    while (brain.driving !== 'remote' && Date.now() < deadline) {
      await ask();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await ask();
    brain.close();
    expect(events[1]).toMatchObject({ kind: 'policy_restored', from: 'local', to: 'remote', cause: '3 on-time round trips' });
    expect(chunks[chunks.length - 1].values[0]).not.toBe(7);
    expect(brain.brain()).toMatchObject({ fallbacks: 1, restores: 1 });
  }, 60_000);
});
