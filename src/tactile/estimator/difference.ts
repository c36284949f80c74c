/**
 * The difference map: the gain-compensated frame minus the motion-compensated reference, box
 * filtered over the marker pitch (chosen from the reference's autocorrelation when a reference
 * is finished). The contact stage thresholds the filtered map.
 */
import type { Pad } from './pad.js';

/**
 * pad.diff = cur - refShifted, zero within `margin` cells of the border (with camera motion
 * those cells see what moved in from outside the pad: they take no part, never contact); then
 * pad.filtered = its box filter.
 */
export function differenceMap(pad: Pad, margin: number): void {
  const n = pad.cells;
  const dd = pad.diff;
  const cur = pad.cur;
  const refS = pad.refShifted;
  for (let i = 0; i < n; i++) dd[i] = cur[i] - refS[i];
  if (margin > 0) {
    for (let y = 0; y < pad.rows; y++) {
      for (let x = 0; x < pad.cols; x++) if (pad.onBorder(x, y, margin)) dd[y * pad.cols + x] = 0;
    }
  }
  boxFilter(pad);
}

/**
 * filtered = box filter of diff over pad.box cells each way (separable running sums; the border
 * averages the cells that exist). A box as wide as the marker pitch cancels the marker pattern
 * whatever its sub-cell phase, so a residual of camera motion does not read as touch.
 */
function boxFilter(pad: Pad): void {
  const cols = pad.cols;
  const rows = pad.rows;
  const dd = pad.diff;
  const tmp = pad.tmp;
  const db = pad.filtered;
  const before = (pad.box - 1) >> 1;
  const after = pad.box - 1 - before;
  for (let y = 0; y < rows; y++) {
    const row = y * cols;
    for (let x = 0; x < cols; x++) {
      const x0 = x - before < 0 ? 0 : x - before;
      const x1 = x + after > cols - 1 ? cols - 1 : x + after;
      let sum = 0;
      for (let i = x0; i <= x1; i++) sum += dd[row + i];
      tmp[row + x] = sum / (x1 - x0 + 1);
    }
  }
  for (let x = 0; x < cols; x++) {
    for (let y = 0; y < rows; y++) {
      const y0 = y - before < 0 ? 0 : y - before;
      const y1 = y + after > rows - 1 ? rows - 1 : y + after;
      let sum = 0;
      for (let j = y0; j <= y1; j++) sum += tmp[j * cols + x];
      db[y * cols + x] = sum / (y1 - y0 + 1);
    }
  }
}

/**
 * pad.box = the given smoothing (cells, at most the grid) or, with smoothing 0, the marker
 * pitch in cells from the reference's autocorrelation (2..12), else 3.
 */
export function choosePitch(pad: Pad, smoothing: number): void {
  if (smoothing > 0) {
    pad.box = Math.min(smoothing, pad.cols, pad.rows);
    return;
  }
  const ref = pad.ref;
  const cols = pad.cols;
  const rows = pad.rows;
  let mean = 0;
  for (let i = 0; i < pad.cells; i++) mean += ref[i];
  mean /= pad.cells;
  let variance = 0;
  for (let i = 0; i < pad.cells; i++) variance += (ref[i] - mean) ** 2;
  variance /= pad.cells;
  let best = 3;
  let bestScore = 0.3;
  const maxLag = Math.min(12, Math.floor(Math.min(cols, rows) / 3));
  let previous = 1;
  let falling = true;
  for (let lag = 1; lag <= maxLag; lag++) {
    let sum = 0;
    let count = 0;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x + lag < cols; x++) {
        sum += (ref[y * cols + x] - mean) * (ref[y * cols + x + lag] - mean);
        count++;
      }
    }
    for (let y = 0; y + lag < rows; y++) {
      for (let x = 0; x < cols; x++) {
        sum += (ref[y * cols + x] - mean) * (ref[(y + lag) * cols + x] - mean);
        count++;
      }
    }
    const score = variance > 1e-9 && count > 0 ? sum / count / variance : 0;
    // The first peak after the correlation has fallen from lag 0 is the pitch.
    if (falling) {
      if (score > previous) falling = false;
    }
    if (!falling && lag >= 2 && score > bestScore) {
      bestScore = score;
      best = lag;
      break;
    }
    previous = score;
  }
  pad.box = best;
}
