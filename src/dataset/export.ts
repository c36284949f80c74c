/**
 * `embody dataset export`: recorded episodes (from any number of robots) into one LeRobotDataset
 * v3.0, laid out and typed as lerobot's own writer does (lerobot src/lerobot/datasets/: utils.py
 * for paths and info.json, dataset_writer.py and dataset_metadata.py for the data and episode
 * columns, compute_stats.py for stats, configs/video.py for the video defaults):
 *
 *   meta/info.json                                  codebase_version v3.0, fps, features, totals, paths
 *   meta/stats.json                                 per feature: min max mean std count q01 q10 q50 q90 q99
 *   meta/tasks.parquet                              task (the pandas index) → task_index
 *   meta/episodes/chunk-000/file-000.parquet        one row per episode: tasks, length, where its rows and video are
 *   data/chunk-000/file-000.parquet                 one row per frame: observation.state, action, timestamp, indices
 *   videos/observation.images.<camera>/chunk-000/file-000.mp4   every episode's frames, concatenated
 *
 * Choices where lerobot leaves room: `action` is the command the HAL sent (after the safety
 * envelope), `observation.state` the measured positions, both at the frame's control tick; a frame
 * with no instruction gets the policy's name as its task; everything goes into chunk 0, file 0
 * (lerobot starts a new file past 100 MB of data or 200 MB of video; an export that large says so).
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import type { EpisodeFrames } from './episode-frames.js';
import { aggregateStats, asImageShape, imageStats, sampleIndices, vectorStats, type FeatureStats } from './stats.js';
import { codecName, decodeJpegs, encodeVideo, type VideoCodec } from './video.js';

export interface ExportOptions {
  readonly out: string;
  readonly fps: number;
  readonly robotType?: string;
  readonly vcodec: VideoCodec;
}

export interface ExportSummary {
  readonly episodes: number;
  readonly frames: number;
  readonly tasks: string[];
  readonly videos: string[];
}

const CHUNK_FILE = 'chunk-000/file-000';
const DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';
const VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';

type Column = { name: string; data: unknown[] };
type SchemaElement = Record<string, unknown>;

const scalar = (name: string, type: string, extra: SchemaElement = {}): SchemaElement => ({ name, type, repetition_type: 'OPTIONAL', ...extra });
const list = (name: string, type: string, extra: SchemaElement = {}): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type, repetition_type: 'OPTIONAL', ...extra },
];
const STRING = { converted_type: 'UTF8' };

function writeParquet(filename: string, columns: Column[], schema: SchemaElement[], kvMetadata?: { key: string; value: string }[]): void {
  parquetWriteFile({
    filename,
    columnData: columns as never,
    schema: [{ name: 'schema', num_children: columns.length }, ...schema] as never,
    ...(kvMetadata ? { kvMetadata } : {}),
  });
}

/** JPEG width and height from its SOF marker. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } {
  for (let i = 2; i + 9 < jpeg.length; ) {
    if (jpeg[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = jpeg[i + 1];
    const length = jpeg.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  throw new Error('not a JPEG with a frame header');
}

export async function exportDataset(episodes: EpisodeFrames[], options: ExportOptions): Promise<ExportSummary> {
  if (episodes.length === 0) throw new Error('no episodes to export');
  const first = episodes[0].meta;
  for (const e of episodes) {
    const m = e.meta;
    if (m.joints.join(',') !== first.joints.join(',') || m.cameras.join(',') !== first.cameras.join(',')) {
      throw new Error(`${e.directory}: joints [${m.joints}] and cameras [${m.cameras}] differ from ${episodes[0].directory} ([${first.joints}], [${first.cameras}]): one dataset holds one kind of robot`);
    }
  }
  const { out, fps } = options;
  // Never over an existing dataset: merging into one is not what this does, and replacing one silently loses it.
  const existing = await readdir(out).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  if (existing.length > 0) throw new Error(`${out}: the output directory is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); give --out a new directory`);
  for (const dir of ['meta/episodes/chunk-000', 'data/chunk-000']) await mkdir(join(out, dir), { recursive: true });

  // Tasks, in order of first appearance.
  const taskIndex = new Map<string, number>();
  for (const e of episodes) for (const t of e.tasks) if (!taskIndex.has(t)) taskIndex.set(t, taskIndex.size);

  const videoKeys = first.cameras.map((c) => `observation.images.${c}`);
  const sizes = new Map(first.cameras.map((c) => [c, jpegSize(episodes[0].images.get(c)![0])]));
  const episodeStats: Record<string, FeatureStats>[] = [];
  let index = 0;
  const rows = { state: [] as number[][], action: [] as number[][], timestamp: [] as number[], frame: [] as bigint[], episode: [] as bigint[], index: [] as bigint[], task: [] as bigint[] };
  const episodeRows: { from: number; to: number; length: number; tasks: string[] }[] = [];
  for (const [e, frames] of episodes.entries()) {
    const n = frames.ticks.length;
    const from = index;
    for (let k = 0; k < n; k++) {
      rows.state.push(Array.from(frames.state[k]));
      rows.action.push(Array.from(frames.action[k]));
      rows.timestamp.push(k / fps);
      rows.frame.push(BigInt(k));
      rows.episode.push(BigInt(e));
      rows.index.push(BigInt(index++));
      rows.task.push(BigInt(taskIndex.get(frames.tasks[k])!));
    }
    const stats: Record<string, FeatureStats> = {
      'observation.state': vectorStats(rows.state.slice(from)),
      action: vectorStats(rows.action.slice(from)),
      timestamp: vectorStats(rows.timestamp.slice(from).map((t) => [Math.fround(t)])),
      frame_index: vectorStats(rows.frame.slice(from).map((v) => [Number(v)])),
      episode_index: vectorStats(rows.episode.slice(from).map((v) => [Number(v)])),
      index: vectorStats(rows.index.slice(from).map((v) => [Number(v)])),
      task_index: vectorStats(rows.task.slice(from).map((v) => [Number(v)])),
    };
    for (const camera of first.cameras) {
      const { width, height } = sizes.get(camera)!;
      const jpegs = frames.images.get(camera)!;
      const sampled = await decodeJpegs(sampleIndices(n).map((i) => jpegs[i]), width, height, `${frames.directory} camera ${camera}`);
      stats[`observation.images.${camera}`] = imageStats(sampled, width, height);
    }
    episodeStats.push(stats);
    episodeRows.push({ from, to: index, length: n, tasks: [...new Set(frames.tasks)] });
  }

  // Videos: every episode's frames in one file per camera; an episode is located by its timestamps.
  const videos: string[] = [];
  for (const camera of first.cameras) {
    const file = join(out, 'videos', `observation.images.${camera}`, `${CHUNK_FILE}.mp4`);
    await mkdir(join(file, '..'), { recursive: true });
    await encodeVideo(file, episodes.flatMap((e) => e.images.get(camera)!), fps, options.vcodec);
    videos.push(file);
  }

  writeData(join(out, 'data', `${CHUNK_FILE}.parquet`), rows);
  writeTasks(join(out, 'meta', 'tasks.parquet'), [...taskIndex.keys()]);
  writeEpisodes(join(out, 'meta', 'episodes', `${CHUNK_FILE}.parquet`), episodeRows, episodeStats, videoKeys, fps);

  const features = datasetFeatures(first.joints, first.cameras, sizes, fps, options.vcodec);
  const global = Object.fromEntries(Object.keys(episodeStats[0]).map((key) => [key, aggregateStats(episodeStats.map((s) => s[key]))]));
  const statsJson = Object.fromEntries(Object.entries(global).map(([key, s]) => [key, key.startsWith('observation.images.') ? asImageShape(s) : s]));
  await writeFile(join(out, 'meta', 'stats.json'), JSON.stringify(statsJson, null, 4) + '\n');
  const info = {
    codebase_version: 'v3.0',
    robot_type: options.robotType ?? null,
    total_episodes: episodes.length,
    total_frames: index,
    total_tasks: taskIndex.size,
    chunks_size: 1000,
    data_files_size_in_mb: 100,
    video_files_size_in_mb: 200,
    fps,
    splits: { train: `0:${episodes.length}` },
    data_path: DATA_PATH,
    video_path: first.cameras.length > 0 ? VIDEO_PATH : null,
    features,
  };
  await writeFile(join(out, 'meta', 'info.json'), JSON.stringify(info, null, 4) + '\n');
  const dataBytes = (await stat(join(out, 'data', `${CHUNK_FILE}.parquet`))).size;
  if (dataBytes > 100 * 1024 * 1024) process.stderr.write(`note: ${dataBytes} bytes of data in one file; lerobot would have started a second file at 100 MB (it reads this one all the same)\n`);
  return { episodes: episodes.length, frames: index, tasks: [...taskIndex.keys()], videos };
}

function datasetFeatures(joints: string[], cameras: string[], sizes: Map<string, { width: number; height: number }>, fps: number, vcodec: VideoCodec): Record<string, unknown> {
  const features: Record<string, unknown> = {
    'observation.state': { dtype: 'float32', shape: [joints.length], names: joints },
    action: { dtype: 'float32', shape: [joints.length], names: joints },
  };
  for (const camera of cameras) {
    const { width, height } = sizes.get(camera)!;
    features[`observation.images.${camera}`] = {
      dtype: 'video',
      shape: [height, width, 3],
      names: ['height', 'width', 'channels'],
      info: {
        'video.height': height,
        'video.width': width,
        'video.codec': codecName[vcodec],
        'video.pix_fmt': 'yuv420p',
        'video.is_depth_map': false,
        'video.fps': fps,
        'video.channels': 3,
        'video.g': 2,
        'video.crf': vcodec === 'libsvtav1' ? 30 : 23,
        has_audio: false,
      },
    };
  }
  // lerobot's DEFAULT_FEATURES (src/lerobot/utils/constants.py).
  features.timestamp = { dtype: 'float32', shape: [1], names: null };
  features.frame_index = { dtype: 'int64', shape: [1], names: null };
  features.episode_index = { dtype: 'int64', shape: [1], names: null };
  features.index = { dtype: 'int64', shape: [1], names: null };
  features.task_index = { dtype: 'int64', shape: [1], names: null };
  return features;
}

function writeData(file: string, rows: { state: number[][]; action: number[][]; timestamp: number[]; frame: bigint[]; episode: bigint[]; index: bigint[]; task: bigint[] }): void {
  writeParquet(
    file,
    [
      { name: 'observation.state', data: rows.state },
      { name: 'action', data: rows.action },
      { name: 'timestamp', data: rows.timestamp },
      { name: 'frame_index', data: rows.frame },
      { name: 'episode_index', data: rows.episode },
      { name: 'index', data: rows.index },
      { name: 'task_index', data: rows.task },
    ],
    [...list('observation.state', 'FLOAT'), ...list('action', 'FLOAT'), scalar('timestamp', 'FLOAT'), scalar('frame_index', 'INT64'), scalar('episode_index', 'INT64'), scalar('index', 'INT64'), scalar('task_index', 'INT64')],
  );
}

/**
 * lerobot writes tasks with pandas (`DataFrame.to_parquet`, the task text as the index named
 * "task") and reads them back with `pd.read_parquet`, which rebuilds that index from the file's
 * "pandas" metadata; without it the text would be an ordinary column and lookups by task fail.
 */
