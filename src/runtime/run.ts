/**
 * `embody run`: the whole pipeline, wired with rxjs.
 *
 *   cameras$ ──► latest frame ──► touch estimator ──┐
 *   chunkRequests$ (from the control worker) ───────┴► observation ► session.run ► chunk ► worker
 *   events$ (worker's ring) ──► logs, MQTT events, report
 *   sampled snapshot ──► MQTT state, status line, watchdog
 *
 * The control loop itself runs in the worker (control-thread.ts); this file only feeds and
 * watches it. Teardown is subscription disposal, then a controlled stop of the worker.
 */
import { basename, dirname } from 'node:path';
import { exhaustMap, from, interval, Subscription } from 'rxjs';
import { cameraFrames, createCameraHealth, openCameraWorld } from '../hal/camera/index.js';
import { defaultHalKind, halKindProblem, hardwareWorldSize, robotForHal, type HardwareOptions } from '../hal/index.js';
import type { Frame } from '../hal/types.js';
import { interventionNames } from '../safety/index.js';
import { createTouchEstimator, UNTRUSTED_FLAGS, type TouchEstimator } from '../tactile/index.js';
import {
  connectTelemetry,
  startEmbeddedBroker,
  telemetrySettingsFromRobot,
  type EmbeddedBroker,
  type StatePayload,
  type TelemetryLink,
} from '../telemetry/index.js';
import { loadConfig } from './config/index.js';
import { ControlThread, type ControlEvent } from './control-thread.js';
import type { Logger } from './logger.js';
import { writeReport, type ModeTransition, type RunReport } from './output/report.js';
import { StatusLine } from './output/status-line.js';
import { TraceWriter } from './output/trace-writer.js';
import { PolicyRunner, type InferenceResult } from './policy/runner.js';
import {
  Cause,
  causeNames,
  CommandResult,
  commandResultReasons,
  Counter,
  EventKind,
  eventKindNames,
  modeNames,
  OperatorCommand,
  operatorCommandNames,
  readFaultText,
  snapshotWorldOffset,
} from './shared-state.js';
import { createNotifier, LoopHealth, startWatchdog } from './systemd.js';

export interface RunOptions {
  readonly robotFile: string;
  readonly policyOverride?: string;
  readonly durationS?: number;
  /** 'embedded' (aedes on localhost), 'none', or a broker URL; default: robot.yaml telemetry.broker.url, else 'embedded'. */
  readonly broker?: string;
  /** Where the telemetry outbox lives; default $STATE_DIRECTORY, else ./.embody-state. */
  readonly stateDir?: string;
  readonly reportFile?: string;
  readonly traceFile?: string;
  /** Arm when ready; undefined means: only when every driver is simulated. */
  readonly autoArm?: boolean;
  readonly hardware?: HardwareOptions;
  readonly log: Logger;
  readonly statusLine?: StatusLine;
  /** Resolves when the caller wants to stop (signals). */
  readonly stopRequested?: Promise<string>;
}

/** How long the loop may take from start to READY before the run is abandoned. */
const READY_TIMEOUT_MS = 15_000;

/** A stop was requested before the loop was ready: nothing ran, the worker was stopped. */
export class StoppedBeforeReady extends Error {
  constructor() {
    super('stop requested before the control loop was ready');
    this.name = 'StoppedBeforeReady';
  }
}

