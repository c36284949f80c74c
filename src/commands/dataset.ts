/**
 * `embody dataset export RECORDINGS... --out DIR`: every finished episode under the given
 * directories (one robot's recordings, or many robots' collected side by side) into one
 * LeRobotDataset v3.0 (docs/RECORDING.md).
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exportDataset, readEpisodeFrames, readReplayEpisode, STALE_IMAGE_MS, replayPolicy, type EpisodeFrames, type VideoCodec } from '../dataset/index.js';
import { EPISODE_FILE } from '../record/index.js';

export interface DatasetExportCliOptions {
  out: string;
  fps: number;
  robotType?: string;
  vcodec: VideoCodec;
}

async function findEpisodes(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name === EPISODE_FILE)) return [dir];
  const found: string[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) found.push(...(await findEpisodes(join(dir, e.name))));
  return found;
}

export async function datasetExportCommand(recordings: string[], options: DatasetExportCliOptions): Promise<number> {
  try {
    const dirs = (await Promise.all(recordings.map((r) => findEpisodes(resolve(r))))).flat();
    if (dirs.length === 0) throw new Error(`no episodes (directories with ${EPISODE_FILE}) under ${recordings.join(', ')}`);
    // One episode in memory at a time.
    const episodes = async function* (): AsyncGenerator<EpisodeFrames> {
      for (const dir of dirs) {
        const frames = await readEpisodeFrames(dir, options.fps);
        // Held images are exported (a dataset frame needs one), but not silently.
        for (const [camera, n] of frames.staleImages) if (n > 0) process.stderr.write(`note: ${dir}: ${n} of ${frames.ticks.length} frames hold a '${camera}' image more than ${STALE_IMAGE_MS} ms old (the camera stalled or was pulled)\n`);
        yield frames;
      }
    };
    const started = performance.now();
    const summary = await exportDataset(episodes(), { out: resolve(options.out), fps: options.fps, vcodec: options.vcodec, ...(options.robotType ? { robotType: options.robotType } : {}) });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`wrote ${options.out}: ${summary.episodes} episode(s), ${summary.frames} frames at ${options.fps} fps, ${summary.tasks.length} task(s), ${summary.videos.length} video(s) in ${seconds.toFixed(1)} s\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`embody dataset export: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

export interface DatasetReplayCliOptions {
  episode: number;
  robot: string;
  duration?: number;
  report?: string;
  trace?: string;
  broker?: string;
  logLevel: string;
}

/** `embody dataset replay DATASET`: `embody run` with the dataset's actions in place of the model. */
export async function datasetReplayCommand(dataset: string, options: DatasetReplayCliOptions): Promise<number> {
  let episode;
  try {
    episode = await readReplayEpisode(resolve(dataset), options.episode);
  } catch (error) {
    process.stderr.write(`embody dataset replay: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const { runCommand } = await import('./robot.js');
  return runCommand(
    { robot: options.robot, logLevel: options.logLevel, record: false, broker: options.broker ?? 'none', ...(options.duration ? { duration: options.duration } : {}), ...(options.report ? { report: options.report } : {}), ...(options.trace ? { trace: options.trace } : {}) },
    (output) => replayPolicy(episode, output),
  );
}
