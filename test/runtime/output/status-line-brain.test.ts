import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../src/runtime/output/status-line.js';

const base = { mode: 'RUNNING', tickRateHz: 200, latenessP99Us: 80, missed: 0, inferenceP50Ms: 3, starved: 0, contact: 'n/a' };

describe('status line', () => {
  it('says which brain drives right after the mode, and shouts when it is the fallback', () => {
    expect(formatStatus({ ...base, brain: 'remote' })).toMatch(/^mode RUNNING {3}\| brain remote \|/);
    expect(formatStatus({ ...base, brain: 'local' })).toContain('| brain LOCAL (fallback) |');
    expect(formatStatus(base)).not.toContain('brain');
  });
});
