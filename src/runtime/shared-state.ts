/**
 * Memory shared between the main thread and the control worker. The worker's loop never
 * returns to its event loop, so everything it must see (commands, policy chunks, stop) and
 * everything it reports (state, counters, trace, events) crosses here: typed arrays over
 * SharedArrayBuffers, sequence counters with Atomics, no messages and no JSON on the hot path.
 * The records' layouts are declared in records.ts.
 */
import { interventionNames } from '../safety/index.js';
import { blockViews, CHUNK_HEADER_SIZE, EVENT_RECORD_SIZE, SnapshotRecord, TraceRecord, type BlockViews } from './records.js';

export const Mode = {
  BOOT: 0,
  IDLE: 1,
  ARMED: 2,
  RUNNING: 3,
  SAFE_STOP: 4,
  FAULT: 5,
  STOPPED: 6,
} as const;
export type ModeCode = (typeof Mode)[keyof typeof Mode];
export const modeNames = ['BOOT', 'IDLE', 'ARMED', 'RUNNING', 'SAFE_STOP', 'FAULT', 'STOPPED'] as const;
export type ModeName = (typeof modeNames)[number];

/** SHUTDOWN is internal (SIGTERM): a controlled stop, then the hardware's safe output state. */
export const OperatorCommand = { NONE: 0, ARM: 1, DISARM: 2, STOP: 3, RESET: 4, SHUTDOWN: 5, ESTOP: 6 } as const;
export type OperatorCommandCode = (typeof OperatorCommand)[keyof typeof OperatorCommand];
export const operatorCommandNames = ['none', 'arm', 'disarm', 'stop', 'reset', 'shutdown', 'estop'] as const;

export const CommandResult = {
  ACCEPTED: 0,
  NOT_READY: 1,
  FAULT_LATCHED: 2,
  NOTHING_TO_RESET: 3,
  STILL_MOVING: 4,
  HARDWARE_FAILING: 5,
  WRONG_MODE: 6,
  ESTOP_ASSERTED: 7,
} as const;
export const commandResultReasons = [
  'accepted',
  'the control loop is still booting',
  'a stop or fault is latched: send reset first',
  'nothing is latched: reset only clears SAFE_STOP or FAULT',
  'the robot is still decelerating: retry when it is at rest',
  'the hardware is still reporting errors',
  'not allowed in the current mode',
  'the emergency stop is still pressed: release it, then reset',
] as const;

/** Why something happened; the main thread turns codes into words for logs and MQTT. */
export const Cause = {
  LOOP_HEALTHY: 0,
  OPERATOR_ARM: 1,
  OPERATOR_DISARM: 2,
  OPERATOR_STOP: 3,
  OPERATOR_RESET: 4,
  FIRST_CHUNK: 5,
  REJECTION_LIMIT: 6,
  HARDWARE_FAULT: 7,
  SHUTDOWN: 8,
  ESTOP: 9,
  STOP_COMPLETE: 10,
  AUTO_ARM: 11,
  STANDSTILL_VIOLATION: 12,
  SOFTWARE_ESTOP: 13,
  FOLLOWING_ERROR: 14,
  TIMING_DEGRADED: 15,
} as const;
export const causeNames = [
  'control loop healthy',
  'operator arm',
  'operator disarm',
  'operator stop',
  'operator reset',
  'first policy chunk arrived',
  'too many consecutive rejected actions',
  'hardware fault',
  'shutdown requested',
  'emergency stop',
  'controlled stop complete',
  'armed automatically (a simulated robot, or --arm)',
  'a held joint moved (monitored standstill)',
  'software emergency stop',
  'a joint lost track of its command (following error)',
  'the loop missed too many deadlines (control.max_missed_fraction)',
] as const;

