/**
 * `embody dataset export` on real recordings from two simulated robots (one coached over MQTT while
 * it ran), checked by readers embody did not write: DuckDB for every Parquet file, ffprobe for the
 * video, and the LeRobotDataset v3.0 layout and fields as lerobot's datasets package writes them.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/telemetry/index.js';
import { cli, embody, root, waitFor } from '../record/support.js';

let directory: string;
let db: DuckDBConnection;
const children: ChildProcess[] = [];
const FPS = 30;

function robotFile(id: string, recordings: string): string {
  const robot = parse(readFileSync(join(root, 'robots/sim-arm.yaml'), 'utf8')) as Record<string, unknown> & { policy: { manifest: string } };
  robot.robot_id = id;
  robot.policy.manifest = join(root, 'models/demo/policy.yaml');
  robot.record = { dir: recordings };
  const file = join(directory, `${id}.yaml`);
  writeFileSync(file, stringify(robot));
  return file;
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'embody-dataset-'));
  db = await (await DuckDBInstance.create(':memory:')).connect();
  const recordings = join(directory, 'recordings');
  // Robot 1, coached while it runs: an instruction, then a note 1 s later.
  const broker = await startEmbeddedBroker({ port: 0 });
  const one = embody(['run', '--robot', robotFile('sim-arm-01', recordings), '--broker', broker.url, '--state-dir', join(directory, 'state'), '--duration', '5'], children);
  await waitFor(() => one.output().includes('episode started'), 30_000, 'the first episode');
  const operator = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  await operator.publishAsync('embody/sim-arm-01/cmd/instruction', JSON.stringify({ id: 'i1', text: 'lift the cube' }), { qos: 1 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await operator.publishAsync('embody/sim-arm-01/cmd/episode', JSON.stringify({ id: 'n1', action: 'note', note: 'hold it higher' }), { qos: 1 });
  expect(await one.exit).toBe(0);
  await operator.endAsync();
  await broker.close();
  // Robot 2, plain.
  const two = embody(['run', '--robot', robotFile('sim-arm-02', recordings), '--broker', 'none', '--duration', '3'], children);
  expect(await two.exit).toBe(0);
  const exported = spawnSync(process.execPath, [cli, 'dataset', 'export', recordings, '--out', join(directory, 'dataset'), '--fps', String(FPS), '--robot-type', 'sim-arm'], { encoding: 'utf8' });
  expect(exported.status, exported.stderr).toBe(0);
  expect(exported.stdout).toMatch(/2 episode\(s\)/);
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('embody dataset export (LeRobotDataset v3.0)', () => {
  const path = (p: string) => join(directory, 'dataset', p);
  const info = () => JSON.parse(readFileSync(path('meta/info.json'), 'utf8')) as Record<string, unknown> & { features: Record<string, { dtype: string; shape: number[]; names: unknown; info?: Record<string, unknown> }>; total_frames: number };

  it('writes info.json with lerobot v3.0 fields, features and path templates', () => {
    const i = info();
    expect(i).toMatchObject({
      codebase_version: 'v3.0',
      robot_type: 'sim-arm',
      fps: FPS,
      total_episodes: 2,
      total_tasks: 3,
      chunks_size: 1000,
      data_files_size_in_mb: 100,
      video_files_size_in_mb: 200,
      splits: { train: '0:2' },
      data_path: 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
      video_path: 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4',
    });
    expect(i.features['observation.state']).toEqual({ dtype: 'float32', shape: [7], names: ['base_yaw', 'shoulder_pitch', 'elbow_pitch', 'wrist_pitch', 'wrist_yaw', 'wrist_roll', 'gripper'] });
    expect(i.features.action.dtype).toBe('float32');
    expect(i.features['observation.images.wrist']).toMatchObject({ dtype: 'video', shape: [72, 96, 3], names: ['height', 'width', 'channels'], info: { 'video.codec': 'av1', 'video.pix_fmt': 'yuv420p', 'video.fps': FPS, 'video.g': 2, 'video.crf': 30, is_depth_map: false, has_audio: false } });
    for (const key of ['timestamp', 'frame_index', 'episode_index', 'index', 'task_index']) expect(i.features[key]).toMatchObject({ shape: [1], names: null });
  });

  it('writes frames DuckDB reads with lerobot column types, timestamps = frame_index / fps, per-frame tasks', async () => {
    const file = path('data/chunk-000/file-000.parquet');
    const types = Object.fromEntries((await rows(`DESCRIBE SELECT * FROM '${file}'`)).map((r) => [r.column_name, r.column_type]));
    expect(types).toEqual({ 'observation.state': 'FLOAT[]', action: 'FLOAT[]', timestamp: 'FLOAT', frame_index: 'BIGINT', episode_index: 'BIGINT', index: 'BIGINT', task_index: 'BIGINT' });
    const [summary] = await rows(`SELECT count(*) AS n, min("index") AS lo, max("index") AS hi, count(DISTINCT "index") AS distinct_index, max(abs(timestamp - frame_index / ${FPS})) AS worst, min(len("observation.state")) AS dims FROM '${file}'`);
    expect(Number(summary.n)).toBe(info().total_frames);
    expect([Number(summary.lo), Number(summary.hi), Number(summary.distinct_index)]).toEqual([0, Number(summary.n) - 1, Number(summary.n)]);
    expect(Number(summary.worst)).toBeLessThan(1e-4);
    expect(Number(summary.dims)).toBe(7);
    const perEpisode = await rows(`SELECT episode_index, count(*) AS n, min(frame_index) AS first, max(frame_index) AS last, list(DISTINCT task_index ORDER BY task_index) AS tasks FROM '${file}' GROUP BY episode_index ORDER BY episode_index`);
    expect(perEpisode.map((r) => [Number(r.first), Number(r.last) + 1 === Number(r.n)])).toEqual([[0, true], [0, true]]);
    // Coaching: episode 0 holds the instruction and the note as tasks of its later frames.
    expect((perEpisode[0].tasks as unknown[]).length).toBeGreaterThanOrEqual(2);
    const changes = await rows(`SELECT frame_index, t.task FROM '${file}' d JOIN '${path('meta/tasks.parquet')}' t USING (task_index) WHERE episode_index = 0 AND d.task_index <> coalesce((SELECT task_index FROM '${file}' p WHERE p.episode_index = 0 AND p.frame_index = d.frame_index - 1), -1) ORDER BY frame_index`);
    expect(changes.map((c) => c.task)).toEqual(['demo-reach-grasp-lift', 'lift the cube', 'hold it higher']);
    expect(Number(changes[2].frame_index) - Number(changes[1].frame_index)).toBeGreaterThan(0.8 * FPS);
  });

  it('writes tasks.parquet as pandas does, with the task as its index', async () => {
    const tasks = await rows(`SELECT task, task_index FROM '${path('meta/tasks.parquet')}' ORDER BY task_index`);
    expect(tasks.map((t) => [t.task, Number(t.task_index)])).toEqual([
      ['demo-reach-grasp-lift', 0],
      ['lift the cube', 1],
      ['hold it higher', 2],
    ]);
    const [kv] = await rows(`SELECT decode(value) AS v FROM parquet_kv_metadata('${path('meta/tasks.parquet')}') WHERE decode(key) = 'pandas'`);
    expect(JSON.parse(kv.v as string)).toMatchObject({ index_columns: ['task'] });
  });

  it('writes episode rows that locate each episode in the data and the video', async () => {
    const key = 'observation.images.wrist';
    const episodes = await rows(`SELECT episode_index, tasks, length, dataset_from_index AS a, dataset_to_index AS b, "videos/${key}/from_timestamp" AS t0, "videos/${key}/to_timestamp" AS t1, "data/chunk_index" AS c, "stats/action/mean" AS mean, "stats/action/count" AS count FROM '${path('meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
    expect(episodes).toHaveLength(2);
    expect(Number(episodes[0].a)).toBe(0);
    expect(Number(episodes[1].a)).toBe(Number(episodes[0].b));
    for (const e of episodes) {
      expect(Number(e.b) - Number(e.a)).toBe(Number(e.length));
      expect(Math.abs(Number(e.t0) - Number(e.a) / FPS)).toBeLessThan(1e-9);
      expect(Math.abs(Number(e.t1) - Number(e.b) / FPS)).toBeLessThan(1e-9);
      expect(e.mean as number[]).toHaveLength(7);
      expect((e.count as string[]).map(Number)).toEqual([Number(e.length)]);
    }
    expect(episodes[0].tasks).toEqual(['demo-reach-grasp-lift', 'lift the cube', 'hold it higher']);
    // The video holds every frame of every episode at the dataset's fps.
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate,width,height', '-of', 'json', path(`videos/${key}/chunk-000/file-000.mp4`)], { encoding: 'utf8' });
    const [stream] = (JSON.parse(probe.stdout) as { streams: Record<string, unknown>[] }).streams;
    expect(stream).toMatchObject({ codec_name: 'av1', pix_fmt: 'yuv420p', r_frame_rate: `${FPS}/1`, width: 96, height: 72 });
    expect(Number(stream.nb_read_frames)).toBe(info().total_frames);
    expect(Number(episodes[1].t1) * FPS).toBeCloseTo(Number(stream.nb_read_frames), 6);
  });

  it('refuses to write over an existing dataset, naming the directory and the fix', () => {
    const again = spawnSync(process.execPath, [cli, 'dataset', 'export', join(directory, 'recordings'), '--out', join(directory, 'dataset')], { encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${join(directory, 'dataset')}: the output directory is not empty`);
    expect(again.stderr).toContain('give --out a new directory');
    expect(info().total_episodes).toBe(2);
  });

  it('refuses an episode with an unfinished segment, naming the fix, and leaves no half-written dataset', () => {
    const broken = join(directory, 'broken');
    const [robotDir] = readdirSync(join(directory, 'recordings'));
    const [episode] = readdirSync(join(directory, 'recordings', robotDir));
    cpSync(join(directory, 'recordings', robotDir, episode), join(broken, 'b', episode), { recursive: true });
    cpSync(join(directory, 'recordings'), join(broken, 'a'), { recursive: true });
    writeFileSync(join(broken, 'b', episode, 'segment-00009.mcap.part'), 'cut');
    const out = join(directory, 'broken-dataset');
    const result = spawnSync(process.execPath, [cli, 'dataset', 'export', join(broken, 'a'), join(broken, 'b'), '--out', out, '--vcodec', 'libx264'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`segment-00009.mcap.part: an unfinished segment; run \`embody record recover`);
    expect(existsSync(out)).toBe(false);
  });

  it('writes stats.json with the ten stats of every feature, images per channel in 0..1', () => {
    const stats = JSON.parse(readFileSync(path('meta/stats.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const keys = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'];
    for (const feature of Object.keys(info().features)) expect(Object.keys(stats[feature]).sort()).toEqual([...keys].sort());
    const s = stats['observation.state'] as Record<string, number[]>;
    expect(s.count).toEqual([info().total_frames]);
    for (let j = 0; j < 7; j++) {
      expect(s.min[j]).toBeLessThanOrEqual(s.q01[j]);
      expect(s.q01[j]).toBeLessThanOrEqual(s.q50[j]);
      expect(s.q50[j]).toBeLessThanOrEqual(s.q99[j]);
      expect(s.q99[j]).toBeLessThanOrEqual(s.max[j]);
    }
    expect(s.max[6] - s.min[6]).toBeGreaterThan(0.01); // the gripper closed on the cube
    const image = stats['observation.images.wrist'] as Record<string, number[][][]>;
    expect(image.mean).toHaveLength(3);
    for (const channel of image.mean) {
      expect(channel).toHaveLength(1);
      expect(channel[0][0]).toBeGreaterThan(0);
      expect(channel[0][0]).toBeLessThan(1);
    }
  });
});
