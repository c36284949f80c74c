/** The MQTT topic map, rooted at embody/<robot_id>/ (DESIGN.md contract, docs/MQTT.md). */
export const topicKeys = ['status', 'state', 'tactile', 'events', 'metrics', 'cmd/mode', 'cmd/instruction', 'cmd/ack'] as const;
export type TopicKey = (typeof topicKeys)[number];
/** Sampled QoS 0 topics: losing one sample is fine, queueing them is not. */
export type StreamTopic = 'state' | 'tactile' | 'metrics';
export type Topics = Readonly<Record<TopicKey, string>>;

// Wildcards or separators in the id would make the robot publish into, or listen on, other
// robots' subtrees.
const validRobotId = /^[A-Za-z0-9_.-]+$/;

/** `embody/<robot_id>/`, after checking the id is one topic level. */
export function topicRoot(robotId: string): string {
  if (!validRobotId.test(robotId)) {
    throw new Error(`robot_id \`${robotId}\` cannot be an MQTT topic level: use letters, digits, '_', '.', '-'`);
  }
  return `embody/${robotId}/`;
}

export function topicsFor(robotId: string): Topics {
  const root = topicRoot(robotId);
  return Object.fromEntries(topicKeys.map((key) => [key, root + key])) as Record<TopicKey, string>;
}