export async function runRobot(options: RunOptions): Promise<RunReport> {
  const { log } = options;
  const startedAt = new Date();
  const config = await loadConfig(options.robotFile, { policyOverride: options.policyOverride });
  const { manifest } = config;
  const hardware: HardwareOptions = options.hardware ?? { kind: defaultHalKind(config.robot) };
  const halProblem = hardware.kind === 'sim' ? undefined : halKindProblem(config.robot, hardware.kind);
  if (halProblem !== undefined) throw new Error(`${config.robotFile}: ${halProblem}`);
  // Cameras render the simulated world unless the hardware is real.
  const robot = robotForHal(config.robot, hardware.kind);
  // Nothing real moves unless the hardware is real: then only an operator arms it.
  const autoArm = options.autoArm ?? hardware.kind !== 'real';
  const runner = new PolicyRunner(config.session, manifest, robot);
  const ticksPerAction = robot.control.rate_hz / manifest.rate_hz;

  const notifier = createNotifier();
  notifier.status('starting control loop');
  const worldSize = hardwareWorldSize(robot, hardware);
  const control = new ControlThread({
    robot,
    horizon: manifest.output.horizon,
    outputJoints: runner.outputJoints,
    ticksPerAction,
    blendSteps: manifest.blend_steps,
    replanAfter: manifest.replan_after,
    autoArm,
    worldSize,
    realtimePriority: robot.control.realtime_priority,
    hardware,
  });
  const jointCount = robot.joints.length;
  const snapshot = new Float64Array(control.snapshotSize);
  const readWorld = (out: Float64Array): boolean => {
    if (!control.readSnapshot(snapshot)) return false;
    out.set(snapshot.subarray(snapshotWorldOffset(jointCount)));
    return true;
  };

  const subscriptions = new Subscription();
  const transitions: ModeTransition[] = [];
  let telemetry: TelemetryLink | undefined;
  let broker: EmbeddedBroker | undefined;
  let trace: TraceWriter | undefined;
  let instruction = '';

  try {
    // READY can be long in coming (hardware that never reads healthy) or overtaken by a stop
    // request: neither may leave the process hanging with the first SIGTERM ignored.
    const boot = await Promise.race([
      control.ready.then(() => 'ready' as const),
      (options.stopRequested ?? new Promise<string>(() => undefined)).then(() => 'stop' as const),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS).unref()),
    ]);
    if (boot === 'timeout') {
      throw new Error(`the control loop did not report READY within ${READY_TIMEOUT_MS / 1000} s: the hardware never read healthy (see the hardware_error events)`);
    }
    if (boot === 'stop') throw new StoppedBeforeReady();
    log.info(
      { robot: robot.robot_id, policy: manifest.name, rate_hz: robot.control.rate_hz, auto_arm: autoArm, scheduling: control.scheduling },
      'control loop ready',
    );
    notifier.ready(`mode IDLE, ${robot.control.rate_hz} Hz`);

    // Cameras and touch.
    const frames = new Map<string, Frame>();
    const world = openCameraWorld(robot, hardware, readWorld);
    const estimators = new Map<string, TouchEstimator>();
    for (const camera of robot.cameras) {
      const pads = robot.fingertips.filter((f) => f.camera === camera.name);
      if (pads.length > 0) estimators.set(camera.name, createTouchEstimator(pads, camera.width, camera.height));
    }
    const touch = {
      contact: new Float64Array(robot.fingertips.length),
      force: new Float64Array(robot.fingertips.length),
      area: new Float64Array(robot.fingertips.length),
      /** Hysteresis state and quality flags (TouchFlag bits), for the status line. */
      inContact: new Uint8Array(robot.fingertips.length),
      flags: new Uint16Array(robot.fingertips.length),
    };
    for (const camera of robot.cameras) {
      const estimator = estimators.get(camera.name);
      // Robot fingertip index of each pad this camera's estimator reports, in its order.
      const pads = robot.fingertips.flatMap((f, i) => (f.camera === camera.name ? [i] : []));
      subscriptions.add(
        cameraFrames(camera, robot, world, {
          baseDir: dirname(options.robotFile),
          health: createCameraHealth(),
          onEvent: (e) => {
            const bad = e.kind === 'stall' || e.kind === 'exit' || e.kind === 'error' || e.kind === 'before-failed';
            (bad ? log.warn : log.info).call(log, { camera: e.camera, kind: e.kind, restarts: e.restarts }, e.message);
            if (e.kind === 'stall' || e.kind === 'exit') estimator?.setCameraStalled(true);
            if (e.kind === 'streaming') estimator?.setCameraStalled(false);
          },
        }).subscribe((frame) => {
          frames.set(camera.name, frame);
          if (!estimator) return;
          estimator.updateFrame(frame);
          let squeeze = 0;
          for (let k = 0; k < pads.length; k++) {
            const i = pads[k];
            touch.contact[i] = estimator.contact[k];
            touch.force[i] = estimator.force[k];
            touch.area[i] = estimator.area[k];
            touch.inContact[i] = estimator.inContact[k];
            touch.flags[i] = estimator.flags[k];
            squeeze = Math.max(squeeze, estimator.force[k]);
          }
          // Stamped with the loop's tick at arrival: the sim renders the newest world state.
          control.publishTouch(squeeze, ControlThread.snapshotTick(control.shared.snapshot), touch.inContact.some((c) => c === 1));
        }),
      );
    }

    // Inference on request from the worker. exhaustMap: the worker never asks twice before
    // it got an answer, and a slow run must not queue up stale observations.
    const obsSnapshot = new Float64Array(control.snapshotSize);
    const sources = {
      snapshot: obsSnapshot,
      frame: (name: string) => frames.get(name),
      touch,
      get instruction() {
        return instruction;
      },
      get nowMs() {
        return performance.now();
      },
    };
    let lastGapLog = 0;
    // At start the camera and the touch reference may lag the first request by a few frames:
    // retry for a while instead of leaving the worker to time out its request.
    const inferWhenInputsArrive = async (): Promise<InferenceResult> => {
      const deadline = performance.now() + 400;
      for (;;) {
        control.readSnapshot(obsSnapshot);
        const result = await runner.infer(sources, control);
        if (!result.gap || performance.now() > deadline) return result;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    subscriptions.add(
      control.chunkRequests$
        .pipe(
          exhaustMap(() => from(inferWhenInputsArrive())),
        )
        .subscribe({
          next: (result) => {
            if (result.gap && performance.now() - lastGapLog > 1000) {
              lastGapLog = performance.now();
              log.warn({ missing: result.gap.missing }, 'observation incomplete: no chunk sent, the loop holds');
            }
          },
          error: (error: unknown) => log.error({ err: error }, 'inference failed: the loop holds and starves'),
        }),
    );

    // Telemetry.
    const telemetrySettings = telemetrySettingsFromRobot(robot.telemetry, options.robotFile);
    const brokerChoice = options.broker ?? telemetrySettings.broker?.url ?? 'embedded';
    if (brokerChoice !== 'none') {
      let url = brokerChoice;
      if (url === 'embedded') {
        broker = await startEmbeddedBroker({ port: 1883 });
        url = broker.url;
        if (broker.fellBackFrom) log.warn({ requested: broker.fellBackFrom, port: broker.port }, 'MQTT port in use: the embedded broker took a free one');
        log.info({ url }, `embedded MQTT broker listening; watch with: mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t 'embody/#' -v`);
      }
      telemetry = connectTelemetry({
        // robot.yaml's TLS files and credentials; --broker URL replaces only the URL.
        ...(brokerChoice === 'embedded' ? { protocolVersion: 4 as const } : telemetrySettings.broker),
        url,
        robotId: robot.robot_id,
        log,
        joints: robot.joints.map((j) => j.name),
        fingertips: robot.fingertips.map((f) => f.name),
        ...(telemetrySettings.outbox ? { outbox: telemetrySettings.outbox } : {}),
        ...(options.stateDir ? { stateDir: options.stateDir } : {}),
      });
      const link = telemetry;
      link.setStatus(modeNames[control.mode]);
      subscriptions.add(
        link.commands$.subscribe(async (command) => {
          if (command.kind === 'instruction') {
            instruction = command.text;
            link.ack(command.id, true);
            link.publishEvent({ kind: 'instruction', cause: 'operator', detail: command.text, tick: control.counter(Counter.TICKS) });
            return;
          }
          const code = OperatorCommand[command.command.toUpperCase() as 'ARM' | 'DISARM' | 'STOP' | 'RESET' | 'ESTOP'];
          const outcome = await control.command(code);
          link.ack(command.id, outcome.ok, outcome.reason);
        }),
      );
      const stateSample = new Float64Array(control.snapshotSize);
      subscriptions.add(
        interval(1000 / robot.telemetry.state_rate_hz).subscribe(() => {
          if (!control.readSnapshot(stateSample)) return;
          link.publishStream('state', stateMessage(jointCount, stateSample));
        }),
      );
      if (robot.fingertips.length > 0) {
        subscriptions.add(
          interval(1000 / (robot.telemetry.tactile_rate_hz ?? 10)).subscribe(() => {
            link.publishStream('tactile', { ts: Date.now(), contact: Array.from(touch.contact), force: Array.from(touch.force), area: Array.from(touch.area) });
          }),
        );
      }
      subscriptions.add(
        interval(1000 / robot.telemetry.metrics_rate_hz).subscribe(() => {
          const lateness = control.latenessPercentiles();
          const inference = runner.latencyPercentiles();
          link.publishStream('metrics', {
            ts: Date.now(),
            ticks: control.counter(Counter.TICKS),
            missed: control.counter(Counter.MISSED_TICKS),
            lateness_us: lateness,
            inference_ms: { p50: inference.p50, p99: inference.p99 },
            starvation: control.counter(Counter.STARVED_TICKS),
            cpu: process.cpuUsage().user / 1e6,
            rss_mb: process.memoryUsage.rss() / 2 ** 20,
            dropped: link.dropped,
            safety: safetyCounts(control),
            events_pending: link.eventsPending,
            events_dropped: link.eventsDropped,
          });
        }),
      );
    }

    // Events from the worker: logs, transitions, MQTT.
    const jointNames = robot.joints.map((j) => j.name);
    subscriptions.add(
      control.events$.subscribe((event) => {
        const described = describeEvent(event, jointNames, (seq) => readFaultText(control.shared, seq));
        if (event.kind === EventKind.MODE_CHANGE) {
          const transition = { tick: event.tick, from: modeNames[event.from], to: modeNames[event.to], cause: causeNames[event.code] ?? String(event.code) };
          transitions.push(transition);
          options.statusLine?.clear();
          log.info(transition, `mode ${transition.from} -> ${transition.to}`);
          notifier.status(`mode ${transition.to}`);
          telemetry?.setStatus(transition.to);
        } else if (event.kind === EventKind.INTERVENTION) {
          // Shaping is routine (a policy's piecewise-linear chunks have corners): counted in the
          // report and sent as events, logged only at debug.
          log.debug(described, described.message);
        } else if (event.kind !== EventKind.ACTION_REJECTED || event.value === 1) {
          options.statusLine?.clear();
          log.warn(described, described.message);
        }
        telemetry?.publishEvent({ ...described, tick: event.tick });
      }),
    );

    // Trace.
    if (options.traceFile) {
      const writer = new TraceWriter(options.traceFile, robot.joints.map((j) => j.name));
      trace = writer;
      subscriptions.add(
        interval(100).subscribe(() => {
          writer.countLost(control.drainTrace((record) => writer.add(record)));
          writer.flush();
        }),
      );
    }

    // Watchdog: pet only while the worker's tick counter advances and ticks are on time.
    const health = new LoopHealth(control.counter(Counter.MISSED_TICKS));
    const stopWatchdog = startWatchdog(notifier, () =>
      health.check(control.counter(Counter.TICKS), control.counter(Counter.MISSED_TICKS)),
    );
    subscriptions.add(stopWatchdog);

    // Status line.
    const statusLine = options.statusLine;
    if (statusLine?.enabled) {
      let previousTicks = control.counter(Counter.TICKS);
      let previousAt = performance.now();
      const statusSample = new Float64Array(control.snapshotSize);
      subscriptions.add(
        interval(250).subscribe(() => {
          const ticks = control.counter(Counter.TICKS);
          const now = performance.now();
          const rate = ((ticks - previousTicks) * 1000) / (now - previousAt);
          previousTicks = ticks;
          previousAt = now;
          control.readSnapshot(statusSample);
          statusLine.show({
            mode: modeNames[control.mode],
            tickRateHz: rate,
            latenessP99Us: control.latenessPercentiles().p99,
            missed: control.counter(Counter.MISSED_TICKS),
            inferenceP50Ms: runner.latencyPercentiles().p50,
            starved: control.counter(Counter.STARVED_TICKS),
            contact:
              robot.fingertips.map((f, i) => `${f.name}:${touch.inContact[i] ? 'ON' : 'off'}${touch.flags[i] & UNTRUSTED_FLAGS ? '!' : ''}`).join(' ') || 'n/a',
            task: world?.describe(statusSample.subarray(snapshotWorldOffset(jointCount))),
          });
        }),
      );
    }

    let peakRss = process.memoryUsage.rss();
    subscriptions.add(interval(1000).subscribe(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss()))));

    // Run until the duration passes, a signal arrives, or the worker dies.
    const reason = await Promise.race([
      options.stopRequested ?? new Promise<string>(() => undefined),
      options.durationS !== undefined
        ? new Promise<string>((resolve) => setTimeout(() => resolve('duration reached'), options.durationS! * 1000))
        : new Promise<string>(() => undefined),
      control.exited.then((code) => `control worker exited (${code})`),
    ]);
    statusLine?.clear();
    log.info({ reason }, 'stopping: controlled stop, then safe output state');
    notifier.stopping();
    const finalSnapshot = new Float64Array(control.snapshotSize);
    control.readSnapshot(finalSnapshot);
    const task = world?.task(finalSnapshot.subarray(snapshotWorldOffset(jointCount)));
    const shutdown = await control.shutdown();
    for (const event of control.drainEvents()) {
      if (event.kind === EventKind.MODE_CHANGE) {
        transitions.push({ tick: event.tick, from: modeNames[event.from], to: modeNames[event.to], cause: causeNames[event.code] ?? String(event.code) });
      }
    }
    subscriptions.unsubscribe();
    if (trace) {
      trace.countLost(control.drainTrace((record) => trace!.add(record)));
      await trace.close();
    }
    const lateness = control.latenessPercentiles();
    const inference = runner.latencyPercentiles();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const ticks = control.counter(Counter.TICKS);
    const lastTickIndex = ticks + control.counter(Counter.MISSED_TICKS) - 1;
    const spanMs = control.counter(Counter.LAST_TICK_TIME_MS) - control.counter(Counter.FIRST_TICK_TIME_MS);
    const periodMs = 1000 / robot.control.rate_hz;
    const report: RunReport = {
      robot_id: robot.robot_id,
      policy: { name: manifest.name, model: basename(config.modelPath) },
      started_at: startedAt.toISOString(),
      duration_s: (Date.now() - startedAt.getTime()) / 1000,
      control_rate_hz: robot.control.rate_hz,
      control_thread: control.scheduling,
      ticks: control.counter(Counter.TICKS),
      missed_ticks: control.counter(Counter.MISSED_TICKS),
      clock: {
        achieved_rate_hz: spanMs > 0 ? ((lastTickIndex) * 1000) / spanMs : 0,
        drift_ms: spanMs - lastTickIndex * periodMs,
      },
      peak_rss_mb: Math.round((peakRss / 2 ** 20) * 10) / 10,
      tick_lateness_us: lateness,
      inference_latency_ms: inference,
      chunks_applied: control.counter(Counter.CHUNKS_APPLIED),
      actions_dropped_late: control.counter(Counter.ACTIONS_DROPPED_LATE),
      starvation_ticks: control.counter(Counter.STARVED_TICKS),
      safety_interventions: {
        rejected_actions: control.counter(Counter.REJECTED_ACTIONS),
        position_limited: control.counter(Counter.POSITION_CLAMPS),
        shaped: control.counter(Counter.SHAPED_TICKS),
        stale_action_ticks: control.counter(Counter.STALE_ACTION_TICKS),
        stale_chunks: control.counter(Counter.STALE_CHUNKS),
        estop_trips: control.counter(Counter.ESTOP_TRIPS),
        standstill_faults: control.counter(Counter.STANDSTILL_FAULTS),
        by_kind: Object.fromEntries(interventionNames.map((name, k) => [name, control.counter(Counter.INTERVENTION_COUNTS + k)])),
      },
      hardware_errors: control.counter(Counter.HARDWARE_ERRORS),
      faults: transitions.filter((t) => (t.to === 'FAULT' || t.to === 'SAFE_STOP') && t.cause !== causeNames[Cause.SHUTDOWN]),
      transitions,
      final_mode: modeNames[control.mode],
      controlled_shutdown: shutdown.controlled,
      trace: trace && options.traceFile ? { file: options.traceFile, lines: trace.lines, lost: trace.lost } : undefined,
      task,
    };
    if (options.reportFile) writeReport(options.reportFile, report);
    log.info({ ticks: report.ticks, missed: report.missed_ticks, lateness_us: lateness, final_mode: report.final_mode, task }, 'stopped');
    return report;
  } finally {
    subscriptions.unsubscribe();
    if (!control.hasExited) await control.shutdown(1000);
    await telemetry?.close();
    await broker?.close();
    await config.session.release();
    notifier.close();
  }
}

