/**
 * What a recording holds: one MCAP channel per stream, JSON-encoded, with Foxglove's schemas where
 * one exists (`@foxglove/schemas`: JointStates, CompressedImage, Log) so Foxglove and Lichtblick
 * plot and show them as they are, and embody's own JSON schemas (below) otherwise. Every message
 * carries `timestamp` (the log time) and, for embody's schemas, the control `tick` it belongs to.
 *
 * One time base: a message's log time is the wall-clock time of control tick 0 plus tick × period,
 * so joint states, commands, chunks, frames and touch line up on the control tick whatever the
 * drain or encode delays were.
 */
import { CompressedImage, JointStates, Log } from '@foxglove/schemas/jsonschema.js';
import type { ChannelSpec } from './segment.js';

export const Topic = {
  JOINT_STATES: '/joint_states',
  COMMAND: '/command',
  ACTION_CHUNK: '/action_chunk',
  INSTRUCTION: '/instruction',
  EPISODE: '/episode',
  EVENTS: '/events',
  LOG: '/log',
  touch: (pad: string) => `/touch/${pad}`,
  camera: (name: string) => `/camera/${name}`,
} as const;

const time = { type: 'object', properties: { sec: { type: 'integer', minimum: 0 }, nsec: { type: 'integer', minimum: 0, maximum: 999_999_999 } } };
const tick = { type: 'integer', description: 'control tick this belongs to (the time base of every channel)' };
const numbers = { type: 'array', items: { type: 'number' } };

function own(name: string, description: string, properties: Record<string, unknown>): { name: string; schema: string } {
  return { name, schema: JSON.stringify({ title: name, description, type: 'object', properties: { timestamp: time, tick, ...properties } }) };
}

/** embody's own schemas (JSON Schema, draft 2020-12 style like Foxglove's). */
export const OwnSchema = {
  command: own('embody.JointCommand', 'the command the HAL sent this tick (after the safety envelope), in robot.joints order', {
    mode: { type: 'string', description: 'BOOT, IDLE, ARMED, RUNNING, SAFE_STOP, FAULT, STOPPED' },
    powered: { type: 'boolean', description: 'drive power on' },
    position: { ...numbers, description: 'commanded position per joint (rad or m)' },
    requested: {
      type: 'array',
      items: { type: ['number', 'null'] },
      description: "the policy's target per joint as the envelope received it this tick (after the queue's blending), null while braking or holding: where it differs from position, the envelope intervened",
    },
  }),
  chunk: own('embody.ActionChunk', "the policy's proposal: an action chunk of absolute targets, before the queue and the envelope", {
    obs_tick: { type: 'integer', description: 'tick of the observation the chunk was computed from; action k belongs to obs_tick + (k+1)·ticks_per_action' },
    ticks_per_action: { type: 'number' },
    joints: { type: 'array', items: { type: 'string' } },
    actions: { type: 'array', items: numbers },
  }),
  touch: own('embody.Touch', 'one fingertip pad as the touch estimator sees it', {
    contact: { type: 'number', description: 'deformation evidence, 0-1' },
    force: { type: 'number', description: 'squeeze estimate (unitless until calibrated)' },
    area: { type: 'number', description: 'fraction of the pad deformed' },
    in_contact: { type: 'boolean', description: 'hysteresis contact state' },
    flags: { type: 'integer', description: 'TouchFlag bits (docs/TACTILE.md)' },
  }),
  instruction: own('embody.Instruction', 'the language instruction the policy sees from this tick on (an operator instruction or a coaching note)', {
    text: { type: 'string' },
    source: { type: 'string', description: 'instruction | coaching' },
  }),
  episode: own('embody.EpisodeMark', 'an episode boundary, label or note', {
    action: { type: 'string', description: 'start | stop | label | note' },
    episode: { type: 'string' },
    label: { type: 'string', description: 'success | failure' },
    note: { type: 'string' },
  }),
  event: own('embody.Event', 'a runtime event as on MQTT events (docs/MQTT.md)', {
    kind: { type: 'string' },
    cause: { type: 'string' },
    message: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    joint: { type: 'string' },
    requested: { type: 'number' },
    commanded: { type: 'number' },
    detail: { type: 'string' },
  }),
} as const;

export interface RecordLayout {
  readonly fingertips: readonly string[];
  readonly cameras: readonly string[];
}

/** The channels of a segment, in a fixed order; `channelIndex` finds one by topic. */
export function recordChannels(layout: RecordLayout): ChannelSpec[] {
  const json = (topic: string, name: string, schema: string): ChannelSpec => ({ topic, messageEncoding: 'json', schemaName: name, schemaEncoding: 'jsonschema', schema });
  const foxglove = (topic: string, schema: { title: string }): ChannelSpec => json(topic, schema.title, JSON.stringify(schema));
  return [
    foxglove(Topic.JOINT_STATES, JointStates),
    json(Topic.COMMAND, OwnSchema.command.name, OwnSchema.command.schema),
    json(Topic.ACTION_CHUNK, OwnSchema.chunk.name, OwnSchema.chunk.schema),
    json(Topic.INSTRUCTION, OwnSchema.instruction.name, OwnSchema.instruction.schema),
    json(Topic.EPISODE, OwnSchema.episode.name, OwnSchema.episode.schema),
    json(Topic.EVENTS, OwnSchema.event.name, OwnSchema.event.schema),
    foxglove(Topic.LOG, Log),
    ...layout.fingertips.map((pad) => json(Topic.touch(pad), OwnSchema.touch.name, OwnSchema.touch.schema)),
    ...layout.cameras.map((camera) => foxglove(Topic.camera(camera), CompressedImage)),
  ];
}

/** Foxglove's `time`: seconds and nanoseconds. */
export function foxgloveTime(ns: bigint): { sec: number; nsec: number } {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/** foxglove.LogLevel values (foxglove-sdk schemas/LogLevel). */
export const LogLevel = { INFO: 2, WARNING: 3, ERROR: 4 } as const;