export const EventKind = {
  MODE_CHANGE: 0,
  ACTION_REJECTED: 1,
  STARVATION_BEGIN: 2,
  STARVATION_END: 3,
  COMMAND_REFUSED: 4,
  HARDWARE_ERROR: 5,
  /** code: Intervention bit; joint, requested, commanded filled. Sent when it starts per joint. */
  INTERVENTION: 6,
  /** value 1 = line asserted, 0 = released (after debounce). */
  ESTOP: 7,
  /** value 1 = actions stale, decelerating to a hold; 0 = fresh actions again. */
  STALE_ACTIONS: 8,
  /** A chunk whose observation was older than the sensor limit; value = its age in ticks. */
  STALE_OBSERVATION: 9,
  /** joint, requested (the held command), commanded (measured position). */
  STANDSTILL_VIOLATION: 10,
  /** value 1 = drive power on / brakes released, 0 = power off / brakes on. */
  DRIVE_POWER: 11,
  /** joint, requested (the command), commanded (measured position). */
  FOLLOWING_ERROR: 12,
  /** A pad touched something while the gripper was not closing (a collision, or a person). */
  UNEXPECTED_CONTACT: 13,
  /** The clock skipped more than STALL_PERIODS deadlines before this tick; value = the gap, ms. Re-seeded. */
  CLOCK_STALL: 14,
  /** value = missed fraction of the window, per mille, when it crosses half the limit; 0 when it is back under a quarter. */
  TIMING_DEGRADED: 15,
} as const;
export const eventKindNames = [
  'mode_change',
  'action_rejected',
  'starvation_begin',
  'starvation_end',
  'command_refused',
  'hardware_error',
  'intervention',
  'estop',
  'stale_actions',
  'stale_observation',
  'standstill_violation',
  'drive_power',
  'following_error',
  'unexpected_contact',
  'clock_stall',
  'timing_degraded',
] as const;

/** Int32 control cells. */
export const Ctrl = {
  RUN: 0,
  COMMAND_SEQ: 1,
  COMMAND_CODE: 2,
  COMMAND_ACK_SEQ: 3,
  MODE: 4,
  READY: 5,
  CHUNK_REQUEST_SEQ: 6,
  CHUNK_SEQ: 7,
  EXITED: 8,
  SNAPSHOT_SEQ: 9,
  TRACE_WRITE: 10,
  EVENT_WRITE: 11,
  COMMAND_RESULT: 12,
  /** Simulated e-stop line (the GPIO model): 1 = pressed. Written by tests and the HIL rig. */
  SIM_ESTOP_LINE: 13,
  /** Simulated brake/enable output as last driven: 1 = drives enabled. */
  SIM_BRAKE_LINE: 14,
  /** E-stop input as the loop last read it: 1 = pressed. */
  ESTOP_LEVEL: 15,
  /** Simulated external push: joint index, then the push in µrad/µm (applied once, cleared). */
  SIM_PUSH_JOINT: 16,
  SIM_PUSH_MICRO: 17,
  /** Sequence number of the latest hardware error text (FAULT_TEXT_SLOTS kept). */
  FAULT_TEXT_SEQ: 18,
  SIZE: 19,
} as const;

/**
 * Hardware error texts (naming the device) kept for the main thread: a ring of slots, because a
 * read and a write can fail in the same tick; the hardware_error event carries its text's sequence
 * number (in its `requested` field), so each event gets its own text however late it is drained.
 */
export const FAULT_TEXT_SLOTS = 8;
export const FAULT_TEXT_SLOT_BYTES = 512;

/** Ticks with each Intervention bit set on some joint: Counter.INTERVENTION_COUNTS + log2(bit). */
export const INTERVENTION_KINDS = interventionNames.length;
const INTERVENTION_COUNTS = 16;

/**
 * Float64 counters, written by the worker, except the touch cells (TOUCH_*), which the main
 * thread writes (ControlPort.publishTouch, TOUCH_TICK last) and the loop reads.
 */
