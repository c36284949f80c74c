/** --http over robot.yaml's http section. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { robotDescriptionSchema } from '../../src/robot/index.js';
import { httpSettings } from '../../src/runtime/observers/web.js';

const repo = path.resolve(import.meta.dirname, '../..');
const simArm = robotDescriptionSchema.parse(parse(readFileSync(path.join(repo, 'robots/sim-arm.yaml'), 'utf8')));
const withoutHttp = { ...simArm, http: undefined };

describe('httpSettings', () => {
  it("uses robot.yaml's section, which --http moves or turns off", () => {
    expect(httpSettings(simArm, undefined)).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(httpSettings(simArm, '0.0.0.0:9090')).toMatchObject({ host: '0.0.0.0', port: 9090, update_hz: 20 });
    expect(httpSettings(simArm, '[::1]:0')).toMatchObject({ host: '::1', port: 0 });
    expect(httpSettings(simArm, 'none')).toBeUndefined();
  });

  it('is off without a section unless --http turns it on', () => {
    expect(httpSettings(withoutHttp, undefined)).toBeUndefined();
    expect(httpSettings(withoutHttp, '127.0.0.1:8081')).toMatchObject({ host: '127.0.0.1', port: 8081, camera_fps: 10 });
  });

  it('refuses an address that is not HOST:PORT, saying what is expected', () => {
    expect(() => httpSettings(simArm, '8080')).toThrow('--http 8080: expected HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080) or none');
    expect(() => httpSettings(simArm, 'localhost:70000')).toThrow(/expected HOST:PORT/);
  });
});
