/**
 * Episodes by operator command: a real `embody run` with `record.episodes: manual`, commanded over
 * a real MQTT broker (aedes on a loopback port) on `cmd/episode` and `cmd/instruction`, answered on
 * `cmd/ack`; the episode's metadata and its MCAP marks say what the operator did and when.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EpisodeMeta } from '../../src/record/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/telemetry/index.js';
import { cli, embody, readIndexed, root, waitFor } from './support.js';

let directory: string;
const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'embody-episodes-'));
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const close of closers.splice(0)) await close();
});

describe('cmd/episode', () => {
  it('starts, notes, labels and stops an episode on operator command; refusals say why', async () => {
    const broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0 });
    closers.push(() => broker.close());
    const dir = join(directory, 'manual');
    const robot = parse(readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8')) as Record<string, unknown> & { policy: { manifest: string } };
    robot.policy.manifest = join(root, 'models/demo/policy.yaml');
    robot.record = { dir, episodes: 'manual' };
    const robotFile = join(directory, 'manual.yaml');
    writeFileSync(robotFile, stringify(robot));
    const proc = embody(['run', '--robot', robotFile, '--broker', broker.url, '--state-dir', join(directory, 'state')], children);
    await waitFor(() => proc.output().includes('recorder ready') && proc.output().includes('mode RUNNING'), 30_000, 'the robot running');

    const operator = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    closers.push(() => operator.endAsync());
    const acks = new Map<string, { ok: boolean; reason?: string }>();
    operator.on('message', (_topic, payload) => {
      const ack = JSON.parse(payload.toString()) as { id: string; ok: boolean; reason?: string };
      acks.set(ack.id, ack);
    });
    await operator.subscribeAsync('embody/sim-arm-01/cmd/ack', { qos: 1 });
    const send = async (topic: string, body: Record<string, unknown>): Promise<{ ok: boolean; reason?: string }> => {
      await operator.publishAsync(`embody/sim-arm-01/${topic}`, JSON.stringify(body), { qos: 1 });
      await waitFor(() => acks.has(body.id as string), 10_000, `the ack of ${body.id as string}`);
      return acks.get(body.id as string)!;
    };

    // Manual: RUNNING began no episode; a label needs one.
    expect(readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)))).toHaveLength(0);
    expect(await send('cmd/episode', { id: 'e0', action: 'label', label: 'success' })).toMatchObject({ ok: false, reason: expect.stringMatching(/no episode is open/) });
    expect(await send('cmd/instruction', { id: 'i1', text: 'pick up the cube' })).toMatchObject({ ok: true });
    expect(await send('cmd/episode', { id: 'e1', action: 'start' })).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await send('cmd/episode', { id: 'e2', action: 'note', note: 'squeeze gently' })).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await send('cmd/episode', { id: 'e3', action: 'label', label: 'success' })).toMatchObject({ ok: true });
    expect(await send('cmd/episode', { id: 'e4', action: 'stop' })).toMatchObject({ ok: true });
    await waitFor(() => proc.output().includes('episode stopped'), 10_000, 'the episode to stop');
    proc.child.kill('SIGTERM');
    expect(await proc.exit).toBe(0);

    const robotDir = join(dir, 'sim-arm-01');
    const [episode, ...more] = readdirSync(robotDir).map((e) => join(robotDir, e));
    expect(more).toHaveLength(0);
    const meta = JSON.parse(readFileSync(join(episode, 'episode.json'), 'utf8')) as EpisodeMeta;
    expect(meta).toMatchObject({ label: 'success', ended_by: 'operator', complete: true });
    expect(meta.tasks.map((t) => [t.text, t.source])).toEqual([
      ['pick up the cube', 'instruction'],
      ['squeeze gently', 'coaching'],
    ]);
    const [start, note] = meta.tasks.map((t) => t.tick);
    expect(note - start).toBeGreaterThan(0.8 * 200);
    expect(meta.stop_tick! - note).toBeGreaterThan(0.8 * 200);
    const messages = (await Promise.all(readdirSync(episode).filter((f) => f.endsWith('.mcap')).sort().map((f) => readIndexed(join(episode, f))))).flatMap((r) => r.messages);
    expect(messages.filter((m) => m.topic === '/episode').map((m) => m.body.action)).toEqual(['start', 'note', 'label']);
    expect(messages.filter((m) => m.topic === '/instruction').map((m) => [m.body.text, m.body.tick])).toEqual([
      ['pick up the cube', start],
      ['squeeze gently', note],
    ]);
  }, 60_000);
});
