/** The safety counters, read once for the run report and the metrics topic. */
import { interventionNames } from '../../safety/index.js';
import type { ControlPort } from '../pipeline/index.js';
import { Counter } from '../shared-state.js';

export interface SafetyCounts {
  readonly rejected_actions: number;
  /** Ticks on which some joint's target was clamped to its hard limits. */
  readonly position_limited: number;
  /** Ticks on which the envelope shaped some joint's motion (velocity, acceleration, jerk, soft margin). */
  readonly shaped: number;
  readonly stale_action_ticks: number;
  readonly stale_chunks: number;
  readonly estop_trips: number;
  readonly standstill_faults: number;
  /** Ticks with each intervention kind on some joint. */
  readonly by_kind: Readonly<Record<string, number>>;
}

export function safetyCounts(control: Pick<ControlPort, 'counter'>): SafetyCounts {
  const c = (index: number): number => control.counter(index);
  return {
    rejected_actions: c(Counter.REJECTED_ACTIONS),
    position_limited: c(Counter.POSITION_CLAMPS),
    shaped: c(Counter.SHAPED_TICKS),
    stale_action_ticks: c(Counter.STALE_ACTION_TICKS),
    stale_chunks: c(Counter.STALE_CHUNKS),
    estop_trips: c(Counter.ESTOP_TRIPS),
    standstill_faults: c(Counter.STANDSTILL_FAULTS),
    by_kind: Object.fromEntries(interventionNames.map((name, k) => [name, c(Counter.INTERVENTION_COUNTS + k)])),
  };
}

/** Timing as the safety layer judged it (src/safety/timing.ts). */
export function timingCounts(control: Pick<ControlPort, 'counter'>): { stalls: number; longest_stall_ms: number; missed_fraction_worst: number } {
  return {
    stalls: control.counter(Counter.STALLS),
    longest_stall_ms: control.counter(Counter.LONGEST_STALL_MS),
    missed_fraction_worst: Math.round(control.counter(Counter.WORST_MISSED_FRACTION) * 1e4) / 1e4,
  };
}
