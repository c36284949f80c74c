/**
 * An openpi manifest is read with its local fallback; each mistake names the field and the fix.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readPolicyManifest } from '../../../src/runtime/config/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const shipped = readFileSync(join(root, 'models/demo/remote.yaml'), 'utf8').replace('fallback: policy.yaml', `fallback: ${join(root, 'models/demo/policy.yaml')}`);
const directory = mkdtempSync(join(tmpdir(), 'embody-openpi-manifest-'));

function read(text: string): ReturnType<typeof readPolicyManifest> {
  const file = join(directory, `m-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return readPolicyManifest(file);
}

describe('openpi policy manifests', () => {
  it('reads the shipped remote demo with the local demo policy as its fallback', () => {
    const { policy, problems } = read(shipped);
    expect(problems).toEqual([]);
    expect(policy?.manifest.name).toBe('demo-reach-grasp-lift');
    expect(policy?.modelPath).toMatch(/demo-int8\.onnx$/);
    expect(policy?.remote?.source).toMatchObject({ kind: 'openpi', url: 'ws://127.0.0.1:8000', healthy_round_trips: 5 });
    expect(policy?.remote?.fallback).toBe(true);
  });

  it('reads a manifest with no fallback as a remote policy alone (nothing to load here)', () => {
    const { policy, problems } = read(shipped.replace(/\n {2}fallback: .*\n/, '\n'));
    expect(problems).toEqual([]);
    expect(policy?.modelPath).toBe('');
    expect(policy?.manifest.name).toBe('demo-reach-grasp-lift-remote');
    expect(policy?.remote).toMatchObject({ fallback: false });
  });

  it('refuses a fallback for other joints or another rate', () => {
    const { problems } = read(shipped.replace('rate_hz: 20', 'rate_hz: 10'));
    expect(problems[0]).toMatchObject({ path: 'source.fallback' });
    expect(problems[0].fix).toMatch(/rate_hz 10/);
  });

  it('refuses a url that is not a websocket, and a camera normalised on the robot', () => {
    expect(read(shipped.replace('ws://127.0.0.1:8000', 'http://gpu:8000')).problems[0]).toMatchObject({ path: 'source.url', fix: 'must be a ws:// or wss:// URL, e.g. ws://gpu-box:8000' });
    const normalised = shipped.replace('    channels: rgb\n', '    channels: rgb\n    normalize: { mean: [0, 0, 0], std: [1, 1, 1] }\n');
    expect(read(normalised).problems[0]).toMatchObject({ path: 'inputs.0.normalize' });
  });
});
