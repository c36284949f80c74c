/**
 * The runtime room's door: loading and checking a robot (config/), running it (`runRobot`), and
 * the pieces the HIL harness drives on its virtual clock (the control loop, the shared-memory
 * records, the policy runner). Other rooms import the runtime from here only.
 */
export { collectConfigProblems, loadConfig, loadRobotDescription, robotJsonSchema, type LoadedConfig } from './config/index.js';
export { ConfigError, displayFile, formatPath, formatProblem, readYamlFile, validateSource, type ConfigProblem, type FieldPath } from './config/problems.js';
export { createLogger, type Logger } from './logger.js';
export { StatusLine } from './output/status-line.js';
export { runRobot, StoppedBeforeReady, type PolicyOutput, type RunOptions } from './run.js';
export { describeQuantization, benchModelFile, ModelFileError, openModelFile } from './policy/model-info.js';
export { ControlLoop } from './control-loop.js';
export { ClockTime, type ClockReading } from './clock.js';
export { EventRingReader, type ControlEvent } from './event-ring.js';
export { PolicyRunner, type ChunkSink, type InferenceResult } from './policy/runner.js';
export type { ObservationSources } from './policy/observation.js';
export { VirtualControl } from './virtual-control.js';
export { servePolicy, type ServedPolicy } from './policy/openpi/index.js';
export { LoopHealth } from './systemd.js';
export * from './shared-state.js';
export { CHUNK_HEADER_SIZE, ChunkRecord, EventRecord, SnapshotRecord, TraceRecord } from './records.js';
export { Pipeline, TouchStage, describeEvent, eventPayload, isWarning, type ChunkPolicy, type EpisodeRequest, type OperatorRequest, type ControlPort, type RuntimeEvent } from './pipeline/index.js';
export type { Observer, RunContext, RunSource } from './observers/observer.js';
export { defaultStateDir } from '../telemetry/index.js';
