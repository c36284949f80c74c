/**
 * The dataset is the robot's experience, not just numbers: a recorded sim run of the demo task,
 * exported as a LeRobotDataset, replayed open loop (`embody dataset replay`: the dataset's actions
 * in place of the model, same seed, the envelope in the path) lifts the cube again.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/runtime/output/report.js';
import { cli, embody } from '../record/support.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('embody dataset replay', () => {
  it('replays an exported episode open loop and lifts the cube as the policy did', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'embody-replay-'));
    const recorded = embody(['run', '--broker', 'none', '--duration', '8', '--record', join(directory, 'rec'), '--report', join(directory, 'rec.json')], children);
    expect(await recorded.exit).toBe(0);
    const exported = spawnSync(process.execPath, [cli, 'dataset', 'export', join(directory, 'rec'), '--out', join(directory, 'ds'), '--fps', '30', '--vcodec', 'libx264'], { encoding: 'utf8' });
    expect(exported.status).toBe(0);
    const replayed = embody(['dataset', 'replay', join(directory, 'ds'), '--episode', '0', '--duration', '8', '--report', join(directory, 'replay.json')], children);
    expect(await replayed.exit).toBe(0);
    const original = JSON.parse(readFileSync(join(directory, 'rec.json'), 'utf8')) as RunReport;
    const replay = JSON.parse(readFileSync(join(directory, 'replay.json'), 'utf8')) as RunReport;
    expect(original.task).toMatchObject({ object_grasped: true, object_lifted: true });
    expect(replay.task).toMatchObject({ object_grasped: true, object_lifted: true });
    expect(Math.abs((replay.task as { object_height_m: number }).object_height_m - (original.task as { object_height_m: number }).object_height_m)).toBeLessThan(0.02);
    expect(replay.safety_interventions.rejected_actions).toBe(0);
    expect(replay.chunks_applied).toBeGreaterThan(10);
    // A missing episode is refused before anything moves.
    const missing = spawnSync(process.execPath, [cli, 'dataset', 'replay', join(directory, 'ds'), '--episode', '5'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/file-000\.parquet: no frames of episode 5/);
  }, 90_000);
});
