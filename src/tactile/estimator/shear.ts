/**
 * Shear and slip: shear is the contact-weighted mean displacement of the patches net of the
 * camera motion; slip is what is left when the contact patches' displacements are fitted by a
 * rigid motion (translation and rotation) plus the radial spread of pressing: the non-uniform
 * tangential motion.
 */
import type { ContactStage } from './contact.js';
import type { MotionStage } from './motion.js';
import type { Tunables } from './options.js';
import type { Pad } from './pad.js';
import type { TouchReadout } from './readout.js';

/**
 * Shear of pad p from the patches under its contact (`contact`: some cell is over the
 * threshold) into shearX/Y, and slip with its residual (slip above t.slipResidual).
 */
export function shearAndSlip(pad: Pad, p: number, contact: boolean, touch: ContactStage, motion: MotionStage, t: Tunables, out: TouchReadout): void {
  const mx = touch.cellX[p];
  const my = touch.cellY[p];
  const hx = pad.patchHalfX;
  const hy = pad.patchHalfY;
  const cols = pad.cols;
  const mask = pad.mask;
  const gu = motion.shearBaseU[p];
  const gv = motion.shearBaseV[p];
  let wsum = 0;
  let su = 0;
  let sv = 0;
  let used = 0;
  let eu = 0;
  let ev = 0;
  for (let k = 0; k < pad.patchCount; k++) {
    let covered = 0;
    for (let y = pad.patchY[k] - hy; y <= pad.patchY[k] + hy; y++) {
      for (let x = pad.patchX[k] - hx; x <= pad.patchX[k] + hx; x++) covered += mask[y * cols + x];
    }
    const cov = covered / ((2 * hx + 1) * (2 * hy + 1));
    pad.patchCover[k] = cov;
    if (pad.patchValid[k] === 0 || cov <= 0) continue;
    wsum += cov;
    su += cov * (pad.patchU[k] - gu);
    sv += cov * (pad.patchV[k] - gv);
    if (cov >= 0.3) {
      used++;
      eu += pad.patchU[k] - gu;
      ev += pad.patchV[k] - gv;
    }
  }
  out.slipResidual[p] = 0;
  if (!contact || wsum <= 0) {
    out.shearX[p] = 0;
    out.shearY[p] = 0;
    out.slip[p] = 0;
    return;
  }
  out.shearX[p] = (su / wsum) * pad.cell;
  out.shearY[p] = (sv / wsum) * pad.cell;
  if (used < 3 || touch.state[p] === 0) {
    out.slip[p] = 0;
    return;
  }
  // Pressing moves the pad radially about the contact centre (any radial profile), a rigid
  // shear translates and twists it; what is left, the non-uniform tangential motion, is slip.
  eu /= used;
  ev /= used;
  let qq = 0;
  let tq = 0;
  for (let k = 0; k < pad.patchCount; k++) {
    if (pad.patchValid[k] === 0 || pad.patchCover[k] < 0.3) continue;
    const x = pad.patchX[k] - mx;
    const y = pad.patchY[k] - my;
    const r = Math.sqrt(x * x + y * y);
    if (r < 0.5) continue;
    const tangential = (x * (pad.patchV[k] - gv - ev) - y * (pad.patchU[k] - gu - eu)) / r;
    qq += r * r;
    tq += tangential * r;
  }
  const omega = qq > 0 ? tq / qq : 0;
  let residual = 0;
  let counted = 0;
  for (let k = 0; k < pad.patchCount; k++) {
    if (pad.patchValid[k] === 0 || pad.patchCover[k] < 0.3) continue;
    const x = pad.patchX[k] - mx;
    const y = pad.patchY[k] - my;
    const r = Math.sqrt(x * x + y * y);
    if (r < 0.5) continue;
    const tangential = (x * (pad.patchV[k] - gv - ev) - y * (pad.patchU[k] - gu - eu)) / r;
    residual += (tangential - omega * r) ** 2;
    counted++;
  }
  out.slipResidual[p] = counted > 0 ? Math.sqrt(residual / counted) : 0;
  out.slip[p] = counted >= 3 && out.slipResidual[p] > t.slipResidual ? 1 : 0;
}