/** One state sample: arrays in the order of robot.joints (announced as status.joints). */
function stateMessage(n: number, snapshot: Float64Array): StatePayload {
  return {
    ts: Date.now(),
    tick: snapshot[0],
    mode: modeNames[snapshot[2]] ?? 'UNKNOWN',
    position: Array.from(snapshot.subarray(3, 3 + n)),
    velocity: Array.from(snapshot.subarray(3 + n, 3 + 2 * n)),
    command: Array.from(snapshot.subarray(3 + 3 * n, 3 + 4 * n)),
  };
}

interface DescribedEvent {
  kind: string;
  cause: string;
  from?: string;
  to?: string;
  message: string;
  joint?: string;
  requested?: number;
  commanded?: number;
}

function describeEvent(event: ControlEvent, jointNames: readonly string[], faultText: (seq: number) => string): DescribedEvent {
  const kind = eventKindNames[event.kind] ?? `event_${event.kind}`;
  const joint = event.joint >= 0 ? jointNames[event.joint] : undefined;
  const values = {
    ...(joint !== undefined ? { joint } : {}),
    ...(Number.isFinite(event.requested) ? { requested: round6(event.requested) } : {}),
    ...(Number.isFinite(event.commanded) ? { commanded: round6(event.commanded) } : {}),
  };
  switch (event.kind) {
    case EventKind.MODE_CHANGE:
      return { kind, cause: causeNames[event.code], from: modeNames[event.from], to: modeNames[event.to], message: `mode ${modeNames[event.to]}` };
    case EventKind.COMMAND_REFUSED:
      return {
        kind,
        cause: commandResultReasons[event.value] ?? 'refused',
        message: `command '${operatorCommandNames[event.code]}' refused: ${commandResultReasons[event.value]}`,
      };
    case EventKind.ACTION_REJECTED:
      return { kind, cause: 'non-finite or malformed action', message: `policy action rejected (${event.value} in a row)` };
    case EventKind.HARDWARE_ERROR: {
      // The error's text (its sequence number rides in `requested`) names the device, its bus
      // and address, and the fix.
      const text = faultText(event.requested);
      const what = event.value ? 'hardware write failed' : 'hardware read failed';
      return { kind, cause: causeNames[Cause.HARDWARE_FAULT], message: text === '' ? what : `${what}: ${text}` };
    }
    case EventKind.INTERVENTION: {
      const what = interventionNames[Math.log2(event.code)] ?? `intervention_${event.code}`;
      return { kind: what, cause: 'safety envelope', ...values, message: `envelope ${what.replace('_', ' ')} on ${joint ?? 'a joint'}` };
    }
    case EventKind.ESTOP:
      return { kind, cause: causeNames[Cause.ESTOP], message: event.value ? 'e-stop pressed' : 'e-stop released (reset to continue)' };
    case EventKind.STALE_ACTIONS:
      return {
        kind,
        cause: event.code === 1 ? 'touch estimate stale' : 'no fresh policy action within safety.action_timeout_ms',
        message: event.value ? 'inputs stale: controlled stop to a hold' : 'inputs fresh again: following the policy',
      };
    case EventKind.STALE_OBSERVATION:
      return { kind, cause: 'observation older than the camera stale_after_ms', message: `chunk refused: observation ${event.value} ticks old` };
    case EventKind.STANDSTILL_VIOLATION:
      return { kind, cause: causeNames[Cause.STANDSTILL_VIOLATION], ...values, message: `${joint ?? 'a joint'} moved while held` };
    case EventKind.UNEXPECTED_CONTACT:
      return { kind, cause: 'touch estimate', ...values, message: 'a fingertip pad touched something while the gripper was not closing' };
    case EventKind.DRIVE_POWER:
      return { kind, cause: event.value ? 'reset' : 'category 0 stop or stop complete', message: event.value ? 'drive power on' : 'drive power off, brakes on' };
    default:
      return { kind, cause: kind, message: kind.replace('_', ' ') };
  }
}

export { CommandResult };

/** The safety counters the report and the metrics topic carry. */
function safetyCounts(control: ControlThread): Record<string, number> {
  return {
    rejected_actions: control.counter(Counter.REJECTED_ACTIONS),
    position_limited: control.counter(Counter.POSITION_CLAMPS),
    shaped: control.counter(Counter.SHAPED_TICKS),
    stale_action_ticks: control.counter(Counter.STALE_ACTION_TICKS),
    stale_chunks: control.counter(Counter.STALE_CHUNKS),
    estop_trips: control.counter(Counter.ESTOP_TRIPS),
    standstill_faults: control.counter(Counter.STANDSTILL_FAULTS),
    ...Object.fromEntries(interventionNames.map((name, k) => [`ticks_${name}`, control.counter(Counter.INTERVENTION_COUNTS + k)])),
  };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
