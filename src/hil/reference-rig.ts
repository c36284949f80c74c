/**
 * The reference rig: serves the rig protocol from the simulator. A bench rig implements the
 * same messages with relays and sensors; this one runs each requested scenario on the sim
 * target and streams the record. It lets CI test the runner's rig path end to end, and shows
 * rig builders what a conforming rig sends (`embody hil-rig --broker URL --rig-id ID`).
 */
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { RECORD_CHUNK_TICKS, RIG_PROTOCOL, rigTopics, runRequestSchema, type RecordChunk, type RecordDone } from './rig-protocol.js';
import type { LoadedScenario } from './scenario.js';
import { runOnSim } from './sim-target.js';
import { readYamlFile } from '../runtime/index.js';

export interface ReferenceRigOptions {
  readonly brokerUrl: string;
  readonly rigId: string;
  /** Where scenario files (and the robots they name) are resolved from: the repository root. */
  readonly root: string;
  readonly log?: (line: string) => void;
}

export interface ReferenceRig {
  close(): Promise<void>;
}

/** Lines of the rig's own copy of the scenario file, when it has one (problems then name them). */
function lineOfFile(file: string): { lineOf?: LoadedScenario['lineOf'] } {
  const parsed = readYamlFile(file);
  return parsed.ok ? { lineOf: parsed.source.lineOf } : {};
}

export async function serveReferenceRig(options: ReferenceRigOptions): Promise<ReferenceRig> {
  const topics = rigTopics(options.rigId);
  const log = options.log ?? (() => undefined);
  const status = (state: 'ready' | 'busy' | 'offline'): string => JSON.stringify({ protocol: RIG_PROTOCOL, state, rig: options.rigId });
  const client: MqttClient = await mqtt.connectAsync(options.brokerUrl, {
    clientId: `embody-rig-${options.rigId}`,
    will: { topic: topics.status, payload: Buffer.from(status('offline')), qos: 1, retain: true },
  });
  let busy = false;
  const publish = (topic: string, message: unknown): Promise<unknown> => client.publishAsync(topic, JSON.stringify(message), { qos: 1 });

  client.on('message', (topic, payload) => {
    if (topic !== topics.run) return;
    void (async () => {
      let raw: unknown;
      try {
        raw = JSON.parse(payload.toString('utf8'));
      } catch {
        log('run request is not JSON; ignored');
        return;
      }
      const request = runRequestSchema.safeParse(raw);
      const runId = typeof (raw as { run_id?: unknown }).run_id === 'string' ? (raw as { run_id: string }).run_id : undefined;
      if (!request.success) {
        if (runId) await publish(topics.record(runId), { run_id: runId, error: `run request does not match protocol ${RIG_PROTOCOL}: ${request.error.issues[0]?.message ?? ''}` });
        return;
      }
      const { run_id, scenario, scenario_file, seed } = request.data;
      if (busy) {
        await publish(topics.record(run_id), { run_id, error: 'the rig is busy with another run' });
        return;
      }
      busy = true;
      await client.publishAsync(topics.status, status('busy'), { qos: 1, retain: true });
      try {
        const file = path.resolve(options.root, scenario_file);
        const dir = path.dirname(file);
        const run = await runOnSim(
          { file, scenario, robotFile: path.resolve(dir, scenario.robot), ...(scenario.policy ? { policyFile: path.resolve(dir, scenario.policy) } : {}), ...lineOfFile(file) },
          seed === undefined ? {} : { seed },
        );
        const n = run.robot.joints.length;
        let chunks = 0;
        for (let from = 0; from < run.ticks; from += RECORD_CHUNK_TICKS) {
          const to = Math.min(run.ticks, from + RECORD_CHUNK_TICKS);
          const chunk: RecordChunk = {
            run_id,
            seq: chunks++,
            from_tick: from,
            modes: Array.from(run.modes.subarray(from, to)),
            powered: Array.from(run.powered.subarray(from, to)),
            commands: Array.from(run.commands.subarray(from * n, to * n)),
            positions: Array.from(run.positions.subarray(from * n, to * n)),
            outputs: Array.from(run.outputs.subarray(from, to)),
          };
          await publish(topics.record(run_id), chunk);
        }
        const done: RecordDone = {
          run_id,
          done: true,
          chunks,
          ticks: run.ticks,
          rate_hz: run.rateHz,
          robot: run.robot,
          events: run.events.map((e) => ({ ...e })),
          ready_tick: run.readyTick,
          stimulus_ticks: Object.fromEntries(run.stimulusTicks),
          truth_contact_tick: run.truthContactTick,
          detected_contact_tick: run.detectedContactTick,
          watchdog: run.watchdog.map((w) => ({ ...w })),
          task: { ...run.task },
          digest: run.digest,
        };
        await publish(topics.record(run_id), done);
        log(`ran ${scenario.name} (${run.ticks} ticks)`);
      } catch (error) {
        await publish(topics.record(run_id), { run_id, error: error instanceof Error ? error.message : String(error) });
      } finally {
        busy = false;
        await client.publishAsync(topics.status, status('ready'), { qos: 1, retain: true });
      }
    })();
  });
  await client.subscribeAsync(topics.run, { qos: 1 });
  await client.publishAsync(topics.status, status('ready'), { qos: 1, retain: true });
  log(`reference rig '${options.rigId}' ready on ${options.brokerUrl}`);
  return {
    async close() {
      await client.publishAsync(topics.status, status('offline'), { qos: 1, retain: true });
      await client.endAsync();
    },
  };
}
