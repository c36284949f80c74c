/**
 * Replay a recorded clip through the touch estimator: ffmpeg decodes it (anything ffmpeg reads)
 * to raw RGB24 as fast as it can, each frame goes through the same synchronous estimator the
 * robot runs, and each result becomes one record. This is how users tune thresholds on their
 * own recordings (`embody tactile replay CLIP --jsonl`).
 */
import { spawn } from 'node:child_process';
import type { FingertipDescription } from '../robot/index.js';
import { probeClip, type ClipInfo } from '../hal/camera/probe.js';
import { RawFrameParser } from '../hal/camera/parser.js';
import { createTouchEstimator, type TouchEstimator, type TouchEstimatorOptions } from './estimator/index.js';
import { describeTouchFlags, type TouchFlagName } from './flags.js';

export interface ReplayRecord {
  /** Frame index in the clip, from 0. */
  readonly frame: number;
  /** Seconds from the start of the clip (frame / fps). */
  readonly t: number;
  /** Contact state with hysteresis. */
  readonly contact: boolean;
  /** Contact probability. */
  readonly p: number;
  readonly area: number;
  /** Contact centroid, image pixels; null without contact. */
  readonly centroid: readonly [number, number] | null;
  /** Shear, image pixels. */
  readonly shear: readonly [number, number];
  readonly force: number;
  readonly flags: readonly TouchFlagName[];
}

export interface ReplayOptions extends TouchEstimatorOptions {
  /** [x, y, w, h]; default the whole frame. */
  readonly roi?: readonly [number, number, number, number];
  /** A fingertip to take the ROI and calibration from (overrides roi). */
  readonly fingertip?: FingertipDescription;
  readonly ffmpeg?: string;
  readonly ffprobe?: string;
}

const round = (v: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** One record from the estimator's state after a frame (pad 0). */
export function replayRecord(estimator: TouchEstimator, frame: number, fps: number): ReplayRecord {
  const cx = estimator.centroidX[0];
  const cy = estimator.centroidY[0];
  return {
    frame,
    t: round(frame / (fps > 0 ? fps : 30), 4),
    contact: estimator.inContact[0] === 1,
    p: round(estimator.contact[0], 4),
    area: round(estimator.area[0], 4),
    centroid: Number.isFinite(cx) && Number.isFinite(cy) ? [round(cx, 2), round(cy, 2)] : null,
    shear: [round(estimator.shearX[0], 3), round(estimator.shearY[0], 3)],
    force: round(estimator.force[0], 4),
    flags: describeTouchFlags(estimator.flags[0]),
  };
}

/** Parse "x,y,w,h" (integers, w and h > 0). */
export function parseRoi(text: string): [number, number, number, number] {
  const parts = text.split(',').map((v) => Number(v.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v) || v < 0) || parts[2] < 1 || parts[3] < 1) {
    throw new Error(`--roi expects x,y,w,h in pixels (integers, w and h at least 1), got '${text}'`);
  }
  return [parts[0], parts[1], parts[2], parts[3]];
}

/**
 * Decode `clip` and run the estimator over every frame; `onRecord` gets each frame's record.
 * Resolves with the clip info and the frame count once ffmpeg is done.
 */
export async function replayClip(
  clip: string,
  options: ReplayOptions,
  onRecord: (record: ReplayRecord, estimator: TouchEstimator) => void,
): Promise<{ info: ClipInfo; frames: number; estimator: TouchEstimator }> {
  const info = await probeClip(clip, options.ffprobe);
  const { width, height } = info;
  const fingertip: FingertipDescription = options.fingertip ?? {
    name: 'pad',
    camera: 'clip',
    roi: options.roi ? [...options.roi] : [0, 0, width, height],
  };
  const [x, y, w, h] = fingertip.roi;
  if (x >= width || y >= height) throw new Error(`ROI ${fingertip.roi.join(',')} lies outside the ${width}x${height} clip`);
  if (x + w > width || y + h > height) throw new Error(`ROI ${fingertip.roi.join(',')} reaches past the ${width}x${height} clip`);
  const fps = Number.isFinite(info.fps) && info.fps > 0 ? info.fps : 30;
  const estimator = createTouchEstimator([fingertip], width, height, { fps, ...options });
  let frames = 0;
  const frame = { camera: 'clip', sequence: 0, timestampMs: 0, width, height, data: new Uint8Array(0) as Uint8Array };
  const parser = new RawFrameParser(width, height, 'rgb24', (data) => {
    frame.sequence = frames + 1;
    frame.timestampMs = (frames * 1000) / fps;
    frame.data = data;
    estimator.updateFrame(frame);
    onRecord(replayRecord(estimator, frames, fps), estimator);
    frames++;
  });
  const ffmpeg = spawn(
    options.ffmpeg ?? 'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', clip, '-an', '-fps_mode', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  ffmpeg.stdout.on('data', (chunk: Buffer) => parser.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    ffmpeg.once('error', reject);
    ffmpeg.once('close', resolve);
  });
  if (code !== 0) throw new Error(`ffmpeg could not decode ${clip} (exit ${code}): ${stderr.trim()}`);
  return { info, frames, estimator };
}
