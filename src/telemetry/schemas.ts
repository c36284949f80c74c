/**
 * Every MQTT payload embody publishes or accepts, as zod schemas: commands are validated at
 * the boundary (they come from outside), published payloads are typed by the same schemas so
 * docs/MQTT.md prints them as JSON Schema (scripts/mqtt-doc.sh) and fleet tools can validate
 * what they receive.
 *
 * Stream payloads (state, tactile) carry arrays in the order of the names in the retained
 * status message, not one object per joint: a name per joint per sample would be most of the
 * bytes of every message.
 */
import { z } from 'zod';

// \p{Cs}: a lone surrogate (a "\ud800" escape), which is not Unicode text; \p{Cc}: control characters.
const requestId = z
  .string()
  .min(1)
  .max(128)
  .refine((id) => !/[\p{Cs}\p{Cc}]/u.test(id), { message: 'must be text: no lone surrogate escapes or control characters' })
  .describe('chosen by the sender; echoed in cmd/ack');
const timestamp = z.number().int().nonnegative().describe('ms since the Unix epoch');
/** JSON has no NaN: a reading that is not a finite number is sent as null. */
const reading = z.number().nullable();

// ---- accepted (cmd/*) ----

export const modeCommandSchema = z
  .object({
    id: requestId,
    command: z
      .enum(['arm', 'disarm', 'stop', 'reset', 'estop'])
      .describe('stop: controlled stop, SAFE_STOP latched; estop: the software e-stop, FAULT latched like the hardware line'),
    ts: timestamp.optional().describe('when the operator sent it; older than the configured age, or more than 5 s ahead of the robot, and it is refused (stop and estop excepted)'),
  })
  .strict();

export const instructionCommandSchema = z
  .object({
    id: requestId,
    text: z.string().max(1024).describe('language instruction for the policy'),
    ts: timestamp.optional().describe('when the operator sent it; older than the configured age, or more than 5 s ahead of the robot, and it is refused'),
  })
  .strict();

export const episodeCommandSchema = z
  .object({
    id: requestId,
    action: z
      .enum(['start', 'stop', 'label', 'note'])
      .describe('start: begin an episode (ending an open one); stop: end it; label: mark it success or failure; note: a coaching note, recorded with its tick, that becomes the task of the frames after it'),
    label: z.enum(['success', 'failure']).optional().describe('with action label'),
    note: z.string().min(1).max(1024).optional().describe('with action note: free text'),
    ts: timestamp.optional().describe('when the operator sent it; older than the configured age, or more than 5 s ahead of the robot, and it is refused'),
  })
  .strict()
  .refine((c) => (c.action === 'label') === (c.label !== undefined), { message: 'give `label` (success or failure) with action label, and only then', path: ['label'] })
  .refine((c) => (c.action === 'note') === (c.note !== undefined), { message: 'give `note` (text) with action note, and only then', path: ['note'] });

// ---- published ----

/** Why a command was refused, machine-readable (reason is the human sentence). */
export const refusalCodes = [
  'too_large',
  'not_json',
  'unknown_topic',
  'rate_limited',
  'retained',
  'invalid',
  'expired',
  'too_old',
  'too_new',
  'duplicate_id',
  'refused',
] as const;
export type RefusalCode = (typeof refusalCodes)[number];

export const ackSchema = z
  .object({
    id: z.string().describe('the id of the command answered; empty when the command had none that could be read'),
    ok: z.boolean(),
    reason: z.string().optional().describe('why a command was refused'),
    code: z
      .enum(refusalCodes)
      .optional()
      .describe("machine-readable refusal class; 'refused' is the runtime's own refusal (e.g. arm while a fault latches)"),
    ts: timestamp.optional(),
  })
  .strict();

export const statusSchema = z
  .object({
    robot_id: z.string(),
    state: z.enum(['online', 'offline']),
    mode: z.string().optional(),
    version: z.string(),
    joints: z.array(z.string()).optional().describe('joint names: the order of the arrays in state'),
    fingertips: z.array(z.string()).optional().describe('fingertip region names: the order of the arrays in tactile'),
    ts: timestamp,
  })
  .strict();

