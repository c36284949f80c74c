/**
 * Naming of events: the control loop's event records (numbers in shared memory) become words for
 * logs, MQTT `events`, the run report and the HIL, in one place; the pipeline's own events
 * (instruction, inference errors, cameras) take the same shape. Nothing here runs on the control path.
 */
import { interventionNames } from '../../safety/index.js';
import type { ControlEvent } from '../event-ring.js';
import { Cause, causeNames, commandResultReasons, EventKind, eventKindNames, modeNames, operatorCommandNames } from '../shared-state.js';

export interface RuntimeEvent {
  readonly tick: number;
  /** snake_case: the loop's event kind (intervention kinds by name), or a pipeline event such as `instruction`. */
  readonly kind: string;
  readonly cause: string;
  readonly message: string;
  readonly from?: string;
  readonly to?: string;
  readonly joint?: string;
  readonly requested?: number;
  readonly commanded?: number;
  readonly detail?: string;
  /** The loop's record this came from (absent for the pipeline's own events). */
  readonly record?: ControlEvent;
}

/** Why a kind of event is worth a warning in the log (everything else is info or debug). */
export function isWarning(event: RuntimeEvent): boolean {
  const r = event.record;
  if (r === undefined) return event.kind !== 'instruction';
  if (r.kind === EventKind.MODE_CHANGE || r.kind === EventKind.INTERVENTION) return false;
  // A single rejected action is routine shaping's cousin; the first of a run is the one to see.
  return r.kind !== EventKind.ACTION_REJECTED || r.value === 1;
}

export function describeEvent(event: ControlEvent, jointNames: readonly string[], faultText: (seq: number) => string): RuntimeEvent {
  const kind = eventKindNames[event.kind] ?? `event_${event.kind}`;
  const joint = event.joint >= 0 ? jointNames[event.joint] : undefined;
  const values = {
    ...(joint !== undefined ? { joint } : {}),
    ...(Number.isFinite(event.requested) ? { requested: event.requested } : {}),
    ...(Number.isFinite(event.commanded) ? { commanded: event.commanded } : {}),
  };
  const base = { tick: event.tick, record: event };
  switch (event.kind) {
    case EventKind.MODE_CHANGE:
      return { ...base, kind, cause: causeNames[event.code] ?? String(event.code), from: modeNames[event.from], to: modeNames[event.to], message: `mode ${modeNames[event.to]}` };
    case EventKind.COMMAND_REFUSED:
      return {
        ...base,
        kind,
        cause: commandResultReasons[event.value] ?? 'refused',
        message: `command '${operatorCommandNames[event.code]}' refused: ${commandResultReasons[event.value]}`,
      };
    case EventKind.ACTION_REJECTED:
      return { ...base, kind, cause: 'non-finite or malformed action', message: `policy action rejected (${event.value} in a row)` };
    case EventKind.HARDWARE_ERROR: {
      // The error's text (its sequence number rides in `requested`) names the device, its bus
      // and address, and the fix.
      const text = faultText(event.requested);
      const what = event.value ? 'hardware write failed' : 'hardware read failed';
      return { ...base, kind, cause: causeNames[Cause.HARDWARE_FAULT], message: text === '' ? what : `${what}: ${text}` };
    }
    case EventKind.INTERVENTION: {
      const what = interventionNames[Math.log2(event.code)] ?? `intervention_${event.code}`;
      return { ...base, kind: what, cause: 'safety envelope', ...values, message: `envelope ${what.replace('_', ' ')} on ${joint ?? 'a joint'}` };
    }
    case EventKind.ESTOP:
      return { ...base, kind, cause: causeNames[Cause.ESTOP], message: event.value ? 'e-stop pressed' : 'e-stop released (reset to continue)' };
    case EventKind.STALE_ACTIONS:
      return {
        ...base,
        kind,
        cause: event.code === 1 ? 'touch estimate stale' : 'no fresh policy action within safety.action_timeout_ms',
        message: event.value ? 'inputs stale: controlled stop to a hold' : 'inputs fresh again: following the policy',
      };
    case EventKind.STALE_OBSERVATION:
      return { ...base, kind, cause: 'observation older than the camera stale_after_ms', message: `chunk refused: observation ${event.value} ticks old` };
    case EventKind.STANDSTILL_VIOLATION:
      return { ...base, kind, cause: causeNames[Cause.STANDSTILL_VIOLATION], ...values, message: `${joint ?? 'a joint'} moved while held` };
    case EventKind.UNEXPECTED_CONTACT:
      return { ...base, kind, cause: 'touch estimate', ...values, message: 'a fingertip pad touched something while the gripper was not closing' };
    case EventKind.DRIVE_POWER:
      return { ...base, kind, cause: event.value ? 'reset' : 'category 0 stop or stop complete', message: event.value ? 'drive power on' : 'drive power off, brakes on' };
    case EventKind.CLOCK_STALL:
      return {
        ...base,
        kind,
        cause: 'the control loop was held off the CPU or stopped',
        detail: String(Math.round(event.value)),
        message: `control loop stalled for ${Math.round(event.value)} ms: ${event.requested === 1 ? 'restarted at rest from the held command' : 'nothing was driven'}`,
      };
    case EventKind.TIMING_DEGRADED:
      return {
        ...base,
        kind,
        cause: causeNames[Cause.TIMING_DEGRADED],
        detail: String(event.value / 1000),
        message: event.value > 0 ? `timing degraded: ${(event.value / 10).toFixed(1)} % of the window's deadlines missed` : 'timing recovered',
      };
    default:
      return { ...base, kind, cause: causeNames[event.code] ?? kind, ...values, message: kind.replaceAll('_', ' ') };
  }
}

/** An event as the events topic carries it: no raw record, values rounded to what a reader needs. */
export function eventPayload(event: RuntimeEvent): Omit<RuntimeEvent, 'record'> {
  const { record, ...rest } = event;
  void record; // numbers in shared memory are not part of the payload
  return {
    ...rest,
    ...(rest.requested !== undefined ? { requested: round6(rest.requested) } : {}),
    ...(rest.commanded !== undefined ? { commanded: round6(rest.commanded) } : {}),
  };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
