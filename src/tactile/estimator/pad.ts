/**
 * Pad geometry: a fingertip's ROI clamped to the image, the working grid it is area-averaged
 * into, the displacement patches laid over that grid, and the working images every stage reads
 * and writes, all allocated here once. `sample` is the first step of every frame.
 */
import type { FingertipDescription } from '../../robot/index.js';
import type { ForceCalibration } from '../calibration.js';
import { HIST_BINS } from './options.js';

export class Pad {
  readonly name: string;
  /** The ROI clamped to the image, pixels. */
  readonly roiX: number;
  readonly roiY: number;
  readonly roiWidth: number;
  readonly roiHeight: number;
  /** ROI pixels per working cell side. */
  readonly cell: number;
  /** Working grid: columns, rows and cells. */
  readonly cols: number;
  readonly rows: number;
  readonly cells: number;
  /** ROI pixels the working grid covers (sample's denominator for the clipped fraction). */
  readonly sampledPixels: number;

  /** This frame, grey, divided by its gain once that is known. */
  readonly cur: Float64Array;
  /** The no-contact reference, and the first one collected (drift is measured against it). */
  readonly ref: Float64Array;
  readonly factory: Float64Array;
  /** Sums of the frames and of their squares while a reference is collected. */
  readonly refSum: Float64Array;
  readonly refSq: Float64Array;
  /** The reference shifted by this frame's camera motion. */
  readonly refShifted: Float64Array;
  /** Frame minus shifted reference, and the same box-filtered over the marker pitch. */
  readonly diff: Float64Array;
  readonly filtered: Float64Array;
  /** Scratch image: the box filter's first pass; the aligned frame while a reference is collected. */
  readonly tmp: Float64Array;
  /** Scratch for medians (at least HIST_BINS long). */
  readonly scratch: Float64Array;
  /** Cells over the contact threshold, this frame and the last. */
  readonly mask: Uint8Array;
  readonly prevMask: Uint8Array;

  /** Displacement patches: (2 halfX + 1) x (2 halfY + 1) cells centred at (patchX, patchY). */
  readonly patchCount: number;
  readonly patchHalfX: number;
  readonly patchHalfY: number;
  readonly patchX: Int32Array;
  readonly patchY: Int32Array;
  /** Each patch's displacement against the reference (cells), whether it is trustworthy, and the fraction of it in contact. */
  readonly patchU: Float64Array;
  readonly patchV: Float64Array;
  readonly patchValid: Uint8Array;
  readonly patchCover: Float64Array;
  /** Normalized cross-correlation scores over the search window of one patch. */
  readonly ncc: Float64Array;

  readonly calibrated: boolean;
  /** [scale, exponent] of force = scale * proxy^exponent. */
  readonly calibration: Float64Array;
  /** Box filter width of the difference map, cells (the marker pitch, chosen with each reference). */
  box = 3;

  constructor(
    fingertip: FingertipDescription,
    width: number,
    height: number,
    workingSize: number,
    patches: number,
    radius: number,
    calibration: ForceCalibration | undefined,
  ) {
    this.name = fingertip.name;
    const [x, y, w, h] = fingertip.roi;
    this.roiX = Math.min(Math.max(0, x), width - 1);
    this.roiY = Math.min(Math.max(0, y), height - 1);
    this.roiWidth = Math.max(1, Math.min(w, width - this.roiX));
    this.roiHeight = Math.max(1, Math.min(h, height - this.roiY));
    this.cell = Math.max(1, Math.ceil(Math.max(this.roiWidth, this.roiHeight) / workingSize));
    this.cols = Math.max(1, Math.floor(this.roiWidth / this.cell));
    this.rows = Math.max(1, Math.floor(this.roiHeight / this.cell));
    this.cells = this.cols * this.rows;
    this.sampledPixels = this.rows * this.cell * (this.cols * this.cell);
    const n = this.cells;
    this.cur = new Float64Array(n);
    this.ref = new Float64Array(n);
    this.factory = new Float64Array(n);
    this.refSum = new Float64Array(n);
    this.refSq = new Float64Array(n);
    this.refShifted = new Float64Array(n);
    this.diff = new Float64Array(n);
    this.filtered = new Float64Array(n);
    this.tmp = new Float64Array(n);
    this.scratch = new Float64Array(Math.max(n, HIST_BINS));
    this.mask = new Uint8Array(n);
    this.prevMask = new Uint8Array(n);
    // Patch windows centred on a per-side grid, inside the search margin.
    const half = (span: number): number => Math.max(2, Math.floor((span - 2 * radius) / patches / 2));
    this.patchHalfX = half(this.cols);
    this.patchHalfY = half(this.rows);
    const fitsX = this.cols >= 2 * (this.patchHalfX + radius) + 1;
    const fitsY = this.rows >= 2 * (this.patchHalfY + radius) + 1;
    const px = fitsX ? patches : 0;
    const py = fitsY ? patches : 0;
    this.patchCount = px * py;
    this.patchX = new Int32Array(this.patchCount);
    this.patchY = new Int32Array(this.patchCount);
    const place = (k: number, count: number, halfSide: number, span: number): number => {
      const lo = radius + halfSide;
      const hi = span - 1 - radius - halfSide;
      return count <= 1 ? Math.round((lo + hi) / 2) : Math.round(lo + ((hi - lo) * k) / (count - 1));
    };
    for (let j = 0; j < py; j++) {
      for (let i = 0; i < px; i++) {
        this.patchX[j * px + i] = place(i, px, this.patchHalfX, this.cols);
        this.patchY[j * px + i] = place(j, py, this.patchHalfY, this.rows);
      }
    }
    this.patchU = new Float64Array(this.patchCount);
    this.patchV = new Float64Array(this.patchCount);
    this.patchValid = new Uint8Array(this.patchCount);
    this.patchCover = new Float64Array(this.patchCount);
    this.ncc = new Float64Array((2 * radius + 1) * (2 * radius + 1));
    this.calibrated = calibration !== undefined;
    this.calibration = Float64Array.of(calibration?.scale ?? 1, calibration?.exponent ?? 1);
  }

  /** Whether cell (x, y) lies within `margin` cells of the grid's border. */
  onBorder(x: number, y: number, margin: number): boolean {
    return x < margin || y < margin || x >= this.cols - margin || y >= this.rows - margin;
  }
}

/**
 * Area-average the pad's ROI of a packed RGB24 frame `width` pixels wide into pad.cur (grey);
 * returns the number of clipped pixels (any channel >= 250) among pad.sampledPixels.
 */
export function sample(pad: Pad, data: Uint8Array, width: number): number {
  const s = pad.cell;
  const cols = pad.cols;
  const cur = pad.cur;
  cur.fill(0);
  let clipped = 0;
  const rows = pad.rows * s;
  const columns = cols * s;
  for (let y = 0; y < rows; y++) {
    const rowBase = (pad.roiY + y) * width + pad.roiX;
    const cellRow = ((y / s) | 0) * cols;
    for (let x = 0; x < columns; x++) {
      const o = 3 * (rowBase + x);
      const r = data[o];
      const g = data[o + 1];
      const b = data[o + 2];
      if (r >= 250 || g >= 250 || b >= 250) clipped++;
      cur[cellRow + ((x / s) | 0)] += r + g + b;
    }
  }
  const scale = 1 / (3 * s * s);
  for (let i = 0; i < pad.cells; i++) cur[i] *= scale;
  return clipped;
}
