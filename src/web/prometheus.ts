/**
 * The Prometheus text exposition format, version 0.0.4 (prometheus/docs
 * content/docs/instrumenting/exposition_formats.md): per family one `# HELP name text` line (text
 * escapes `\` and newline), one `# TYPE name type` line, then its samples `name{label="value"} v`
 * (label values escape `\`, `"` and newline); a histogram is cumulative `name_bucket{le="x"}`
 * samples ending with `le="+Inf"`, then `name_sum` and `name_count`. Values are Go floats: `+Inf`,
 * `-Inf`, `NaN`. Served as `text/plain; version=0.0.4; charset=utf-8`.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

export type MetricFamily =
  | { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge'; readonly samples: readonly Sample[] }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'histogram';
      /** Upper bounds (ascending, finite) and the cumulative count at or below each. */
      readonly buckets: readonly { readonly le: number; readonly count: number }[];
      readonly sum: number;
      readonly count: number;
    };

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  for (const [name] of entries) {
    if (!labelName.test(name) || name.startsWith('__')) throw new Error(`invalid Prometheus label name: ${name}`);
  }
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** The exposition of `families`, in order; throws on a name Prometheus would reject (a bug, not input). */
export function formatMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricName.test(family.name)) throw new Error(`invalid Prometheus metric name: ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === 'histogram') {
      for (const bucket of family.buckets) lines.push(`${family.name}_bucket{le="${formatValue(bucket.le)}"} ${formatValue(bucket.count)}`);
      lines.push(`${family.name}_bucket{le="+Inf"} ${formatValue(family.count)}`, `${family.name}_sum ${formatValue(family.sum)}`, `${family.name}_count ${formatValue(family.count)}`);
    } else {
      for (const sample of family.samples) lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A histogram family from fine bins: `bins[i]` counts observations in [i, i+1) × `binWidth`, the
 * last bin everything above. Buckets are cumulative at each bound; the sum takes each bin's
 * midpoint (exact to half a bin), the overflow bin at its lower edge.
 */
export function histogramFromBins(
  name: string,
  help: string,
  bins: ArrayLike<number>,
  binWidth: number,
  bounds: readonly number[],
): MetricFamily {
  let count = 0;
  let sum = 0;
  const last = bins.length - 1;
  const buckets: { le: number; count: number }[] = [];
  let next = 0;
  for (let i = 0; i < bins.length; i++) {
    // Every bin lying wholly at or below a bound is counted before that bound is written.
    while (next < bounds.length && (i + 1) * binWidth > bounds[next] + binWidth * 1e-9) {
      buckets.push({ le: bounds[next], count });
      next++;
    }
    const n = bins[i];
    count += n;
    sum += n * (i === last ? i : i + 0.5) * binWidth;
  }
  // Bounds past the overflow bin's edge cannot be told apart from +Inf; they hold what the bins saw below the edge.
  for (; next < bounds.length; next++) buckets.push({ le: bounds[next], count: count - bins[last] });
  return { name, help, type: 'histogram', buckets, sum, count };
}
