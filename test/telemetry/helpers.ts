/**
 * What the telemetry tests share: real brokers (aedes in-process, mosquitto processes the test
 * starts on a free loopback port; missing mosquitto is a failure, never a skip), a TCP "cable"
 * the test can cut or unplug, operator clients, and a robot link in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import { startEmbeddedBroker } from '../../src/telemetry/index.js';
import type { MetricsPayload, StatePayload } from '../../src/telemetry/index.js';

/** Undone after each test, last first. */
export const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `embody-${prefix}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export { sleep };

export interface Broker {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** A mosquitto process of the test's own, on `port`, with an optional config file. */
export async function startMosquitto(port: number, config?: string): Promise<Broker> {
  const args = config === undefined ? ['-p', String(port)] : ['-c', config];
  const child = spawn('mosquitto', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let failure: Error | undefined;
  child.once('error', (error) => (failure = new Error(`mosquitto could not start (${error.message}): run scripts/install-test-deps.sh`)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code) => (failure ??= new Error(`mosquitto exited with ${code} before listening: ${stderr}`)));
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
    await sleep(20);
  }
  const stop = (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  cleanups.push(stop);
  return { port, url: `mqtt://127.0.0.1:${port}`, stop };
}

export const brokers: Record<'aedes' | 'mosquitto', (port?: number) => Promise<Broker>> = {
  async aedes(port) {
    const b = await startEmbeddedBroker({ port: port ?? 0 });
    if (b.fellBackFrom !== undefined) throw new Error(`port ${b.fellBackFrom} was taken`);
    cleanups.push(() => b.close());
    return { port: b.port, url: b.url, stop: () => b.close() };
  },
  async mosquitto(port) {
    return startMosquitto(port ?? (await freePort()));
  },
};

/** A TCP proxy between the robot and the broker that the test can cut, unplug and stall. */
export interface Cable {
  readonly port: number;
  readonly url: string;
  /** Destroy every connection at once, without an MQTT DISCONNECT: a power or network loss. */
  cut(): void;
  /** While unplugged, new connections are dropped as soon as they arrive. */
  plugged: boolean;
  /** Stop reading from the robot, so its socket backs up. */
  stall(): void;
  /** Connections accepted so far (each robot connection attempt is one). */
  readonly accepted: number[];
  close(): Promise<void>;
}

export async function cable(upstreamPort: number): Promise<Cable> {
  const pairs = new Set<[Socket, Socket]>();
  let stalled = false;
  const state = { plugged: true };
  const accepted: number[] = [];
  const server: Server = createServer((down) => {
    accepted.push(performance.now());
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
  const port = (server.address() as AddressInfo).port;
  const c: Cable = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
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
    accepted,
    close: () => {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => c.close());
  return c;
}

export interface Seen {
  topic: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

/** An operator's client connected straight to the broker, recording what it receives. */
export async function watcher(
  url: string,
  topic: string | string[],
  options: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Seen[]; of(topicSuffix: string): Seen[] }> {
  const client = await mqtt.connectAsync(url, { clientId: `watch-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0, ...options });
  const messages: Seen[] = [];
  client.on('message', (t, payload, packet) => {
    const text = payload.toString();
    messages.push({ topic: t, payload: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), retain: packet.retain });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  cleanups.push(() => client.endAsync(true));
  return { client, messages, of: (suffix) => messages.filter((m) => m.topic.endsWith(`/${suffix}`)) };
}

export function state(tick: number, joints = 1): StatePayload {
  return {
    ts: Date.now(),
    tick,
    mode: 'RUNNING',
    position: Array.from({ length: joints }, (_, i) => i * 0.1),
    velocity: Array.from({ length: joints }, () => 0),
    command: Array.from({ length: joints }, (_, i) => i * 0.1),
  };
}

export function metrics(ticks: number): MetricsPayload {
  return { ts: Date.now(), ticks, missed: 0, lateness_us: { p50: 1, p99: 2, max: 3 }, inference_ms: { p50: 1, p99: 2 }, starvation: 0, cpu: 0, rss_mb: 1, dropped: 0 };
}

const fixture = fileURLToPath(new URL('./fixtures/link-process.ts', import.meta.url));

/** What the child reports after each request. */
export interface ChildReport {
  connected: boolean;
  pending: number;
  dropped: number;
  evicted: number;
  recovered: number;
  id?: string;
}

/** A robot link in a child process (`node --import tsx`), driven over stdin, one JSON line each way. */
export interface LinkProcess {
  readonly child: ChildProcess;
  request(op: Record<string, unknown>): Promise<ChildReport>;
  /** Polls until the child's link says it is connected. */
  connected(timeoutMs?: number): Promise<void>;
  kill9(): Promise<void>;
  /** Asks the link to close (offline status, disconnect) and waits for the process to exit. */
  closeCleanly(): Promise<number | null>;
}

export function linkProcess(options: Record<string, unknown>): LinkProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, LINK_OPTIONS: JSON.stringify(options) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waiting: ((report: ChildReport) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.(JSON.parse(line) as ChildReport));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  cleanups.push(async () => {
    if (alive()) child.kill('SIGKILL');
    await exited;
  });
  const request = (op: Record<string, unknown>): Promise<ChildReport> =>
    new Promise((resolve, reject) => {
      if (!alive()) {
        reject(new Error(`link process exited: ${stderr}`));
        return;
      }
      const timer = setTimeout(() => reject(new Error(`link process did not answer ${JSON.stringify(op)}: ${stderr}`)), 10_000);
      waiting.push((report) => {
        clearTimeout(timer);
        resolve(report);
      });
      child.stdin!.write(JSON.stringify(op) + '\n');
    });
  return {
    child,
    request,
    async connected(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await request({ op: 'report' })).connected) {
        if (Date.now() > deadline) throw new Error(`link process did not connect: ${stderr}`);
        await sleep(50);
      }
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async closeCleanly() {
      child.stdin!.write(JSON.stringify({ op: 'close' }) + '\n');
      return exited;
    },
  };
}

/** Writes a file and returns its path. */
export function file(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
