/**
 * Camera motion: each patch of the reference is found in the frame by normalized
 * cross-correlation over a small search window with sub-cell parabola refinement (against the
 * reference, not the previous frame, so nothing accumulates); the median displacement of the
 * patches outside last frame's contact is the whole-image motion, refined to sub-cell precision
 * by Gauss-Newton on the quiet cells. Shear is measured net of it, and the difference map
 * compares the frame with the reference shifted by it.
 */
import { selectMedian } from './median.js';
import type { Pad } from './pad.js';

export class MotionStage {
  /** Per pad: this frame's camera motion, working cells (cur(x) ~ ref(x - (u, v))). */
  readonly u: Float64Array;
  readonly v: Float64Array;
  /**
   * Per pad: the camera motion shear is measured against: this frame's, or, while a contact
   * covers too many patches to tell camera motion from shear, the one measured before it.
   */
  readonly shearBaseU: Float64Array;
  readonly shearBaseV: Float64Array;
  readonly #radius: number;

  constructor(pads: number, searchRadius: number) {
    this.u = new Float64Array(pads);
    this.v = new Float64Array(pads);
    this.shearBaseU = new Float64Array(pads);
    this.shearBaseV = new Float64Array(pads);
    this.#radius = searchRadius;
  }

  /**
   * Patch displacements and the camera motion of pad p (`cellNoise`: the reference's per-cell
   * noise, `inContact`: the pad's contact state); returns 1 when too few patches lie outside
   * the contact to tell camera motion from shear (then shear keeps its base).
   */
  measure(pad: Pad, p: number, cellNoise: Float64Array, inContact: number): number {
    this.#displacements(pad, cellNoise, p);
    const held = this.#cameraMotion(pad, p, inContact);
    this.#refine(pad, p);
    return held;
  }

  /** Shear of pad p is measured against this frame's motion. */
  rebaseShear(p: number): void {
    this.shearBaseU[p] = this.u[p];
    this.shearBaseV[p] = this.v[p];
  }

  /** Cells the motion reaches into the pad, rounded up, plus one. */
  reach(p: number): number {
    return Math.ceil(Math.max(Math.abs(this.u[p]), Math.abs(this.v[p]))) + 1;
  }

  /** Border cells that saw what moved in from outside the pad (0 while the camera is still). */
  border(p: number): number {
    return Math.abs(this.u[p]) > 0.05 || Math.abs(this.v[p]) > 0.05 ? this.reach(p) : 0;
  }

  /** pad.refShifted = pad.ref shifted by the motion of pad p. */
  shiftReference(pad: Pad, p: number): void {
    this.shift(pad, p, 1, pad.ref, pad.refShifted);
  }

  /**
   * out(x, y) = src(x - sign u, y - sign v) with (u, v) the motion of pad p (sign 1 or -1);
   * bilinear, clamped at the border.
   */
  shift(pad: Pad, p: number, sign: number, src: Float64Array, out: Float64Array): void {
    const gu = sign * this.u[p];
    const gv = sign * this.v[p];
    if (Math.abs(gu) < 0.05 && Math.abs(gv) < 0.05) {
      out.set(src);
      return;
    }
    const cols = pad.cols;
    const rows = pad.rows;
    for (let y = 0; y < rows; y++) {
      let sy = y - gv;
      sy = sy < 0 ? 0 : sy > rows - 1 ? rows - 1 : sy;
      const y0 = Math.min(rows - 2, Math.floor(sy));
      const fy = rows > 1 ? sy - Math.max(0, y0) : 0;
      const r0 = Math.max(0, y0) * cols;
      const r1 = Math.min(rows - 1, Math.max(0, y0) + 1) * cols;
      for (let x = 0; x < cols; x++) {
        let sx = x - gu;
        sx = sx < 0 ? 0 : sx > cols - 1 ? cols - 1 : sx;
        const x0 = Math.max(0, Math.min(cols - 2, Math.floor(sx)));
        const x1 = Math.min(cols - 1, x0 + 1);
        const fx = sx - x0;
        const top = src[r0 + x0] + fx * (src[r0 + x1] - src[r0 + x0]);
        const bottom = src[r1 + x0] + fx * (src[r1 + x1] - src[r1 + x0]);
        out[y * cols + x] = top + fy * (bottom - top);
      }
    }
  }

