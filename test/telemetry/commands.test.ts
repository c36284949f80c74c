/**
 * The pure parts of the link: the command gate (every refusal and its order, the rate, MQTT 5
 * expiry), back-off, the wire encoding of stream samples, robot.yaml's broker settings and
 * their secrets, and docs/MQTT.md being generated from the current schemas.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../src/robot/index.js';
import { robotJsonSchema } from '../../src/runtime/config/robot.js';
import {
  backoffDelay,
  createCommandGate,
  defaultStateDir,
  encodeState,
  encodeTactile,
  RecentCommands,
  redactUrl,
  renderMqttSchemas,
  stateSchema,
  tactileSchema,
  telemetrySettingsFromRobot,
  TokenBucket,
  type CommandDelivery,
  type GateResult,
} from '../../src/telemetry/index.js';

const fresh: CommandDelivery = { retain: false };
const bytes = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

function refusal(result: GateResult): { id: string; code: string; reason: string } {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.command)}`);
  return { id: result.id, code: result.code, reason: result.reason };
}

describe('command gate', () => {
  const now = 1_800_000_000_000;

  it('passes a valid command on, tagged by its topic', () => {
    const gate = createCommandGate();
    expect(gate.check('mode', bytes({ id: 'a', command: 'arm', ts: now - 100 }), fresh, now)).toEqual({
      ok: true,
      command: { kind: 'mode', id: 'a', command: 'arm', ts: now - 100 },
    });
    expect(gate.check('instruction', bytes({ id: 'b', text: 'stack the cubes' }), fresh, now)).toEqual({
      ok: true,
      command: { kind: 'instruction', id: 'b', text: 'stack the cubes' },
    });
    expect(gate.check('episode', bytes({ id: 'c', action: 'label', label: 'success' }), fresh, now)).toEqual({
      ok: true,
      command: { kind: 'episode', id: 'c', action: 'label', label: 'success' },
    });
    expect(gate.check('episode', bytes({ id: 'd', action: 'note', note: 'slower near the bowl' }), fresh, now).ok).toBe(true);
  });

  it.each([
    ['an oversized payload', 'mode', bytes({ id: 'x', command: 'arm', pad: 'x'.repeat(9000) }), fresh, 'too_large', /payload is \d+ bytes, commands are at most 8192/, ''],
    ['malformed JSON', 'mode', bytes('{"id":'), fresh, 'not_json', /not JSON/, ''],
    // 0xff is never UTF-8: a lenient decoder would make the id "op-\ufffd" and act on it.
    ['invalid UTF-8 inside the id', 'mode', Buffer.concat([bytes('{"id":"op-'), Buffer.from([0xff]), bytes('","command":"arm"}')]), fresh, 'not_json', /payload is not valid UTF-8/, ''],
    ['a UTF-8-encoded surrogate (CESU) in the id', 'mode', Buffer.concat([bytes('{"id":"op-'), Buffer.from([0xed, 0xa0, 0x80]), bytes('","command":"stop"}')]), fresh, 'not_json', /not valid UTF-8/, ''],
    ['an overlong encoding in the id', 'mode', Buffer.concat([bytes('{"id":"op-'), Buffer.from([0xc0, 0xaf]), bytes('","command":"arm"}')]), fresh, 'not_json', /not valid UTF-8/, ''],
    ['a lone surrogate escape in the id', 'mode', bytes('{"id":"op-\\ud800","command":"arm"}'), fresh, 'invalid', /field `id`: must be text/, ''],
    ['a control character in the id', 'mode', bytes({ id: 'op-\u0007', command: 'arm' }), fresh, 'invalid', /field `id`: must be text/, ''],
    ['an unknown command topic', 'arm', bytes({ id: 'u' }), fresh, 'unknown_topic', /cmd\/arm: unknown command topic/, 'u'],
    ['a retained command', 'mode', bytes({ id: 'r', command: 'arm' }), { retain: true }, 'retained', /retained commands are refused/, 'r'],
    ['an unknown command', 'mode', bytes({ id: 'c', command: 'dance' }), fresh, 'invalid', /field `command`: Invalid option/, 'c'],
    ['an unknown field', 'mode', bytes({ id: 'f', command: 'arm', speed: 2 }), fresh, 'invalid', /payload: Unrecognized key: "speed"/, 'f'],
    ['a wrong type', 'instruction', bytes({ id: 't', text: ['a'] }), fresh, 'invalid', /field `text`: Invalid input: expected string/, 't'],
    ['an episode label without its label', 'episode', bytes({ id: 'l', action: 'label' }), fresh, 'invalid', /field `label`: give `label` \(success or failure\) with action label/, 'l'],
    ['a label on an episode start', 'episode', bytes({ id: 'l2', action: 'start', label: 'failure' }), fresh, 'invalid', /field `label`/, 'l2'],
    ['an unknown episode label', 'episode', bytes({ id: 'l3', action: 'label', label: 'meh' }), fresh, 'invalid', /field `label`: Invalid option/, 'l3'],
    ['an episode note without text', 'episode', bytes({ id: 'n2', action: 'note' }), fresh, 'invalid', /field `note`/, 'n2'],
    ['a missing id', 'mode', bytes({ command: 'arm' }), fresh, 'invalid', /field `id`/, ''],
    ['a JSON array', 'mode', bytes([1, 2]), fresh, 'invalid', /payload: Invalid input: expected object/, ''],
    ['an expired MQTT 5 message', 'mode', bytes({ id: 'e', command: 'arm' }), { retain: false, expirySeconds: 0 }, 'expired', /expired/, 'e'],
    ['a command older than 10 s', 'mode', bytes({ id: 'o', command: 'reset', ts: now - 10_001 }), fresh, 'too_old', /10001 ms old, older than 10000 ms/, 'o'],
    ['a command dated more than 5 s ahead (replayable later)', 'instruction', bytes({ id: 'n', text: 'go', ts: now + 5_001 }), fresh, 'too_new', /field `ts`: command is dated 5001 ms in the future, more than the 5000 ms of clock skew allowed/, 'n'],
  ] as const)('refuses %s, saying why', (_what, topic, payload, delivery, code, reason, id) => {
    const result = refusal(createCommandGate().check(topic, payload, delivery, now));
    expect(result.code).toBe(code);
    expect(result.reason).toMatch(reason);
    expect(result.reason.startsWith(`cmd/${topic}: `)).toBe(true);
    expect(result.id).toBe(id);
  });

  it('accepts a command with MQTT 5 expiry left, and honours maxAgeMs 0 (no age check)', () => {
    const gate = createCommandGate({ maxAgeMs: 0 });
    expect(gate.check('mode', bytes({ id: 'a', command: 'arm', ts: 0 }), { retain: false, expirySeconds: 3 }, now).ok).toBe(true);
  });

  it('accepts a ts up to the allowed clock skew ahead, and a stop dated any time ahead', () => {
    const gate = createCommandGate({ rate: { burst: 100, perSecond: 100 } });
    expect(gate.check('mode', bytes({ id: 'k', command: 'arm', ts: now + 5_000 }), fresh, now).ok).toBe(true);
    expect(gate.check('mode', bytes({ id: 'k2', command: 'stop', ts: now + 3_600_000 }), fresh, now).ok).toBe(true);
    expect(refusal(createCommandGate({ maxClockSkewMs: 100 }).check('mode', bytes({ id: 'k3', command: 'arm', ts: now + 101 }), fresh, now)).code).toBe('too_new');
  });

  it('acts on a stop whatever its age or expiry, but not on a retained or malformed one', () => {
    const gate = createCommandGate();
    expect(gate.check('mode', bytes({ id: 's', command: 'stop', ts: now - 3_600_000 }), { retain: false, expirySeconds: 0 }, now).ok).toBe(true);
    expect(refusal(gate.check('mode', bytes({ id: 's', command: 'stop' }), { retain: true }, now)).code).toBe('retained');
    expect(refusal(gate.check('mode', bytes({ id: 's', command: 'stop', why: 1 }), fresh, now)).code).toBe('invalid');
  });

  it('limits the rate to 10 in a burst, then 5 per second; bad messages count too; a stop never waits', () => {
    const gate = createCommandGate();
    const arm = bytes({ id: 'a', command: 'arm' });
    for (let i = 0; i < 5; i++) expect(gate.check('mode', bytes('garbage'), fresh, now).ok).toBe(false);
    for (let i = 0; i < 5; i++) expect(gate.check('mode', arm, fresh, now).ok).toBe(true);
    const limited = refusal(gate.check('mode', arm, fresh, now));
    expect(limited).toMatchObject({ code: 'rate_limited', id: 'a' });
    expect(limited.reason).toMatch(/^cmd\/mode: rate limited \(at most 10 commands in a burst, then 5 per second; stop is never limited\)$/);
    for (let i = 0; i < 50; i++) expect(gate.check('mode', bytes({ id: `s${i}`, command: 'stop' }), fresh, now).ok).toBe(true);
    expect(gate.check('mode', arm, fresh, now + 199).ok).toBe(false);
    expect(gate.check('mode', arm, fresh, now + 201).ok).toBe(true);
    expect(gate.check('mode', arm, fresh, now + 250).ok).toBe(false);
  });

  it('refills a token bucket at its rate up to its size', () => {
    const bucket = new TokenBucket({ burst: 2, perSecond: 1 });
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, false]);
    expect(bucket.take(999)).toBe(false);
    expect(bucket.take(1000)).toBe(true);
    expect([bucket.take(60_000), bucket.take(60_000), bucket.take(60_000)]).toEqual([true, true, false]);
  });
});

describe('recent command ids', () => {
  const p = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const arm = p({ id: 'op-1', command: 'arm' });

  it('tells a repeat (same id, topic and bytes) from a new command and from a reused id', () => {
    const recent = new RecentCommands();
    expect(recent.seen('op-1', 'mode', arm, 0)).toEqual({ kind: 'new' });
    expect(recent.seen('op-1', 'mode', arm, 1)).toEqual({ kind: 'repeat', ack: undefined });
    expect(recent.answered('op-1', '{"id":"op-1","ok":true,"ts":5}')).toBe(1); // one repeat was waiting
    expect(recent.seen('op-1', 'mode', arm, 2)).toEqual({ kind: 'repeat', ack: '{"id":"op-1","ok":true,"ts":5}' });
    expect(recent.answered('op-1', '{"id":"op-1","ok":false}')).toBe(0); // the first answer stays
    expect(recent.seen('op-1', 'mode', p({ id: 'op-1', command: 'disarm' }), 3)).toEqual({ kind: 'reused' });
    expect(recent.seen('op-1', 'instruction', arm, 3)).toEqual({ kind: 'reused' });
    expect(recent.answered('never-seen', '{}')).toBe(0);
  });

  it('keeps the last 256 ids, none older than 10 minutes', () => {
    const recent = new RecentCommands();
    for (let i = 0; i < 300; i++) recent.seen(`id-${i}`, 'mode', p({ id: `id-${i}`, command: 'arm' }), i);
    expect(recent.size).toBe(256);
    expect(recent.seen('id-43', 'mode', p({ id: 'id-43', command: 'arm' }), 300).kind).toBe('new'); // pushed out
    expect(recent.seen('id-299', 'mode', p({ id: 'id-299', command: 'arm' }), 300).kind).toBe('repeat');
    const aging = new RecentCommands();
    aging.seen('a', 'mode', arm, 0);
    expect(aging.seen('a', 'mode', arm, 600_000).kind).toBe('repeat');
    expect(aging.seen('a', 'mode', arm, 600_001).kind).toBe('new');
  });
});

describe('reconnect back-off', () => {
  it('waits between half and all of min·2^attempt, capped at max', () => {
    const low = (n: number): number => backoffDelay(n, 1000, 30_000, () => 0);
    const high = (n: number): number => backoffDelay(n, 1000, 30_000, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(low)).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(high)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3, 1000, 30_000)));
    expect(spread.size).toBeGreaterThan(10);
  });
});

describe('stream encoding', () => {
  const joints = 7;
  const sample = {
    ts: 1_800_000_000_123,
    tick: 123_456,
    mode: 'RUNNING',
    position: Array.from({ length: joints }, (_, i) => Math.sin(i + 0.123456789)),
    velocity: Array.from({ length: joints }, (_, i) => (i === 3 ? -0.0000001 : Math.cos(i) * 0.5)),
    command: Array.from({ length: joints }, (_, i) => (i === 6 ? Number.NaN : Math.sin(i + 0.1234))),
  };

  it('writes state as compact arrays with 6 decimals, null for a non-finite reading and no -0', () => {
    const text = encodeState(sample);
    const parsed = stateSchema.parse(JSON.parse(text));
    expect(parsed.position[0]).toBe(0.123143); // sin(0.123456789) = 0.1231431…
    expect(parsed.velocity[3]).toBe(0);
    expect(text).not.toContain('-0,');
    expect(parsed.command[6]).toBeNull();
    expect(text).not.toMatch(/\s/);
    expect(Buffer.byteLength(text)).toBeLessThan(320);
  });

  it('takes the older one-object-per-joint samples and sends them compact too', () => {
    const legacy = {
      ts: sample.ts,
      tick: sample.tick,
      mode: sample.mode,
      joints: sample.position.map((position, i) => ({ name: `joint_${i}`, position, velocity: sample.velocity[i]!, command: sample.command[i]! })),
    };
    expect(encodeState(legacy)).toBe(encodeState(sample));
  });

  it('writes tactile with 4 decimals per fingertip', () => {
    const text = encodeTactile({ ts: 1, frame: 7, contact: [0.999999, 0.00001], force: [1.23456, 0], area: [0.5, 0] });
    expect(JSON.parse(text)).toEqual({ ts: 1, frame: 7, contact: [1, 0], force: [1.2346, 0], area: [0.5, 0] });
    expect(tactileSchema.safeParse(JSON.parse(text)).success).toBe(true);
  });
});

describe('broker settings in robot.yaml', () => {
  const broker = { url: 'mqtts://broker.example:8883', ca_file: 'certs/ca.pem', cert_file: 'certs/robot.pem', key_file: '/etc/embody/robot.key', username: 'robot-7', password_file: 'secrets/mqtt' };

  it('parses TLS files, username and a password file, resolved against robot.yaml', () => {
    const parsed = telemetrySchema.parse({ broker, outbox: { max_events: 500 } });
    expect(telemetrySettingsFromRobot(parsed, '/opt/robots/arm/robot.yaml')).toEqual({
      broker: {
        url: broker.url,
        caFile: '/opt/robots/arm/certs/ca.pem',
        certFile: '/opt/robots/arm/certs/robot.pem',
        keyFile: '/etc/embody/robot.key',
        username: 'robot-7',
        passwordFile: '/opt/robots/arm/secrets/mqtt',
      },
      outbox: { maxEvents: 500 },
    });
  });

  it('refuses a password written inline, in the section or in the URL, without repeating it', () => {
    const inline = telemetrySchema.safeParse({ broker: { url: 'mqtt://b:1883', password: 'hunter2' } });
    expect(inline.success).toBe(false);
    expect(JSON.stringify(inline.error!.issues)).toMatch(/password_file/);
    expect(JSON.stringify(inline.error!.issues)).not.toContain('hunter2');
    const inUrl = telemetrySchema.safeParse({ broker: { url: 'mqtt://robot:hunter2@b:1883' } });
    expect(inUrl.success).toBe(false);
    expect(JSON.stringify(inUrl.error!.issues)).toMatch(/password_file/);
    expect(JSON.stringify(inUrl.error!.issues)).not.toContain('hunter2');
  });

  it('wants a client certificate and its key together, and a broker URL', () => {
    expect(JSON.stringify(telemetrySchema.safeParse({ broker: { url: 'mqtts://b', cert_file: 'c.pem' } }).error?.issues)).toMatch(/go together/);
    expect(telemetrySchema.safeParse({ broker: { url: 'broker.example' } }).success).toBe(false);
  });

  it('still yields the robot.yaml JSON Schema for `embody schema`', () => {
    const schema = JSON.stringify(robotJsonSchema());
    expect(schema).toContain('password_file');
    expect(schema).toContain('max_events');
  });

  it('redacts a password in a URL for logs', () => {
    expect(redactUrl('mqtts://robot:s3cret@broker:8883')).toBe('mqtts://robot:***@broker:8883');
    expect(redactUrl('mqtt://broker:1883')).toBe('mqtt://broker:1883');
    expect(redactUrl('mqtt://robot:s3cret@[not a url')).not.toContain('s3cret');
  });

  it("keeps state in systemd's STATE_DIRECTORY, else ./.embody-state", () => {
    expect(defaultStateDir({ STATE_DIRECTORY: '/var/lib/embody:/var/lib/other' }, '/x')).toBe('/var/lib/embody');
    expect(defaultStateDir({}, '/srv/robot')).toBe('/srv/robot/.embody-state');
  });
});

describe('docs/MQTT.md', () => {
  it('shows the JSON Schemas of the current payload schemas (run scripts/mqtt-doc.sh after changing them)', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/MQTT.md', import.meta.url)), 'utf8');
    expect(doc).toContain(renderMqttSchemas());
  });
});
