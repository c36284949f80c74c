/**
 * The simulated wrist camera: renders what a camera on the tool frame sees, from the world
 * state the plant publishes. The table is grey, the cube is a red square whose place and
 * size in the image follow its position relative to the wrist (so a policy can find it),
 * and the two fingertip pads fill their ROIs with a dot pattern that visibly deforms under
 * grip force: the contact patch darkens and the dots spread, as a gel pad's markers do.
 * That deformation is all the touch estimator gets. Allocation-free per frame.
 */
import type { CameraDescription, FingertipDescription } from '../../robot/index.js';
import { World } from './plant.js';
import type { Random } from './random.js';

const TABLE = [118, 112, 104] as const;
const CUBE = [200, 40, 36] as const;
const PAD = 176;
const DOT = 60;
const DOT_PITCH = 5;

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v | 0;
}

export function renderWristFrame(
  world: Float64Array,
  camera: CameraDescription,
  fingertips: readonly FingertipDescription[],
  noise: number,
  random: Random,
  out: Uint8Array,
): void {
  const { width, height } = camera;
  const focal = width / 2; // about 90 degrees horizontal field of view
  const cx = width / 2;
  const cy = height / 2;
  // Table with a little shading toward the edges, so the image is not a flat colour.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const shade = 1 - 0.15 * (Math.abs(x - cx) / width + Math.abs(y - cy) / height);
      const o = 3 * (y * width + x);
      out[o] = TABLE[0] * shade;
      out[o + 1] = TABLE[1] * shade;
      out[o + 2] = TABLE[2] * shade;
    }
  }
  const depth = world[World.OBJECT_IN_CAMERA];
  if (world[World.HAS_OBJECT] === 1 && depth > 0.02) {
    const u = cx + (focal * world[World.OBJECT_IN_CAMERA + 1]) / depth;
    const v = cy + (focal * world[World.OBJECT_IN_CAMERA + 2]) / depth;
    const half = (focal * world[World.OBJECT_SIZE]) / 2 / depth;
    const x0 = Math.max(0, Math.floor(u - half));
    const x1 = Math.min(width - 1, Math.ceil(u + half));
    const y0 = Math.max(0, Math.floor(v - half));
    const y1 = Math.min(height - 1, Math.ceil(v + half));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const o = 3 * (y * width + x);
        out[o] = CUBE[0];
        out[o + 1] = CUBE[1];
        out[o + 2] = CUBE[2];
      }
    }
  }
  const maxForce = world[World.MAX_GRIP_FORCE] || 1;
  for (let k = 0; k < fingertips.length; k++) {
    const force = world[k === 0 ? World.LEFT_FORCE : World.RIGHT_FORCE];
    renderPad(fingertips[k].roi, Math.min(1, force / maxForce), width, height, out);
  }
  if (noise > 0) {
    const n = width * height * 3;
    for (let i = 0; i < n; i++) out[i] = clampByte(out[i] + noise * random.gaussian());
  }
}

/** One pad: a dot grid; under load a central patch darkens and the dots push outward. */
function renderPad(roi: readonly [number, number, number, number], load: number, width: number, height: number, out: Uint8Array): void {
  const [rx, ry, rw, rh] = roi;
  const pcx = rx + rw / 2;
  const pcy = ry + rh / 2;
  const patch = 0.45 * Math.min(rw, rh) * Math.sqrt(load);
  for (let y = ry; y < Math.min(height, ry + rh); y++) {
    for (let x = rx; x < Math.min(width, rx + rw); x++) {
      const dx = x - pcx;
      const dy = y - pcy;
      const r = Math.hypot(dx, dy);
      // Dots are displaced radially in the patch: sample the undeformed grid closer to the centre.
      const spread = r < patch && r > 0 ? 1 - 0.35 * load * (1 - r / patch) : 1;
      const sx = pcx + dx * spread - rx;
      const sy = pcy + dy * spread - ry;
      const onDot = ((sx % DOT_PITCH) + DOT_PITCH) % DOT_PITCH < 1.6 && ((sy % DOT_PITCH) + DOT_PITCH) % DOT_PITCH < 1.6;
      let value = onDot ? DOT : PAD;
      if (r < patch) value *= 1 - 0.45 * load * (1 - (r / patch) ** 2);
      const o = 3 * (y * width + x);
      out[o] = value;
      out[o + 1] = value;
      out[o + 2] = value * 0.95;
    }
  }
}
