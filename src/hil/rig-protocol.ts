/**
 * The rig protocol (MQTT, under `embody-rig/<rig_id>/`): how `embody hil --target
 * mqtt://broker/<rig_id>` runs the same scenario files on a bench rig.
 *
 * The rig is the party with physical access and the timing: it receives the whole scenario,
 * applies the stimuli at their times (relays on the e-stop line, a shutter over the camera,
 * a fault box on the encoder cable, operator commands to the robot), records what the robot
 * did (its telemetry, or a tap on its HAL) and what really happened (its own truth sensors),
 * and streams the record back. The runner judges the record with the same code as the sim
 * target. docs/HIL.md specifies the messages; the zod schemas below are the contract.
 *
 *   embody-rig/<rig_id>/status             retained, rig -> all: {protocol, state: ready|busy|offline}
 *   embody-rig/<rig_id>/run                runner -> rig, QoS 1: RunRequest
 *   embody-rig/<rig_id>/record/<run_id>    rig -> runner, QoS 1: RecordChunk..., then RecordDone or RecordError
 */
import { z } from 'zod';
import { scenarioSchema } from './scenario.js';

export const RIG_PROTOCOL = 1;
/** Ticks per record chunk: keeps each message well under a broker's default size limits. */
export const RECORD_CHUNK_TICKS = 1000;

export function rigTopics(rigId: string): { status: string; run: string; record: (runId: string) => string } {
  return {
    status: `embody-rig/${rigId}/status`,
    run: `embody-rig/${rigId}/run`,
    record: (runId) => `embody-rig/${rigId}/record/${runId}`,
  };
}

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only (an MQTT topic level)');

export const rigStatusSchema = z.object({ protocol: z.number().int(), state: z.enum(['ready', 'busy', 'offline']), rig: z.string() }).strict();

export const runRequestSchema = z
  .object({
    protocol: z.literal(RIG_PROTOCOL),
    run_id: id,
    /** The scenario file's path relative to the repository root, for rigs that resolve `robot` themselves. */
    scenario_file: z.string(),
    scenario: scenarioSchema,
    seed: z.number().int().optional(),
  })
  .strict();

export const recordChunkSchema = z
  .object({
    run_id: id,
    seq: z.number().int().min(0),
    from_tick: z.number().int().min(0),
    modes: z.array(z.number().int()),
    powered: z.array(z.number().int()),
    /** Per tick, jointCount values each, robot.yaml joint order; null: nothing commanded (the loop did not run). */
    commands: z.array(z.number().nullable()),
    positions: z.array(z.number()),
    /** Per tick, the actuator outputs (bit 0: output enable asserted, bit 1: a channel pulsing); default: from `powered`. */
    outputs: z.array(z.number().int()).optional(),
  })
  .strict();

export const recordDoneSchema = z
  .object({
    run_id: id,
    done: z.literal(true),
    chunks: z.number().int().min(0),
    ticks: z.number().int().min(0),
    rate_hz: z.number().positive(),
    /** The robot description the rig ran (limits are judged against it). */
    robot: z.unknown(),
    events: z.array(
      z.object({ tick: z.number().int(), kind: z.string(), joint: z.string().optional(), detail: z.string().optional(), message: z.string().optional() }).strict(),
    ),
    /** First tick at which the robot had reported READY, -1 never; default: the first tick out of BOOT. */
    ready_tick: z.number().int().optional(),
    stimulus_ticks: z.record(z.string(), z.number().int()),
    truth_contact_tick: z.number().int(),
    detected_contact_tick: z.number().int(),
    watchdog: z.array(z.object({ tick: z.number().int(), petted: z.boolean() }).strict()),
    task: z.record(z.string(), z.union([z.number(), z.boolean()])),
    digest: z.string(),
  })
  .strict();

export const recordErrorSchema = z.object({ run_id: id, error: z.string() }).strict();

export type RunRequest = z.infer<typeof runRequestSchema>;
export type RecordChunk = z.infer<typeof recordChunkSchema>;
export type RecordDone = z.infer<typeof recordDoneSchema>;

/** `mqtt://host:port/<rig_id>` (or mqtts://) -> broker URL and rig id; undefined if it is not one. */
export function parseRigTarget(target: string): { brokerUrl: string; rigId: string } | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') return undefined;
  const rigId = url.pathname.replace(/^\/+/, '');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(rigId)) return undefined;
  return { brokerUrl: `${url.protocol}//${url.host}`, rigId };
}
