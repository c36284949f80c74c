/**
 * `embody run`, the composition root: load the robot, start the control worker, build the
 * pipeline, attach the observers, run until a signal, the duration or the worker's end, then a
 * controlled stop. Like openpi's Runtime(environment, agent, subscribers): everything else is a
 * stage of the pipeline (src/runtime/pipeline/) or an observer (src/runtime/observers/).
 */
import { interval, Subject, Subscription } from 'rxjs';
import { openCameraWorld } from '../hal/camera/index.js';
import type { RobotDescription } from '../robot/index.js';
import { defaultHalKind, halKindProblem, hardwareWorldSize, robotForHal, type HardwareOptions } from '../hal/index.js';
import { connectCameras } from './cameras.js';
import { formatProblem, loadConfig, type LoadedConfig } from './config/index.js';
import { ControlThread } from './control-thread.js';
import type { Logger } from './logger.js';
import { logObserver } from './observers/log.js';
import type { Observer, RunContext } from './observers/observer.js';
import { reportObserver } from './observers/report.js';
import { statusLineObserver } from './observers/status-line.js';
import { systemdObserver } from './observers/systemd.js';
import { telemetryObserver } from './observers/telemetry.js';
import { traceObserver } from './observers/trace.js';
import { webObserver } from './observers/web.js';
import type { RunReport } from './output/report.js';
import type { StatusLine } from './output/status-line.js';
import { Pipeline, type ChunkPolicy, type RuntimeEvent } from './pipeline/index.js';
import { remoteBrain } from './policy/openpi/index.js';
import type { PolicyManifest } from './policy/manifest.js';
import { PolicyRunner } from './policy/runner.js';
import { CommandResult, snapshotView } from './shared-state.js';
import { createNotifier } from './systemd.js';

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
  /** --http: 'none', or HOST:PORT for the live page and /metrics (default: robot.yaml's http section). */
  readonly http?: string;
  /** Arm when ready; undefined means: only when every driver is simulated. */
  readonly autoArm?: boolean;
  readonly hardware?: HardwareOptions;
  readonly log: Logger;
  readonly statusLine?: StatusLine;
  /** Resolves when the caller wants to stop (signals). */
  readonly stopRequested?: Promise<string>;
  /** Observers from rooms above the runtime (the recorder), started after the runtime's own. */
  readonly observers?: readonly Observer[];
  /** Another source of chunks in place of the model (a dataset replay), given the manifest's output. */
  readonly policy?: (output: PolicyOutput) => ChunkPolicy;
}

/** What a chunk source must produce: `horizon` actions of these joints, one per `ticksPerAction` ticks. */
export interface PolicyOutput {
  readonly horizon: number;
  readonly joints: readonly string[];
  readonly ticksPerAction: number;
  readonly rateHz: number;
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
  const config = await loadConfig(options.robotFile, { policyOverride: options.policyOverride });
  for (const warning of config.warnings) log.warn({ problem: warning }, formatProblem(warning));
  const { manifest } = config;
  const hardware: HardwareOptions = options.hardware ?? { kind: defaultHalKind(config.robot) };
  const halProblem = hardware.kind === 'sim' ? undefined : halKindProblem(config.robot, hardware.kind);
  if (halProblem !== undefined) {
    // The policy process is already running: stop it, or it holds the process open after the error.
    await config.session.release();
    throw new Error(`${config.robotFile}: ${halProblem}`);
  }
  const robot = robotForHal(config.robot, hardware.kind); // cameras render the sim world unless real
  const runner = new PolicyRunner(config.session, manifest, robot);
  const { driving, ticksPerAction, policy, emitTo, close: closeSource } = chunkSource(config, robot, runner, options.policy);
  const notifier = createNotifier();
  notifier.status('starting control loop');
  const control = new ControlThread({
    robot,
    horizon: driving.output.horizon,
    outputJoints: runner.outputJoints,
    ticksPerAction,
    blendSteps: driving.blend_steps,
    replanAfter: driving.replan_after,
    autoArm: options.autoArm ?? hardware.kind !== 'real', // nothing real moves unless an operator arms it
    worldSize: hardwareWorldSize(robot, hardware),
    realtimePriority: robot.control.realtime_priority,
    hardware,
  });
  const pipeline = new Pipeline({ robot, control, policy, clock: { nowMs: () => performance.now() } });
  emitTo(pipeline);
  const trace = options.traceFile ? traceObserver(options.traceFile) : undefined;
  const report = reportObserver({ policyName: manifest.name, modelPath: config.modelPath, file: options.reportFile });
  // The status line first: it clears itself before the log observer writes a line.
  const telemetry = telemetryObserver(options);
  const web = webObserver({ robotFile: options.robotFile, http: options.http, policyName: manifest.name, mqtt: () => telemetry.linkState });
  const observers: Observer[] = [...(options.statusLine ? [statusLineObserver(options.statusLine)] : []), logObserver(), report, systemdObserver(notifier), telemetry, web];
  if (trace) observers.push(trace);
  observers.push(...(options.observers ?? []));
  let stopped = false;
  const stopObservers = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const observer of observers) await observer.stop();
  };
  const stopping$ = new Subject<string>();
  const snapshot = snapshotView(new Float64Array(control.shared.snapshot.length), robot.joints.length);
  const world = openCameraWorld(robot, hardware, (out) => control.readSnapshot(snapshot.buffer) && (out.set(snapshot.world), true));
  const wiring = new Subscription();
  try {
    await untilReady(control, options.stopRequested);
    log.info({ robot: robot.robot_id, policy: manifest.name, rate_hz: robot.control.rate_hz, scheduling: control.scheduling }, 'control loop ready');
    const source = { robotFile: config.robotFile, manifestFile: config.manifestFile, modelPath: config.modelPath, policyName: manifest.name, ticksPerAction, actionJoints: manifest.output.joints };
    const run: RunContext = { pipeline, log, every: (ms) => interval(ms), stopping$, world, source };
    for (const observer of observers) await observer.start(run);
    wiring.add(pipeline.connect({ retry$: interval(10), drain$: interval(10) }));
    wiring.add(connectCameras(pipeline, options.robotFile, world));
    const reason = await firstOf(options, control);
    log.info({ reason }, 'stopping: controlled stop, then safe output state');
    stopping$.next(reason);
    control.readSnapshot(snapshot.buffer);
    const task = world?.task(snapshot.world);
    const shutdown = await control.shutdown();
    wiring.unsubscribe();
    pipeline.close();
    await stopObservers();
    const result = report.finish({ controlled: shutdown.controlled, scheduling: control.scheduling, trace: trace?.summary, task });
    log.info({ ticks: result.ticks, missed: result.missed_ticks, lateness_us: result.tick_lateness_us, final_mode: result.final_mode, task }, 'stopped');
    return result;
  } finally {
    wiring.unsubscribe();
    if (!control.hasExited) await control.shutdown(1000);
    await stopObservers();
    closeSource();
    await config.session.release();
  }
}

