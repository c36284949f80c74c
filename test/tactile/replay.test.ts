/**
 * `embody tactile replay` and `embody tactile calibrate` on clips encoded by real ffmpeg from the
 * sim renderer's frames (FFV1 in Matroska, lossless), with a known contact timeline and loads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../src/runtime/config/index.js';
import { parseSample, tactileCalibrateCommand, tactileReplayCommand } from '../../src/commands/tactile.js';
import { parseRoi, type ReplayRecord } from '../../src/tactile/replay.js';
import { contactForce, createSyntheticClip, writeSyntheticClip } from '../../src/tactile/synthetic.js';

const robotFile = fileURLToPath(new URL('../../robots/sim-arm.yaml', import.meta.url));
const robot = loadRobotDescription(robotFile);
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'embody-tactile-'));
  const clip = createSyntheticClip(robot, 90, { force: contactForce([{ start: 20, end: 40, force: 20 }, { start: 60, end: 75, force: 35 }]) });
  await writeSyntheticClip(clip, path.join(dir, 'timeline.mkv'));
  for (const load of [0, 8, 15, 25, 40]) {
    await writeSyntheticClip(createSyntheticClip(robot, 50, { force: (k) => (k >= 15 ? load : 0) }, load + 1), path.join(dir, `load-${load}.mkv`));
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { out: (text: string) => void; text: () => string } {
  let text = '';
  return { out: (t) => (text += t), text: () => text };
}

describe('embody tactile replay', () => {
  it('prints one JSON line per frame with the contact timeline of the clip', async () => {
    const out = capture();
    const err = capture();
    const code = await tactileReplayCommand(path.join(dir, 'timeline.mkv'), { roi: '2,50,20,20', jsonl: true }, out.out, err.out);
    expect(code).toBe(0);
    const records = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ReplayRecord);
    expect(records).toHaveLength(90);
    expect(Object.keys(records[0])).toEqual(['frame', 't', 'contact', 'p', 'area', 'centroid', 'shear', 'force', 'flags']);
    expect(records[0].flags).toEqual(['not_ready']);
    expect(records[30].t).toBeCloseTo(1, 3);
    const on = records.filter((r) => r.contact).map((r) => r.frame);
    // Contacts [20, 40) and [60, 75): on after 2 frames (hysteresis), off 1 frame late.
    expect(on[0]).toBeGreaterThanOrEqual(20);
    expect(on[0]).toBeLessThanOrEqual(22);
    expect(on.filter((f) => f < 50).at(-1)).toBeLessThanOrEqual(41);
    expect(on.filter((f) => f >= 50)[0]).toBeLessThanOrEqual(62);
    expect(records[30].centroid?.[0]).toBeCloseTo(12, 0);
    expect(records[68].force).toBeGreaterThan(records[30].force);
    expect(err.text()).toMatch(/2 contacts/);
  });

  it('takes the ROI and reference frames from the command line or from robot.yaml', async () => {
    const out = capture();
    const code = await tactileReplayCommand(path.join(dir, 'timeline.mkv'), { robot: robotFile, fingertip: 'right_pad', referenceFrames: '15' }, out.out, out.out);
    expect(code).toBe(0);
    expect(out.text()).toMatch(/ROI 74,50,20,20; 2 contacts/);
    const bad = capture();
    expect(await tactileReplayCommand(path.join(dir, 'timeline.mkv'), { roi: '90,60,20,20' }, bad.out, bad.out)).toBe(1);
    expect(bad.text()).toMatch(/reaches past the 96x72 clip/);
    expect(() => parseRoi('1,2,3')).toThrow(/x,y,w,h/);
    const missing = capture();
    expect(await tactileReplayCommand(path.join(dir, 'nope.mkv'), {}, missing.out, missing.out)).toBe(1);
  });
});

describe('embody tactile calibrate', () => {
  it('fits force = scale * proxy^exponent to clips pressed with known loads', async () => {
    const out = capture();
    const err = capture();
    const samples = [0, 8, 15, 25, 40].map((load) => `${load}=${path.join(dir, `load-${load}.mkv`)}`);
    const code = await tactileCalibrateCommand({ sample: samples, roi: '2,50,20,20', json: true }, out.out, err.out);
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(out.text()) as { calibration: { force: { scale: number; exponent: number } }; r2: number; max_relative_error: number };
    expect(result.r2).toBeGreaterThan(0.97);
    expect(result.max_relative_error).toBeLessThan(0.2);
    expect(result.calibration.force.exponent).toBeGreaterThan(0.2);
    const text = capture();
    expect(await tactileCalibrateCommand({ sample: samples, robot: robotFile, fingertip: 'left_pad' }, text.out, text.out)).toBe(0);
    expect(text.text()).toMatch(/calibration:\n {6}force: \{ scale: [\d.]+, exponent: [\d.]+, unit: N \}/);
    expect(parseSample('2.5=a.mkv')).toEqual({ load: 2.5, clip: 'a.mkv' });
    expect(() => parseSample('a.mkv')).toThrow(/LOAD=CLIP/);
    const few = capture();
    expect(await tactileCalibrateCommand({ sample: [samples[1]] }, few.out, few.out)).toBe(1);
    expect(few.text()).toMatch(/at least two/);
  });
});
