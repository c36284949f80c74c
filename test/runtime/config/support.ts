/** Shared pieces of the robot.yaml tests: edited copies of a shipped file, and the problems a load reports. */
import { expect } from 'vitest';
import { parseDocument } from 'yaml';
import { ConfigError, loadRobotDescription, type ConfigProblem } from '../../../src/runtime/config/index.js';

/** `yaml` with some fields set (undefined deletes), keeping comments and layout. */
export function editYaml(yaml: string, edits: readonly [readonly (string | number)[], unknown][]): string {
  const doc = parseDocument(yaml);
  for (const [at, value] of edits) {
    if (value === undefined) doc.deleteIn(at);
    else doc.setIn(at, value);
  }
  return doc.toString();
}

/** The problems loading `file` reports (fails the test when it loads cleanly). */
export function problemsOf(file: string): ConfigProblem[] {
  try {
    loadRobotDescription(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`${file} loaded without problems`);
}
