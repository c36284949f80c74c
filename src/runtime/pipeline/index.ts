/** The pipeline's door (inside the runtime room): stages, the control port, event naming. */
export { Pipeline, type EpisodeHandler, type EpisodeRequest, type OperatorRequest, type PipelineCadence, type PipelineOptions } from './pipeline.js';
export type { CommandOutcome, ControlPort } from './control-port.js';
export { describeEvent, eventPayload, isWarning, type RuntimeEvent } from './events.js';
export { ERROR_BACKOFF_MS, GAP_RETRY_MS, InferenceStage, MAX_CONSECUTIVE_ERRORS, type ChunkPolicy, type InferenceStats, type PipelineClock } from './inference.js';
export { TouchStage, type TouchState } from './touch.js';
