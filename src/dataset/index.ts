/**
 * The dataset room's door: recorded episodes (src/record) exported to LeRobotDataset v3.0.
 * It imports the record room's door only.
 */
export { exportDataset, jpegSize, type ExportOptions, type ExportSummary } from './export.js';
export { readEpisodeFrames, STALE_IMAGE_MS, type EpisodeFrames } from './episode-frames.js';
export { aggregateStats, imageStats, sampleIndices, vectorStats, type FeatureStats } from './stats.js';
export { codecName, type VideoCodec } from './video.js';
export { readReplayEpisode, replayPolicy, type ReplayEpisode } from './replay.js';
