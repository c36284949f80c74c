/**
 * JUnit XML for CI viewers: one testsuite per `embody hil` run, one testcase per scenario, a
 * failure element listing the expectations that failed (what was expected, what happened).
 */
import type { Verdict } from './expectations.js';

export interface ScenarioResult {
  readonly name: string;
  readonly file: string;
  readonly seconds: number;
  readonly verdicts: readonly Verdict[];
  /** Set when the scenario could not run at all (bad file, model missing). */
  readonly error?: string;
}

function escape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .split('')
    .filter(allowedInXml)
    .join('');
}

/** XML 1.0 forbids most control characters even escaped: tab, newline and return only. */
function allowedInXml(char: string): boolean {
  const code = char.charCodeAt(0);
  return code === 9 || code === 10 || code === 13 || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd);
}

export function junitXml(results: readonly ScenarioResult[], suite = 'embody-hil'): string {
  const failed = (r: ScenarioResult): boolean => r.error === undefined && r.verdicts.some((v) => !v.passed);
  const failures = results.filter(failed).length;
  const errors = results.filter((r) => r.error !== undefined).length;
  const time = results.reduce((sum, r) => sum + r.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escape(suite)}" tests="${results.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">`,
    `  <testsuite name="${escape(suite)}" tests="${results.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">`,
  ];
  for (const r of results) {
    lines.push(`    <testcase classname="hil" name="${escape(r.name)}" file="${escape(r.file)}" time="${r.seconds.toFixed(3)}">`);
    if (r.error !== undefined) {
      lines.push(`      <error message="${escape(r.error.split('\n')[0])}">${escape(r.error)}</error>`);
    } else if (failed(r)) {
      const bad = r.verdicts.filter((v) => !v.passed);
      const text = bad.map((v) => `expected ${v.expected}; happened: ${v.happened}`).join('\n');
      lines.push(`      <failure message="${escape(`${bad.length} expectation(s) failed`)}">${escape(text)}</failure>`);
    }
    const passedText = r.verdicts.map((v) => `${v.passed ? 'ok  ' : 'FAIL'} ${v.expected}: ${v.happened}`).join('\n');
    if (passedText) lines.push(`      <system-out>${escape(passedText)}</system-out>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
