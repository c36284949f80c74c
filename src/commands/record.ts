/**
 * `embody record ls|info|recover`: what recordings a robot holds, one episode in detail, and the
 * recovery of segments a crash left unfinished (the same recovery `embody run` does at start).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EPISODE_FILE, PART_SUFFIX, readEpisodeMeta, recoverRecordings, type EpisodeMeta } from '../record/index.js';

/** Every episode directory under `dir` (a directory holding episode.json), sorted. */
async function episodeDirs(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === EPISODE_FILE)) found.push(d);
    for (const e of entries) if (e.isDirectory()) await visit(join(d, e.name));
  };
  await visit(dir);
  return found.sort();
}

async function segmentsOf(dir: string): Promise<{ name: string; bytes: number; unfinished: boolean }[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.mcap') || n.endsWith(`.mcap${PART_SUFFIX}`)).sort();
  return Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(dir, name))).size, unfinished: name.endsWith(PART_SUFFIX) })));
}

function seconds(meta: EpisodeMeta): string {
  return meta.stop_tick === undefined ? 'open' : `${((meta.stop_tick - meta.start_tick) / meta.control_rate_hz).toFixed(1)} s`;
}

export async function recordLsCommand(dir: string): Promise<number> {
  try {
    const dirs = await episodeDirs(dir);
    if (dirs.length === 0) process.stdout.write(`no episodes under ${dir}\n`);
    for (const d of dirs) {
      const meta = await readEpisodeMeta(d);
      const segments = await segmentsOf(d);
      const bytes = segments.reduce((a, s) => a + s.bytes, 0);
      const unfinished = segments.filter((s) => s.unfinished).length;
      process.stdout.write(
        `${d}  ${meta.robot_id}  ${seconds(meta)}  ${meta.label ?? 'unlabelled'}  ${segments.length} segment(s) ${bytes} bytes` +
          `${meta.complete ? '' : `  incomplete (${meta.ended_by ?? 'still open or crashed'})`}${unfinished ? `  ${unfinished} unfinished: run embody record recover ${dir}` : ''}\n`,
      );
    }
    return 0;
  } catch (error) {
    process.stderr.write(`embody record ls: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

export async function recordInfoCommand(episodeDir: string): Promise<number> {
  try {
    const meta = await readEpisodeMeta(episodeDir);
    process.stdout.write(JSON.stringify({ ...meta, segments: await segmentsOf(episodeDir) }, null, 2) + '\n');
    return 0;
  } catch (error) {
    process.stderr.write(`embody record info: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

export async function recordRecoverCommand(dir: string): Promise<number> {
  try {
    const results = await recoverRecordings(dir);
    if (results.length === 0) process.stdout.write(`nothing to recover under ${dir}\n`);
    for (const r of results) process.stdout.write(`recovered ${r.segment}: ${r.messages} messages kept, ${r.lostBytes} bytes of an unfinished chunk lost\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`embody record recover: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
