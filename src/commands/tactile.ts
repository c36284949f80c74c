/**
 * `embody tactile replay` and `embody tactile calibrate`. Each returns the process exit code and
 * writes through `out` (stdout by default) so tests can run them in process.
 *
 *   embody tactile replay CLIP [--roi x,y,w,h] [--reference-frames N] [--robot FILE --fingertip NAME] --jsonl
 *   embody tactile calibrate --sample LOAD=CLIP [--sample ...] [--roi x,y,w,h] [--reference-frames N]
 *                            [--robot FILE --fingertip NAME] [--unit N] [--json]
 */
import path from 'node:path';
import type { FingertipDescription } from '../robot/index.js';
import { fitForceCalibration, type CalibrationPoint } from '../tactile/calibration.js';
import { parseRoi, replayClip, type ReplayOptions } from '../tactile/replay.js';

export interface TactileReplayCliOptions {
  roi?: string;
  referenceFrames?: string;
  jsonl?: boolean;
  robot?: string;
  fingertip?: string;
}

export interface TactileCalibrateCliOptions {
  sample?: string[];
  roi?: string;
  referenceFrames?: string;
  robot?: string;
  fingertip?: string;
  unit?: string;
  json?: boolean;
}

type Out = (text: string) => void;
const stdout: Out = (text) => process.stdout.write(text);
const stderr: Out = (text) => process.stderr.write(text);

async function replayOptions(options: { roi?: string; referenceFrames?: string; robot?: string; fingertip?: string }): Promise<ReplayOptions> {
  let fingertip: FingertipDescription | undefined;
  if (options.fingertip !== undefined || options.robot !== undefined) {
    if (!options.robot || !options.fingertip) throw new Error('--robot and --fingertip go together');
    const { loadRobotDescription } = await import('../runtime/index.js');
    const robot = loadRobotDescription(options.robot);
    fingertip = robot.fingertips.find((f) => f.name === options.fingertip);
    if (!fingertip) throw new Error(`${options.robot} has no fingertip '${options.fingertip}' (it has: ${robot.fingertips.map((f) => f.name).join(', ') || 'none'})`);
  }
  const referenceFrames = options.referenceFrames === undefined ? undefined : Number(options.referenceFrames);
  if (referenceFrames !== undefined && (!Number.isInteger(referenceFrames) || referenceFrames < 1)) {
    throw new Error(`--reference-frames expects a whole number of frames >= 1, got '${options.referenceFrames}'`);
  }
  const roi = options.roi === undefined ? undefined : parseRoi(options.roi);
  return {
    ...(referenceFrames !== undefined ? { referenceFrames } : {}),
    ...(fingertip ? { fingertip: roi ? { ...fingertip, roi } : fingertip } : roi ? { roi } : {}),
  };
}

