/** robot.yaml `http:`: the token file must exist and be private, the certificate files exist. */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRobotDescription } from '../../../src/runtime/config/index.js';
import { editYaml, problemsOf } from './support.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const simArm = readFileSync(path.join(repo, 'robots/sim-arm.yaml'), 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'embody-http-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function robotWith(http: unknown): string {
  const file = path.join(dir, `robot-${++n}.yaml`);
  writeFileSync(file, editYaml(simArm, [[['http'], http], [['policy', 'manifest'], path.join(repo, 'models/demo/policy.yaml')]]));
  return file;
}

describe('robot.yaml http', () => {
  it('is off when absent, and defaults to 127.0.0.1:8080 when present', () => {
    expect(loadRobotDescription(robotWith(undefined)).http).toBeUndefined();
    const http = loadRobotDescription(robotWith({})).http;
    expect(http).toMatchObject({ host: '127.0.0.1', port: 8080, update_hz: 20, camera_fps: 10 });
  });

  it('accepts a token file of mode 0600', () => {
    const token = path.join(dir, 'ok.token');
    writeFileSync(token, 'secret\n');
    chmodSync(token, 0o600);
    expect(loadRobotDescription(robotWith({ token_file: token })).http?.token_file).toBe(token);
  });

  it('refuses a token file others can read, naming the field and the chmod that fixes it', () => {
    const token = path.join(dir, 'open.token');
    writeFileSync(token, 'secret\n');
    chmodSync(token, 0o644);
    const problem = problemsOf(robotWith({ token_file: token })).find((p) => p.path === 'http.token_file');
    expect(problem?.message).toMatch(/mode 0644: other users could read the operator token/);
    expect(problem?.fix).toBe(`chmod 600 ${token}`);
  });

  it('refuses missing token and certificate files, relative to robot.yaml', () => {
    const problems = problemsOf(robotWith({ token_file: 'nope.token', tls: { cert: 'nope.crt', key: 'nope.key' } }));
    for (const at of ['http.token_file', 'http.tls.cert', 'http.tls.key']) {
      expect(problems.find((p) => p.path === at)?.message).toMatch(new RegExp(`file not found: ${dir}/nope`));
    }
  });

  it('refuses unknown fields and a malformed allowed origin', () => {
    const problems = problemsOf(robotWith({ prot: 1, allowed_origins: ['robot.local'] }));
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['http.prot', 'http.allowed_origins[0]']));
  });
});
