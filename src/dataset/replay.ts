/**
 * Open-loop replay of an exported episode: a chunk source that answers the loop's requests with
 * the dataset's `action` column instead of a model, so a dataset can be checked by driving the
 * robot (or the simulator on the same seed) with it. Time starts at the first request: action k
 * of a chunk for the observation at tick T belongs to tick T + (k+1)·ticksPerAction, which is
 * dataset frame round((that tick − first request tick) / rate · fps), held at the last frame.
 * The data file is read with hyparquet; the envelope still shapes every command.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import type { ChunkPolicy, ChunkSink, InferenceResult, ObservationSources, PolicyOutput } from '../runtime/index.js';

export interface ReplayEpisode {
  readonly fps: number;
  readonly joints: readonly string[];
  readonly actions: Float64Array[];
}

interface InfoJson {
  fps?: unknown;
  codebase_version?: unknown;
  features?: { action?: { names?: unknown } };
}

/** Episode `episode` of the LeRobotDataset v3.0 at `dataset` (chunk 0, file 0, as embody writes it). */
export async function readReplayEpisode(dataset: string, episode: number): Promise<ReplayEpisode> {
  const infoFile = join(dataset, 'meta', 'info.json');
  const info = JSON.parse(await readFile(infoFile, 'utf8')) as InfoJson;
  if (info.codebase_version !== 'v3.0') throw new Error(`${infoFile}: field 'codebase_version' is ${JSON.stringify(info.codebase_version)}, replay reads v3.0`);
  const names = info.features?.action?.names;
  if (typeof info.fps !== 'number' || !Array.isArray(names)) throw new Error(`${infoFile}: needs 'fps' and 'features.action.names'`);
  const file = join(dataset, 'data', 'chunk-000', 'file-000.parquet');
  const bytes = await readFile(file);
  const rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), columns: ['episode_index', 'frame_index', 'action'] })) as { episode_index: bigint | number; frame_index: bigint | number; action: number[] }[];
  const mine = rows.filter((r) => Number(r.episode_index) === episode).sort((a, b) => Number(a.frame_index) - Number(b.frame_index));
  if (mine.length === 0) throw new Error(`${file}: no frames of episode ${episode}`);
  return { fps: info.fps, joints: names as string[], actions: mine.map((r) => Float64Array.from(r.action)) };
}

export function replayPolicy(episode: ReplayEpisode, output: PolicyOutput): ChunkPolicy {
  const columns = output.joints.map((name) => {
    const i = episode.joints.indexOf(name);
    if (i < 0) throw new Error(`the dataset's actions have no joint '${name}' (they have ${episode.joints.join(', ')}): replay a dataset of this robot`);
    return i;
  });
  const chunk = new Float64Array(output.horizon * output.joints.length);
  let origin: number | undefined;
  let calls = 0;
  return {
    async infer(sources: ObservationSources, sink: ChunkSink): Promise<InferenceResult> {
      const obsTick = sources.snapshot[0];
      origin ??= obsTick;
      calls++;
      for (let k = 0; k < output.horizon; k++) {
        const tick = obsTick + (k + 1) * output.ticksPerAction;
        const frame = Math.min(episode.actions.length - 1, Math.max(0, Math.round(((tick - origin) / output.rateHz) * episode.fps)));
        const action = episode.actions[frame];
        for (let j = 0; j < columns.length; j++) chunk[k * columns.length + j] = action[columns[j]];
      }
      sink.publishChunk(obsTick, chunk, output.horizon);
      return { obsTick, latencyMs: 0, gap: undefined };
    },
    latencyPercentiles: () => ({ p50: 0, p99: 0, max: 0, count: calls }),
  };
}
