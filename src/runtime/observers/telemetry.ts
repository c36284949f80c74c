/**
 * MQTT telemetry: the embedded broker when asked for, the link (status with last will, state,
 * tactile and metrics sampled at robot.yaml's rates, every event through the outbox), and operator
 * commands from `cmd/` into the pipeline, answered on `cmd/ack`.
 */
import { Subscription } from 'rxjs';
import { connectTelemetry, startEmbeddedBroker, telemetrySettingsFromRobot, type EmbeddedBroker, type MetricsPayload, type TelemetryLink, type ValidatedCommand } from '../../telemetry/index.js';
import { eventPayload, type ControlPort } from '../pipeline/index.js';
import { SnapshotRecord } from '../records.js';
import type { BrainReport } from '../policy/openpi/index.js';
import { Counter, modeNames, snapshotView } from '../shared-state.js';
import type { OperatorRequest } from '../pipeline/index.js';
import type { Observer, RunContext } from './observer.js';
import { safetyCounts } from './safety-counts.js';

export interface TelemetryObserverOptions {
  readonly robotFile: string;
  /** 'embedded', 'none', or a broker URL; default robot.yaml's broker, else 'embedded'. */
  readonly broker?: string;
  readonly stateDir?: string;
}

/** The MQTT link's state, for the other faces (the live page, /metrics). */
export interface TelemetryObserver extends Observer {
  readonly linkState: 'connected' | 'disconnected' | 'off';
}

export function telemetryObserver(options: TelemetryObserverOptions): TelemetryObserver {
  const subscriptions = new Subscription();
  let link: TelemetryLink | undefined;
  let broker: EmbeddedBroker | undefined;
  return {
    name: 'telemetry',
    get linkState() {
      return link === undefined ? 'off' : link.connected ? 'connected' : 'disconnected';
    },
    async start({ pipeline, log, every }: RunContext) {
      const { robot, control } = pipeline;
      const settings = telemetrySettingsFromRobot(robot.telemetry, options.robotFile);
      const choice = options.broker ?? settings.broker?.url ?? 'embedded';
      if (choice === 'none') return;
      let url = choice;
      if (url === 'embedded') {
        broker = await startEmbeddedBroker({ port: 1883 });
        url = broker.url;
        if (broker.fellBackFrom) log.warn({ requested: broker.fellBackFrom, port: broker.port }, 'MQTT port in use: the embedded broker took a free one');
        log.info({ url }, `embedded MQTT broker listening; watch with: mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t 'embody/#' -v`);
      }
      const l = connectTelemetry({
        // robot.yaml's TLS files and credentials; --broker URL replaces only the URL.
        ...(choice === 'embedded' ? { protocolVersion: 4 as const } : settings.broker),
        url,
        robotId: robot.robot_id,
        log,
        joints: robot.joints.map((j) => j.name),
        fingertips: robot.fingertips.map((f) => f.name),
        ...(settings.outbox ? { outbox: settings.outbox } : {}),
        ...(options.stateDir ? { stateDir: options.stateDir } : {}),
      });
      link = l;
      l.setStatus(modeNames[control.mode]);
      subscriptions.add(
        l.commands$.subscribe(async (command) => {
          const outcome = await pipeline.command(operatorRequest(command));
          l.ack(command.id, outcome.ok, outcome.reason);
        }),
      );
      subscriptions.add(
        pipeline.events$.subscribe((event) => {
          if (event.kind === 'mode_change' && event.to !== undefined) l.setStatus(event.to);
          l.publishEvent(eventPayload(event));
        }),
      );
      const view = snapshotView(new Float64Array(control.shared.snapshot.length), robot.joints.length);
      subscriptions.add(
        every(1000 / robot.telemetry.state_rate_hz).subscribe(() => {
          if (!control.readSnapshot(view.buffer)) return;
          l.publishStream('state', {
            ts: Date.now(),
            tick: view.buffer[SnapshotRecord.header.tick],
            mode: modeNames[view.buffer[SnapshotRecord.header.mode]] ?? 'UNKNOWN',
            position: Array.from(view.position),
            velocity: Array.from(view.velocity),
            command: Array.from(view.command),
          });
        }),
      );
      if (robot.fingertips.length > 0) {
        const touch = pipeline.touch.state;
        subscriptions.add(
          every(1000 / (robot.telemetry.tactile_rate_hz ?? 10)).subscribe(() => {
            l.publishStream('tactile', { ts: Date.now(), contact: Array.from(touch.contact), force: Array.from(touch.force), area: Array.from(touch.area) });
          }),
        );
      }
      subscriptions.add(
        every(1000 / robot.telemetry.metrics_rate_hz).subscribe(() => {
          const inference = pipeline.policy.latencyPercentiles();
          l.publishStream('metrics', {
            ts: Date.now(),
            ticks: control.counter(Counter.TICKS),
            missed: control.counter(Counter.MISSED_TICKS),
            lateness_us: control.latenessPercentiles(),
            inference_ms: { p50: inference.p50, p99: inference.p99 },
            starvation: control.counter(Counter.STARVED_TICKS),
            cpu: process.cpuUsage().user / 1e6,
            rss_mb: process.memoryUsage.rss() / 2 ** 20,
            dropped: l.dropped,
            safety: metricsSafety(control),
            events_pending: l.eventsPending,
            events_dropped: l.eventsDropped,
            ...(pipeline.policy.brain ? { brain: brainMetrics(pipeline.policy.brain()) } : {}),
          });
        }),
      );
    },
    async stop() {
      subscriptions.unsubscribe();
      await link?.close();
      await broker?.close();
    },
  };
}

/** The safety counters the metrics topic carries: flat, one `ticks_<kind>` per intervention kind. */
function metricsSafety(control: ControlPort): Record<string, number> {
  const { by_kind, ...totals } = safetyCounts(control);
  return { ...totals, ...Object.fromEntries(Object.entries(by_kind).map(([name, n]) => [`ticks_${name}`, n])) };
}

/** An MQTT command as the pipeline's request (the gate has validated it). */
function operatorRequest(command: ValidatedCommand): OperatorRequest {
  switch (command.kind) {
    case 'instruction':
      return { kind: 'instruction', text: command.text };
    case 'episode':
      return { kind: 'episode', action: command.action, ...(command.label ? { label: command.label } : {}), ...(command.note !== undefined ? { note: command.note } : {}) };
    case 'mode':
      return { kind: 'mode', command: command.command };
  }
}

/** An openpi source in `metrics`: which brain drives and how the server answers. */
function brainMetrics(brain: BrainReport): NonNullable<MetricsPayload['brain']> {
  const rt = brain.remote_round_trip_ms;
  return { driving: brain.driving, server: brain.server, fallbacks: brain.fallbacks, remote_chunks: brain.remote_chunks, local_chunks: brain.local_chunks, round_trip_ms: { p50: rt.p50, p99: rt.p99 } };
}
