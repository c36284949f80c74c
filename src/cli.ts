#!/usr/bin/env node
/**
 * The `embody` command: parses arguments and dispatches, nothing else.
 */
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DatasetExportCliOptions, DatasetReplayCliOptions } from './commands/dataset.js';
import type { PolicyServeCliOptions } from './commands/policy.js';
import type { RunCliOptions } from './commands/robot.js';
import type { TactileCalibrateCliOptions, TactileReplayCliOptions } from './commands/tactile.js';

const packageRoot = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));
const defaultRobot = `${packageRoot}robots/sim-arm.yaml`;

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return n;
}

type HalChoice = 'sim' | 'emulated' | 'real';

function halOption(description = "what drives the joints: sim (the plant simulator), emulated (the real drivers on register-level chip models moving the simulator) or real; default sim for a simulated robot, else real"): Option {
  return new Option('--hal <kind>', description).choices(['sim', 'emulated', 'real']);
}

// Each command's implementation is imported when it runs (src/commands/), so `embody schema` does
// not load onnxruntime.
const program = new Command()
  .name('embody')
  .description('On-robot runtime: one learned policy drives any robot body described in YAML')
  .showHelpAfterError();

program
  .command('run')
  .description('run the robot: control loop, policy, telemetry (no flags: the simulated arm with the demo policy)')
  .option('--robot <file>', 'robot description (YAML)', defaultRobot)
  .option('--policy <file>', 'policy manifest (YAML) overriding the one robot.yaml names')
  .option('--duration <s>', 'stop after this many seconds', seconds)
  .option('--broker <url>', "MQTT broker URL, 'embedded' (aedes on localhost) or 'none' (default: robot.yaml telemetry.broker, else embedded)")
  .option('--state-dir <dir>', 'where the telemetry outbox lives (default: $STATE_DIRECTORY, else ./.embody-state)')
  .option('--report <file>', 'write the run report (JSON) here at the end')
  .option('--trace <file>', 'write one JSON line per control tick here')
  .option('--http <addr>', "live page and /metrics at HOST:PORT, or 'none' (default: robot.yaml http section, off without one)")
  .addOption(new Option('--arm', 'arm as soon as the loop is ready (default: only for fully simulated robots)'))
  .addOption(new Option('--no-arm', 'wait for an operator arm command'))
  .addOption(halOption())
  .option('--record <dir>', "record episodes into this directory (default: robot.yaml's record: section)")
  .option('--no-record', 'do not record, whatever robot.yaml says')
  .option('--log-level <level>', 'pino log level', 'info')
  .action(async (options: RunCliOptions) => {
    const { runCommand } = await import('./commands/robot.js');
    process.exitCode = await runCommand(options);
  });

program
  .command('check')
  .description('validate robot.yaml, its policy manifest and model; print every problem with a fix')
  .option('--robot <file>', 'robot description (YAML)', defaultRobot)
  .option('--policy <file>', 'policy manifest (YAML) overriding the one robot.yaml names')
  .addOption(halOption('which hardware to probe: real (the buses robot.yaml names) or emulated (the chip models); default real for a robot with real drivers'))
  .action(async (options: { robot: string; policy?: string; hal?: HalChoice }) => {
    const { checkCommand } = await import('./commands/robot.js');
    process.exitCode = await checkCommand(options);
  });

program
  .command('schema')
  .description('print the JSON Schema of robot.yaml (for editor completion)')
  .action(async () => {
    const { schemaCommand } = await import('./commands/robot.js');
    schemaCommand();
  });

const model = program.command('model').description('inspect or benchmark an ONNX policy');
model
  .command('inspect')
  .argument('<model>', 'ONNX file')
  .description('inputs, outputs, types, shapes and quantization')
  .action(async (file: string) => {
    const { modelInspectCommand } = await import('./commands/robot.js');
    process.exitCode = await modelInspectCommand(file);
  });
