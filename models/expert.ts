/**
 * The scripted expert that demonstrates the demo task in the simulator. It reads privileged
 * plant truth (object and fingertip positions, grip force), which is why it only ever runs
 * here, to label demonstrations; the learned policy sees only joint state, the wrist camera
 * and touch. Stateless: its action depends only on the current plant state, so it can label
 * states the learner visits (DAgger).
 *
 * It is written for the pitch-chain arm of robots/sim-arm.yaml (yaw base, three pitch joints,
 * wrist yaw and roll, gripper): inverse kinematics in closed form with the tool pointing down.
 * The wrist's yaw and roll joints are optional (robots/pi-servo-arm.yaml has no wrist yaw): the
 * tool offset is the sum of the wrist links present, and those present are held at 0.
 */
import type { RobotDescription } from '../src/robot/index.js';
import type { SimPlant } from '../src/hal/sim/index.js';

export interface Expert {
  /** Absolute joint targets (robot order) for the next policy step, from the plant's state. */
  act(plant: SimPlant, out: Float64Array): void;
  /** The next `horizon` targets, by rolling the expert forward on a copy of the plant. */
  chunk(plant: SimPlant, scratch: SimPlant, horizon: number, ticksPerAction: number, out: Float64Array): void;
}

const HOVER = 0.12;
const LIFT = 0.16;
const SPEED = 0.12; // m/s of the fingertip
const OPEN = 0.07;

export function createExpert(robot: RobotDescription, policyRateHz: number): Expert {
  const names = robot.joints.map((j) => j.name);
  const index = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`the expert needs joint '${name}' (it is written for robots/sim-arm.yaml)`);
    return i;
  };
  const [yaw, shoulder, elbow, wrist, gripper] = ['base_yaw', 'shoulder_pitch', 'elbow_pitch', 'wrist_pitch', 'gripper'].map(index);
  // Optional wrist joints: -1 when the arm has none.
  const wristYaw = names.indexOf('wrist_yaw');
  const wristRoll = names.indexOf('wrist_roll');
  const link = (i: number): readonly number[] => (i < 0 ? [0, 0, 0] : (robot.joints[i].link?.origin ?? [0, 0, 0]));
  const shoulderHeight = robot.base_height + link(yaw)[2] + link(shoulder)[2];
  const upper = link(elbow)[0];
  const fore = link(wrist)[0];
  const tool = link(wristYaw)[0] + link(wristRoll)[0] + (robot.gripper?.tip_offset ?? 0);
  const step = SPEED / policyRateHz;
  const goal = new Float64Array(3);
  const targets = new Float64Array(names.length);

  function inverse(x: number, y: number, z: number, out: Float64Array): void {
    const r = Math.hypot(x, y);
    const dx = r;
    const dz = z + tool - shoulderHeight;
    const d2 = dx * dx + dz * dz;
    const cosElbow = Math.max(-1, Math.min(1, (d2 - upper * upper - fore * fore) / (2 * upper * fore)));
    const qe = Math.acos(cosElbow);
    const qs = Math.atan2(-dz, dx) - Math.atan2(fore * Math.sin(qe), upper + fore * Math.cos(qe));
    out[yaw] = Math.atan2(y, x);
    out[shoulder] = qs;
    out[elbow] = qe;
    out[wrist] = Math.PI / 2 - qs - qe;
    if (wristYaw >= 0) out[wristYaw] = 0;
    if (wristRoll >= 0) out[wristRoll] = 0;
  }

  function act(plant: SimPlant, out: Float64Array): void {
    const { tip, object, grasped } = plant.truth;
    let grip = OPEN;
    goal[0] = object[0];
    goal[1] = object[1];
    if (grasped) {
      goal[2] = LIFT;
      grip = 0;
    } else if (Math.hypot(tip[0] - object[0], tip[1] - object[1]) > 0.006) {
      goal[2] = Math.max(HOVER, tip[2]);
    } else if (tip[2] > object[2] + 0.004) {
      goal[2] = object[2];
    } else {
      goal[2] = object[2];
      grip = 0;
    }
    // Move the fingertip toward the goal at a bounded speed, then solve the joints.
    const ex = goal[0] - tip[0];
    const ey = goal[1] - tip[1];
    const ez = goal[2] - tip[2];
    const distance = Math.hypot(ex, ey, ez);
    const f = distance > step ? step / distance : 1;
    inverse(tip[0] + f * ex, tip[1] + f * ey, tip[2] + f * ez, out);
    out[gripper] = grip;
  }

  return {
    act,
    chunk(plant, scratch, horizon, ticksPerAction, out) {
      scratch.copyFrom(plant);
      const n = names.length;
      for (let k = 0; k < horizon; k++) {
        act(scratch, targets);
        for (let j = 0; j < n; j++) out[k * n + j] = targets[j];
        for (let t = 0; t < ticksPerAction; t++) scratch.step(targets);
      }
    },
  };
}
