/** Telemetry's door: MQTT topics, payload schemas, the robot's link and the embedded broker. */
export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.js';
export { connectTelemetry, type TelemetryLink, type TelemetryLogger, type TelemetryOptions } from './connection.js';
export * from './schemas.js';
export { topicsFor, topicKeys, type StreamTopic, type TopicKey, type Topics } from './topics.js';
