/**
 * An episode on disk: a directory `<dir>/<robot_id>/<start time>-<n>/` holding `episode.json`
 * (what it is: robot, configuration hashes, embody version, tasks, label, notes, interventions)
 * and its MCAP segments `segment-00000.mcap`, `segment-00001.mcap`, … . The metadata is written
 * when the episode starts and rewritten (atomically: temporary file, then rename) whenever it
 * changes, so a crash leaves the last complete version.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EPISODE_FILE = 'episode.json';
export const EPISODE_FORMAT = 'embody.episode/1';

export type EpisodeLabel = 'success' | 'failure';
export type EpisodeEnd = 'running_span' | 'operator' | 'quota' | 'shutdown' | 'write_error' | 'crash';

export interface EpisodeTask {
  /** Control tick from which this task holds. */
  readonly tick: number;
  readonly text: string;
  readonly source: 'instruction' | 'coaching';
}

export interface EpisodeMeta {
  format: typeof EPISODE_FORMAT;
  id: string;
  robot_id: string;
  embody_version: string;
  robot_file: string;
  robot_sha256: string;
  policy: { name: string; manifest_sha256: string; model_sha256: string };
  control_rate_hz: number;
  joints: string[];
  cameras: string[];
  fingertips: string[];
  start_tick: number;
  stop_tick?: number;
  start_time: string;
  stop_time?: string;
  /** The task text in force from each tick on (the instruction at the start, then every change and coaching note). */
  tasks: EpisodeTask[];
  label?: EpisodeLabel;
  notes: { tick: number; text: string }[];
  /** Safety interventions and stops during the episode, by event kind. */
  interventions: Record<string, number>;
  /** Camera frames recorded, and dropped (encoder busy), per camera. */
  frames: Record<string, { recorded: number; dropped: number }>;
  ended_by?: EpisodeEnd;
  /** A message's control tick is (log_time - tick0_unix_ns) / period_ns (decimal strings: they exceed 2^53). */
  time_base: { tick0_unix_ns: string; period_ns: string };
  /** True once the episode was closed cleanly (every segment has its footer). */
  complete: boolean;
  /** Segments recovered from a crash, with what was kept. */
  recovered?: { segment: string; messages: number; lost_bytes: number }[];
}

export async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

let version: string | undefined;

/** embody's version from its package.json (src/record/ or dist/src/record/ → the package root). */
export async function embodyVersion(): Promise<string> {
  if (version !== undefined) return version;
  const root = new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url);
  const pkg = JSON.parse(await readFile(fileURLToPath(new URL('package.json', root)), 'utf8')) as { version?: unknown };
  version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  return version;
}

export async function writeEpisodeMeta(directory: string, meta: EpisodeMeta): Promise<void> {
  const file = join(directory, EPISODE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(meta, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

export async function readEpisodeMeta(directory: string): Promise<EpisodeMeta> {
  const file = join(directory, EPISODE_FILE);
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not a readable episode file (${error instanceof Error ? error.message : String(error)})`);
  }
  if (data === null || typeof data !== 'object' || (data as { format?: unknown }).format !== EPISODE_FORMAT) {
    throw new Error(`${file}: field 'format' is not '${EPISODE_FORMAT}': not an embody episode (or from a newer embody)`);
  }
  return data as EpisodeMeta;
}

/** Segment file name number `n`. */
export function segmentName(n: number): string {
  return `segment-${String(n).padStart(5, '0')}.mcap`;
}
