/**
 * What each `embody` subcommand does, kept apart from argument parsing (cli.ts) so tests and
 * the HIL runner can call them directly. Each returns the process exit code.
 */
import * as ort from 'onnxruntime-node';
import type { RunCliOptions } from '../cli.js';
import { ConfigError, loadConfig, robotJsonSchema } from './config/index.js';
import { createLogger } from './logger.js';
import { StatusLine } from './output/status-line.js';
import { runRobot, StoppedBeforeReady } from './run.js';

export async function runCommand(options: RunCliOptions): Promise<number> {
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const report = await runRobot({
      robotFile: options.robot,
      policyOverride: options.policy,
      durationS: options.duration,
      broker: options.broker,
      stateDir: options.stateDir,
      reportFile: options.report,
      traceFile: options.trace,
      autoArm: options.arm,
      ...(options.hal ? { hardware: { kind: options.hal } } : {}),
      log,
      statusLine: new StatusLine(process.stderr),
      stopRequested,
    });
    return report.controlled_shutdown ? 0 : 1;
  } catch (error) {
    if (error instanceof StoppedBeforeReady) {
      log.info('stopped before the control loop was ready; the worker closed the hardware');
      return 0;
    }
    if (error instanceof ConfigError) {
      log.error({ problems: error.problems }, 'refusing to start: the configuration has problems');
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    log.error({ err: error }, 'embody run failed');
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    log.flush();
  }
}

export async function checkCommand(options: { robot: string; policy?: string }): Promise<number> {
  try {
    const config = await loadConfig(options.robot, { policyOverride: options.policy });
    const inputs = config.manifest.inputs.map((i) => `${i.name} (${i.kind})`).join(', ');
    process.stdout.write(
      `ok: ${options.robot}\n` +
        `  robot ${config.robot.robot_id}: ${config.robot.joints.length} joints, ${config.robot.cameras.length} camera(s), ` +
        `${config.robot.fingertips.length} fingertip(s), ${config.robot.control.rate_hz} Hz\n` +
        `  policy ${config.manifest.name}: ${config.modelPath}\n    inputs ${inputs}\n` +
        `    output ${config.manifest.output.name} [${config.manifest.output.horizon} x ${config.manifest.output.joints.length}] ` +
        `${config.manifest.output.mode} at ${config.manifest.rate_hz} Hz\n`,
    );
    await config.session.release();
    return 0;
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

export async function modelInspectCommand(file: string): Promise<number> {
  const session = await ort.InferenceSession.create(file);
  const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]): string[] =>
    meta.map((m) => (m.isTensor ? `  ${m.name}: ${m.type} [${m.shape.join(', ')}]` : `  ${m.name}: (non-tensor)`));
  process.stdout.write([`model ${file}`, 'inputs:', ...describe(session.inputMetadata), 'outputs:', ...describe(session.outputMetadata)].join('\n') + '\n');
  const { describeQuantization } = await import('./policy/model-info.js');
  process.stdout.write(`quantization: ${describeQuantization(file)}\n`);
  await session.release();
  return 0;
}

export async function modelBenchCommand(file: string, rateHz: number, runs: number): Promise<number> {
  const { benchModelFile } = await import('./policy/model-info.js');
  const result = await benchModelFile(file, runs);
  const budgetMs = 1000 / rateHz;
  process.stdout.write(
    `${file}: p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms, max ${result.maxMs.toFixed(3)} ms over ${runs} runs\n` +
      `budget at ${rateHz} Hz: ${budgetMs.toFixed(1)} ms -> p99 uses ${((100 * result.p99Ms) / budgetMs).toFixed(1)}%\n`,
  );
  return result.p99Ms <= budgetMs ? 0 : 1;
}
