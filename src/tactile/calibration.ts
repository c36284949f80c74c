/**
 * Force calibration: the estimator's force proxy (unitless: gain-compensated grey-level change
 * summed over the contact patch, scaled so ~1 is a full grip in the simulator) is mapped to a
 * force by a power law, force = scale * proxy^exponent. A power law because the proxy grows
 * with contact area times indentation, both of which grow sub-linearly with load on a soft pad
 * (Hertz: area ~ F^(2/3)); one exponent per pad absorbs the pad's material and the optics.
 * `embody tactile calibrate` fits it from clips pressed with known loads.
 */

export interface ForceCalibration {
  /** Force at proxy 1, in `unit`. */
  readonly scale: number;
  readonly exponent: number;
  readonly unit: string;
}

export interface CalibrationPoint {
  /** Known load, in the unit of the calibration (N). */
  readonly load: number;
  /** The estimator's uncalibrated force proxy under that load. */
  readonly proxy: number;
}

export interface CalibrationFit extends ForceCalibration {
  /** Coefficient of determination of the fit in log-log space (1 = perfect). */
  readonly r2: number;
  /** Points used (load > 0 and proxy > 0). */
  readonly points: number;
  /** Worst relative error |fit - load| / load over the points used. */
  readonly maxRelativeError: number;
}

/** Apply a calibration to a proxy value; 0 stays 0. */
export function applyForceCalibration(calibration: ForceCalibration, proxy: number): number {
  return proxy > 0 ? calibration.scale * Math.pow(proxy, calibration.exponent) : 0;
}

/**
 * Least-squares power law through the points with load > 0 and proxy > 0, in log space
 * (relative errors weigh alike at light and heavy loads). With one distinct proxy only the
 * scale is fitted (exponent 1).
 */
export function fitForceCalibration(points: readonly CalibrationPoint[], unit = 'N'): CalibrationFit {
  const used = points.filter((p) => p.load > 0 && p.proxy > 0 && Number.isFinite(p.load) && Number.isFinite(p.proxy));
  if (used.length === 0) throw new Error('calibration needs at least one load > 0 with contact detected (proxy > 0)');
  const xs = used.map((p) => Math.log(p.proxy));
  const ys = used.map((p) => Math.log(p.load));
  const n = used.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  const exponent = sxx > 1e-12 ? sxy / sxx : 1;
  if (!(exponent > 0)) throw new Error('calibration: the force proxy does not grow with the load (check the ROI and the clips)');
  const logScale = my - exponent * mx;
  let sse = 0;
  let maxRelativeError = 0;
  for (let i = 0; i < n; i++) {
    const fit = logScale + exponent * xs[i];
    sse += (ys[i] - fit) ** 2;
    maxRelativeError = Math.max(maxRelativeError, Math.abs(Math.exp(fit) - used[i].load) / used[i].load);
  }
  return {
    scale: Math.exp(logScale),
    exponent,
    unit,
    r2: syy > 1e-12 ? 1 - sse / syy : 1,
    points: n,
    maxRelativeError,
  };
}
