/**
 * The command line of each real camera backend: a child process that writes raw frames of
 * exactly width x height to stdout. Exposure, gain and white balance are fixed through each
 * tool's own options (auto exposure defeats a brightness-difference touch estimate):
 *
 *   gstreamer  gst-launch-1.0 -q SOURCE ! videoconvert ! videoscale ! video/x-raw,format=RGB,... ! fdsink fd=1
 *              v4l2src: extra-controls; nvarguscamerasrc: exposuretimerange/gainrange/wbmode,
 *              aelock/awblock; libcamerasrc: ae-enable/exposure-time/analogue-gain/awb-enable/colour-gains
 *   v4l2       v4l2-ctl --set-ctrl ... (once, before), then ffmpeg -f v4l2 ... -pix_fmt rgb24 -f rawvideo pipe:1
 *   libcamera  rpicam-vid (or libcamera-vid) -t 0 -n --codec yuv420 --shutter --gain --awbgains -o -
 *   file       ffmpeg [-re] [-stream_loop -1] -i CLIP -vf scale=W:H -pix_fmt rgb24 -f rawvideo pipe:1
 *
 * Pure functions: tests check the argument lists, and a stand-in script on PATH checks that
 * the libcamera path runs end to end where the real tool cannot be installed.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { CameraDescription } from '../../robot/index.js';
import type { RawPixelFormat } from './parser.js';

export interface CameraCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Pixel format the process writes. */
  readonly format: RawPixelFormat;
  /** Run once (synchronously, failures logged) before each start of the process. */
  readonly before?: readonly { readonly command: string; readonly args: readonly string[] }[];
  /** The process ends by itself at the end of its input (a clip that does not loop). */
  readonly finite: boolean;
}