export const Counter = {
  TICKS: 0,
  MISSED_TICKS: 1,
  MAX_LATENESS_NS: 2,
  STARVED_TICKS: 3,
  REJECTED_ACTIONS: 4,
  POSITION_CLAMPS: 5,
  SHAPED_TICKS: 6,
  CHUNKS_APPLIED: 7,
  ACTIONS_DROPPED_LATE: 8,
  HARDWARE_ERRORS: 9,
  LAST_TICK_TIME_MS: 10,
  FIRST_TICK_TIME_MS: 11,
  STALE_ACTION_TICKS: 12,
  STALE_CHUNKS: 13,
  ESTOP_TRIPS: 14,
  STANDSTILL_FAULTS: 15,
  /** INTERVENTION_KINDS cells, one per Intervention bit. */
  INTERVENTION_COUNTS,
  /** Gaps of more than STALL_PERIODS periods between ticks, and the longest, ms. */
  STALLS: INTERVENTION_COUNTS + INTERVENTION_KINDS,
  LONGEST_STALL_MS: INTERVENTION_COUNTS + INTERVENTION_KINDS + 1,
  /** Missed fraction of the deadlines in the worst full timing window so far. */
  WORST_MISSED_FRACTION: INTERVENTION_COUNTS + INTERVENTION_KINDS + 2,
  /** Gripper squeeze from the touch estimate (unitless). */
  TOUCH_FORCE: INTERVENTION_COUNTS + INTERVENTION_KINDS + 3,
  /** 1 while the touch estimate says some pad is in contact (hysteresis state). */
  TOUCH_CONTACT: INTERVENTION_COUNTS + INTERVENTION_KINDS + 4,
  /** Worker tick of the camera frame the touch cells came from (0 until the first estimate; the loop takes only ticks > 0). */
  TOUCH_TICK: INTERVENTION_COUNTS + INTERVENTION_KINDS + 5,
  SIZE: INTERVENTION_COUNTS + INTERVENTION_KINDS + 6,
} as const;

/** Lateness histogram: 1 µs bins up to this many µs, plus one overflow bin. */
export const LATENESS_BINS_US = 20_000;

export const TRACE_CAPACITY = 8192;
export const EVENT_CAPACITY = 1024;

export interface SharedLayout {
  readonly jointCount: number;
  readonly horizon: number;
  readonly actionDim: number;
  /** Floats of simulated-world state appended to the snapshot (0 on real hardware). */
  readonly worldSize: number;
}

export interface SharedBuffers {
  readonly control: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly lateness: SharedArrayBuffer;
  readonly snapshot: SharedArrayBuffer;
  readonly trace: SharedArrayBuffer;
  readonly events: SharedArrayBuffer;
  readonly chunk: SharedArrayBuffer;
  readonly faultText: SharedArrayBuffer;
}

/** Views over the shared buffers, identical on both threads. */
export interface SharedViews {
  readonly layout: SharedLayout;
  readonly control: Int32Array;
  readonly counters: Float64Array;
  readonly lateness: Int32Array;
  /** One SnapshotRecord, then the world (records.ts). */
  readonly snapshot: Float64Array;
  /** TRACE_CAPACITY TraceRecords. */
  readonly trace: Float64Array;
  /** EVENT_CAPACITY EventRecords. */
  readonly events: Float64Array;
  /** One ChunkRecord header, then horizon * actionDim values. */
  readonly chunk: Float64Array;
  /** FAULT_TEXT_SLOTS slots of UTF-8 hardware error text, written by the worker. */
  readonly faultText: Uint8Array;
  /** Bytes used in each slot of faultText. */
  readonly faultTextLength: Int32Array;
}

/**
 * Named views over one snapshot buffer (made once, read many times: subarrays allocate only
 * here), from SnapshotRecord's declaration.
 */
export interface SnapshotView extends BlockViews<(typeof SnapshotRecord.blocks)[number]> {
  readonly buffer: Float64Array;
  /** The simulated world's state (empty on real hardware). */
  readonly world: Float64Array;
}

