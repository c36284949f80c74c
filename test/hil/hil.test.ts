/**
 * Every HIL scenario in test/hil/scenarios against the sim target, through the same runner as
 * `embody hil` (`npm run hil`): all must pass, and a second run with the same seeds must give
 * bit-identical runs. Also: a failing expectation is reported as a failure with what happened,
 * a broken scenario file names the field, and the JUnit XML is well-formed.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHil } from '../../src/hil/index.js';

const dir = path.resolve(import.meta.dirname, 'scenarios');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => path.join(dir, f));
const scratch = mkdtempSync(path.join(tmpdir(), 'embody-hil-'));

describe('HIL scenarios on the sim target', () => {
  it('has at least 20 scenarios, and every one passes, twice, with identical runs', async () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    const lines: string[] = [];
    const first = await runHil(files, { target: 'sim', junit: path.join(scratch, 'hil.xml'), out: (t) => lines.push(t) });
    const failures = first.results.filter((r) => r.error !== undefined || r.verdicts.some((v) => !v.passed));
    expect(failures.map((r) => `${r.name}: ${r.error ?? r.verdicts.filter((v) => !v.passed).map((v) => `${v.expected} / ${v.happened}`).join('; ')}`)).toEqual([]);
    expect(first.exitCode).toBe(0);
    const second = await runHil(files, { target: 'sim', out: () => undefined });
    expect([...second.digests.entries()]).toEqual([...first.digests.entries()]);
    const xml = readFileSync(path.join(scratch, 'hil.xml'), 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="embody-hil" tests="\d+" failures="0" errors="0"/);
    expect(xml.match(/<testcase /g)?.length).toBe(files.length);
    expect(xml.match(/<testcase /g)?.length).toBe(xml.match(/<\/testcase>/g)?.length);
  }, 120_000);

  it('reports a failing expectation with what happened, in the summary and the JUnit XML, and exits 1', async () => {
    const file = path.join(scratch, 'wrong.yaml');
    writeFileSync(
      file,
      [
        'name: wrong_expectation',
        `robot: ${path.resolve('robots/sim-arm.yaml')}`,
        'duration_ms: 2000',
        'stimuli:',
        '  - { at_ms: 1000, id: press, do: estop_press }',
        'expect:',
        '  - { check: mode_final, mode: RUNNING }',
        '',
      ].join('\n'),
    );
    const lines: string[] = [];
    const result = await runHil([file], { target: 'sim', junit: path.join(scratch, 'wrong.xml'), out: (t) => lines.push(t) });
    expect(result.exitCode).toBe(1);
    expect(lines.join('')).toMatch(/FAIL wrong_expectation[\s\S]*expected final mode RUNNING; happened: final mode FAULT/);
    expect(readFileSync(path.join(scratch, 'wrong.xml'), 'utf8')).toMatch(/<failure message="1 expectation\(s\) failed">expected final mode RUNNING; happened: final mode FAULT<\/failure>/);
  }, 60_000);

  it('refuses a broken scenario file, naming the file, the line, the field and the fix', async () => {
    const file = path.join(scratch, 'broken.yaml');
    writeFileSync(file, ['name: broken', 'robot: x.yaml', 'duration_ms: 1000', 'stimuli:', '  - { at_ms: 10, do: estop_pres }', 'expect:', '  - { check: limits }', ''].join('\n'));
    const lines: string[] = [];
    const result = await runHil([file], { target: 'sim', out: (t) => lines.push(t) });
    expect(result.exitCode).toBe(1);
    expect(result.results[0].error).toMatch(/broken\.yaml:5: stimuli\[0\]\.do/);
  });
});