/** Split a pipeline description into gst-launch tokens: whitespace outside quotes; quotes removed. */
export function splitPipeline(description: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quote: string | undefined;
  let started = false;
  for (const ch of description) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) tokens.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in pipeline: ${description}`);
  if (started) tokens.push(current);
  return tokens;
}

/** v4l2 control values for the fixed exposure, gain and white balance (kernel >= 5.x names). */
export function v4l2Controls(camera: CameraDescription): [string, string | number][] {
  const controls: [string, string | number][] = [];
  if (camera.exposure_us !== undefined) {
    controls.push(['auto_exposure', 1]); // V4L2_EXPOSURE_MANUAL
    controls.push(['exposure_time_absolute', Math.max(1, Math.round(camera.exposure_us / 100))]); // units of 100 µs
  }
  if (camera.gain !== undefined) controls.push(['gain', camera.gain]);
  const wb = camera.white_balance;
  if (wb !== undefined) {
    controls.push(['white_balance_automatic', 0]);
    if ('kelvin' in wb) controls.push(['white_balance_temperature', Math.round(wb.kelvin)]);
    else {
      controls.push(['red_balance', Math.round(wb.red * 1000)]);
      controls.push(['blue_balance', Math.round(wb.blue * 1000)]);
    }
  }
  for (const [name, value] of Object.entries(camera.controls ?? {})) {
    const existing = controls.findIndex(([n]) => n === name);
    if (existing >= 0) controls[existing] = [name, value];
    else controls.push([name, value]);
  }
  return controls;
}

/** nvarguscamerasrc white-balance mode nearest a colour temperature. */
function argusWbMode(kelvin: number): number {
  if (kelvin < 3200) return 2; // incandescent
  if (kelvin < 4500) return 3; // fluorescent
  if (kelvin < 6000) return 5; // daylight
  if (kelvin < 7000) return 6; // cloudy-daylight
  return 8; // shade
}

/** Properties that fix exposure, gain and white balance on a GStreamer source element. */
export function gstSourceProperties(element: string, camera: CameraDescription): [string, string][] {
  const props: [string, string][] = [];
  const wb = camera.white_balance;
  if (element === 'v4l2src') {
    const controls = v4l2Controls(camera);
    if (controls.length > 0) props.push(['extra-controls', `c,${controls.map(([n, v]) => `${n}=${v}`).join(',')}`]);
    return props;
  }
  if (element === 'nvarguscamerasrc') {
    if (camera.exposure_us !== undefined) {
      const ns = Math.round(camera.exposure_us * 1000);
      props.push(['exposuretimerange', `${ns} ${ns}`], ['aelock', 'true']);
    }
    if (camera.gain !== undefined) props.push(['gainrange', `${camera.gain} ${camera.gain}`]);
    if (wb !== undefined) props.push(['wbmode', String('kelvin' in wb ? argusWbMode(wb.kelvin) : 0)], ['awblock', 'true']);
  } else if (element === 'libcamerasrc') {
    if (camera.exposure_us !== undefined) props.push(['ae-enable', 'false'], ['exposure-time', String(Math.round(camera.exposure_us))]);
    if (camera.gain !== undefined) props.push(['analogue-gain', String(camera.gain)]);
    if (wb !== undefined && !('kelvin' in wb)) props.push(['awb-enable', 'false'], ['colour-gains', `<${wb.red}, ${wb.blue}>`]);
    else if (wb !== undefined) props.push(['colour-temperature', String(Math.round(wb.kelvin))], ['awb-enable', 'false']);
  }
  for (const [name, value] of Object.entries(camera.controls ?? {})) {
    const existing = props.findIndex(([n]) => n === name);
    if (existing >= 0) props[existing] = [name, String(value)];
    else props.push([name, String(value)]);
  }
  return props;
}

export function gstreamerCommand(camera: CameraDescription): CameraCommand {
  const source = camera.pipeline ? splitPipeline(camera.pipeline) : ['v4l2src', `device=${camera.device ?? '/dev/video0'}`, '!', 'decodebin'];
  if (source.length === 0) throw new Error(`camera '${camera.name}': empty pipeline`);
  // Fixing properties go right after the source element, unless the pipeline already sets them.
  const element = source[0];
  const firstBang = source.indexOf('!');
  const sourceTokens = firstBang < 0 ? source : source.slice(0, firstBang);
  const set = new Set(sourceTokens.slice(1).map((t) => t.split('=')[0]));
  const extra = gstSourceProperties(element, camera)
    .filter(([name]) => !set.has(name))
    .map(([name, value]) => `${name}=${value}`);
  const tokens = [element, ...extra, ...source.slice(1)];
  return {
    command: camera.command ?? 'gst-launch-1.0',
    args: [
      '-q',
      ...tokens,
      '!',
      'videoconvert',
      '!',
      'videoscale',
      '!',
      `video/x-raw,format=RGB,width=${camera.width},height=${camera.height}`,
      '!',
      'fdsink',
      'fd=1',
      'sync=false',
    ],
    format: 'rgb24',
    finite: false,
  };
}

const ffmpegOutput = (camera: CameraDescription): string[] => [
  '-an',
  '-vf',
  `scale=${camera.width}:${camera.height}`,
  '-pix_fmt',
  'rgb24',
  '-f',
  'rawvideo',
  'pipe:1',
];

export function v4l2Command(camera: CameraDescription): CameraCommand {
  const device = camera.device ?? '/dev/video0';
  const controls = v4l2Controls(camera);
  return {
    command: camera.command ?? 'ffmpeg',
    args: [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-f',
      'v4l2',
      ...(camera.input_format ? ['-input_format', camera.input_format] : []),
      '-framerate',
      String(camera.fps),
      '-video_size',
      `${camera.width}x${camera.height}`,
      '-i',
      device,
      ...ffmpegOutput(camera),
    ],
    format: 'rgb24',
    before: controls.length > 0 ? [{ command: 'v4l2-ctl', args: ['-d', device, `--set-ctrl=${controls.map(([n, v]) => `${n}=${v}`).join(',')}`] }] : [],
    finite: false,
  };
}

/** The first of `names` found executable on PATH, else the first name. */
export function findOnPath(names: readonly string[], pathVariable = process.env.PATH ?? ''): string {
  for (const name of names) {
    for (const dir of pathVariable.split(path.delimiter)) {
      if (!dir) continue;
      try {
        accessSync(path.join(dir, name), constants.X_OK);
        return name;
      } catch {
        // not here
      }
    }
  }
  return names[0];
}

export function libcameraCommand(camera: CameraDescription, pathVariable?: string): CameraCommand {
  const wb = camera.white_balance;
  const args = [
    '-t',
    '0',
    '-n',
    '--codec',
    'yuv420',
    '--width',
    String(camera.width),
    '--height',
    String(camera.height),
    '--framerate',
    String(camera.fps),
    '--flush',
  ];
  if (camera.device !== undefined) args.push('--camera', camera.device);
  if (camera.exposure_us !== undefined) args.push('--shutter', String(Math.round(camera.exposure_us)));
  if (camera.gain !== undefined) args.push('--gain', String(camera.gain));
  if (wb !== undefined) {
    // rpicam-vid fixes white balance only by gains; a colour temperature picks the nearest mode.
    if ('kelvin' in wb) args.push('--awb', wb.kelvin < 3500 ? 'incandescent' : wb.kelvin < 4800 ? 'fluorescent' : wb.kelvin < 6200 ? 'daylight' : 'cloudy');
    else args.push('--awbgains', `${wb.red},${wb.blue}`);
  }
  for (const [name, value] of Object.entries(camera.controls ?? {})) args.push(`--${name}`, String(value));
  args.push('-o', '-');
  return {
    command: camera.command ?? findOnPath(['rpicam-vid', 'libcamera-vid'], pathVariable),
    args,
    format: 'yuv420p',
    finite: false,
  };
}

export function fileCommand(camera: CameraDescription, baseDir = process.cwd()): CameraCommand {
  if (!camera.file) throw new Error(`camera '${camera.name}': backend 'file' needs file`);
  const clip = path.resolve(baseDir, camera.file);
  return {
    command: camera.command ?? 'ffmpeg',
    args: [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      ...(camera.realtime ? ['-re'] : []),
      ...(camera.loop ? ['-stream_loop', '-1'] : []),
      '-i',
      clip,
      ...ffmpegOutput(camera),
    ],
    format: 'rgb24',
    finite: !camera.loop,
  };
}

export function cameraCommand(camera: CameraDescription, baseDir?: string): CameraCommand {
  switch (camera.backend) {
    case 'gstreamer':
      return gstreamerCommand(camera);
    case 'v4l2':
      return v4l2Command(camera);
    case 'libcamera':
      return libcameraCommand(camera);
    case 'file':
      return fileCommand(camera, baseDir);
    default:
      throw new Error(`camera '${camera.name}': backend '${camera.backend}' is not a process backend`);
  }
}
