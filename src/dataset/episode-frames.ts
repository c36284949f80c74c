/**
 * One recorded episode resampled to a dataset's frame rate: for frame k, the control tick
 * `start_tick + round(k · rate / fps)`, the measured joint positions (observation.state) and the
 * command the HAL sent (action, after the safety envelope) at the latest tick at or before it, the
 * newest camera JPEG captured at or before it, and the task in force then (the instruction, or the
 * coaching note sent last). Read with @mcap/core's stream reader, so a segment recovered from a
 * crash reads like any other.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { McapStreamReader } from '@mcap/core';
import { PART_SUFFIX, readEpisodeMeta, type EpisodeMeta } from '../record/index.js';

export interface EpisodeFrames {
  readonly directory: string;
  readonly meta: EpisodeMeta;
  readonly fps: number;
  /** Control tick of each frame. */
  readonly ticks: number[];
  readonly state: Float32Array[];
  readonly action: Float32Array[];
  /** Task text per frame. */
  readonly tasks: string[];
  /** Per camera: the JPEG of each frame (frames share a JPEG when the camera was slower). */
  readonly images: Map<string, Buffer[]>;
  /** Per camera: frames whose newest image was older than STALE_IMAGE_MS (a stalled or pulled camera). */
  readonly staleImages: Map<string, number>;
}

/** A frame whose image is older than this is counted as stale (the camera stalled or was pulled), ms. */
export const STALE_IMAGE_MS = 250;

interface Timeline<T> {
  ticks: number[];
  values: T[];
}

function latestAtOrBefore<T>(line: Timeline<T>, tick: number, from: number): number {
  let i = from;
  while (i + 1 < line.ticks.length && line.ticks[i + 1] <= tick) i++;
  return i;
}

/** Decode one episode's segments into per-tick timelines. */
async function readTimelines(directory: string, meta: EpisodeMeta): Promise<{ state: Timeline<Float32Array>; command: Timeline<Float32Array>; images: Map<string, Timeline<Buffer>> }> {
  const names = (await readdir(directory)).sort();
  const part = names.find((n) => n.endsWith(PART_SUFFIX));
  if (part !== undefined) throw new Error(`${join(directory, part)}: an unfinished segment; run \`embody record recover ${directory}\` first`);
  const tick0 = BigInt(meta.time_base.tick0_unix_ns);
  const period = BigInt(meta.time_base.period_ns);
  const state: Timeline<Float32Array> = { ticks: [], values: [] };
  const command: Timeline<Float32Array> = { ticks: [], values: [] };
  const images = new Map<string, Timeline<Buffer>>(meta.cameras.map((c) => [c, { ticks: [], values: [] }]));
  const decoder = new TextDecoder();
  for (const name of names.filter((n) => n.endsWith('.mcap'))) {
    const reader = new McapStreamReader();
    reader.append(await readFile(join(directory, name)));
    const topics = new Map<number, string>();
    for (let record; (record = reader.nextRecord()); ) {
      if (record.type === 'Channel') topics.set(record.id, record.topic);
      if (record.type !== 'Message') continue;
      const topic = topics.get(record.channelId) ?? '';
      const tick = Number((record.logTime - tick0) / period);
      if (topic === '/joint_states') {
        const body = JSON.parse(decoder.decode(record.data)) as { joints: { position: number }[] };
        state.ticks.push(tick);
        state.values.push(Float32Array.from(body.joints, (j) => j.position));
      } else if (topic === '/command') {
        const body = JSON.parse(decoder.decode(record.data)) as { position: number[] };
        command.ticks.push(tick);
        command.values.push(Float32Array.from(body.position));
      } else if (topic.startsWith('/camera/')) {
        const line = images.get(topic.slice('/camera/'.length));
        if (line === undefined) continue;
        const body = JSON.parse(decoder.decode(record.data)) as { data: string };
        line.ticks.push(tick);
        line.values.push(Buffer.from(body.data, 'base64'));
      }
    }
  }
  // Segments are in order, but messages inside a chunk need not be (frames arrive after encoding).
  for (const line of [state, command, ...images.values()] as Timeline<unknown>[]) sortTimeline(line);
  return { state, command, images };
}

function sortTimeline<T>(line: Timeline<T>): void {
  const order = line.ticks.map((_, i) => i).sort((a, b) => line.ticks[a] - line.ticks[b]);
  line.ticks = order.map((i) => line.ticks[i]);
  line.values = order.map((i) => line.values[i]);
}

export async function readEpisodeFrames(directory: string, fps: number): Promise<EpisodeFrames> {
  const meta = await readEpisodeMeta(directory);
  if (meta.stop_tick === undefined) throw new Error(`${join(directory, 'episode.json')}: field 'stop_tick' is missing: the episode is still open (stop it, or run \`embody record recover\` after a crash)`);
  const { state, command, images } = await readTimelines(directory, meta);
  if (state.ticks.length === 0 || command.ticks.length === 0) throw new Error(`${directory}: no joint states recorded; nothing to export`);
  const rate = meta.control_rate_hz;
  const last = Math.min(meta.stop_tick - 1, state.ticks.at(-1)!, command.ticks.at(-1)!);
  const frames: EpisodeFrames = { directory, meta, fps, ticks: [], state: [], action: [], tasks: [], images: new Map(meta.cameras.map((c) => [c, []])), staleImages: new Map(meta.cameras.map((c) => [c, 0])) };
  const cursor = { state: 0, command: 0, task: 0, images: new Map(meta.cameras.map((c) => [c, 0])) };
  for (let k = 0; ; k++) {
    const tick = meta.start_tick + Math.round((k * rate) / fps);
    if (tick > last) break;
    cursor.state = latestAtOrBefore(state, tick, cursor.state);
    cursor.command = latestAtOrBefore(command, tick, cursor.command);
    while (cursor.task + 1 < meta.tasks.length && meta.tasks[cursor.task + 1].tick <= tick) cursor.task++;
    frames.ticks.push(tick);
    frames.state.push(state.values[cursor.state]);
    frames.action.push(command.values[cursor.command]);
    frames.tasks.push(meta.tasks[cursor.task]?.text || meta.policy.name);
    for (const [camera, line] of images) {
      if (line.ticks.length === 0) throw new Error(`${directory}: camera '${camera}' recorded no frames; the dataset needs every camera of the episode in every frame`);
      const i = latestAtOrBefore(line, tick, cursor.images.get(camera)!);
      cursor.images.set(camera, i);
      frames.images.get(camera)!.push(line.values[i]);
      if (Math.abs(tick - line.ticks[i]) * (1000 / rate) > STALE_IMAGE_MS) frames.staleImages.set(camera, frames.staleImages.get(camera)! + 1);
    }
  }
  if (frames.ticks.length < 2) throw new Error(`${directory}: the episode is shorter than two frames at ${fps} fps`);
  return frames;
}
