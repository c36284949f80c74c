/**
 * The recorder in a real `embody run` on the simulated arm: episodes per RUNNING span in MCAP
 * segments that @mcap/core's indexed reader opens, one time base across channels, a kill -9 that
 * loses at most the last second (read back by the stream reader, then recovered by
 * `embody record recover` and by the next start), and a disk quota that stops recording while the
 * robot keeps running.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EpisodeMeta } from '../../src/record/index.js';
import { cli, embody, readIndexed, readStream, root, waitFor, type ReadMessage } from './support.js';

let directory: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'embody-record-'));
  expect(spawnSync(process.execPath, [cli, '--help']).status).toBe(0);
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** The sim arm with a `record:` section, written next to the test's recordings. */
function robotWith(name: string, record: Record<string, unknown>): string {
  const robot = parse(readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8')) as Record<string, { manifest?: string }>;
  robot.policy.manifest = join(root, 'models/demo/policy.yaml');
  (robot as Record<string, unknown>).record = record;
  const file = join(directory, `${name}.yaml`);
  writeFileSync(file, stringify(robot));
  return file;
}

function episodes(dir: string): string[] {
  const robotDir = join(dir, 'sim-arm-01');
  return existsSync(robotDir) ? readdirSync(robotDir).sort().map((e) => join(robotDir, e)) : [];
}

function files(episode: string, suffix: string): string[] {
  return readdirSync(episode).filter((f) => f.endsWith(suffix)).sort().map((f) => join(episode, f));
}

function meta(episode: string): EpisodeMeta {
  return JSON.parse(readFileSync(join(episode, 'episode.json'), 'utf8')) as EpisodeMeta;
}

const tickOf = (m: ReadMessage, base: EpisodeMeta['time_base']): number => Number((m.logTime - BigInt(base.tick0_unix_ns)) / BigInt(base.period_ns));

describe('embody run --record', () => {
  it('writes an episode per RUNNING span as rotating MCAP segments on the control tick time base', async () => {
    const dir = join(directory, 'clean');
    const robot = robotWith('clean', { dir, segment_seconds: 2 });
    const proc = embody(['run', '--robot', robot, '--broker', 'none', '--duration', '7'], children);
    expect(await proc.exit).toBe(0);
    const [episode, ...more] = episodes(dir);
    expect(more).toHaveLength(0);
    const m = meta(episode);
    expect(m).toMatchObject({ robot_id: 'sim-arm-01', complete: true, ended_by: 'running_span', cameras: ['wrist'], fingertips: ['left_pad', 'right_pad'] });
    expect(m.robot_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.policy.model_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(files(episode, '.part')).toHaveLength(0);
    const segments = files(episode, '.mcap');
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const all: ReadMessage[] = [];
    for (const segment of segments) {
      const read = await readIndexed(segment);
      expect(read.metadata[0].get('period_ns')).toBe(m.time_base.period_ns);
      expect(read.chunks).toBeGreaterThan(1); // small chunks: a crash loses little
      all.push(...read.messages);
    }
    const by = (topic: string) => all.filter((x) => x.topic === topic);
    expect(by('/joint_states')[0].schemaName).toBe('foxglove.JointStates');
    expect(by('/camera/wrist')[0].schemaName).toBe('foxglove.CompressedImage');
    expect(by('/log')[0].schemaName).toBe('foxglove.Log');
    // Every tick of the span once, in order, and the command of the same ticks.
    const stateTicks = by('/joint_states').map((x) => tickOf(x, m.time_base));
    const commandTicks = by('/command').map((x) => x.body.tick as number);
    expect(stateTicks).toEqual(commandTicks);
    expect(new Set(stateTicks).size).toBe(stateTicks.length);
    expect(stateTicks[0]).toBe(m.start_tick);
    expect(stateTicks.at(-1)).toBeLessThan(m.stop_tick!);
    expect(stateTicks.length).toBeGreaterThan(0.97 * (m.stop_tick! - m.start_tick));
    expect((by('/joint_states')[0].body.joints as unknown[]).length).toBe(7);
    // One time base: the log time of every message that names its tick is that tick's time.
    for (const x of all) if (typeof x.body.tick === 'number') expect(tickOf(x, m.time_base)).toBe(x.body.tick);
    // Chunks carry their observation tick, from before they arrived.
    const chunks = by('/action_chunk');
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(c.body.obs_tick as number).toBeLessThanOrEqual(c.body.tick as number);
      expect((c.body.actions as number[][])[0]).toHaveLength((c.body.joints as string[]).length);
    }
    // JPEG frames at about the camera's 30 fps, with touch per pad at the same ticks.
    const frames = by('/camera/wrist');
    const spanS = (m.stop_tick! - m.start_tick) / m.control_rate_hz;
    expect(frames.length).toBeGreaterThan(0.8 * 30 * spanS);
    expect(m.frames.wrist.recorded).toBe(frames.length);
    const jpeg = Buffer.from(frames[0].body.data as string, 'base64');
    expect([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
    const probe = join(directory, 'frame.jpg');
    writeFileSync(probe, jpeg);
    const info = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', probe], { encoding: 'utf8' });
    expect(JSON.parse(info.stdout)).toMatchObject({ streams: [{ codec_name: 'mjpeg', width: 96, height: 72 }] });
    expect(by('/touch/left_pad').length).toBeGreaterThan(0.8 * frames.length);
    expect(by('/episode').map((x) => x.body.action)).toEqual(['start']);
    // The episode opens with the change to RUNNING and closes with the change out of it.
    const modes = by('/events').filter((x) => x.body.kind === 'mode_change');
    expect(modes.map((x) => [x.body.from, x.body.to])).toEqual([['ARMED', 'RUNNING'], ['RUNNING', 'SAFE_STOP']]);
    expect(modes[0].body.tick).toBe(m.start_tick);
    expect(modes[1].body.tick).toBe(m.stop_tick);
  }, 60_000);

  it('loses at most the last second to kill -9; the stream reader reads the cut segment and recovery makes it whole', async () => {
    const dir = join(directory, 'killed');
    const robot = robotWith('killed', { dir, segment_seconds: 60 });
    const proc = embody(['run', '--robot', robot, '--broker', 'none'], children);
    await waitFor(() => proc.output().includes('episode started'), 30_000, 'the episode to start');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const killedAtNs = BigInt(Date.now()) * 1_000_000n;
    proc.child.kill('SIGKILL');
    await proc.exit;
    const [episode] = episodes(dir);
    const [part] = files(episode, '.mcap.part');
    expect(part).toBeDefined();
    await expect(readIndexed(part)).rejects.toThrow();
    const cut = await readStream(part);
    const states = cut.messages.filter((x) => x.topic === '/joint_states');
    expect(states.length).toBeGreaterThan(2 * 200);
    const lastNs = states.at(-1)!.logTime;
    expect(Number(killedAtNs - lastNs) / 1e6).toBeLessThan(1000);

    const recover = spawnSync(process.execPath, [cli, 'record', 'recover', dir], { encoding: 'utf8' });
    expect(recover.status).toBe(0);
    expect(recover.stdout).toMatch(/recovered .*segment-00000\.mcap: \d+ messages kept/);
    expect(files(episode, '.part')).toHaveLength(0);
    const whole = await readIndexed(join(episode, 'segment-00000.mcap'));
    expect(whole.messages.length).toBe(cut.messages.length);
    const m = meta(episode);
    expect(m).toMatchObject({ complete: false, ended_by: 'crash', recovered: [{ segment: 'segment-00000.mcap', messages: cut.messages.length }] });
    expect(m.stop_tick).toBe(tickOf(states.at(-1)!, m.time_base) + 1);
    const ls = spawnSync(process.execPath, [cli, 'record', 'ls', dir], { encoding: 'utf8' });
    expect(ls.stdout).toContain('incomplete (crash)');
    const info = spawnSync(process.execPath, [cli, 'record', 'info', episode], { encoding: 'utf8' });
    expect(info.status).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ ended_by: 'crash', segments: [{ name: 'segment-00000.mcap', unfinished: false }] });
    const notEpisode = spawnSync(process.execPath, [cli, 'record', 'info', dir], { encoding: 'utf8' });
    expect(notEpisode.status).toBe(1);
    expect(notEpisode.stderr).toMatch(/episode\.json: not a readable episode file/);
  }, 60_000);

  it('recovers a segment cut by kill -9 when embody starts again', async () => {
    const dir = join(directory, 'restart');
    const robot = robotWith('restart', { dir, segment_seconds: 60 });
    const first = embody(['run', '--robot', robot, '--broker', 'none'], children);
    await waitFor(() => first.output().includes('episode started'), 30_000, 'the episode to start');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    first.child.kill('SIGKILL');
    await first.exit;
    const [cut] = episodes(dir);
    expect(files(cut, '.part')).toHaveLength(1);
    const second = embody(['run', '--robot', robot, '--broker', 'none', '--duration', '2'], children);
    expect(await second.exit).toBe(0);
    expect(second.output()).toContain('recovered a segment a crash left unfinished');
    expect(files(cut, '.part')).toHaveLength(0);
    expect((await readIndexed(files(cut, '.mcap')[0])).messages.length).toBeGreaterThan(100);
    expect(episodes(dir)).toHaveLength(2);
    expect(meta(episodes(dir)[1]).complete).toBe(true);
  }, 60_000);

  it('embody check warns when recording camera frames needs an ffmpeg that is not on PATH', () => {
    const robot = robotWith('check', { dir: join(directory, 'check') });
    const without = spawnSync(process.execPath, [cli, 'check', '--robot', robot], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
    expect(without.status).toBe(0);
    expect(without.stderr).toContain('warning: record.cameras: jpeg needs ffmpeg on PATH');
    const withFfmpeg = spawnSync(process.execPath, [cli, 'check', '--robot', robot], { encoding: 'utf8' });
    expect(withFfmpeg.status).toBe(0);
    expect(withFfmpeg.stderr).not.toContain('needs ffmpeg');
  }, 60_000);

  it('stops recording at the disk quota with an event, deletes nothing, and the robot keeps running', async () => {
    const dir = join(directory, 'quota');
    const quota = 400_000;
    const robot = robotWith('quota', { dir, quota_bytes: quota, segment_seconds: 1 });
    const report = join(directory, 'quota-report.json');
    const proc = embody(['run', '--robot', robot, '--broker', 'none', '--duration', '8', '--report', report], children);
    expect(await proc.exit).toBe(0);
    expect(proc.output()).toContain('record_quota_reached');
    const [episode] = episodes(dir);
    const m = meta(episode);
    expect(m.ended_by).toBe('quota');
    const bytes = readdirSync(episode).reduce((sum, f) => sum + statSync(join(episode, f)).size, 0);
    expect(bytes).toBeGreaterThanOrEqual(quota);
    expect(bytes).toBeLessThan(quota + 300_000); // at most about one chunk past it
    for (const segment of files(episode, '.mcap')) expect((await readIndexed(segment)).messages.length).toBeGreaterThan(0);
    const result = JSON.parse(readFileSync(report, 'utf8')) as { ticks: number; task: { object_lifted: boolean } };
    expect(result.ticks).toBeGreaterThan(8 * 200 * 0.8);
    expect(result.task.object_lifted).toBe(true);
  }, 60_000);
});