  /**
   * Displacement of each patch of the reference in the current image (normalized
   * cross-correlation); patches flatter than the reference's cell noise cellNoise[p] are invalid.
   */
  #displacements(pad: Pad, cellNoise: Float64Array, p: number): void {
    const radius = this.#radius;
    const side = 2 * radius + 1;
    const cols = pad.cols;
    const cur = pad.cur;
    const ref = pad.ref;
    const ncc = pad.ncc;
    const hx = pad.patchHalfX;
    const hy = pad.patchHalfY;
    const count = (2 * hx + 1) * (2 * hy + 1);
    const minVariance = Math.max(1, 4 * cellNoise[p] * cellNoise[p]);
    for (let k = 0; k < pad.patchCount; k++) {
      const cx = pad.patchX[k];
      const cy = pad.patchY[k];
      let sr = 0;
      let srr = 0;
      for (let y = cy - hy; y <= cy + hy; y++) {
        for (let x = cx - hx; x <= cx + hx; x++) {
          const r = ref[y * cols + x];
          sr += r;
          srr += r * r;
        }
      }
      const varR = srr - (sr * sr) / count;
      if (varR < minVariance * count) {
        pad.patchValid[k] = 0;
        pad.patchU[k] = 0;
        pad.patchV[k] = 0;
        continue;
      }
      let best = 0;
      let bestScore = -2;
      for (let v = -radius; v <= radius; v++) {
        for (let u = -radius; u <= radius; u++) {
          let sc = 0;
          let scc = 0;
          let scr = 0;
          for (let y = cy - hy; y <= cy + hy; y++) {
            const rowR = y * cols;
            const rowC = (y + v) * cols + u;
            for (let x = cx - hx; x <= cx + hx; x++) {
              const c = cur[rowC + x];
              const r = ref[rowR + x];
              sc += c;
              scc += c * c;
              scr += c * r;
            }
          }
          const varC = scc - (sc * sc) / count;
          const score = varC > 1e-9 ? (scr - (sc * sr) / count) / Math.sqrt(varC * varR) : -1;
          const slot = (v + radius) * side + (u + radius);
          ncc[slot] = score;
          if (score > bestScore) {
            bestScore = score;
            best = slot;
          }
        }
      }
      const bu = (best % side) - radius;
      const bv = ((best / side) | 0) - radius;
      let du = 0;
      let dv = 0;
      if (bu > -radius && bu < radius) {
        const a = ncc[best - 1];
        const c = ncc[best + 1];
        const den = a - 2 * bestScore + c;
        if (den < -1e-12) du = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
      }
      if (bv > -radius && bv < radius) {
        const a = ncc[best - side];
        const c = ncc[best + side];
        const den = a - 2 * bestScore + c;
        if (den < -1e-12) dv = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den));
      }
      pad.patchU[k] = bu + du;
      pad.patchV[k] = bv + dv;
      pad.patchValid[k] = bestScore > 0.5 ? 1 : 0;
    }
  }

  /**
   * Median displacement of valid patches outside last frame's contact (all valid ones if too
   * few) into u[p], v[p]; returns 1 when shear must hold its base motion.
   */
  #cameraMotion(pad: Pad, p: number, inContact: number): number {
    const hx = pad.patchHalfX;
    const hy = pad.patchHalfY;
    const cols = pad.cols;
    const prev = pad.prevMask;
    for (let k = 0; k < pad.patchCount; k++) {
      let covered = 0;
      for (let y = pad.patchY[k] - hy; y <= pad.patchY[k] + hy; y++) {
        for (let x = pad.patchX[k] - hx; x <= pad.patchX[k] + hx; x++) covered += prev[y * cols + x];
      }
      pad.patchCover[k] = covered / ((2 * hx + 1) * (2 * hy + 1));
    }
    const scratch = pad.scratch;
    let m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.patchValid[k] === 1 && pad.patchCover[k] < 0.1) m++;
    // Too few patches outside the contact to tell camera motion from shear: shear is measured
    // against the motion estimated before (shearBase, held), while the difference map still
    // follows the median of all patches (the contact shows in its intensity either way).
    const hold = m < 3 && inContact === 1 ? 1 : 0;
    const quietOnly = m >= 3 ? 1 : 0;
    m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.patchValid[k] === 1 && (quietOnly === 0 || pad.patchCover[k] < 0.1)) scratch[m++] = pad.patchU[k];
    this.u[p] = m > 0 ? scratch[selectMedian(scratch, m)] : 0;
    m = 0;
    for (let k = 0; k < pad.patchCount; k++) if (pad.patchValid[k] === 1 && (quietOnly === 0 || pad.patchCover[k] < 0.1)) scratch[m++] = pad.patchV[k];
    this.v[p] = m > 0 ? scratch[selectMedian(scratch, m)] : 0;
    return hold;
  }

  /**
   * Sub-cell refinement of the camera motion by Gauss-Newton on the quiet cells (outside last
   * frame's contact and off the border): cur(x) ~ ref(x - g), three iterations at most.
   */
  #refine(pad: Pad, p: number): void {
    const cols = pad.cols;
    const rows = pad.rows;
    if (cols < 5 || rows < 5) return;
    const cur = pad.cur;
    const refS = pad.refShifted;
    const prev = pad.prevMask;
    let excluded = 0;
    for (let i = 0; i < pad.cells; i++) excluded += prev[i];
    const skip = pad.cells - excluded >= pad.cells * 0.4 ? 1 : 2;
    for (let iteration = 0; iteration < 3; iteration++) {
      this.shiftReference(pad, p);
      const margin = 1 + Math.ceil(Math.max(Math.abs(this.u[p]), Math.abs(this.v[p])));
      let axx = 0;
      let axy = 0;
      let ayy = 0;
      let bx = 0;
      let by = 0;
      for (let y = margin; y < rows - margin; y++) {
        for (let x = margin; x < cols - margin; x++) {
          const i = y * cols + x;
          if (prev[i] === skip) continue;
          const jx = 0.5 * (refS[i + 1] - refS[i - 1]);
          const jy = 0.5 * (refS[i + cols] - refS[i - cols]);
          const e = cur[i] - refS[i];
          axx += jx * jx;
          axy += jx * jy;
          ayy += jy * jy;
          bx += jx * e;
          by += jy * e;
        }
      }
      const det = axx * ayy - axy * axy;
      if (!(det > 1e-9 * (axx + ayy) * (axx + ayy)) || axx + ayy < 1) return;
      // e ~ -J . delta  =>  delta = -(J^T J)^-1 J^T e
      const du = -(ayy * bx - axy * by) / det;
      const dv = -(axx * by - axy * bx) / det;
      const limit = this.#radius + 0.5;
      this.u[p] = Math.max(-limit, Math.min(limit, this.u[p] + Math.max(-0.5, Math.min(0.5, du))));
      this.v[p] = Math.max(-limit, Math.min(limit, this.v[p] + Math.max(-0.5, Math.min(0.5, dv))));
      if (Math.abs(du) < 0.01 && Math.abs(dv) < 0.01) return;
    }
  }
}
