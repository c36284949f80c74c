import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { robotDescriptionSchema, robotIdRule } from '../../src/robot/index.js';
import { topicRoot } from '../../src/telemetry/topics.js';

const repo = path.resolve(import.meta.dirname, '../..');
const schema = robotDescriptionSchema.shape.robot_id;

function topicAccepts(id: string): boolean {
  try {
    topicRoot(id);
    return true;
  } catch {
    return false;
  }
}

describe('robot_id: one rule for robot.yaml and MQTT', () => {
  const good = ['sim-arm-01', 'arm.v2', 'A_1', 'x', '0', 'a'.repeat(64)];
  const bad = ['', 'a/b', 'a+', '#', 'a#', '+', '..', '.', '.hidden', '-x', '_x', 'a'.repeat(65), 'a b', 'arm\u00e9', 'a\u0000b', '$SYS'];

  it.each(good)('accepts %j in the schema and as a topic level', (id) => {
    expect(schema.safeParse(id).success).toBe(true);
    expect(topicRoot(id)).toBe(`embody/${id}/`);
  });

  it.each(bad)('refuses %j in the schema and as a topic level, saying the rule', (id) => {
    const parsed = schema.safeParse(id);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain(robotIdRule);
    expect(() => topicRoot(id)).toThrow(robotIdRule);
    expect(topicAccepts(id)).toBe(false);
  });

  it('docs/MQTT.md states the same rule', () => {
    expect(readFileSync(path.join(repo, 'docs/MQTT.md'), 'utf8')).toContain(robotIdRule);
  });
});
