/**
 * The run's cameras in real time: each camera's frames (a supervised child process, or the sim
 * renderer) into the pipeline, and their health (stall, exit, restart) as pipeline events, so a
 * dead camera shows on MQTT `events`, in the log and on the status line with the camera's name.
 */
import { dirname } from 'node:path';
import { Subscription } from 'rxjs';
import { cameraFrames, createCameraHealth, type CameraWorld } from '../hal/camera/index.js';
import type { Pipeline } from './pipeline/index.js';

export function connectCameras(pipeline: Pipeline, robotFile: string, world: CameraWorld | undefined): Subscription {
  const subscriptions = new Subscription();
  const { robot } = pipeline;
  for (const camera of robot.cameras) {
    subscriptions.add(
      cameraFrames(camera, robot, world, {
        baseDir: dirname(robotFile),
        health: createCameraHealth(),
        onEvent: (e) => {
          const bad = e.kind === 'stall' || e.kind === 'exit' || e.kind === 'error' || e.kind === 'before-failed';
          if (e.kind === 'stall' || e.kind === 'exit') pipeline.touch.cameraStalled(e.camera, true);
          if (e.kind === 'streaming') pipeline.touch.cameraStalled(e.camera, false);
          if (bad || e.restarts > 0) {
            pipeline.emit({ tick: pipeline.control.currentTick, kind: `camera_${e.kind.replace('-', '_')}`, cause: `camera '${e.camera}'`, detail: e.camera, message: e.message });
          }
        },
      }).subscribe((frame) => pipeline.frame(camera.name, frame)),
    );
  }
  return subscriptions;
}
