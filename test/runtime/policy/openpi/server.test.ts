/**
 * `embody policy serve`'s server against a client no embody code wrote (test/support/openpi_peer.py,
 * Python's websockets, msgpack and numpy with openpi's array encoding): the metadata comes first,
 * the reply's actions are what the same model gives locally for the same observation, and a bad
 * observation is a text frame naming the key, then close 1011.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../../../src/runtime/config/index.js';
import { servePolicy, type ServedPolicy } from '../../../../src/runtime/policy/openpi/server.js';
import { PolicyRunner } from '../../../../src/runtime/policy/runner.js';
import { SnapshotRecord } from '../../../../src/runtime/records.js';

const peer = fileURLToPath(new URL('../../../support/openpi_peer.py', import.meta.url));
const robotFile = fileURLToPath(new URL('../../../../robots/sim-arm.yaml', import.meta.url));
let config: LoadedConfig;
let server: ServedPolicy;

beforeAll(async () => {
  config = await loadConfig(robotFile, { policyHost: 'inline' });
  server = await servePolicy({ session: config.session, manifest: config.manifest, robot: config.robot, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server.close();
  await config.session.release();
});

interface Described {
  dtype: string;
  shape: number[];
  values: number[];
}

function pythonClient(observation: Record<string, unknown>): Promise<{ metadata: Record<string, unknown>; reply?: Record<string, unknown>; error?: string; close_code?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [peer, 'client', server.url], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(`python client exited ${code}: ${err}`))));
    child.stdin.end(JSON.stringify(observation));
  });
}

const image = Array.from({ length: 24 * 32 * 3 }, (_, i) => (i * 7) % 256);
const state = [0.01, -1.1, 1.6, 1.0, 0, 0, 0.05, 0, 0.01, -0.02, 0.01, 0, 0, 0];
const touch = [0, 0.1, 0, 0.1];

describe('embody policy serve against a Python openpi client', { timeout: 30_000 }, () => {
  it('sends its metadata first and answers with the actions the model gives locally', async () => {
    const result = await pythonClient({
      image: { dtype: '|u1', shape: [24, 32, 3], values: image },
      state: { dtype: '<f4', shape: [14], values: state },
      touch: { dtype: '<f4', shape: [4], values: touch },
      prompt: 'pick up the cube',
    });
    expect(result.metadata).toMatchObject({ name: 'demo-reach-grasp-lift', action_horizon: 16, action_mode: 'absolute', observation_keys: ['image', 'state', 'touch'] });
    const actions = result.reply?.actions as Described;
    expect(actions.dtype).toBe('<f4');
    expect(actions.shape).toEqual([16, 7]);
    expect((result.reply?.server_timing as { infer_ms: number }).infer_ms).toBeGreaterThan(0);

    // The same observation through the local runner.
    const robot = config.robot;
    const n = robot.joints.length;
    const snapshot = new Float64Array(SnapshotRecord.size(n));
    for (let i = 0; i < n; i++) {
      snapshot[SnapshotRecord.block('position', n) + i] = Math.fround(state[i]);
      snapshot[SnapshotRecord.block('velocity', n) + i] = Math.fround(state[n + i]);
    }
    let local: number[] = [];
    await new PolicyRunner(config.session, config.manifest, robot).infer(
      {
        snapshot,
        frame: () => ({ camera: 'wrist', sequence: 0, timestampMs: performance.now(), width: 32, height: 24, data: Uint8Array.from(image) }),
        touch: { contact: [touch[0], touch[2]], force: [Math.fround(touch[1]), Math.fround(touch[3])], area: [0, 0] },
        instruction: '',
        nowMs: performance.now(),
      },
      { publishChunk: (_t, values, count) => (local = Array.from(values.subarray(0, count * 7))) },
    );
    expect(local).toHaveLength(16 * 7);
    actions.values.forEach((v, i) => expect(v).toBeCloseTo(local[i], 5));
  });

  it('answers an observation without a key the model needs with a text frame naming it, then closes 1011', async () => {
    const result = await pythonClient({ image: { dtype: '|u1', shape: [24, 32, 3], values: image }, state: { dtype: '<f4', shape: [14], values: state } });
    expect(result.error).toMatch(/the observation has no `touch`/);
    expect(result.close_code).toBe(1011);
  });

  it('refuses a state of the wrong length, naming the sizes', async () => {
    const result = await pythonClient({
      image: { dtype: '|u1', shape: [24, 32, 3], values: image },
      state: { dtype: '<f4', shape: [7], values: state.slice(0, 7) },
      touch: { dtype: '<f4', shape: [4], values: touch },
    });
    expect(result.error).toMatch(/`state` has 7 values \(shape \[7\]\), the policy needs 14/);
    expect(result.close_code).toBe(1011);
  });
});