model
  .command('bench')
  .argument('<model>', 'ONNX file')
  .option('--rate <hz>', 'policy rate to compare against (budget = 1/rate)', '20')
  .option('--runs <n>', 'timed runs', '500')
  .description('latency of session.run() on random inputs against the control budget')
  .action(async (file: string, options: { rate: string; runs: string }) => {
    const { modelBenchCommand } = await import('./commands/robot.js');
    process.exitCode = await modelBenchCommand(file, Number(options.rate), Number(options.runs));
  });

program
  .command('policy')
  .description('policies over the network')
  .command('serve')
  .argument('<manifest>', 'ONNX policy manifest (YAML)')
  .description("serve the policy over openpi's websocket protocol (metadata, msgpack-numpy, GET /healthz)")
  .option('--robot <file>', 'the robot description the manifest is checked against (YAML)', defaultRobot)
  .option('--port <n>', 'TCP port', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535');
    return n;
  }, 8000)
  .option('--host <address>', 'address to listen on', '0.0.0.0')
  .option('--log-level <level>', 'pino log level', 'info')
  .action(async (manifest: string, options: PolicyServeCliOptions) => {
    const { policyServeCommand } = await import('./commands/policy.js');
    process.exitCode = await policyServeCommand(manifest, options);
  });

program
  .command('bench')
  .argument('[name]', "benchmark to run: 'loop', 'model' or all")
  .option('--seconds <s>', 'seconds per measurement', seconds)
  .description('benchmarks, each beside its anchor in the same run; JSON to bench/results/')
  .action(async (name: string | undefined, options: { seconds?: number }) => {
    const { benchCommand } = await import('../bench/index.js');
    process.exitCode = await benchCommand(name, options);
  });

program
  .command('hil')
  .argument('[scenarios...]', 'scenario YAML files')
  .option('--target <target>', "'sim' (the plant simulator on a virtual clock) or a rig URL", 'sim')
  .option('--junit <file>', 'write JUnit XML here')
  .option('--seed <n>', 'override every scenario seed', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
    return n;
  })
  .option('--schema', 'print the scenario JSON Schema and exit')
  .description('hardware-in-the-loop scenarios: stimuli on a timeline, expected reactions, JUnit')
  .action(async (scenarios: string[], options: { target: string; junit?: string; seed?: number; schema?: boolean }) => {
    const { runHil, scenarioJsonSchema } = await import('./hil/index.js');
    if (options.schema) {
      process.stdout.write(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n');
      return;
    }
    if (scenarios.length === 0) {
      process.stderr.write('embody hil: give at least one scenario file, e.g. test/hil/scenarios/*.yaml\n');
      process.exitCode = 2;
      return;
    }
    const result = await runHil(scenarios, { target: options.target, ...(options.junit ? { junit: options.junit } : {}), ...(options.seed === undefined ? {} : { seed: options.seed }) });
    process.exitCode = result.exitCode;
  });

program
  .command('hil-rig')
  .requiredOption('--broker <url>', 'MQTT broker the runner uses, e.g. mqtt://127.0.0.1:1883')
  .option('--rig-id <id>', 'rig id (topic level under embody-rig/)', 'sim-rig')
  .description('reference HIL rig: serves the rig protocol from the simulator until stopped')
  .action(async (options: { broker: string; rigId: string }) => {
    const { serveReferenceRig } = await import('./hil/index.js');
    const rig = await serveReferenceRig({ brokerUrl: options.broker, rigId: options.rigId, root: process.cwd(), log: (line) => process.stdout.write(`${line}\n`) });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await rig.close();
  });

const record = program.command('record').description('episode recordings on this robot (MCAP segments; docs/RECORDING.md)');
record
  .command('ls')
  .argument('<dir>', 'recordings directory')
  .description('list the episodes: robot, length, label, segments, whether complete')
  .action(async (dir: string) => {
    const { recordLsCommand } = await import('./commands/record.js');
    process.exitCode = await recordLsCommand(dir);
  });
record
  .command('info')
  .argument('<episode>', 'episode directory')
  .description("one episode's metadata and segments, as JSON")
  .action(async (dir: string) => {
    const { recordInfoCommand } = await import('./commands/record.js');
    process.exitCode = await recordInfoCommand(dir);
  });
record
  .command('recover')
  .argument('<dir>', 'recordings directory')
  .description('rewrite segments a crash left unfinished (*.mcap.part) up to their last complete record')
  .action(async (dir: string) => {
    const { recordRecoverCommand } = await import('./commands/record.js');
    process.exitCode = await recordRecoverCommand(dir);
  });

const dataset = program.command('dataset').description('datasets for training from recorded episodes');
dataset
  .command('export')
  .argument('<recordings...>', 'episode directories, or directories holding them (one robot or many)')
  .requiredOption('--out <dir>', 'where the LeRobotDataset v3.0 goes')
  .option('--fps <n>', 'frames per second of the dataset (resampled from the control rate)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number of frames per second > 0');
    return n;
  }, 30)
  .option('--robot-type <type>', "info.json robot_type, e.g. so101")
  .addOption(new Option('--vcodec <codec>', 'video encoder').choices(['libsvtav1', 'libx264']).default('libsvtav1'))
  .description('export recorded episodes as one LeRobotDataset v3.0 (meta/, data/, videos/)')
  .action(async (recordings: string[], options: DatasetExportCliOptions) => {
    const { datasetExportCommand } = await import('./commands/dataset.js');
    process.exitCode = await datasetExportCommand(recordings, options);
  });

