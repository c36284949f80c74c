/**
 * The run report (`--report FILE.json`, and what `runRobot` returns): mode transitions from the
 * events, peak RSS sampled once a second, and the loop's counters read after it stopped.
 */
import { basename } from 'node:path';
import { Subscription } from 'rxjs';
import type { Pipeline } from '../pipeline/index.js';
import { Cause, causeNames, Counter, modeNames } from '../shared-state.js';
import { writeReport, type ModeTransition, type RunReport } from '../output/report.js';
import type { Observer, RunContext } from './observer.js';
import { safetyCounts, timingCounts } from './safety-counts.js';

export interface RunEnd {
  readonly controlled: boolean;
  readonly scheduling: string;
  readonly trace?: RunReport['trace'];
  readonly task?: RunReport['task'];
}

export interface ReportObserver extends Observer {
  /** The report of the run that ended (written to the file, if one was named). */
  finish(end: RunEnd): RunReport;
}

export function reportObserver(options: { policyName: string; modelPath: string; file?: string }): ReportObserver {
  const subscriptions = new Subscription();
  const startedAt = new Date();
  const transitions: ModeTransition[] = [];
  let peakRss = process.memoryUsage.rss();
  let pipeline: Pipeline | undefined;
  return {
    name: 'report',
    start(run: RunContext) {
      pipeline = run.pipeline;
      subscriptions.add(
        run.pipeline.events$.subscribe((event) => {
          if (event.kind === 'mode_change') transitions.push({ tick: event.tick, from: event.from ?? '', to: event.to ?? '', cause: event.cause });
        }),
      );
      subscriptions.add(run.every(1000).subscribe(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss()))));
    },
    stop() {
      subscriptions.unsubscribe();
    },
    finish(end) {
      if (pipeline === undefined) throw new Error('the report observer never started');
      const { control, robot, policy } = pipeline;
      const c = (index: number): number => control.counter(index);
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      const lastTickIndex = c(Counter.TICKS) + c(Counter.MISSED_TICKS) - 1;
      const spanMs = c(Counter.LAST_TICK_TIME_MS) - c(Counter.FIRST_TICK_TIME_MS);
      const report: RunReport = {
        robot_id: robot.robot_id,
        policy: { name: options.policyName, model: basename(options.modelPath) },
        ...(policy.brain ? { brain: policy.brain() } : {}),
        started_at: startedAt.toISOString(),
        duration_s: (Date.now() - startedAt.getTime()) / 1000,
        control_rate_hz: robot.control.rate_hz,
        control_thread: end.scheduling,
        ticks: c(Counter.TICKS),
        missed_ticks: c(Counter.MISSED_TICKS),
        clock: {
          achieved_rate_hz: spanMs > 0 ? (lastTickIndex * 1000) / spanMs : 0,
          drift_ms: spanMs - (lastTickIndex * 1000) / robot.control.rate_hz,
        },
        peak_rss_mb: Math.round((peakRss / 2 ** 20) * 10) / 10,
        tick_lateness_us: control.latenessPercentiles(),
        inference_latency_ms: policy.latencyPercentiles(),
        chunks_applied: c(Counter.CHUNKS_APPLIED),
        actions_dropped_late: c(Counter.ACTIONS_DROPPED_LATE),
        starvation_ticks: c(Counter.STARVED_TICKS),
        safety_interventions: safetyCounts(control),
        timing: timingCounts(control),
        hardware_errors: c(Counter.HARDWARE_ERRORS),
        faults: transitions.filter((t) => (t.to === 'FAULT' || t.to === 'SAFE_STOP') && t.cause !== causeNames[Cause.SHUTDOWN]),
        transitions,
        final_mode: modeNames[control.mode],
        controlled_shutdown: end.controlled,
        trace: end.trace,
        task: end.task,
      };
      if (options.file) writeReport(options.file, report);
      return report;
    },
  };
}
