/**
 * The rig target, runner side: send a scenario to a rig over MQTT (rig-protocol.ts), collect
 * the record it streams back, and hand it to the same judge as the sim target.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { robotDescriptionSchema } from '../robot/index.js';
import { RIG_PROTOCOL, recordChunkSchema, recordDoneSchema, recordErrorSchema, rigStatusSchema, rigTopics, type RecordChunk, type RunRequest } from './rig-protocol.js';
import type { LoadedScenario } from './scenario.js';
import type { TargetRun } from './sim-target.js';

export interface RigTargetOptions {
  readonly brokerUrl: string;
  readonly rigId: string;
  readonly seed?: number;
  /** Scenario files are sent relative to this (the repository root). */
  readonly root?: string;
  /** How long to wait for the rig to say it is ready, ms. */
  readonly connectTimeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export async function runOnRig(loaded: LoadedScenario, options: RigTargetOptions): Promise<TargetRun> {
  const topics = rigTopics(options.rigId);
  const runId = randomUUID().replace(/-/g, '').slice(0, 16);
  const connectTimeout = options.connectTimeoutMs ?? 5000;
  const client: MqttClient = await withTimeout(
    mqtt.connectAsync(options.brokerUrl, { clientId: `embody-hil-${runId}`, reconnectPeriod: 0, connectTimeout }),
    connectTimeout + 500,
    `cannot reach the rig broker at ${options.brokerUrl}`,
  );
  try {
    const chunks = new Map<number, RecordChunk>();
    let readyResolve: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (readyResolve = resolve));
    let finish: (value: TargetRun) => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    const finished = new Promise<TargetRun>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    client.on('message', (topic, payload) => {
      let data: unknown;
      try {
        data = JSON.parse(payload.toString('utf8'));
      } catch {
        fail(new Error(`rig ${options.rigId} sent malformed JSON on ${topic}`));
        return;
      }
      if (topic === topics.status) {
        const status = rigStatusSchema.safeParse(data);
        if (status.success && status.data.state === 'ready' && status.data.protocol === RIG_PROTOCOL) readyResolve();
        return;
      }
      const chunk = recordChunkSchema.safeParse(data);
      if (chunk.success) {
        chunks.set(chunk.data.seq, chunk.data);
        return;
      }
      const error = recordErrorSchema.safeParse(data);
      if (error.success) {
        fail(new Error(`rig ${options.rigId} could not run the scenario: ${error.data.error}`));
        return;
      }
      const done = recordDoneSchema.safeParse(data);
      if (!done.success) {
        fail(new Error(`rig ${options.rigId} sent a record message that does not match the protocol: ${done.error.issues[0]?.message ?? ''}`));
        return;
      }
      const robot = robotDescriptionSchema.safeParse(done.data.robot);
      if (!robot.success) {
        fail(new Error(`rig ${options.rigId} reported a robot description that does not validate`));
        return;
      }
      const n = robot.data.joints.length;
      const ticks = done.data.ticks;
      if (chunks.size !== done.data.chunks) {
        fail(new Error(`rig ${options.rigId}: ${chunks.size} of ${done.data.chunks} record chunks arrived`));
        return;
      }
      const modes = new Uint8Array(ticks);
      const powered = new Uint8Array(ticks);
      const commands = new Float64Array(ticks * n);
      const positions = new Float64Array(ticks * n);
      const outputs = new Uint8Array(ticks);
      for (const c of chunks.values()) {
        modes.set(c.modes, c.from_tick);
        powered.set(c.powered, c.from_tick);
        // A rig that does not report its outputs: drive power on = outputs live.
        outputs.set(c.outputs ?? c.powered.map((p) => (p ? 3 : 0)), c.from_tick);
        commands.set(c.commands.map((v) => v ?? Number.NaN), c.from_tick * n);
        positions.set(c.positions, c.from_tick * n);
      }
      finish({
        robot: robot.data,
        rateHz: done.data.rate_hz,
        ticks,
        modes,
        commands,
        positions,
        powered,
        outputs,
        readyTick: done.data.ready_tick ?? modes.findIndex((m) => m !== 0),
        events: done.data.events,
        stimulusTicks: new Map(Object.entries(done.data.stimulus_ticks)),
        truthContactTick: done.data.truth_contact_tick,
        detectedContactTick: done.data.detected_contact_tick,
        watchdog: done.data.watchdog,
        task: done.data.task,
        digest: done.data.digest,
      });
    });
    await client.subscribeAsync([topics.status, topics.record(runId)], { qos: 1 });
    await withTimeout(ready, connectTimeout, `rig ${options.rigId} is not online at ${options.brokerUrl} (no retained 'ready' on ${topics.status})`);
    const request: RunRequest = {
      protocol: RIG_PROTOCOL,
      run_id: runId,
      scenario_file: path.relative(options.root ?? process.cwd(), loaded.file),
      scenario: loaded.scenario,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    };
    await client.publishAsync(topics.run, JSON.stringify(request), { qos: 1 });
    // A rig runs in real time: the scenario's duration plus set-up and slack.
    return await withTimeout(finished, loaded.scenario.duration_ms + 60_000, `rig ${options.rigId} did not finish '${loaded.scenario.name}' in time`);
  } finally {
    await client.endAsync();
  }
}
