/** What ffprobe says about a clip: frame size, rate and (when known) frame count. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface ClipInfo {
  readonly width: number;
  readonly height: number;
  /** Frames per second (average), NaN when unknown. */
  readonly fps: number;
  /** Frames in the stream, when the container says. */
  readonly frames: number | undefined;
}

function rate(value: string | undefined): number {
  if (!value) return Number.NaN;
  const [num, den] = value.split('/').map(Number);
  return den ? num / den : num;
}

export async function probeClip(file: string, ffprobe = 'ffprobe'): Promise<ClipInfo> {
  const { stdout } = await promisify(execFile)(ffprobe, [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames',
    '-of',
    'json',
    file,
  ]);
  const stream = (JSON.parse(stdout) as { streams?: Record<string, string | number>[] }).streams?.[0];
  if (!stream || !stream.width || !stream.height) throw new Error(`${file}: no video stream ffprobe can read`);
  const avg = rate(String(stream.avg_frame_rate ?? ''));
  const frames = Number(stream.nb_frames);
  return {
    width: Number(stream.width),
    height: Number(stream.height),
    fps: Number.isFinite(avg) && avg > 0 ? avg : rate(String(stream.r_frame_rate ?? '')),
    frames: Number.isFinite(frames) && frames > 0 ? frames : undefined,
  };
}
