/**
 * The record room's door: the episode recorder (an observer of `embody run`), crash recovery, and
 * the episode metadata on disk. It imports the runtime through the runtime's door; the runtime
 * does not know it (`embody run` hands the recorder to runRobot as one more observer).
 */
export { recorderObserver, MAX_PENDING, type RecorderObserver, type RecorderOptions, type RecorderSummary } from './recorder.js';
export { fileReadable, recoverRecordings, recoverSegment, recordingsBytes, type RecoveryResult } from './recover.js';
export { EPISODE_FILE, readEpisodeMeta, segmentName, type EpisodeMeta, type EpisodeLabel } from './episode.js';
export { recordChannels, Topic, OwnSchema } from './channels.js';
export { PART_SUFFIX } from './segment.js';