dataset
  .command('replay')
  .argument('<dataset>', 'a LeRobotDataset v3.0 directory (as embody dataset export writes it)')
  .option('--episode <n>', 'episode_index to replay', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an episode index >= 0');
    return n;
  }, 0)
  .option('--robot <file>', 'robot description (YAML)', defaultRobot)
  .option('--duration <s>', 'stop after this many seconds', seconds)
  .option('--broker <url>', "MQTT broker URL, 'embedded' or 'none'", 'none')
  .option('--report <file>', 'write the run report (JSON) here at the end')
  .option('--trace <file>', 'write one JSON line per control tick here')
  .option('--log-level <level>', 'pino log level', 'info')
  .description("run the robot open loop on an episode's recorded actions instead of the model (the envelope still applies)")
  .action(async (dir: string, options: DatasetReplayCliOptions) => {
    const { datasetReplayCommand } = await import('./commands/dataset.js');
    process.exitCode = await datasetReplayCommand(dir, options);
  });

const tactile = program.command('tactile').description('touch from the wrist camera: replay clips, calibrate force');
tactile
  .command('replay')
  .argument('<clip>', 'recorded clip (anything ffmpeg reads)')
  .description('run the touch estimator over a clip; one JSON line per frame with --jsonl')
  .option('--roi <x,y,w,h>', 'pad region, pixels (default: the whole frame)')
  .option('--reference-frames <n>', 'frames averaged into the no-contact reference (default 8)')
  .option('--robot <file>', 'robot description to take the ROI and calibration from (with --fingertip)')
  .option('--fingertip <name>', 'fingertip of --robot')
  .option('--jsonl', 'print {frame, t, contact, p, area, centroid, shear, force, flags} per frame (summary to stderr)')
  .action(async (clip: string, options: TactileReplayCliOptions) => {
    const { tactileReplayCommand } = await import('./commands/tactile.js');
    process.exitCode = await tactileReplayCommand(clip, options);
  });
tactile
  .command('calibrate')
  .description('fit force = scale * proxy^exponent to clips pressed with known loads; prints the robot.yaml block')
  .requiredOption('--sample <load=clip>', 'clip held at a known load, unloaded first (repeat; two loads > 0 at least)', (v: string, all: string[] = []) => [...all, v])
  .option('--roi <x,y,w,h>', 'pad region, pixels (default: the whole frame)')
  .option('--reference-frames <n>', 'frames averaged into the no-contact reference (default 8)')
  .option('--robot <file>', 'robot description to take the ROI from (with --fingertip)')
  .option('--fingertip <name>', 'fingertip of --robot')
  .option('--unit <unit>', 'unit of the loads', 'N')
  .option('--json', 'print the fit as JSON')
  .action(async (options: TactileCalibrateCliOptions) => {
    const { tactileCalibrateCommand } = await import('./commands/tactile.js');
    process.exitCode = await tactileCalibrateCommand(options);
  });

await program.parseAsync(process.argv);
