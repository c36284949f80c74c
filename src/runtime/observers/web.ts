/**
 * The HTTP face (robot.yaml `http:`, src/web): the live page, /metrics, /healthz and /readyz. This
 * file turns the pipeline into what the web room serves: the state a page sees (update_hz), the
 * cameras as JPEG (camera_fps, only while a page is open), the Prometheus families, and operator
 * commands into the pipeline like MQTT's (stop is never refused; the web room checks the token).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Subscription } from 'rxjs';
import type { CameraWorld } from '../../hal/camera/index.js';
import type { CameraDescription, RobotDescription } from '../../robot/index.js';
import { formatMetrics, histogramFromBins, JpegEncoder, JpegStream, WebFace, type MetricFamily, type RgbImage } from '../../web/index.js';
import type { Pipeline, RuntimeEvent } from '../pipeline/index.js';
import { SnapshotRecord } from '../records.js';
import { Counter, Mode, modeNames, snapshotView } from '../shared-state.js';
import type { Logger } from '../logger.js';
import type { Observer, RunContext } from './observer.js';
import { safetyCounts } from './safety-counts.js';

export type MqttLinkState = 'connected' | 'disconnected' | 'off';

export interface WebObserverOptions {
  readonly robotFile: string;
  /** --http: 'none', or HOST:PORT replacing robot.yaml's address (and turning the face on). */
  readonly http?: string;
  readonly policyName: string;
  readonly mqtt: () => MqttLinkState;
}

/** Tick lateness bucket bounds, s: the control's 1 µs bins summed up to each. */
const LATENESS_BOUNDS_S = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2e-2];
const LAST_EVENTS = 12;
/** /readyz: the loop must have ticked within this long. */
const STALL_MS = 1000;

type HttpSettings = NonNullable<RobotDescription['http']>;

