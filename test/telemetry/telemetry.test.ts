/**
 * The robot's MQTT link against real brokers: the embedded aedes and a mosquitto process the
 * test starts on a free loopback port (the test fails if mosquitto is not installed). The robot
 * reaches the broker through a TCP "cable" the test can cut or unplug, so an unclean loss of the
 * robot and a broker outage are both real socket events, not mocks.
 */
import { createServer, type AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { connectTelemetry, startEmbeddedBroker, type TelemetryLink, type TelemetryOptions, type ValidatedCommand } from '../../src/telemetry/index.js';
import { brokers, cable, cleanups, freePort, metrics, sleep, state, tempDir, until, watcher, type Broker } from './helpers.js';

function link(options: Omit<TelemetryOptions, 'stateDir'> & { stateDir?: string }): TelemetryLink {
  const l = connectTelemetry({ reconnectMinMs: 100, reconnectMaxMs: 400, stateDir: tempDir('state'), ...options });
  cleanups.push(() => l.close());
  return l;
}

describe.each(['aedes', 'mosquitto'] as const)('telemetry against %s', (kind) => {
  const broker = (port?: number): Promise<Broker> => brokers[kind](port);

  it('announces a retained online status on every connect and leaves a last will of offline', async () => {
    const b = await broker();
    const wire = await cable(b.port);
    const robot = link({ url: wire.url, robotId: 'r1', version: '9.9.9', joints: ['j0', 'j1'] });
    await until(() => robot.connected, 'connect');
    // aedes speaks MQTT 3.1.1 only: the link falls back; mosquitto speaks 5.
    expect(robot.protocolVersion).toBe(kind === 'aedes' ? 4 : 5);
    robot.setStatus('IDLE');
    const first = await watcher(b.url, 'embody/r1/status');
    await until(() => first.messages.some((m) => m.payload.mode === 'IDLE'), 'online status');
    // Subscribing after the fact: only a retained status can reach it.
    const late = await watcher(b.url, 'embody/r1/status');
    await until(() => late.messages.length > 0, 'retained online status');
    expect(late.messages[0]!.retain).toBe(true);
    expect(late.messages.at(-1)!.payload).toMatchObject({ robot_id: 'r1', state: 'online', mode: 'IDLE', version: '9.9.9', joints: ['j0', 'j1'] });

    wire.plugged = false;
    wire.cut();
    await until(() => late.messages.some((m) => m.payload.state === 'offline'), 'last will');
    await until(() => !robot.connected, 'robot sees the loss');
    const afterLoss = await watcher(b.url, 'embody/r1/status');
    await until(() => afterLoss.messages.length > 0, 'retained will');
    expect(afterLoss.messages[0]).toMatchObject({ retain: true, payload: { robot_id: 'r1', state: 'offline' } });

    wire.plugged = true;
    await until(() => robot.connected, 'reconnect', 5000);
    await until(() => afterLoss.messages.at(-1)!.payload.state === 'online', 'birth after reconnect');
    expect(afterLoss.messages.at(-1)!.payload.mode).toBe('IDLE');

    await robot.close();
    await until(() => afterLoss.messages.at(-1)!.payload.state === 'offline', 'offline on close');
  });

  it('answers every bad command with a refusal naming the problem, passes valid ones on', async () => {
    const b = await broker();
    const operator = await watcher(b.url, 'embody/r2/cmd/ack');
    // Left retained before the robot came up: it must not act on it.
    await operator.client.publishAsync('embody/r2/cmd/mode', JSON.stringify({ id: 'old', command: 'arm' }), { qos: 1, retain: true });
    // A generous rate: this test sends many bad commands quickly (the rate has its own test).
    const robot = link({ url: b.url, robotId: 'r2', commandRate: { burst: 100, perSecond: 100 } });
    const received: ValidatedCommand[] = [];
    robot.commands$.subscribe((command) => received.push(command));
    await until(() => robot.connected, 'connect');
    const ackFor = async (id: string): Promise<Record<string, unknown>> => {
      await until(() => operator.messages.some((m) => m.payload.id === id), `ack for ${id}`);
      return operator.messages.find((m) => m.payload.id === id)!.payload;
    };
    const anonymousAck = async (pattern: RegExp): Promise<Record<string, unknown>> => {
      await until(() => operator.messages.some((m) => m.payload.id === '' && pattern.test(String(m.payload.reason))), `ack matching ${pattern}`);
      return operator.messages.find((m) => m.payload.id === '' && pattern.test(String(m.payload.reason)))!.payload;
    };

    expect(await ackFor('old')).toMatchObject({ ok: false, code: 'retained', reason: expect.stringMatching(/retain/) });
    await operator.client.publishAsync('embody/r2/cmd/mode', '', { qos: 1, retain: true });

    const send = (topic: string, payload: string | Buffer): Promise<unknown> => operator.client.publishAsync(`embody/r2/${topic}`, payload, { qos: 1 });
    // Unknown command.
    await send('cmd/mode', JSON.stringify({ id: 'a1', command: 'fly' }));
    expect(await ackFor('a1')).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/cmd\/mode: field `command`/) });
    // Missing field.
    await send('cmd/instruction', JSON.stringify({ id: 'a2' }));
    expect((await ackFor('a2')).reason).toMatch(/field `text`/);
    // Wrong type.
    await send('cmd/instruction', JSON.stringify({ id: 'a6', text: 42 }));
    expect(await ackFor('a6')).toMatchObject({ code: 'invalid', reason: expect.stringMatching(/field `text`.*string/) });
    // Unknown field.
    await send('cmd/mode', JSON.stringify({ id: 'a7', command: 'arm', force: true }));
    expect(await ackFor('a7')).toMatchObject({ code: 'invalid', reason: expect.stringMatching(/force/) });
    // Unknown command topic.
    await send('cmd/arm', JSON.stringify({ id: 'a8' }));
    expect(await ackFor('a8')).toMatchObject({ code: 'unknown_topic', reason: expect.stringMatching(/cmd\/arm: unknown command topic/) });
    // No id, not JSON, too large: answered with an empty id.
    await send('cmd/mode', JSON.stringify({ command: 'arm' }));
    await anonymousAck(/field `id`/);
    await send('cmd/mode', '{not json');
    expect(await anonymousAck(/not JSON/)).toMatchObject({ ok: false, code: 'not_json' });
    await send('cmd/instruction', JSON.stringify({ id: 'big', text: 'x'.repeat(20_000) }));
    expect(await anonymousAck(/bytes, commands are at most 8192/)).toMatchObject({ ok: false, code: 'too_large' });
    // Broken UTF-8 inside the id: refused, never decoded to "u\ufffd" and acted on.
    await send('cmd/mode', Buffer.concat([Buffer.from('{"id":"u'), Buffer.from([0xff, 0xfe]), Buffer.from('","command":"arm"}')]));
    expect(await anonymousAck(/not valid UTF-8/)).toMatchObject({ ok: false, code: 'not_json' });
    // Too old.
    await send('cmd/mode', JSON.stringify({ id: 'a3', command: 'arm', ts: Date.now() - 60_000 }));
    expect(await ackFor('a3')).toMatchObject({ code: 'too_old', reason: expect.stringMatching(/field `ts`.*older/) });
    // Dated a minute ahead: it would stay "fresh" for 70 s, long enough to be held back and replayed.
    await send('cmd/mode', JSON.stringify({ id: 'a9', command: 'arm', ts: Date.now() + 60_000 }));
    expect(await ackFor('a9')).toMatchObject({ code: 'too_new', reason: expect.stringMatching(/field `ts`: command is dated \d+ ms in the future, more than the 5000 ms/) });

    await send('cmd/mode', JSON.stringify({ id: 'a4', command: 'stop', ts: Date.now() }));
    await send('cmd/instruction', JSON.stringify({ id: 'a5', text: 'pick up the red cube' }));
    await until(() => received.length === 2, 'valid commands');
    expect(received).toEqual([
      { kind: 'mode', id: 'a4', command: 'stop', ts: expect.any(Number) },
      { kind: 'instruction', id: 'a5', text: 'pick up the red cube' },
    ]);
    // The runtime answers valid commands itself.
    expect(operator.messages.some((m) => m.payload.id === 'a4' || m.payload.id === 'a5')).toBe(false);
    robot.ack('a4', true);
    robot.ack('a5', false, 'no policy takes instructions');
    expect(await ackFor('a4')).toMatchObject({ id: 'a4', ok: true });
    expect(await ackFor('a5')).toMatchObject({ id: 'a5', ok: false, reason: 'no policy takes instructions', code: 'refused' });
  });

  it('answers a repeated command id with its original ack and does not act on it again', async () => {
    const b = await broker();
    const operator = await watcher(b.url, 'embody/r10/cmd/ack');
    const robot = link({ url: b.url, robotId: 'r10' });
    const received: ValidatedCommand[] = [];
    robot.commands$.subscribe((command) => received.push(command));
    await until(() => robot.connected, 'connect');
    const send = (topic: string, payload: unknown): Promise<unknown> => operator.client.publishAsync(`embody/r10/${topic}`, JSON.stringify(payload), { qos: 1 });
    const acksFor = (id: string): Record<string, unknown>[] => operator.messages.filter((m) => m.payload.id === id).map((m) => m.payload);

    const arm = { id: 'op-1', command: 'arm', ts: Date.now() };
    await send('cmd/mode', arm);
    await until(() => received.length === 1, 'the first delivery');
    // Sent again before the runtime answered: it waits for that answer, and is not acted on.
    await send('cmd/mode', arm);
    await sleep(200);
    expect(received).toHaveLength(1);
    expect(acksFor('op-1')).toEqual([]);
    robot.ack('op-1', true);
    await until(() => acksFor('op-1').length === 2, 'one ack per delivery');
    const [original, second] = acksFor('op-1');
    expect(original).toMatchObject({ id: 'op-1', ok: true });
    expect(second).toEqual(original);
    // Sent a third time after the answer: answered at once with the same ack (same ts).
    await send('cmd/mode', arm);
    await until(() => acksFor('op-1').length === 3, 'ack of the third delivery');
    expect(acksFor('op-1')[2]).toEqual(original);
    // The same id on a different command is not a repeat: refused, not acted on.
    await send('cmd/mode', { id: 'op-1', command: 'disarm' });
    await until(() => acksFor('op-1').length === 4, 'refusal of the reused id');
    expect(acksFor('op-1')[3]).toMatchObject({ ok: false, code: 'duplicate_id', reason: expect.stringMatching(/cmd\/mode: id `op-1` was used by a different command/) });
    // ... except a stop, which is never refused.
    await send('cmd/mode', { id: 'op-1', command: 'stop' });
    await until(() => received.length === 2, 'the stop');
    expect(received.map((c) => (c.kind === 'mode' ? c.command : c.kind === 'instruction' ? c.text : c.action))).toEqual(['arm', 'stop']);
  });

  it('rate-limits commands, but never a stop', async () => {
    const b = await broker();
    const operator = await watcher(b.url, 'embody/r6/cmd/ack');
    const robot = link({ url: b.url, robotId: 'r6' });
    const received: ValidatedCommand[] = [];
    robot.commands$.subscribe((command) => received.push(command));
    await until(() => robot.connected, 'connect');
    await sleep(100);
    for (let i = 0; i < 15; i++) {
      operator.client.publish('embody/r6/cmd/mode', JSON.stringify({ id: `f${i}`, command: 'arm' }), { qos: 1 });
    }
    operator.client.publish('embody/r6/cmd/mode', JSON.stringify({ id: 'halt', command: 'stop' }), { qos: 1 });
    const passedArms = (): number => received.filter((c) => c.id !== 'halt').length;
    await until(() => received.some((c) => c.id === 'halt') && passedArms() + operator.messages.length === 15, 'every command answered');
    // 10 in a burst (the bucket refills at 5/s: one or two more while a slow machine takes the flood in).
    const passed = passedArms();
    expect(passed).toBeGreaterThanOrEqual(10);
    expect(passed).toBeLessThanOrEqual(12);
    expect(operator.messages.length).toBe(15 - passed);
    for (const m of operator.messages) expect(m.payload).toMatchObject({ ok: false, code: 'rate_limited', reason: expect.stringMatching(/rate limited/) });
  });

  it('drops and counts stream samples while the broker is down, and delivers outboxed events and metrics in order after it returns', async () => {
    const port = await freePort();
    const first = await broker(port);
    const wire = await cable(port);
    const robot = link({ url: wire.url, robotId: 'r3' });
    await until(() => robot.connected, 'connect');
    expect(robot.publishStream('state', state(0))).toBe(true);

    await first.stop();
    await until(() => !robot.connected, 'disconnect');
    // Held unplugged until the operator's client is back on the new broker.
    wire.plugged = false;
    expect(robot.publishStream('state', state(1))).toBe(false);
    expect(robot.publishStream('tactile', { ts: Date.now(), contact: [0], force: [0], area: [0] })).toBe(false);
    expect(robot.dropped).toBe(2);
    // Metrics taken offline go to the outbox, not the floor.
    expect(robot.publishStream('metrics', metrics(7))).toBe(false);
    expect(robot.dropped).toBe(2);
    for (let i = 1; i <= 3; i++) robot.publishEvent({ kind: 'mode_change', cause: 'test', from: 'IDLE', to: 'ARMED', tick: i });
    expect(robot.eventsPending).toBe(3);
    expect(robot.outbox).toMatchObject({ events: 3, stream: 1, disk: true });
    await sleep(300);

    const second = await broker(port);
    const seen = await watcher(second.url, ['embody/r3/events', 'embody/r3/metrics', 'embody/r3/state']);
    wire.plugged = true;
    await until(() => seen.of('events').length === 3, 'events after reconnect', 10_000);
    expect(seen.of('events').map((m) => m.payload.tick)).toEqual([1, 2, 3]);
    expect(seen.of('events')[0]!.payload.id).toMatch(/^r3-/);
    expect(new Set(seen.of('events').map((m) => m.payload.id)).size).toBe(3);
    await until(() => seen.of('metrics').length === 1, 'replayed metrics');
    expect(seen.of('metrics')[0]!.payload).toMatchObject({ ticks: 7, replayed: true });
    await until(() => robot.eventsPending === 0 && robot.outbox.stream === 0, 'outbox acknowledged');
    expect(robot.eventsDropped).toBe(0);

    expect(robot.publishStream('state', state(4))).toBe(true);
    await until(() => seen.of('state').length === 1, 'state sample after reconnect');
    expect(seen.of('state')[0]!.payload).toMatchObject({ tick: 4, position: [0], velocity: [0], command: [0] });
    expect(robot.dropped).toBe(2);
  }, 30_000);

  it('loses no event that was in flight when the connection dropped, and keeps their order', async () => {
    const b = await broker();
    const wire = await cable(b.port);
    const seen = await watcher(b.url, 'embody/r9/events');
    const robot = link({ url: wire.url, robotId: 'r9' });
    await until(() => robot.connected, 'connect');
    for (let i = 1; i <= 300; i++) robot.publishEvent({ kind: 'fault', cause: 'test', tick: i });
    wire.cut(); // mid-flight: up to 64 handed to mqtt.js, not all acknowledged
    await until(() => robot.eventsPending === 0, 'every event acknowledged after the reconnect', 10_000);
    await until(() => new Set(seen.messages.map((m) => m.payload.id)).size === 300, 'every event delivered');
    // At least once: duplicates allowed (a PUBACK lost with the connection), order of first arrival kept.
    const firstSeen = [...new Map(seen.messages.map((m) => [m.payload.id, m.payload.tick])).values()];
    expect(firstSeen).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('drops stream samples instead of buffering them while the socket is backed up', async () => {
    const b = await broker();
    const wire = await cable(b.port);
    const robot = link({ url: wire.url, robotId: 'r4', maxBufferedBytes: 64 * 1024 });
    await until(() => robot.connected, 'connect');
    wire.stall();
    const big = state(1, 4000);
    let sent = 0;
    // The kernel's socket buffers take a few MB first; after that every sample must be dropped.
    for (let i = 0; i < 4000 && robot.dropped === 0; i++) if (robot.publishStream('state', big)) sent++;
    expect(sent).toBeGreaterThan(0);
    expect(robot.dropped).toBe(1);
    for (let i = 0; i < 10; i++) expect(robot.publishStream('state', big)).toBe(false);
    expect(robot.dropped).toBe(11);
    // The peer never acknowledges the offline status: close still returns, within its bounds.
    const started = Date.now();
    await robot.close();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('telemetry without a broker', () => {
  it('keeps dropping and outboxing without throwing, and closes promptly', async () => {
    const port = await freePort();
    const robot = link({ url: `mqtt://127.0.0.1:${port}`, robotId: 'r5', outbox: { maxEvents: 2 }, reconnectMinMs: 50 });
    await sleep(200);
    expect(robot.connected).toBe(false);
    expect(robot.publishStream('state', state(1))).toBe(false);
    for (let i = 0; i < 5; i++) robot.publishEvent({ kind: 'fault', cause: 'test', tick: i });
    expect(robot.eventsPending).toBe(2);
    expect(robot.eventsDropped).toBe(3);
    expect(() => robot.ack('x', true)).not.toThrow();
    const started = Date.now();
    await robot.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('runs with an outbox in memory when another live link holds the same one', async () => {
    const stateDir = tempDir('state');
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const errors: string[] = [];
    const first = link({ url, robotId: 'r8', stateDir });
    const second = link({ url, robotId: 'r8', stateDir, log: { info: () => undefined, warn: () => undefined, error: (_o, msg) => errors.push(msg) } });
    expect(first.outbox.disk).toBe(true);
    expect(second.outbox.disk).toBe(false);
    expect(errors).toEqual(['telemetry outbox in use by another process: this run keeps its events in memory only']);
    second.publishEvent({ kind: 'fault', cause: 'test', tick: 1 });
    expect(second.eventsPending).toBe(1);
  });

  it('refuses a robot id that would escape its topic subtree', () => {
    expect(() => connectTelemetry({ url: 'mqtt://127.0.0.1:1', robotId: 'a/#', stateDir: tempDir('state') })).toThrow(/topic level/);
  });

  it('refuses to start when a credential file cannot be read, naming the file', () => {
    expect(() => connectTelemetry({ url: 'mqtts://127.0.0.1:1', robotId: 'r', caFile: '/nonexistent/ca.pem', stateDir: tempDir('state') })).toThrow(
      /ca_file \/nonexistent\/ca.pem cannot be read \(ENOENT\)/,
    );
  });

  it('backs off between reconnect attempts, with jitter, up to the maximum', async () => {
    // A broker that accepts TCP and hangs up at once: every attempt fails the same way.
    const wire = await cable(await freePort());
    wire.plugged = false;
    const robot = link({ url: wire.url, robotId: 'r7', reconnectMinMs: 40, reconnectMaxMs: 320 });
    await until(() => wire.accepted.length >= 7, 'reconnect attempts', 5000);
    await robot.close();
    const gaps = wire.accepted.slice(1, 7).map((t, i) => t - wire.accepted[i]!);
    const caps = [40, 80, 160, 320, 320, 320];
    // Timers never fire early; late by a loaded machine's scheduling, at most (generous bound).
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(caps[i]! / 2 - 5);
      expect(gap).toBeLessThanOrEqual(caps[i]! + 500);
    });
    expect(gaps[3]! + gaps[4]! + gaps[5]!).toBeGreaterThan(3 * 160 - 15);
  });
});

describe('embedded broker', () => {
  it('falls back to a free port when the requested one is taken, and says so', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const busy = (taken.address() as AddressInfo).port;
    const b = await startEmbeddedBroker({ port: busy });
    cleanups.push(() => b.close());
    expect(b.fellBackFrom).toBe(busy);
    expect(b.port).not.toBe(busy);
    expect(b.url).toBe(`mqtt://127.0.0.1:${b.port}`);
    const client = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
    await client.endAsync();
  });
});
