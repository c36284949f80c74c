/**
 * Touch from the wrist cameras: each frame goes to its camera's estimator, the per-pad readings
 * are gathered in robot.yaml fingertip order, and the loop gets the squeeze and whether some pad
 * is in (hysteresis) contact, stamped with the tick the frame arrived at. The one definition of
 * "in contact" that the envelope, the HIL and the telemetry all see.
 */
import type { Frame } from '../../hal/index.js';
import type { RobotDescription } from '../../robot/index.js';
import { createTouchEstimator, type TouchEstimator } from '../../tactile/index.js';
import type { TouchReadings } from '../policy/observation.js';
import type { ControlPort } from './control-port.js';

export interface TouchState extends TouchReadings {
  readonly contact: Float64Array;
  readonly force: Float64Array;
  readonly area: Float64Array;
  /** Hysteresis contact state per pad (1 = in contact). */
  readonly inContact: Uint8Array;
  /** Quality flags per pad (TouchFlag bits). */
  readonly flags: Uint16Array;
}

interface CameraTouch {
  readonly estimator: TouchEstimator;
  /** Robot fingertip index of each pad this camera's estimator reports, in its order. */
  readonly pads: readonly number[];
}

export class TouchStage {
  readonly state: TouchState;
  /** Frames per camera, newest only: what the observation builder reads. */
  readonly frames = new Map<string, Frame>();
  readonly #cameras = new Map<string, CameraTouch>();
  readonly #control: Pick<ControlPort, 'publishTouch' | 'currentTick'>;

  constructor(robot: RobotDescription, control: Pick<ControlPort, 'publishTouch' | 'currentTick'>) {
    this.#control = control;
    const pads = robot.fingertips.length;
    this.state = {
      contact: new Float64Array(pads),
      force: new Float64Array(pads),
      area: new Float64Array(pads),
      inContact: new Uint8Array(pads),
      flags: new Uint16Array(pads),
    };
    for (const camera of robot.cameras) {
      const own = robot.fingertips.filter((f) => f.camera === camera.name);
      if (own.length === 0) continue;
      this.#cameras.set(camera.name, {
        estimator: createTouchEstimator(own, camera.width, camera.height),
        pads: robot.fingertips.flatMap((f, i) => (f.camera === camera.name ? [i] : [])),
      });
    }
  }

  /** A new frame from `camera`: kept for the observation, and turned into touch if the camera sees pads. */
  frame(camera: string, frame: Frame): void {
    this.frames.set(camera, frame);
    const touch = this.#cameras.get(camera);
    if (touch === undefined) return;
    const { estimator, pads } = touch;
    estimator.updateFrame(frame);
    const s = this.state;
    let squeeze = 0;
    for (let k = 0; k < pads.length; k++) {
      const i = pads[k];
      s.contact[i] = estimator.contact[k];
      s.force[i] = estimator.force[k];
      s.area[i] = estimator.area[k];
      s.inContact[i] = estimator.inContact[k];
      s.flags[i] = estimator.flags[k];
      squeeze = Math.max(squeeze, estimator.force[k]);
    }
    // Stamped with the loop's tick at arrival: the sim renders the newest world state.
    this.#control.publishTouch(squeeze, this.#control.currentTick, this.inContact);
  }

  /** The camera's frames stopped (a stall or a dead process): the estimator flags its pads. */
  cameraStalled(camera: string, stalled: boolean): void {
    this.#cameras.get(camera)?.estimator.setCameraStalled(stalled);
  }

  /** A camera that died: its last frame must not feed the policy. */
  forgetFrame(camera: string): void {
    this.frames.delete(camera);
  }

  get inContact(): boolean {
    const c = this.state.inContact;
    for (let i = 0; i < c.length; i++) if (c[i] === 1) return true;
    return false;
  }
}
