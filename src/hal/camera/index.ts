/**
 * Camera sources for the pipeline. Each camera is an Observable of frames; a frame's buffer is
 * reused by its source (two alternating buffers), so subscribers copy what they keep.
 * The sim backend renders the simulated world as the control worker last published it; the
 * real backends (gstreamer, v4l2, libcamera, file) are supervised child processes writing raw
 * frames to stdout (./process.ts, command lines in ./backends.ts).
 */
import { interval, map, filter, type Observable } from 'rxjs';
import type { CameraDescription, RobotDescription } from '../../robot/index.js';
import type { HardwareOptions } from '../index.js';
import type { Frame } from '../types.js';
import { createRandom, describeWorld, renderWristFrame, SimPlant, worldTask } from '../sim/index.js';
import { cameraCommand } from './backends.js';
import { processCameraFrames, type CameraEvent, type CameraHealth } from './process.js';

export {
  cameraCommand,
  fileCommand,
  findOnPath,
  gstreamerCommand,
  gstSourceProperties,
  libcameraCommand,
  splitPipeline,
  v4l2Command,
  v4l2Controls,
  type CameraCommand,
} from './backends.js';
export { createCameraHealth, processCameraFrames, type CameraEvent, type CameraEventKind, type CameraHealth, type ProcessCameraOptions } from './process.js';
export { i420ToRgb, RawFrameParser, rawFrameBytes, type RawPixelFormat } from './parser.js';
export { probeClip, type ClipInfo } from './probe.js';

/** What the cameras look at: for the sim, the world state copied out of the worker's snapshot. */
export interface CameraWorld {
  /** Copy the latest world state into `out`; false when none is available yet. */
  read(out: Float64Array): boolean;
  /** One short phrase for the status line. */
  describe(world: Float64Array): string;
  /** What the task came to, for the run report. */
  task(world: Float64Array): Readonly<Record<string, number | boolean>>;
}

export function openCameraWorld(
  robot: RobotDescription,
  _hardware: HardwareOptions,
  read: (out: Float64Array) => boolean,
): CameraWorld | undefined {
  if (robot.cameras.length === 0 && !robot.sim) return undefined;
  return { read, describe: (world) => describeWorld(world), task: (world) => worldTask(world) };
}

/** A sim camera: renders frames of the simulated world into two alternating buffers. */
export interface SimCameraRenderer {
  /** World state the camera looks at (fill it, then call render). */
  readonly world: Float64Array;
  /** Render the next frame from `world`, stamped `timestampMs`; the frame object is reused. */
  render(timestampMs: number): Frame;
}

export function createSimCameraRenderer(camera: CameraDescription, robot: RobotDescription, seed = robot.sim?.seed ?? 1): SimCameraRenderer {
  const size = camera.width * camera.height * 3;
  const buffers = [new Uint8Array(size), new Uint8Array(size)];
  const world = new Float64Array(SimPlant.snapshotSizeFor(robot));
  const rng = createRandom(seed * 7919 + camera.name.length);
  const fingertips = robot.fingertips.filter((f) => f.camera === camera.name);
  const noise = robot.sim?.camera_noise ?? 0;
  let sequence = 0;
  const frame = { camera: camera.name, sequence: 0, timestampMs: 0, width: camera.width, height: camera.height, data: buffers[0] };
  return {
    world,
    render(timestampMs) {
      const data = buffers[sequence & 1];
      renderWristFrame(world, camera, fingertips, noise, rng, data);
      frame.sequence = ++sequence;
      frame.timestampMs = timestampMs;
      frame.data = data;
      return frame;
    },
  };
}

export interface CameraFramesOptions {
  /** Directory that a file backend's relative `file` is resolved against (robot.yaml's). Default: the working directory. */
  readonly baseDir?: string;
  /** Process backends: start, stall, exit and restart events (log them; a stall should reach safety). */
  readonly onEvent?: (event: CameraEvent) => void;
  /** Process backends: filled in place with live counters (frames, restarts, stalls, stalled). */
  readonly health?: CameraHealth;
}

/** Default stall limit of a process camera: ten frame periods, at least one second. */
export function stallLimitMs(camera: CameraDescription): number {
  return camera.stall_ms ?? Math.max(1000, 10_000 / camera.fps);
}

export function cameraFrames(camera: CameraDescription, robot: RobotDescription, world: CameraWorld | undefined, options: CameraFramesOptions = {}): Observable<Frame> {
  if (camera.backend !== 'sim') {
    return processCameraFrames(cameraCommand(camera, options.baseDir), {
      name: camera.name,
      width: camera.width,
      height: camera.height,
      stallMs: stallLimitMs(camera),
      restartMs: camera.restart_ms,
      onEvent: options.onEvent,
      health: options.health,
    });
  }
  if (!world) throw new Error(`camera '${camera.name}': backend 'sim' needs the simulated world`);
  const renderer = createSimCameraRenderer(camera, robot);
  return interval(1000 / camera.fps).pipe(
    filter(() => world.read(renderer.world)),
    map(() => renderer.render(performance.now())),
  );
}
