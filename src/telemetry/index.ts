/** Telemetry's door: MQTT topics, payload schemas, the robot's link, its outbox and the embedded broker. */
export { backoffDelay } from './backoff.js';
export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.js';
export {
  createCommandGate,
  defaultCommandRate,
  defaultMaxClockSkewMs,
  defaultMaxCommandAgeMs,
  defaultMaxCommandBytes,
  TokenBucket,
  type CommandDelivery,
  type CommandGate,
  type CommandGateOptions,
  type CommandRate,
  type GateResult,
} from './commands.js';
export {
  defaultStateDir,
  redactUrl,
  telemetrySettingsFromRobot,
  type BrokerConfig,
  type BrokerSettings,
  type OutboxConfig,
} from './config.js';
export { connectTelemetry, type TelemetryLink, type TelemetryLogger, type TelemetryOptions } from './connection.js';
export { encodeState, encodeStream, encodeTactile } from './encode.js';
export { mqttPayloadSchemas, renderMqttSchemas, updateMqttDoc, type PayloadSchema } from './mqtt-doc.js';
export {
  defaultOutboxLimits,
  Outbox,
  OutboxLockedError,
  type OutboxKind,
  type OutboxLimits,
  type OutboxLogger,
  type OutboxRecord,
  type OutboxStats,
} from './outbox.js';
export { defaultRecentCommandIds, defaultRecentCommandMs, RecentCommands, type RecentCommandsOptions, type Seen } from './recent-commands.js';
export * from './schemas.js';
export { topicKeys, topicRoot, topicsFor, type StreamTopic, type TopicKey, type Topics } from './topics.js';
