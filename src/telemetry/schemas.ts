/**
 * Every MQTT payload embody publishes or accepts, as zod schemas: commands are validated at
 * the boundary (they come from outside), published payloads are typed by the same schemas so
 * docs/MQTT.md can print them as JSON Schema and fleet tools can validate what they receive.
 */
import { z } from 'zod';

const requestId = z.string().min(1).max(128).describe('chosen by the sender; echoed in cmd/ack');
const timestamp = z.number().int().nonnegative().describe('ms since the Unix epoch');

// ---- accepted (cmd/*) ----

export const modeCommandSchema = z
  .object({
    id: requestId,
    command: z.enum(['arm', 'disarm', 'stop', 'reset']),
    ts: timestamp.optional().describe('when the operator sent it; too old and it is refused'),
  })
  .strict();

export const instructionCommandSchema = z
  .object({ id: requestId, text: z.string().max(1024).describe('language instruction for the policy'), ts: timestamp.optional() })
  .strict();

// ---- published ----

export const ackSchema = z
  .object({
    id: z.string().describe('the id of the command answered; empty when the command had none'),
    ok: z.boolean(),
    reason: z.string().optional().describe('why a command was refused'),
    ts: timestamp.optional(),
  })
  .strict();

export const statusSchema = z
  .object({
    robot_id: z.string(),
    state: z.enum(['online', 'offline']),
    mode: z.string().optional(),
    version: z.string(),
    ts: timestamp,
  })
  .strict();

export const jointStateSchema = z
  .object({ name: z.string(), position: z.number(), velocity: z.number(), command: z.number() })
  .strict();

export const stateSchema = z
  .object({ ts: timestamp, tick: z.number(), mode: z.string(), joints: z.array(jointStateSchema) })
  .strict();

export const tactileRegionSchema = z
  .object({
    name: z.string().describe('fingertip region from robot.yaml'),
    contact: z.boolean(),
    pressure: z.number().describe('estimated from pad deformation, 0..1'),
    centroid: z.tuple([z.number(), z.number()]).optional().describe('contact centre in region coordinates, 0..1'),
  })
  .strict();

export const tactileSchema = z
  .object({ ts: timestamp, frame: z.number().optional(), regions: z.array(tactileRegionSchema) })
  .strict();

export const eventSchema = z
  .object({
    id: z.string().describe('unique per robot; consumers de-duplicate on it (QoS 1 may deliver twice)'),
    ts: timestamp,
    tick: z.number(),
    kind: z.string().describe('mode_change, safety intervention kind, fault, instruction, ...'),
    cause: z.string(),
    from: z.string().optional(),
    to: z.string().optional(),
    detail: z.string().optional(),
    message: z.string().optional(),
    joint: z.string().optional().describe('the joint a safety intervention acted on'),
    requested: z.number().optional().describe('what the policy asked of that joint (rad or m)'),
    commanded: z.number().optional().describe('what the envelope commanded instead (rad or m)'),
  })
  .strict();

export const metricsSchema = z
  .object({
    ts: timestamp,
    ticks: z.number(),
    missed: z.number(),
    lateness_us: z.object({ p50: z.number(), p99: z.number(), max: z.number() }),
    inference_ms: z.object({ p50: z.number(), p99: z.number(), max: z.number().optional() }),
    starvation: z.number(),
    cpu: z.number().describe('process user CPU seconds since start'),
    rss_mb: z.number(),
    dropped: z.number().describe('stream samples dropped because the link was down or slow'),
  })
  .strict();

export type ModeCommand = z.infer<typeof modeCommandSchema>;
export type InstructionCommand = z.infer<typeof instructionCommandSchema>;
export type AckPayload = z.infer<typeof ackSchema>;
export type StatusPayload = z.infer<typeof statusSchema>;
export type JointState = z.infer<typeof jointStateSchema>;
export type StatePayload = z.infer<typeof stateSchema>;
export type TactileRegion = z.infer<typeof tactileRegionSchema>;
export type TactilePayload = z.infer<typeof tactileSchema>;
export type EventPayload = z.infer<typeof eventSchema>;
export type MetricsPayload = z.infer<typeof metricsSchema>;

/** What a caller hands to publishEvent: the link stamps id and ts unless given. */
export type EventInput = Omit<EventPayload, 'id' | 'ts'> & Partial<Pick<EventPayload, 'id' | 'ts'>>;

/** A command that passed validation, tagged by the topic it came on. */
export type ValidatedCommand = ({ kind: 'mode' } & ModeCommand) | ({ kind: 'instruction' } & InstructionCommand);

/** The payload type of each QoS 0 stream topic. */
export interface StreamPayloads {
  state: StatePayload;
  tactile: TactilePayload;
  metrics: MetricsPayload;
}