export function snapshotView(buffer: Float64Array, jointCount: number): SnapshotView {
  return { buffer, ...blockViews(SnapshotRecord, buffer, jointCount), world: buffer.subarray(SnapshotRecord.size(jointCount)) };
}

export function allocateShared(layout: SharedLayout): SharedBuffers {
  const f64 = Float64Array.BYTES_PER_ELEMENT;
  const i32 = Int32Array.BYTES_PER_ELEMENT;
  return {
    control: new SharedArrayBuffer(Ctrl.SIZE * i32),
    counters: new SharedArrayBuffer(Counter.SIZE * f64),
    lateness: new SharedArrayBuffer((LATENESS_BINS_US + 1) * i32),
    snapshot: new SharedArrayBuffer((SnapshotRecord.size(layout.jointCount) + layout.worldSize) * f64),
    trace: new SharedArrayBuffer(TRACE_CAPACITY * TraceRecord.size(layout.jointCount) * f64),
    events: new SharedArrayBuffer(EVENT_CAPACITY * EVENT_RECORD_SIZE * f64),
    chunk: new SharedArrayBuffer((CHUNK_HEADER_SIZE + layout.horizon * layout.actionDim) * f64),
    faultText: new SharedArrayBuffer(FAULT_TEXT_SLOTS * (FAULT_TEXT_SLOT_BYTES + Int32Array.BYTES_PER_ELEMENT)),
  };
}

export function viewShared(layout: SharedLayout, buffers: SharedBuffers): SharedViews {
  return {
    layout,
    control: new Int32Array(buffers.control),
    counters: new Float64Array(buffers.counters),
    lateness: new Int32Array(buffers.lateness),
    snapshot: new Float64Array(buffers.snapshot),
    trace: new Float64Array(buffers.trace),
    events: new Float64Array(buffers.events),
    chunk: new Float64Array(buffers.chunk),
    faultText: new Uint8Array(buffers.faultText, 0, FAULT_TEXT_SLOTS * FAULT_TEXT_SLOT_BYTES),
    faultTextLength: new Int32Array(buffers.faultText, FAULT_TEXT_SLOTS * FAULT_TEXT_SLOT_BYTES, FAULT_TEXT_SLOTS),
  };
}

const faultEncoder = new TextEncoder();
const faultDecoder = new TextDecoder();

/**
 * Worker side: publish a hardware error's text (error path only; it allocates) and return its
 * sequence number. The slot's length is cleared first and the sequence bumped last, so a reader
 * never takes a half-written text.
 */
export function writeFaultText(shared: SharedViews, text: string): number {
  const seq = Atomics.load(shared.control, Ctrl.FAULT_TEXT_SEQ) + 1;
  const slot = seq % FAULT_TEXT_SLOTS;
  Atomics.store(shared.faultTextLength, slot, 0);
  const start = slot * FAULT_TEXT_SLOT_BYTES;
  const { written } = faultEncoder.encodeInto(text, shared.faultText.subarray(start, start + FAULT_TEXT_SLOT_BYTES));
  Atomics.store(shared.faultTextLength, slot, written);
  Atomics.store(shared.control, Ctrl.FAULT_TEXT_SEQ, seq);
  return seq;
}

/** Hardware error text number `seq` ('' when there is none, or it was overwritten since). */
export function readFaultText(shared: SharedViews, seq: number): string {
  const latest = Atomics.load(shared.control, Ctrl.FAULT_TEXT_SEQ);
  if (!(seq >= 1 && seq <= latest && latest - seq < FAULT_TEXT_SLOTS)) return '';
  const slot = seq % FAULT_TEXT_SLOTS;
  const start = slot * FAULT_TEXT_SLOT_BYTES;
  return faultDecoder.decode(shared.faultText.slice(start, start + Atomics.load(shared.faultTextLength, slot)));
}