function writeTasks(file: string, tasks: string[]): void {
  const pandas = {
    index_columns: ['task'],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: [
      { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
      { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
    ],
    creator: { library: 'embody', version: '1' },
    pandas_version: '2.2.3',
  };
  writeParquet(
    file,
    [
      { name: 'task_index', data: tasks.map((_, i) => BigInt(i)) },
      { name: 'task', data: tasks },
    ],
    [scalar('task_index', 'INT64'), scalar('task', 'BYTE_ARRAY', STRING)],
    [{ key: 'pandas', value: JSON.stringify(pandas) }],
  );
}

function writeEpisodes(file: string, rows: { from: number; to: number; length: number; tasks: string[] }[], stats: Record<string, FeatureStats>[], videoKeys: string[], fps: number): void {
  const columns: Column[] = [
    { name: 'episode_index', data: rows.map((_, i) => BigInt(i)) },
    { name: 'tasks', data: rows.map((r) => r.tasks) },
    { name: 'length', data: rows.map((r) => BigInt(r.length)) },
    { name: 'data/chunk_index', data: rows.map(() => 0n) },
    { name: 'data/file_index', data: rows.map(() => 0n) },
    { name: 'dataset_from_index', data: rows.map((r) => BigInt(r.from)) },
    { name: 'dataset_to_index', data: rows.map((r) => BigInt(r.to)) },
  ];
  const schema: SchemaElement[] = [
    scalar('episode_index', 'INT64'),
    ...list('tasks', 'BYTE_ARRAY', STRING),
    scalar('length', 'INT64'),
    scalar('data/chunk_index', 'INT64'),
    scalar('data/file_index', 'INT64'),
    scalar('dataset_from_index', 'INT64'),
    scalar('dataset_to_index', 'INT64'),
  ];
  for (const key of videoKeys) {
    columns.push(
      { name: `videos/${key}/chunk_index`, data: rows.map(() => 0n) },
      { name: `videos/${key}/file_index`, data: rows.map(() => 0n) },
      { name: `videos/${key}/from_timestamp`, data: rows.map((r) => r.from / fps) },
      { name: `videos/${key}/to_timestamp`, data: rows.map((r) => r.to / fps) },
    );
    schema.push(scalar(`videos/${key}/chunk_index`, 'INT64'), scalar(`videos/${key}/file_index`, 'INT64'), scalar(`videos/${key}/from_timestamp`, 'DOUBLE'), scalar(`videos/${key}/to_timestamp`, 'DOUBLE'));
  }
  // Per-episode stats of the vector features, flattened as lerobot's flatten_dict does (stats/<feature>/<stat>).
  for (const feature of Object.keys(stats[0]).filter((k) => !k.startsWith('observation.images.'))) {
    for (const stat of ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'] as const) {
      const name = `stats/${feature}/${stat}`;
      if (stat === 'count') {
        columns.push({ name, data: stats.map((s) => s[feature].count.map((c) => BigInt(c))) });
        schema.push(...list(name, 'INT64'));
      } else {
        columns.push({ name, data: stats.map((s) => s[feature][stat]) });
        schema.push(...list(name, 'DOUBLE'));
      }
    }
  }
  columns.push({ name: 'meta/episodes/chunk_index', data: rows.map(() => 0n) }, { name: 'meta/episodes/file_index', data: rows.map(() => 0n) });
  schema.push(scalar('meta/episodes/chunk_index', 'INT64'), scalar('meta/episodes/file_index', 'INT64'));
  writeParquet(file, columns, schema);
}
