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
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import type { EpisodeFrames } from './episode-frames.js';
import { aggregateStats, asImageShape, imageStats, sampleIndices, vectorStats, type FeatureStats } from './stats.js';
import { codecName, decodeJpegs, ENCODER, VideoEncoder, type VideoCodec } from './video.js';

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

/** The first episode fixes the dataset's kind: every other must have its joints and cameras. */
function checkSameKind(first: EpisodeFrames, other: EpisodeFrames): void {
  const a = first.meta;
  const m = other.meta;
  if (m.joints.join(',') !== a.joints.join(',') || m.cameras.join(',') !== a.cameras.join(',')) {
    throw new Error(`${other.directory}: joints [${m.joints}] and cameras [${m.cameras}] differ from ${first.directory} ([${a.joints}], [${a.cameras}]): one dataset holds one kind of robot`);
  }
}

interface FrameRows {
  state: number[][];
  action: number[][];
  timestamp: number[];
  frame: bigint[];
  episode: bigint[];
  index: bigint[];
  task: bigint[];
}

/** One episode's rows appended, and its stats (vector features, then each camera's sampled frames). */
async function addEpisode(frames: EpisodeFrames, e: number, rows: FrameRows, taskIndex: Map<string, number>, fps: number, sizes: Map<string, { width: number; height: number }>): Promise<Record<string, FeatureStats>> {
  const n = frames.ticks.length;
  const from = rows.index.length;
  for (const t of frames.tasks) if (!taskIndex.has(t)) taskIndex.set(t, taskIndex.size);
  for (let k = 0; k < n; k++) {
    rows.state.push(Array.from(frames.state[k]));
    rows.action.push(Array.from(frames.action[k]));
    rows.timestamp.push(k / fps);
    rows.frame.push(BigInt(k));
    rows.episode.push(BigInt(e));
    rows.index.push(BigInt(from + k));
    rows.task.push(BigInt(taskIndex.get(frames.tasks[k])!));
  }
  const scalars = (values: (number | bigint)[]): number[][] => values.slice(from).map((v) => [Number(v)]);
  const stats: Record<string, FeatureStats> = {
    'observation.state': vectorStats(rows.state.slice(from)),
    action: vectorStats(rows.action.slice(from)),
    timestamp: vectorStats(rows.timestamp.slice(from).map((t) => [Math.fround(t)])),
    frame_index: vectorStats(scalars(rows.frame)),
    episode_index: vectorStats(scalars(rows.episode)),
    index: vectorStats(scalars(rows.index)),
    task_index: vectorStats(scalars(rows.task)),
  };
  for (const [camera, { width, height }] of sizes) {
    const jpegs = frames.images.get(camera)!;
    const sampled = await decodeJpegs(sampleIndices(n).map((i) => jpegs[i]), width, height, `${frames.directory} camera ${camera}`);
    stats[`observation.images.${camera}`] = imageStats(sampled, width, height);
  }
  return stats;
}

/**
 * Episodes are taken one at a time (an array or an async iterable), so memory holds one
 * episode's images: each camera's video encoder stays open across episodes.
 */
export async function exportDataset(episodes: Iterable<EpisodeFrames> | AsyncIterable<EpisodeFrames>, options: ExportOptions): Promise<ExportSummary> {
  const { out } = options;
  // Never over an existing dataset: merging into one is not what this does, and replacing one silently loses it.
  const existing = await readdir(out).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  if (existing.length > 0) throw new Error(`${out}: the output directory is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); give --out a new directory`);
  const taskIndex = new Map<string, number>();
  const episodeStats: Record<string, FeatureStats>[] = [];
  const rows: FrameRows = { state: [], action: [], timestamp: [], frame: [], episode: [], index: [], task: [] };
  const episodeRows: { from: number; to: number; length: number; tasks: string[] }[] = [];
  const encoders = new Map<string, VideoEncoder>();
  try {
    return await writeDataset(episodes, options, { taskIndex, episodeStats, rows, episodeRows, encoders });
  } catch (error) {
    // A failed export leaves nothing half-written behind (the directory was empty or absent).
    for (const encoder of encoders.values()) encoder.kill();
    await rm(out, { recursive: true, force: true });
    throw error;
  }
}

