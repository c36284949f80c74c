/**
 * Feature statistics as LeRobot writes them (lerobot src/lerobot/datasets/compute_stats.py):
 * min, max, mean, std, count and the quantiles q01, q10, q50, q90, q99, per dimension of a vector
 * feature (shape [D]), per channel of a video feature (shape [3, 1, 1], pixels scaled to 0-1,
 * `count` = frames sampled). Across episodes they are merged as `aggregate_feature_stats` does:
 * weighted mean, pooled variance, min of the lower quantiles and max of the upper ones.
 *
 * Choice: per episode, quantiles are exact (linear interpolation between sorted values, numpy's
 * default) where LeRobot estimates them from a 5000-bin histogram; the two agree to a bin width.
 */

export const QUANTILES = [0.01, 0.1, 0.5, 0.9, 0.99] as const;
export const QUANTILE_KEYS = ['q01', 'q10', 'q50', 'q90', 'q99'] as const;

export interface FeatureStats {
  min: number[];
  max: number[];
  mean: number[];
  std: number[];
  count: number[];
  q01: number[];
  q10: number[];
  q50: number[];
  q90: number[];
  q99: number[];
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Stats of `rows` (each of length D, or scalars as length-1 rows); `count` defaults to the rows. */
export function vectorStats(rows: ArrayLike<number>[], count = rows.length): FeatureStats {
  const d = rows[0]?.length ?? 0;
  const stats: FeatureStats = { min: [], max: [], mean: [], std: [], count: [count], q01: [], q10: [], q50: [], q90: [], q99: [] };
  for (let j = 0; j < d; j++) {
    const column = Float64Array.from(rows, (r) => r[j]);
    let sum = 0;
    let squares = 0;
    for (const v of column) {
      sum += v;
      squares += v * v;
    }
    const mean = sum / column.length;
    column.sort();
    stats.min.push(column[0]);
    stats.max.push(column[column.length - 1]);
    stats.mean.push(mean);
    stats.std.push(Math.sqrt(Math.max(0, squares / column.length - mean * mean)));
    QUANTILE_KEYS.forEach((key, i) => stats[key].push(quantile(column, QUANTILES[i])));
  }
  return stats;
}

/** LeRobot's `sample_indices`: about len^0.75 evenly spaced frames, at least 100 (or all), at most 10 000. */
export function sampleIndices(length: number): number[] {
  const min = Math.min(100, length);
  const n = Math.max(min, Math.min(Math.floor(length ** 0.75), 10_000));
  if (n <= 1) return [0];
  return Array.from({ length: n }, (_, i) => Math.round((i * (length - 1)) / (n - 1)));
}

/** Per-channel stats of RGB24 frames (pixels / 255), `count` = frames, as LeRobot does for video. */
export function imageStats(frames: Uint8Array[], width: number, height: number): FeatureStats {
  // LeRobot downsamples frames of 300 px or more by an integer stride to about 150 px.
  const stride = Math.max(width, height) < 300 ? 1 : Math.floor((width > height ? width : height) / 150);
  const pixels: number[][] = [];
  for (const frame of frames) {
    for (let y = 0; y < height; y += stride) {
      for (let x = 0; x < width; x += stride) {
        const o = (y * width + x) * 3;
        pixels.push([frame[o] / 255, frame[o + 1] / 255, frame[o + 2] / 255]);
      }
    }
  }
  return vectorStats(pixels, frames.length);
}

/** LeRobot's `aggregate_feature_stats` over episodes. */
export function aggregateStats(list: FeatureStats[]): FeatureStats {
  const total = list.reduce((a, s) => a + s.count[0], 0);
  const d = list[0].mean.length;
  const out: FeatureStats = { min: [], max: [], mean: [], std: [], count: [total], q01: [], q10: [], q50: [], q90: [], q99: [] };
  for (let j = 0; j < d; j++) {
    const mean = list.reduce((a, s) => a + s.mean[j] * s.count[0], 0) / total;
    const variance = list.reduce((a, s) => a + (s.std[j] ** 2 + (s.mean[j] - mean) ** 2) * s.count[0], 0) / total;
    out.min.push(Math.min(...list.map((s) => s.min[j])));
    out.max.push(Math.max(...list.map((s) => s.max[j])));
    out.mean.push(mean);
    out.std.push(Math.sqrt(variance));
    for (const key of QUANTILE_KEYS) {
      const values = list.map((s) => s[key][j]);
      out[key].push(Number(key.slice(1)) <= 50 ? Math.min(...values) : Math.max(...values));
    }
  }
  return out;
}

/** Video stats have shape [3, 1, 1] in stats.json: each per-channel value wrapped twice. */
export function asImageShape(stats: FeatureStats): Record<string, unknown> {
  const wrap = (v: number[]): number[][][] => v.map((x) => [[x]]);
  return { min: wrap(stats.min), max: wrap(stats.max), mean: wrap(stats.mean), std: wrap(stats.std), count: stats.count, ...Object.fromEntries(QUANTILE_KEYS.map((k) => [k, wrap(stats[k])])) };
}
