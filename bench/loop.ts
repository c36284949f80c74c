/**
 * `embody bench loop`: control-tick lateness at 100, 200 and 500 Hz, idle (loop holding, no
 * policy) and with the full pipeline (policy inference, sim camera, touch estimator, embedded
 * MQTT telemetry, and deliberate garbage on the main thread), each printed beside cyclictest
 * at the same period measured in the same run: the kernel's own wake-up floor on this machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { createLogger } from '../src/runtime/logger.js';
import { runRobot } from '../src/runtime/run.js';

export interface LatencySummary {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

export interface LoopRow {
  readonly rateHz: number;
  readonly load: 'idle' | 'full';
  readonly seconds: number;
  readonly embody: LatencySummary & { readonly ticks: number; readonly missed: number; readonly achievedRateHz: number; readonly driftMs: number };
  readonly cyclictest: LatencySummary;
  readonly ratioP99: number;
  readonly inferenceMs?: { readonly p50: number; readonly p99: number };
  readonly starvationTicks?: number;
  readonly task?: Readonly<Record<string, number | boolean>>;
  readonly controlThread: string;
}

/** Run cyclictest for `seconds` at `periodUs` and read its histogram. */
export function cyclictest(periodUs: number, seconds: number, priority: number): LatencySummary {
  // Same footing as the control thread: SCHED_FIFO at its priority, or SCHED_OTHER.
  const scheduling = priority > 0 ? ['-p', String(priority)] : [];
  const result = spawnSync('cyclictest', ['-q', '-t', '1', ...scheduling, '-i', String(Math.round(periodUs)), '-D', `${seconds}`, '-h', '20000'], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (result.error || result.status !== 0) {
    throw new Error(`cyclictest failed (${result.error?.message ?? result.stderr}); install Debian package rt-tests`);
  }
  const bins: [number, number][] = [];
  let max = 0;
  for (const line of result.stdout.split('\n')) {
    const bin = /^(\d{6})\s+(\d+)/.exec(line);
    if (bin) bins.push([Number(bin[1]), Number(bin[2])]);
    const maxLine = /^# Max Latencies:\s+(\d+)/.exec(line);
    if (maxLine) max = Number(maxLine[1]);
  }
  const total = bins.reduce((sum, [, count]) => sum + count, 0);
  const at = (q: number): number => {
    let seen = 0;
    for (const [us, count] of bins) {
      seen += count;
      if (seen >= q * total) return us;
    }
    return max;
  };
  return { p50Us: at(0.5), p99Us: at(0.99), maxUs: max };
}

/** A copy of robot.yaml with another control rate, its policy path made absolute. */
function robotAtRate(robotFile: string, rateHz: number, directory: string): string {
  const doc = parse(readFileSync(robotFile, 'utf8')) as { control: { rate_hz: number }; policy: { manifest: string } };
  doc.control.rate_hz = rateHz;
  doc.policy.manifest = resolve(dirname(robotFile), doc.policy.manifest);
  const file = join(directory, `robot-${rateHz}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** Garbage on the main thread, as a busy telemetry/logging process would make. */
function mainThreadLoad(): () => void {
  let keep: unknown[] = [];
  const timer = setInterval(() => {
    const batch: unknown[] = [];
    for (let i = 0; i < 20_000; i++) batch.push({ i, s: `sample-${i}`, v: [i, i * 2] });
    keep = batch.length > 0 ? batch : keep;
  }, 10);
  return () => {
    clearInterval(timer);
    keep = [];
  };
}

export async function benchLoop(robotFile: string, options: { seconds?: number; rates?: number[] } = {}): Promise<LoopRow[]> {
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-loop-'));
  const log = createLogger({ level: 'warn', pretty: false });
  const rows: LoopRow[] = [];
  const doc = parse(readFileSync(robotFile, 'utf8')) as { control: { realtime_priority?: number } };
  const priority = doc.control.realtime_priority ?? 40;
  for (const rateHz of options.rates ?? [100, 200, 500]) {
    const robot = robotAtRate(robotFile, rateHz, directory);
    for (const load of ['idle', 'full'] as const) {
      // The headline number is 60 s at 200 Hz with the full pipeline.
      const seconds = options.seconds ?? (rateHz === 200 && load === 'full' ? 60 : 15);
      const anchor = cyclictest(1e6 / rateHz, seconds, priority);
      const stopLoad = load === 'full' ? mainThreadLoad() : () => undefined;
      const report = await runRobot({
        robotFile: robot,
        durationS: seconds,
        broker: load === 'full' ? 'embedded' : 'none',
        autoArm: load === 'full',
        log,
      }).finally(stopLoad);
      const row: LoopRow = {
        rateHz,
        load,
        seconds,
        embody: {
          p50Us: report.tick_lateness_us.p50,
          p99Us: report.tick_lateness_us.p99,
          maxUs: report.tick_lateness_us.max,
          ticks: report.ticks,
          missed: report.missed_ticks,
          achievedRateHz: report.clock.achieved_rate_hz,
          driftMs: report.clock.drift_ms,
        },
        cyclictest: anchor,
        ratioP99: anchor.p99Us > 0 ? report.tick_lateness_us.p99 / anchor.p99Us : Number.NaN,
        inferenceMs: load === 'full' ? { p50: report.inference_latency_ms.p50, p99: report.inference_latency_ms.p99 } : undefined,
        starvationTicks: load === 'full' ? report.starvation_ticks : undefined,
        task: report.task,
        controlThread: report.control_thread,
      };
      rows.push(row);
      process.stdout.write(formatRow(row) + '\n');
    }
  }
  return rows;
}

export function formatRow(row: LoopRow): string {
  const e = row.embody;
  const c = row.cyclictest;
  return (
    `loop ${String(row.rateHz).padStart(3)} Hz ${row.load.padEnd(4)} ${row.seconds}s: ` +
    `embody p50 ${e.p50Us} µs p99 ${e.p99Us} µs max ${e.maxUs.toFixed(0)} µs missed ${e.missed} drift ${e.driftMs.toFixed(3)} ms | ` +
    `cyclictest p50 ${c.p50Us} µs p99 ${c.p99Us} µs max ${c.maxUs} µs | p99 ratio ${row.ratioP99.toFixed(2)}` +
    (row.inferenceMs ? ` | inference p50 ${row.inferenceMs.p50.toFixed(3)} ms, starved ${row.starvationTicks}` : '')
  );
}