interface DatasetParts {
  readonly taskIndex: Map<string, number>;
  readonly episodeStats: Record<string, FeatureStats>[];
  readonly rows: FrameRows;
  readonly episodeRows: { from: number; to: number; length: number; tasks: string[] }[];
  readonly encoders: Map<string, VideoEncoder>;
}

async function writeDataset(episodes: Iterable<EpisodeFrames> | AsyncIterable<EpisodeFrames>, options: ExportOptions, parts: DatasetParts): Promise<ExportSummary> {
  const { out, fps } = options;
  const { taskIndex, episodeStats, rows, episodeRows, encoders } = parts;
  let first: EpisodeFrames | undefined;
  let sizes = new Map<string, { width: number; height: number }>();
  for await (const frames of episodes) {
    if (first === undefined) {
      first = frames;
      sizes = new Map(frames.meta.cameras.map((c) => [c, jpegSize(frames.images.get(c)![0])]));
      for (const dir of ['meta/episodes/chunk-000', 'data/chunk-000', ...frames.meta.cameras.map((c) => `videos/observation.images.${c}/chunk-000`)]) await mkdir(join(out, dir), { recursive: true });
      for (const camera of frames.meta.cameras) encoders.set(camera, new VideoEncoder(join(out, 'videos', `observation.images.${camera}`, `${CHUNK_FILE}.mp4`), fps, options.vcodec));
    }
    checkSameKind(first, frames);
    const from = rows.index.length;
    episodeStats.push(await addEpisode(frames, episodeRows.length, rows, taskIndex, fps, sizes));
    episodeRows.push({ from, to: rows.index.length, length: rows.index.length - from, tasks: [...new Set(frames.tasks)] });
    // Every episode's frames in one video per camera; an episode is located by its timestamps.
    for (const [camera, encoder] of encoders) await encoder.write(frames.images.get(camera)!);
  }
  if (first === undefined) throw new Error('no episodes to export');
  for (const encoder of encoders.values()) await encoder.close();
  const cameras = first.meta.cameras;
  writeData(join(out, 'data', `${CHUNK_FILE}.parquet`), rows);
  writeTasks(join(out, 'meta', 'tasks.parquet'), [...taskIndex.keys()]);
  writeEpisodes(join(out, 'meta', 'episodes', `${CHUNK_FILE}.parquet`), episodeRows, episodeStats, cameras.map((c) => `observation.images.${c}`), fps);
  const global = Object.fromEntries(Object.keys(episodeStats[0]).map((key) => [key, aggregateStats(episodeStats.map((s) => s[key]))]));
  const statsJson = Object.fromEntries(Object.entries(global).map(([key, st]) => [key, key.startsWith('observation.images.') ? asImageShape(st) : st]));
  await writeFile(join(out, 'meta', 'stats.json'), JSON.stringify(statsJson, null, 4) + '\n');
  const info = {
    codebase_version: 'v3.0',
    robot_type: options.robotType ?? null,
    total_episodes: episodeRows.length,
    total_frames: rows.index.length,
    total_tasks: taskIndex.size,
    chunks_size: 1000,
    data_files_size_in_mb: 100,
    video_files_size_in_mb: 200,
    fps,
    splits: { train: `0:${episodeRows.length}` },
    data_path: DATA_PATH,
    video_path: cameras.length > 0 ? VIDEO_PATH : null,
    features: datasetFeatures(first.meta.joints, cameras, sizes, fps, options.vcodec),
  };
  await writeFile(join(out, 'meta', 'info.json'), JSON.stringify(info, null, 4) + '\n');
  const dataBytes = (await stat(join(out, 'data', `${CHUNK_FILE}.parquet`))).size;
  if (dataBytes > 100 * 1024 * 1024) process.stderr.write(`note: ${dataBytes} bytes of data in one file; lerobot would have started a second file at 100 MB (it reads this one all the same)\n`);
  return { episodes: episodeRows.length, frames: rows.index.length, tasks: [...taskIndex.keys()], videos: [...encoders.values()].map((e) => e.file) };
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
        'video.fps': fps,
        'video.channels': 3,
        has_audio: false,
        // The encoder's settings, as lerobot records its VideoEncoderConfig (video_utils.get_video_info).
        'video.g': ENCODER[vcodec].g,
        'video.crf': ENCODER[vcodec].crf,
        'video.preset': ENCODER[vcodec].preset,
        'video.fast_decode': 0,
        is_depth_map: false,
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

function writeData(file: string, rows: FrameRows): void {
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