/** robot.yaml's http section with --http applied; undefined: off. */
export function httpSettings(robot: RobotDescription, override: string | undefined): HttpSettings | undefined {
  if (override === 'none') return undefined;
  const base: HttpSettings | undefined = robot.http ?? (override !== undefined ? { host: '127.0.0.1', port: 8080, allowed_origins: [], update_hz: 20, camera_fps: 10, camera_max_width: 320 } : undefined);
  if (base === undefined || override === undefined) return base;
  const match = /^(.+):(\d{1,5})$/.exec(override);
  if (!match || Number(match[2]) > 65535) throw new Error(`--http ${override}: expected HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080) or none`);
  return { ...base, host: match[1].replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

export function webObserver(options: WebObserverOptions): Observer {
  const subscriptions = new Subscription();
  const closers: (() => void)[] = [];
  let face: WebFace | undefined;
  return {
    name: 'web',
    async start(run: RunContext) {
      const { pipeline, log, every } = run;
      const settings = httpSettings(pipeline.robot, options.http);
      if (settings === undefined) return;
      const dir = path.dirname(options.robotFile);
      const read = (file: string): Buffer => readFileSync(path.resolve(dir, file));
      const token = settings.token_file !== undefined ? read(settings.token_file).toString('utf8').replace(/\r?\n$/, '') : undefined;
      const view = new PageView(pipeline, options.mqtt, run.world);
      subscriptions.add(pipeline.events$.subscribe((event) => view.event(event)));
      subscriptions.add(every(250).subscribe(() => view.sampleTicks()));
      const f = await WebFace.open({
        host: settings.host,
        port: settings.port,
        ...(settings.tls ? { tls: { cert: read(settings.tls.cert), key: read(settings.tls.key) } } : {}),
        ...(token !== undefined ? { token } : {}),
        allowedOrigins: settings.allowed_origins,
        fallbackToFreePort: options.http === undefined,
        log,
        metrics: () => formatMetrics(view.metrics(face)),
        ready: () => view.ready(),
        hello: () => view.hello(options.policyName),
        command: (command) => pipeline.command(command),
      });
      face = f;
      log.info({ url: f.url, token: token !== undefined }, `live page: ${f.url} (metrics at ${f.url}metrics)`);
      subscriptions.add(every(1000 / settings.update_hz).subscribe(() => f.pages > 0 && f.broadcastText(view.state())));
      if (settings.camera_fps > 0 && pipeline.robot.cameras.length > 0) {
        const feeds = pipeline.robot.cameras.map((camera, index) => cameraFeed(camera, index, settings.camera_max_width, f, log));
        closers.push(() => feeds.forEach((feed) => feed.close()));
        subscriptions.add(
          every(1000 / settings.camera_fps).subscribe(() => {
            if (f.pages === 0) return;
            pipeline.robot.cameras.forEach((camera, index) => {
              const frame = pipeline.touch.frames.get(camera.name);
              if (frame !== undefined) feeds[index].offer(frame);
            });
          }),
        );
      }
    },
    async stop() {
      subscriptions.unsubscribe();
      for (const close of closers) close();
      await face?.close();
    },
  };
}

/**
 * One camera's images to the pages: new frames only, JPEG-encoded by an ffmpeg child; where
 * ffmpeg is missing or fails, in-process by jpeg-js (slower, with a warning once).
 */
function cameraFeed(camera: CameraDescription, index: number, maxWidth: number, face: WebFace, log: Logger): { offer(frame: RgbImage & { sequence: number }): void; close(): void } {
  let last = -1;
  let fallback: JpegEncoder | undefined;
  const send = (jpeg: Buffer): void => {
    const message = Buffer.allocUnsafe(jpeg.length + 1);
    message[0] = index;
    jpeg.copy(message, 1);
    face.broadcastBinary(message);
  };
  const stream = new JpegStream({
    width: camera.width,
    height: camera.height,
    maxWidth,
    onJpeg: send,
    onError: (message) => {
      log.warn({ camera: camera.name }, `live page camera: ${message}; encoding in-process with jpeg-js instead (slower)`);
      fallback = new JpegEncoder(maxWidth);
    },
  });
  return {
    offer(frame) {
      if (frame.sequence === last) return;
      if (fallback !== undefined) {
        last = frame.sequence;
        send(fallback.encode(frame));
      } else if (stream.offer(frame)) {
        last = frame.sequence;
      }
    },
    close: () => stream.close(),
  };
}

/** What the page and the scrape see, read from the pipeline when asked. */
class PageView {
  readonly #pipeline: Pipeline;
  readonly #mqtt: () => MqttLinkState;
  readonly #world: CameraWorld | undefined;
  readonly #snapshot;
  readonly #events: { tick: number; kind: string; message: string }[] = [];
  #cause = '';
  #ticks = 0;
  #ticksAt = performance.now();

  constructor(pipeline: Pipeline, mqtt: () => MqttLinkState, world: CameraWorld | undefined) {
    this.#pipeline = pipeline;
    this.#mqtt = mqtt;
    this.#world = world;
    this.#snapshot = snapshotView(new Float64Array(pipeline.control.shared.snapshot.length), pipeline.robot.joints.length);
  }

  event(event: RuntimeEvent): void {
    if (event.kind === 'mode_change') this.#cause = event.cause;
    this.#events.push({ tick: event.tick, kind: event.kind, message: event.message });
    if (this.#events.length > LAST_EVENTS) this.#events.shift();
  }

  sampleTicks(): void {
    const ticks = this.#pipeline.control.counter(Counter.TICKS);
    if (ticks !== this.#ticks) {
      this.#ticks = ticks;
      this.#ticksAt = performance.now();
    }
  }

  ready(): { ready: boolean; reason: string } {
    const mode = this.#pipeline.control.mode;
    const name = modeNames[mode] ?? 'UNKNOWN';
    if (performance.now() - this.#ticksAt > STALL_MS) return { ready: false, reason: `not ready: the control loop has not ticked for ${STALL_MS} ms (mode ${name})` };
    if (mode === Mode.IDLE || mode === Mode.ARMED || mode === Mode.RUNNING) return { ready: true, reason: `ready: mode ${name}` };
    return { ready: false, reason: `not ready: mode ${name}${this.#cause ? ` (${this.#cause})` : ''}${mode === Mode.SAFE_STOP || mode === Mode.FAULT ? '; reset before arming' : ''}` };
  }

  hello(policy: string): object {
    const robot = this.#pipeline.robot;
    return {
      robot_id: robot.robot_id,
      policy,
      joints: robot.joints.map((j) => ({ name: j.name, type: j.type, min: j.limits.position[0], max: j.limits.position[1] })),
      cameras: robot.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height })),
      fingertips: robot.fingertips.map((f) => ({ name: f.name, camera: f.camera, roi: f.roi })),
    };
  }

  state(): string {
    const { control, touch, policy } = this.#pipeline;
    const view = this.#snapshot;
    control.readSnapshot(view.buffer);
    const inference = policy.latencyPercentiles();
    const t = touch.state;
    return JSON.stringify({
      type: 'state',
      mode: modeNames[control.mode] ?? 'UNKNOWN',
      cause: this.#cause,
      tick: view.buffer[SnapshotRecord.header.tick],
      missed: control.counter(Counter.MISSED_TICKS),
      lateness_us: control.latenessPercentiles(),
      inference_ms: { p50: inference.p50, p99: inference.p99 },
      instruction: this.#pipeline.instruction,
      position: Array.from(view.position),
      command: Array.from(view.command),
      contact: Array.from(t.contact),
      force: Array.from(t.force),
      in_contact: Array.from(t.inContact),
      events: this.#events,
      mqtt: this.#mqtt(),
      task: this.#world?.describe(view.world) ?? '',
    });
  }

  metrics(face: WebFace | undefined): MetricFamily[] {
    const { control, robot, touch, policy, inference } = this.#pipeline;
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
    const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
    const latency = policy.latencyPercentiles();
    const stats = inference.stats;
    const safety = safetyCounts(control);
    const mode = modeNames[control.mode];
    const link = this.#mqtt();
    return [
      counter('embody_ticks_total', 'Control ticks run.', control.counter(Counter.TICKS)),
      counter('embody_missed_ticks_total', 'Control deadlines missed (skipped, never run late in a burst).', control.counter(Counter.MISSED_TICKS)),
      counter('embody_starved_ticks_total', 'Ticks with no action left in the queue (the loop held position).', control.counter(Counter.STARVED_TICKS)),
      histogramFromBins('embody_tick_lateness_seconds', 'How late each control tick woke after its deadline (from the loop\'s 1 us bins; _sum to half a bin).', control.shared.lateness, 1e-6, LATENESS_BOUNDS_S),
      gauge('embody_tick_lateness_max_seconds', 'Latest tick wake-up so far in this run.', control.latenessPercentiles().max / 1e6),
      gauge('embody_inference_latency_p50_seconds', 'Policy inference latency, median over the recent runs.', latency.p50 / 1e3),
      gauge('embody_inference_latency_p99_seconds', 'Policy inference latency, 99th percentile over the recent runs.', latency.p99 / 1e3),
      counter('embody_inference_chunks_total', 'Action chunks the policy delivered.', stats.chunks),
      counter('embody_inference_errors_total', 'Inference attempts that failed.', stats.errors),
      {
        name: 'embody_intervention_ticks_total',
        help: 'Ticks on which the safety envelope intervened on some joint, by kind.',
        type: 'counter',
        samples: Object.entries(safety.by_kind).map(([kind, value]) => ({ labels: { kind }, value })),
      },
      counter('embody_rejected_actions_total', 'Policy actions the envelope rejected (non-finite or malformed).', safety.rejected_actions),
      counter('embody_estop_trips_total', 'Emergency stop trips.', safety.estop_trips),
      { name: 'embody_mode', help: 'The control mode: 1 for the current one.', type: 'gauge', samples: modeNames.map((m) => ({ labels: { mode: m }, value: m === mode ? 1 : 0 })) },
      { name: 'embody_touch_contact', help: 'Fingertip pad in contact (touch estimator hysteresis state).', type: 'gauge', samples: robot.fingertips.map((f, i) => ({ labels: { pad: f.name }, value: touch.state.inContact[i] })) },
      { name: 'embody_touch_force', help: 'Fingertip pad force estimate (unitless until calibrated).', type: 'gauge', samples: robot.fingertips.map((f, i) => ({ labels: { pad: f.name }, value: touch.state.force[i] })) },
      {
        name: 'embody_mqtt_link',
        help: 'MQTT telemetry link state: 1 for the current one.',
        type: 'gauge',
        samples: (['connected', 'disconnected', 'off'] as const).map((state) => ({ labels: { state }, value: state === link ? 1 : 0 })),
      },
      gauge('embody_web_pages', 'Live pages open now.', face?.pages ?? 0),
      counter('embody_web_pages_dropped_total', 'Live pages dropped for reading slower than the robot sends.', face?.dropped ?? 0),
    ];
  }
}
