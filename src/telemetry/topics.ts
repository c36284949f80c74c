/** The MQTT topic map, rooted at embody/<robot_id>/ (DESIGN.md contract, docs/MQTT.md). */
import { robotIdProblem } from '../robot/robot-id.js';

export const topicKeys = ['status', 'state', 'tactile', 'events', 'metrics', 'cmd/mode', 'cmd/instruction', 'cmd/episode', 'cmd/ack'] as const;
export type TopicKey = (typeof topicKeys)[number];
/** Sampled QoS 0 topics: losing one sample is fine, queueing them is not. */
export type StreamTopic = 'state' | 'tactile' | 'metrics';
export type Topics = Readonly<Record<TopicKey, string>>;

/** `embody/<robot_id>/`, after checking the id by the rule robot.yaml's schema uses (src/robot/robot-id.ts). */
export function topicRoot(robotId: string): string {
  const problem = robotIdProblem(robotId);
  if (problem !== undefined) throw new Error(problem);
  return `embody/${robotId}/`;
}

export function topicsFor(robotId: string): Topics {
  const root = topicRoot(robotId);
  return Object.fromEntries(topicKeys.map((key) => [key, root + key])) as Record<TopicKey, string>;
}
