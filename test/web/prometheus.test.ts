/**
 * The exposition format, judged by Prometheus' own parser: `promtool check metrics` (Debian's
 * prometheus package) reads what formatMetrics writes, and refuses the mistakes it guards against.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatMetrics, histogramFromBins, type MetricFamily } from '../../src/web/index.js';

function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) throw result.error; // promtool missing: the pretest installs it
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('Prometheus text format', () => {
  it('escapes label values and help text so promtool parses them (quote, backslash, newline)', () => {
    const families: MetricFamily[] = [
      { name: 'embody_touch_contact', help: 'Help with a \\ backslash\nand a newline.', type: 'gauge', samples: [{ labels: { pad: 'left "pad"\\n\nx' }, value: 1 }] },
      { name: 'embody_ticks_total', help: 'Ticks.', type: 'counter', samples: [{ value: 12 }] },
      { name: 'embody_nothing', help: 'Values Prometheus spells its own way.', type: 'gauge', samples: [{ labels: { v: 'inf' }, value: Infinity }, { labels: { v: 'nan' }, value: NaN }] },
    ];
    const text = formatMetrics(families);
    expect(text).toContain('embody_touch_contact{pad="left \\"pad\\"\\\\n\\nx"} 1\n');
    expect(text).toContain('# HELP embody_touch_contact Help with a \\\\ backslash\\nand a newline.\n');
    expect(text).toContain('embody_nothing{v="inf"} +Inf\nembody_nothing{v="nan"} NaN\n');
    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('promtool refuses an unescaped quote, so the check above could fail', () => {
    const check = promtool('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="b"c"} 1\n');
    expect(check.status).not.toBe(0);
    expect(check.output).toMatch(/parsing error/);
  });

  it('builds a cumulative histogram from 1 µs bins, the overflow bin only in +Inf', () => {
    const bins = new Int32Array(101); // 0..99 µs, then overflow
    bins[0] = 5; // [0, 1) µs
    bins[4] = 2; // [4, 5) µs: at or below 5 µs
    bins[5] = 3; // [5, 6) µs: above 5 µs
    bins[60] = 1;
    bins[100] = 4; // ≥ 100 µs
    const family = histogramFromBins('embody_tick_lateness_seconds', 'Lateness.', bins, 1e-6, [5e-6, 1e-5, 5e-5, 1e-4, 1e-3]);
    if (family.type !== 'histogram') throw new Error('not a histogram');
    expect(family.buckets).toEqual([
      { le: 5e-6, count: 7 },
      { le: 1e-5, count: 10 },
      { le: 5e-5, count: 10 },
      { le: 1e-4, count: 11 },
      { le: 1e-3, count: 11 },
    ]);
    expect(family.count).toBe(15);
    expect(family.sum).toBeCloseTo((5 * 0.5 + 2 * 4.5 + 3 * 5.5 + 60.5 + 4 * 100) * 1e-6, 12);
    const text = formatMetrics([family]);
    expect(text).toMatch(/embody_tick_lateness_seconds_bucket\{le="0\.001"\} 11\nembody_tick_lateness_seconds_bucket\{le="\+Inf"\} 15\nembody_tick_lateness_seconds_sum [0-9.e-]+\nembody_tick_lateness_seconds_count 15\n$/);
    expect(promtool(text).status).toBe(0);
  });

  it('refuses a metric name Prometheus would reject (a bug, caught before a scrape)', () => {
    expect(() => formatMetrics([{ name: 'embody-bad', help: 'x', type: 'gauge', samples: [] }])).toThrow(/invalid Prometheus metric name/);
  });
});
