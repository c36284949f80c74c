/**
 * The run report (`embody run --report FILE.json`), a stable contract for rigs and CI:
 * ticks, missed ticks, lateness and inference percentiles, starvation, safety interventions,
 * faults and the final mode. Written atomically (temp file + rename) so a reader never sees
 * half a report.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { BrainReport } from '../policy/openpi/index.js';
import type { SafetyCounts } from '../observers/safety-counts.js';

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ModeTransition {
  readonly tick: number;
  readonly from: string;
  readonly to: string;
  readonly cause: string;
}

export interface RunReport {
  readonly robot_id: string;
  readonly policy: { readonly name: string; readonly model: string };
  /** An openpi source: the server, which brain drove last and how many chunks each gave. */
  readonly brain?: BrainReport;
  readonly started_at: string;
  readonly duration_s: number;
  readonly control_rate_hz: number;
  /** How the control thread was scheduled: SCHED_FIFO, or why it ran under SCHED_OTHER. */
  readonly control_thread: string;
  readonly ticks: number;
  readonly missed_ticks: number;
  /** Rate measured from the first to the last tick, and how far the last tick was from its deadline. */
  readonly clock: { readonly achieved_rate_hz: number; readonly drift_ms: number };
  readonly peak_rss_mb: number;
  readonly tick_lateness_us: Percentiles;
  readonly inference_latency_ms: Percentiles & { readonly count: number };
  readonly chunks_applied: number;
  readonly actions_dropped_late: number;
  readonly starvation_ticks: number;
  readonly safety_interventions: SafetyCounts;
  /** Gaps between ticks of more than a few periods (re-seeded), and the worst window's missed fraction. */
  readonly timing: { readonly stalls: number; readonly longest_stall_ms: number; readonly missed_fraction_worst: number };
  readonly hardware_errors: number;
  readonly faults: readonly ModeTransition[];
  readonly transitions: readonly ModeTransition[];
  readonly final_mode: string;
  readonly controlled_shutdown: boolean;
  readonly trace?: { readonly file: string; readonly lines: number; readonly lost: number };
  /** Simulated runs only: what the plant says happened to the task. */
  readonly task?: Readonly<Record<string, number | boolean>>;
}

export function writeReport(file: string, report: RunReport): void {
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify(report, null, 2) + '\n');
  renameSync(temp, file);
}