/**
 * Where chunks come from: a source given from above (a dataset replay), an openpi server through
 * the remote brain (the local runner its fallback; its manifest shapes the loop), or the local
 * runner. The brain's events go to the pipeline once it exists (`emitTo`); `close` ends its link.
 */
function chunkSource(
  config: LoadedConfig,
  robot: RobotDescription,
  runner: PolicyRunner,
  replace: RunOptions['policy'],
): { driving: PolicyManifest; ticksPerAction: number; policy: ChunkPolicy; emitTo(pipeline: Pipeline): void; close(): void } {
  const driving = config.remote?.manifest ?? config.manifest;
  const ticksPerAction = robot.control.rate_hz / driving.rate_hz;
  let emit: (event: RuntimeEvent) => void = () => undefined;
  const remote = config.remote && remoteBrain(config.remote, robot, config.remote.fallback ? runner : undefined, (event) => emit(event));
  const given = replace?.({ horizon: driving.output.horizon, joints: driving.output.joints, ticksPerAction, rateHz: robot.control.rate_hz });
  return {
    driving,
    ticksPerAction,
    policy: given ?? remote ?? runner,
    emitTo: (pipeline) => (emit = (event) => pipeline.emit(event)),
    close: () => remote?.close(),
  };
}

/** READY, or a stop request first (nothing ran), or the hardware never reading healthy. */
async function untilReady(control: ControlThread, stopRequested: Promise<string> | undefined): Promise<void> {
  // Neither a long boot nor a stop request may leave the process hanging with the first SIGTERM ignored.
  let timer: NodeJS.Timeout | undefined;
  const boot = await Promise.race([
    control.ready.then(() => 'ready' as const),
    (stopRequested ?? new Promise<string>(() => undefined)).then(() => 'stop' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (boot === 'timeout') {
    throw new Error(`the control loop did not report READY within ${READY_TIMEOUT_MS / 1000} s: the hardware never read healthy (see the hardware_error events)`);
  }
  if (boot === 'stop') throw new StoppedBeforeReady();
}

/** Run until the duration passes, a signal arrives, or the worker dies; the timer never outlives the run. */
async function firstOf(options: RunOptions, control: ControlThread): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const reason = await Promise.race([
    options.stopRequested ?? new Promise<string>(() => undefined),
    options.durationS !== undefined
      ? new Promise<string>((resolve) => (timer = setTimeout(() => resolve('duration reached'), options.durationS! * 1000)))
      : new Promise<string>(() => undefined),
    control.exited.then((code) => `control worker exited (${code})`),
  ]);
  clearTimeout(timer);
  return reason;
}

export { CommandResult };
