/**
 * What each `embody` subcommand does, kept apart from argument parsing (cli.ts) so tests and
 * the HIL runner can call them directly. Each returns the process exit code.
 */
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import type { ServoArmProbeOptions } from '../hal/devices/probe-arm.js';
import type { HalKind } from '../hal/index.js';
import { recorderObserver } from '../record/index.js';
import type { FeetechArmConfig, RobotDescription } from '../robot/index.js';
import { ConfigError, formatProblem, loadConfig, robotJsonSchema, createLogger, StatusLine, runRobot, StoppedBeforeReady, type RunOptions } from '../runtime/index.js';

/** `embody run`'s options as the CLI parses them. */
export interface RunCliOptions {
  robot: string;
  policy?: string;
  duration?: number;
  broker?: string;
  stateDir?: string;
  report?: string;
  trace?: string;
  http?: string;
  arm?: boolean;
  hal?: 'sim' | 'emulated' | 'real';
  /** `--record DIR` (record there), `--no-record` (false), or robot.yaml's `record:` (undefined). */
  record?: string | false;
  logLevel: string;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** `embody run`; `policy` replaces the model as the chunk source (`embody dataset replay`). */
export async function runCommand(options: RunCliOptions, policy?: RunOptions['policy']): Promise<number> {
  const log = createLogger({ level: options.logLevel });
  let stop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (stop = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal while stopping means the operator insists: leave now, the worker's
    // hardware close() already ran or the OS reclaims it.
    if (++signals > 1) process.exit(130);
    stop(`${signal} received`);
  };
  // A rejected promise that nothing handled is a bug in embody, never an expected failure (those
  // are events and safe states): stop the robot the controlled way, then exit with EX_SOFTWARE.
  let bug = false;
  const onBug = (reason: unknown): void => {
    if (bug) return;
    bug = true;
    log.fatal({ err: reason }, 'BUG: unhandled promise rejection; stopping the robot');
    stop('unhandled promise rejection (a bug in embody)');
  };
  // SIGHUP (the terminal or SSH session closed, or `systemctl kill -s HUP`) is a controlled stop
  // like SIGTERM: Node's default would end the process at once, with no stop and no report.
  // There is nothing to reload in place: a new robot.yaml needs a restart through the stop path.
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.on('unhandledRejection', onBug);
  const recorder = options.record === false ? undefined : recorderObserver({ ...(options.record ? { dir: options.record } : {}), ...(options.stateDir ? { stateDir: options.stateDir } : {}) });
  try {
    const report = await runRobot({
      robotFile: options.robot,
      policyOverride: options.policy,
      durationS: options.duration,
      broker: options.broker,
      stateDir: options.stateDir,
      reportFile: options.report,
      traceFile: options.trace,
      ...(options.http !== undefined ? { http: options.http } : {}),
      autoArm: options.arm,
      ...(options.hal ? { hardware: { kind: options.hal } } : {}),
      log,
      statusLine: new StatusLine(process.stderr),
      stopRequested,
      ...(recorder ? { observers: [recorder] } : {}),
      ...(policy ? { policy } : {}),
    });
    if (bug) return 70;
    return report.controlled_shutdown ? 0 : 1;
  } catch (error) {
    if (error instanceof StoppedBeforeReady) {
      log.info('stopped before the control loop was ready; the worker closed the hardware');
      return bug ? 70 : 0;
    }
    if (error instanceof ConfigError) {
      log.error({ problems: error.problems }, 'refusing to start: the configuration has problems');
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    log.error({ err: error }, 'embody run failed');
    return 1;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    process.off('unhandledRejection', onBug);
    log.flush();
  }
}

/** `embody check`'s hardware part for a Feetech arm: every servo pinged and read on the port. */
async function checkFeetechHardware(
  robot: RobotDescription,
  hal: HalKind,
  armOf: (robot: RobotDescription) => FeetechArmConfig | undefined,
  problemOf: (robot: RobotDescription, kind: HalKind) => string | undefined,
): Promise<number> {
  const arm = armOf(robot);
  if (arm === undefined) return 0;
  if (hal === 'sim') {
    process.stdout.write(`hardware: not probed (--hal sim: the plant simulator stands in for the servos; --hal real probes the bus on ${arm.serial.port})\n`);
    return 0;
  }
  const problem = problemOf(robot, hal);
  if (problem !== undefined) {
    process.stderr.write(`check failed: ${problem}\n`);
    return 1;
  }
  const { formatFeetechProbe, probeFeetechArm } = await import('../hal/feetech/index.js');
  process.stdout.write(`hardware (--hal ${hal}): probing ${arm.joints.length} Feetech servos on ${arm.serial.port} at ${arm.serial.baud_rate} baud\n`);
  const probe = probeFeetechArm(arm);
  process.stdout.write(formatFeetechProbe(probe));
  const failed = probe.servos.filter((s) => !s.ok);
  if (probe.portError === undefined && failed.length === 0) {
    process.stdout.write(`hardware ok: all ${probe.servos.length} servos answered\n`);
    return 0;
  }
  process.stderr.write(probe.portError !== undefined ? `check failed: ${probe.portError}\n` : `check failed: ${failed.length} of ${probe.servos.length} servos missing or faulty: ${failed.map((s) => `servo ${s.id} '${s.joint}'`).join(', ')}\n`);
  return 1;
}

export async function checkCommand(options: { robot: string; policy?: string; hal?: HalKind }): Promise<number> {
  try {
    const config = await loadConfig(options.robot, { policyOverride: options.policy });
    const inputs = config.manifest.inputs.map((i) => `${i.name} (${i.kind})`).join(', ');
    process.stdout.write(
      `ok: ${options.robot}\n` +
        `  robot ${config.robot.robot_id}: ${config.robot.joints.length} joints, ${config.robot.cameras.length} camera(s), ` +
        `${config.robot.fingertips.length} fingertip(s), ${config.robot.control.rate_hz} Hz\n` +
        `  policy ${config.manifest.name}: ${config.modelPath || '(no local model: the openpi server below drives alone)'}\n    inputs ${inputs}\n` +
        `    output ${config.manifest.output.name} [${config.manifest.output.horizon} x ${config.manifest.output.joints.length}] ` +
        `${config.manifest.output.mode} at ${config.manifest.rate_hz} Hz\n` +
        (config.remote ? `  remote policy ${config.remote.manifest.name}: openpi server ${config.remote.source.url} (${config.remote.fallback ? 'the policy above is its local fallback' : 'no local fallback'}; not contacted by check)\n` : ''),
    );
    await config.session.release();
    if (config.warnings.length > 0) {
      const n = config.warnings.length;
      process.stderr.write([`${n} warning${n === 1 ? '' : 's'} (not refused):`, ...config.warnings.map((w) => `  ${formatProblem(w)}`)].join('\n') + '\n');
    }
    // The recorder encodes camera frames with an ffmpeg child: say so now, not as a dead encoder mid-run.
    const recording = config.robot.record;
    if (recording?.enabled && recording.cameras === 'jpeg' && config.robot.cameras.length > 0 && spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).error) {
      process.stderr.write('warning: record.cameras: jpeg needs ffmpeg on PATH to encode camera frames (Debian: apt-get install ffmpeg), or set record.cameras: off; without it the episodes have no images\n');
    }
    // The hardware: each chip of a servo arm probed on the buses robot.yaml names (real), or on
    // the chip models (emulated); each servo of a Feetech arm on its port. Loaded lazily: a robot
    // without either never touches the HAL.
    const { robotFeetechArm, robotServoArm, halKindProblem } = await import('../hal/index.js');
    if (config.robot.feetech !== undefined) return await checkFeetechHardware(config.robot, options.hal ?? 'real', robotFeetechArm, halKindProblem);
    const arm = robotServoArm(config.robot);
    if (arm === undefined) return 0;
    const hal = options.hal ?? 'real';
    const where = `servo_arm on i2c-${arm.bus}`;
    if (hal === 'sim') {
      process.stdout.write(`hardware: not probed (--hal sim: the plant simulator stands in for the chips; --hal emulated probes the chip models, --hal real the ${where})\n`);
      return 0;
    }
    const { formatServoArmProbe, probeServoArm, servoArmProbeProblems } = await import('../hal/devices/probe-arm.js');
    const periodSeconds = 1 / config.robot.control.rate_hz;
    let probeOptions: ServoArmProbeOptions = { periodSeconds };
    if (hal === 'emulated') {
      const { ServoArmModel } = await import('../hal/sim/devices/servo-arm-model.js');
      const model = new ServoArmModel(arm, { periodSeconds });
      model.step(); // one period: the emulated servo rail is up and the sensors show it
      probeOptions = {
        periodSeconds,
        openBus: (n) => ({ bus: model.bus(n), release: () => undefined }),
        outputEnable: arm.output_enable ? model.outputEnableLine() : undefined,
        wait: (seconds) => model.clock.advance(seconds),
      };
    }
    process.stdout.write(`hardware (--hal ${hal}${hal === 'emulated' ? ': the real drivers on register-level chip models' : ''}): probing ${where}\n`);
    const results = probeServoArm(arm, probeOptions);
    process.stdout.write(formatServoArmProbe(results));
    const problems = servoArmProbeProblems(results);
    if (problems.length === 0) {
      process.stdout.write(`hardware ok: all ${results.length} devices answered and read back as configured\n`);
      return 0;
    }
    const failed = problems.filter((p) => p.status !== 'skipped');
    const skipped = problems.length - failed.length;
    process.stderr.write(
      `check failed: ${failed.length} of ${results.length} devices missing, wrong or unreachable${skipped > 0 ? `, ${skipped} not probed because of them` : ''}:\n` +
        failed.map((p) => `  ${p.device}: ${p.status}: ${p.error ?? ''}${p.fix ? `\n    fix: ${p.fix}` : ''}\n`).join(''),
    );
    return 1;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    process.stderr.write(`check failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

export function schemaCommand(): void {
  process.stdout.write(JSON.stringify(robotJsonSchema(), null, 2) + '\n');
}

/** One line for a model command that cannot do its job: 2 for a file it cannot open, 1 otherwise. */
async function modelCommand(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const { ModelFileError } = await import('../runtime/index.js');
    process.stderr.write(`embody model ${name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    return error instanceof ModelFileError ? 2 : 1;
  }
}

export async function modelInspectCommand(file: string): Promise<number> {
  return modelCommand('inspect', async () => {
    const { describeQuantization, openModelFile } = await import('../runtime/index.js');
    const session = await openModelFile(file, {});
    const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]): string[] =>
      meta.map((m) => (m.isTensor ? `  ${m.name}: ${m.type} [${m.shape.join(', ')}]` : `  ${m.name}: (non-tensor)`));
    process.stdout.write([`model ${file}`, 'inputs:', ...describe(session.inputMetadata), 'outputs:', ...describe(session.outputMetadata)].join('\n') + '\n');
    process.stdout.write(`quantization: ${describeQuantization(file)}\n`);
    await session.release();
    return 0;
  });
}

export async function modelBenchCommand(file: string, rateHz: number, runs: number): Promise<number> {
  return modelCommand('bench', async () => {
    const { benchModelFile } = await import('../runtime/index.js');
    const result = await benchModelFile(file, runs);
    const budgetMs = 1000 / rateHz;
    process.stdout.write(
      `${file}: p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms, max ${result.maxMs.toFixed(3)} ms over ${runs} runs\n` +
        `budget at ${rateHz} Hz: ${budgetMs.toFixed(1)} ms -> p99 uses ${((100 * result.p99Ms) / budgetMs).toFixed(1)}%\n`,
    );
    return result.p99Ms <= budgetMs ? 0 : 1;
  });
}