export const stateSchema = z
  .object({
    ts: timestamp,
    tick: z.number().int().describe('control tick the sample was read at'),
    mode: z.string(),
    position: z.array(reading).describe('measured, per joint in the order of status.joints; rad or m, 6 decimals'),
    velocity: z.array(reading).describe('measured, rad/s or m/s, 6 decimals'),
    command: z.array(reading).describe('what the safety envelope sent to the actuator, rad or m, 6 decimals'),
  })
  .strict();

export const tactileSchema = z
  .object({
    ts: timestamp,
    frame: z.number().int().optional().describe('camera frame the estimate comes from'),
    contact: z.array(reading).describe('contact probability 0..1, per fingertip in the order of status.fingertips'),
    force: z.array(reading).describe('force proxy from pad deformation, ~1 at a full grip (unitless until calibrated)'),
    area: z.array(reading).describe('fraction of the pad in contact, 0..1'),
  })
  .strict();

export const eventSchema = z
  .object({
    id: z.string().describe('unique per robot; consumers de-duplicate on it (QoS 1 and the outbox deliver at least once)'),
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
    events_pending: z.number().optional().describe('events in the outbox not yet acknowledged by the broker'),
    events_dropped: z.number().optional().describe('events the full outbox had to give up (docs/MQTT.md, outbox)'),
    safety: z
      .record(z.string(), z.number())
      .optional()
      .describe('safety counters since start: ticks with each envelope intervention, rejected actions, e-stop trips, stale ticks (docs/SAFETY.md)'),
    brain: z
      .object({
        driving: z.enum(['remote', 'local']),
        server: z.string(),
        fallbacks: z.number(),
        remote_chunks: z.number(),
        local_chunks: z.number(),
        round_trip_ms: z.object({ p50: z.number(), p99: z.number() }),
      })
      .strict()
      .optional()
      .describe('an openpi policy source: which brain drives (docs/POLICY.md)'),
    replayed: z
      .literal(true)
      .optional()
      .describe('taken while the link was down and sent from the outbox after reconnect (QoS 1); ts says when'),
  })
  .strict();

export type ModeCommand = z.infer<typeof modeCommandSchema>;
export type InstructionCommand = z.infer<typeof instructionCommandSchema>;
export type EpisodeCommand = z.infer<typeof episodeCommandSchema>;
export type AckPayload = z.infer<typeof ackSchema>;
export type StatusPayload = z.infer<typeof statusSchema>;
export type StatePayload = z.infer<typeof stateSchema>;
export type TactilePayload = z.infer<typeof tactileSchema>;
export type EventPayload = z.infer<typeof eventSchema>;
export type MetricsPayload = z.infer<typeof metricsSchema>;

/** What a caller hands to publishEvent: the link stamps id and ts unless given. */
export type EventInput = Omit<EventPayload, 'id' | 'ts'> & Partial<Pick<EventPayload, 'id' | 'ts'>>;

/** A command that passed validation, tagged by the topic it came on. */
export type ValidatedCommand = ({ kind: 'mode' } & ModeCommand) | ({ kind: 'instruction' } & InstructionCommand) | ({ kind: 'episode' } & EpisodeCommand);

/** The payload type of each QoS 0 stream topic. */
export interface StreamPayloads {
  state: StatePayload;
  tactile: TactilePayload;
  metrics: MetricsPayload;
}

/**
 * A state sample with one object per joint, as the runtime first built it. Accepted by
 * publishStream and sent in the compact form (arrays; the names are in status.joints).
 * @deprecated build a StatePayload.
 */
export interface JointObjectsState {
  ts: number;
  tick: number;
  mode: string;
  joints: readonly { name: string; position: number; velocity: number; command: number }[];
}

/** What publishStream accepts per topic. */
export interface StreamInputs {
  state: StatePayload | JointObjectsState;
  tactile: TactilePayload;
  metrics: MetricsPayload;
}
