import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { editYaml } from './support.js';
import { collectConfigProblems, formatProblem, readRobotDescription, stopSeconds } from '../../../src/runtime/config/index.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const simArmFile = path.join(repo, 'robots/sim-arm.yaml');
const simArm = readFileSync(simArmFile, 'utf8').replace('../models/demo/policy.yaml', path.join(repo, 'models/demo/policy.yaml'));
const dir = mkdtempSync(path.join(tmpdir(), 'embody-config-warnings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function variant(edits: [readonly (string | number)[], unknown][]): string {
  const file = path.join(dir, `robot-${++counter}.yaml`);
  writeFileSync(file, editYaml(simArm, edits));
  return file;
}

describe('stopping-time warnings', () => {
  it('the shipped robots have none', () => {
    for (const name of ['sim-arm.yaml', 'sim-arm-4dof.yaml', 'pi-servo-arm.yaml']) {
      const result = readRobotDescription(path.join(repo, 'robots', name));
      expect(result.problems, name).toEqual([]);
      expect(result.warnings, name).toEqual([]);
    }
  });

  it('warns, without refusing, on an acceleration limit that cannot stop the joint from its velocity limit', () => {
    const file = variant([[['joints', 2, 'limits', 'acceleration'], 1e-12]]);
    const result = readRobotDescription(file);
    expect(result.problems).toEqual([]);
    expect(result.robot).toBeDefined();
    expect(result.warnings).toHaveLength(1);
    const [w] = result.warnings;
    expect(w).toMatchObject({ file, path: 'joints[2].limits.acceleration', severity: 'warning' });
    expect(w.line).toBeGreaterThan(0);
    expect(w.message).toMatch(/joint `elbow_pitch` needs 1\.5e\+12 s to stop from its velocity limit 1\.5 rad\/s .* more than 2 s/);
    expect(w.fix).toMatch(/raise limits\.acceleration to at least 1\.5 rad\/s²/);
    expect(formatProblem(w)).toMatch(/robot-\d+\.yaml:\d+: warning: joints\[2\]\.limits\.acceleration: /);
    // Warnings never stop a load: the whole configuration still checks out.
    const collected = collectConfigProblems(file);
    expect(collected.problems).toEqual([]);
    expect(collected.warnings).toEqual(result.warnings);
  });

  it('names the jerk when the jerk ramps are what make the stop slow', () => {
    const file = variant([[['joints', 0, 'limits', 'jerk'], 0.01]]);
    const { warnings } = readRobotDescription(file);
    expect(warnings.map((w) => w.path)).toEqual(['joints[0].limits.jerk']);
    expect(warnings[0].fix).toMatch(/raise limits\.jerk to at least/);
  });

  it('the suggested fix is enough', () => {
    // acceleration 2v/T leaves T/2 for the jerk ramps; a jerk of A/(T - v/A) stops in exactly T.
    expect(stopSeconds(1.5, 1.5, 150)).toBeLessThanOrEqual(2);
    const A = 1;
    const v = 1.5;
    expect(stopSeconds(v, A, A / (2 - v / A))).toBeCloseTo(2, 9);
  });
});