export async function tactileReplayCommand(clip: string, options: TactileReplayCliOptions, out: Out = stdout, err: Out = stderr): Promise<number> {
  try {
    const replay = await replayOptions(options);
    const intervals: [number, number][] = [];
    let onAt = -1;
    let peakForce = 0;
    const flagCounts = new Map<string, number>();
    const { info, frames, estimator } = await replayClip(clip, replay, (record) => {
      if (options.jsonl) out(`${JSON.stringify(record)}\n`);
      if (record.contact && onAt < 0) onAt = record.t;
      if (!record.contact && onAt >= 0) {
        intervals.push([onAt, record.t]);
        onAt = -1;
      }
      peakForce = Math.max(peakForce, record.force);
      for (const f of record.flags) flagCounts.set(f, (flagCounts.get(f) ?? 0) + 1);
    });
    if (onAt >= 0) intervals.push([onAt, frames / (info.fps || 30)]);
    const [x, y, w, h] = estimator.pads[0].roi;
    const summary =
      `${path.basename(clip)}: ${frames} frames, ${info.width}x${info.height} at ${info.fps.toFixed(2)} fps, ROI ${x},${y},${w},${h}; ` +
      `${intervals.length} contact${intervals.length === 1 ? '' : 's'}` +
      (intervals.length > 0 ? ` (${intervals.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)} s`).join(', ')})` : '') +
      `, peak force ${peakForce.toFixed(3)}, noise ${estimator.noise[0].toFixed(2)} grey levels` +
      (flagCounts.size > 0 ? `; flags: ${[...flagCounts].map(([f, n]) => `${f} ${n}`).join(', ')}` : '') +
      '\n';
    // With --jsonl stdout carries only the records; the summary goes to stderr.
    (options.jsonl ? err : out)(summary);
    return 0;
  } catch (error) {
    err(`tactile replay: ${(error as Error).message}\n`);
    return 1;
  }
}

/** Parse "LOAD=CLIP" (LOAD in the calibration unit, >= 0). */
export function parseSample(text: string): { load: number; clip: string } {
  const at = text.indexOf('=');
  const load = Number(text.slice(0, at));
  if (at <= 0 || !Number.isFinite(load) || load < 0 || at === text.length - 1) {
    throw new Error(`--sample expects LOAD=CLIP with a load >= 0, got '${text}'`);
  }
  return { load, clip: text.slice(at + 1) };
}

/**
 * Force proxy of one calibration clip: the median over the settled half of the frames in
 * contact (the press has finished ramping up there).
 */
export async function calibrationProxy(clip: string, options: ReplayOptions): Promise<{ proxy: number; contactFrames: number; frames: number }> {
  const proxies: number[] = [];
  const { frames } = await replayClip(clip, options, (record, estimator) => {
    if (record.contact) proxies.push(estimator.proxy[0]);
  });
  const settled = proxies.slice(Math.floor(proxies.length / 2)).sort((a, b) => a - b);
  return { proxy: settled.length > 0 ? settled[Math.floor(settled.length / 2)] : 0, contactFrames: proxies.length, frames };
}

export async function tactileCalibrateCommand(options: TactileCalibrateCliOptions, out: Out = stdout, err: Out = stderr): Promise<number> {
  try {
    const samples = (options.sample ?? []).map(parseSample);
    if (samples.filter((s) => s.load > 0).length < 2) {
      throw new Error('give at least two --sample LOAD=CLIP with different loads > 0 (each clip: unloaded first, then pressed with that load)');
    }
    const replay = await replayOptions(options);
    // The proxy must be the uncalibrated one, whatever robot.yaml says.
    const uncalibrated: ReplayOptions = { ...replay, calibration: [undefined] };
    const points: (CalibrationPoint & { clip: string; contactFrames: number; frames: number })[] = [];
    for (const sample of samples) {
      const result = await calibrationProxy(sample.clip, uncalibrated);
      points.push({ load: sample.load, proxy: result.proxy, clip: sample.clip, contactFrames: result.contactFrames, frames: result.frames });
      if (sample.load > 0 && result.contactFrames === 0) err(`warning: no contact detected in ${sample.clip} (load ${sample.load})\n`);
      if (sample.load === 0 && result.contactFrames > 0) err(`warning: contact detected in the unloaded clip ${sample.clip} (${result.contactFrames} frames)\n`);
    }
    const unit = options.unit ?? 'N';
    const fit = fitForceCalibration(points, unit);
    if (options.json) {
      out(`${JSON.stringify({ calibration: { force: { scale: fit.scale, exponent: fit.exponent, unit } }, r2: fit.r2, max_relative_error: fit.maxRelativeError, points })}\n`);
      return 0;
    }
    out(`load (${unit})  proxy      fitted (${unit})  clip\n`);
    for (const p of points) {
      const fitted = p.proxy > 0 ? fit.scale * p.proxy ** fit.exponent : 0;
      out(`${p.load.toFixed(3).padStart(9)}  ${p.proxy.toFixed(5).padEnd(9)}  ${fitted.toFixed(3).padStart(11)}  ${p.clip} (${p.contactFrames}/${p.frames} frames in contact)\n`);
    }
    out(`fit: force = ${fit.scale.toPrecision(5)} * proxy^${fit.exponent.toPrecision(4)} ${unit}; r2 ${fit.r2.toFixed(4)}, worst error ${(100 * fit.maxRelativeError).toFixed(1)} %\n`);
    out(`\nadd under the fingertip in robot.yaml:\n    calibration:\n      force: { scale: ${fit.scale.toPrecision(6)}, exponent: ${fit.exponent.toPrecision(5)}, unit: ${unit} }\n`);
    return 0;
  } catch (error) {
    err(`tactile calibrate: ${(error as Error).message}\n`);
    return 1;
  }
}
