/**
 * The robot's MQTT link against real brokers: the embedded aedes and a mosquitto process the
 * test starts on a free loopback port (the test fails if mosquitto is not installed). The robot
 * reaches the broker through a TCP "cable" the test can cut or unplug, so an unclean loss of the
 * robot and a broker outage are both real socket events, not mocks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectTelemetry,
  startEmbeddedBroker,
  type StatePayload,
  type TelemetryLink,
  type TelemetryOptions,
  type ValidatedCommand,
} from '../../src/telemetry/index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A mosquitto process of the test's own; missing mosquitto is a failure, never a skip. */
async function startMosquitto(port: number): Promise<ChildProcess> {
  const child = spawn('mosquitto', ['-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let failure: Error | undefined;
  child.once('error', (error) => (failure = new Error(`mosquitto could not start (${error.message}): run scripts/install-test-deps.sh`)));
  child.once('exit', (code) => (failure ??= new Error(`mosquitto exited with ${code} before listening: ${stderr}`)));
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
    await sleep(20);
  }
  return child;
}

/** A TCP proxy between the robot and the broker that the test can cut, unplug and stall. */
interface Cable {
  readonly port: number;
  /** Destroy every connection at once, without an MQTT DISCONNECT: a power or network loss. */
  cut(): void;
  /** While unplugged, new connections are dropped as soon as they arrive. */
  plugged: boolean;
  /** Stop reading from the robot, so its socket backs up. */
  stall(): void;
  close(): Promise<void>;
}

async function cable(upstreamPort: number): Promise<Cable> {
  const pairs = new Set<[Socket, Socket]>();
  let stalled = false;
  const state = { plugged: true };
  const server: Server = createServer((down) => {
    if (!state.plugged) {
      down.destroy();
      return;
    }
    const up = connect(upstreamPort, '127.0.0.1');
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    for (const socket of pair) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    down.pipe(up);
    up.pipe(down);
    if (stalled) down.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = (): void => {
    for (const [down, up] of pairs) {
      down.destroy();
      up.destroy();
    }
    pairs.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut,
    get plugged() {
      return state.plugged;
    },
    set plugged(value: boolean) {
      state.plugged = value;
    },
    stall() {
      stalled = true;
      for (const [down] of pairs) {
        down.unpipe();
        down.pause();
      }
    },
    close: () => {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Seen {
  topic: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

/** An operator's client connected straight to the broker, recording what it receives. */
async function watcher(url: string, topic: string): Promise<{ client: MqttClient; messages: Seen[] }> {
  const client = await mqtt.connectAsync(url, { clientId: `watch-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  const messages: Seen[] = [];
  client.on('message', (t, payload, packet) => {
    const text = payload.toString();
    messages.push({ topic: t, payload: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), retain: packet.retain });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  cleanups.push(() => client.endAsync(true));
  return { client, messages };
}

function link(options: TelemetryOptions): TelemetryLink {
  const l = connectTelemetry({ reconnectMinMs: 100, reconnectMaxMs: 400, ...options });
  cleanups.push(() => l.close());
  return l;
}

function state(tick: number, joints = 1): StatePayload {
  return {
    ts: Date.now(),
    tick,
    mode: 'RUNNING',
    joints: Array.from({ length: joints }, (_, i) => ({ name: `j${i}`, position: i * 0.1, velocity: 0, command: i * 0.1 })),
  };
}

interface Broker {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

const brokers: Record<'aedes' | 'mosquitto', (port?: number) => Promise<Broker>> = {
  async aedes(port) {
    const b = await startEmbeddedBroker({ port: port ?? 0 });
    expect(b.fellBackFrom).toBeUndefined();
    return { port: b.port, url: b.url, stop: () => b.close() };
  },
  async mosquitto(port) {
    const p = port ?? (await freePort());
    const child = await startMosquitto(p);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      port: p,
      url: `mqtt://127.0.0.1:${p}`,
      stop: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      },
    };
  },
};

describe.each(['aedes', 'mosquitto'] as const)('telemetry against %s', (kind) => {
  async function broker(port?: number): Promise<Broker> {
    const b = await brokers[kind](port);
    cleanups.push(() => b.stop());
    return b;
  }

  it('announces a retained online status on every connect and leaves a last will of offline', async () => {
    const b = await broker();
    const wire = await cable(b.port);
    cleanups.push(() => wire.close());
    const robot = link({ url: `mqtt://127.0.0.1:${wire.port}`, robotId: 'r1', version: '9.9.9' });
    await until(() => robot.connected, 'connect');
    robot.setStatus('IDLE');
    const first = await watcher(b.url, 'embody/r1/status');
    await until(() => first.messages.some((m) => m.payload.mode === 'IDLE'), 'online status');
    // Subscribing after the fact: only a retained status can reach it.
    const late = await watcher(b.url, 'embody/r1/status');
    await until(() => late.messages.length > 0, 'retained online status');
    expect(late.messages[0]!.retain).toBe(true);
    expect(late.messages.at(-1)!.payload).toMatchObject({ robot_id: 'r1', state: 'online', mode: 'IDLE', version: '9.9.9' });

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

  it('answers invalid, stale and retained commands with a refusal naming the problem, passes valid ones on', async () => {
    const b = await broker();
    const operator = await watcher(b.url, 'embody/r2/cmd/ack');
    // Left retained before the robot came up: it must not act on it.
    await operator.client.publishAsync('embody/r2/cmd/mode', JSON.stringify({ id: 'old', command: 'arm' }), { qos: 1, retain: true });
    const robot = link({ url: b.url, robotId: 'r2' });
    const received: ValidatedCommand[] = [];
    robot.commands$.subscribe((command) => received.push(command));
    await until(() => robot.connected, 'connect');
    const ackFor = async (id: string): Promise<Record<string, unknown>> => {
      await until(() => operator.messages.some((m) => m.payload.id === id), `ack for ${id}`);
      return operator.messages.find((m) => m.payload.id === id)!.payload;
    };

    const retained = await ackFor('old');
    expect(retained).toMatchObject({ ok: false });
    expect(retained.reason).toMatch(/retain/);
    await operator.client.publishAsync('embody/r2/cmd/mode', '', { qos: 1, retain: true });

    const send = (topic: string, payload: string): Promise<unknown> => operator.client.publishAsync(`embody/r2/${topic}`, payload, { qos: 1 });
    await send('cmd/mode', JSON.stringify({ id: 'a1', command: 'fly' }));
    const invalid = await ackFor('a1');
    expect(invalid.ok).toBe(false);
    expect(invalid.reason).toMatch(/field `command`/);

    await send('cmd/instruction', JSON.stringify({ id: 'a2' }));
    expect((await ackFor('a2')).reason).toMatch(/field `text`/);

    await send('cmd/mode', JSON.stringify({ command: 'arm' }));
    await until(() => operator.messages.some((m) => m.payload.id === '' && /field `id`/.test(String(m.payload.reason))), 'ack for a command without id');

    await send('cmd/mode', '{not json');
    await until(() => operator.messages.some((m) => m.payload.id === '' && /not JSON/.test(String(m.payload.reason))), 'ack for garbage');

    await send('cmd/mode', JSON.stringify({ id: 'a3', command: 'arm', ts: Date.now() - 60_000 }));
    expect((await ackFor('a3')).reason).toMatch(/field `ts`.*older/);

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
    expect(await ackFor('a5')).toMatchObject({ id: 'a5', ok: false, reason: 'no policy takes instructions' });
  });

  it('drops and counts stream samples while the broker is down, and delivers queued events in order after it returns', async () => {
    const port = await freePort();
    const first = await brokers[kind](port);
    const wire = await cable(port);
    cleanups.push(() => wire.close());
    const robot = link({ url: `mqtt://127.0.0.1:${wire.port}`, robotId: 'r3' });
    await until(() => robot.connected, 'connect');
    expect(robot.publishStream('state', state(0))).toBe(true);

    await first.stop();
    await until(() => !robot.connected, 'disconnect');
    // Held unplugged until the operator's client is back on the new broker.
    wire.plugged = false;
    expect(robot.publishStream('state', state(1))).toBe(false);
    expect(robot.publishStream('metrics', { ts: Date.now(), ticks: 1, missed: 0, lateness_us: { p50: 1, p99: 2, max: 3 }, inference_ms: { p50: 1, p99: 2 }, starvation: 0, cpu: 0, rss_mb: 1, dropped: 1 })).toBe(false);
    expect(robot.dropped).toBe(2);
    for (let i = 1; i <= 3; i++) robot.publishEvent({ kind: 'mode_change', cause: 'test', from: 'IDLE', to: 'ARMED', tick: i });
    expect(robot.eventsPending).toBe(3);
    await sleep(500);

    const second = await broker(port);
    const events = await watcher(second.url, 'embody/r3/events');
    const states = await watcher(second.url, 'embody/r3/state');
    wire.plugged = true;
    await until(() => events.messages.length === 3, 'events after reconnect', 10_000);
    expect(events.messages.map((m) => m.payload.tick)).toEqual([1, 2, 3]);
    expect(events.messages[0]!.payload.id).toMatch(/^r3-/);
    expect(new Set(events.messages.map((m) => m.payload.id)).size).toBe(3);
    await until(() => robot.eventsPending === 0, 'events acknowledged');
    expect(robot.eventsDropped).toBe(0);

    expect(robot.publishStream('state', state(4))).toBe(true);
    await until(() => states.messages.length === 1, 'state sample after reconnect');
    expect(states.messages[0]!.payload.tick).toBe(4);
    expect(robot.dropped).toBe(2);
  }, 30_000);

  it('drops stream samples instead of buffering them while the socket is backed up', async () => {
    const b = await broker();
    const wire = await cable(b.port);
    cleanups.push(() => wire.close());
    const robot = link({ url: `mqtt://127.0.0.1:${wire.port}`, robotId: 'r4', maxBufferedBytes: 64 * 1024 });
    await until(() => robot.connected, 'connect');
    wire.stall();
    const big = state(1, 2000);
    let sent = 0;
    // The kernel's socket buffers take a few MB first; after that every sample must be dropped.
    for (let i = 0; i < 2000 && robot.dropped === 0; i++) if (robot.publishStream('state', big)) sent++;
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
  it('keeps dropping and queueing without throwing, and closes promptly', async () => {
    const port = await freePort();
    const robot = connectTelemetry({ url: `mqtt://127.0.0.1:${port}`, robotId: 'r5', maxQueuedEvents: 2, reconnectMinMs: 50 });
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

  it('refuses a robot id that would escape its topic subtree', () => {
    expect(() => connectTelemetry({ url: 'mqtt://127.0.0.1:1', robotId: 'a/#' })).toThrow(/topic level/);
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
