/**
 * `embody bench telemetry`: the MQTT link's numbers from issue 5, each beside its anchor in
 * the same run.
 *   bytes      one state message of the sim arm (7 joints) as sent, beside the same sample
 *              with a name per joint and all digits (the first format); tactile, metrics, event
 *   latency    publish (link.publishStream) to a subscriber's message handler through a
 *              loopback mosquitto, state at 200 Hz: p50/p99/max (target p99 <= 2 ms)
 *   outbox     cost of publishEvent while offline (write to the outbox), and how fast a
 *              backlog of events drains after reconnect
 *   loop       the control loop's p99 tick lateness with telemetry off, then with state at
 *              200 Hz (+ tactile 30 Hz + metrics) to the same mosquitto (target: <= +10 %)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { createLogger } from '../src/runtime/logger.js';
import { runRobot } from '../src/runtime/run.js';
import { connectTelemetry, encodeState, encodeTactile, type MetricsPayload, type StatePayload } from '../src/telemetry/index.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));

export interface TelemetryBenchOptions {
  readonly robotFile?: string;
  /** Seconds of 200 Hz state for the latency measurement (default 5). */
  readonly seconds?: number;
  /** Seconds per control-loop run, off and on (default 10); 0 skips the comparison. */
  readonly loopSeconds?: number;
}

export interface TelemetryBenchResult {
  readonly broker: string;
  readonly bytes: {
    readonly joints: number;
    readonly state: number;
    /** The same sample with a name per joint and every digit: the anchor. */
    readonly stateWithNames: number;
    readonly tactile: number;
    readonly metrics: number;
    readonly event: number;
  };
  readonly latencyMs: { readonly rateHz: number; readonly messages: number; readonly p50: number; readonly p99: number; readonly max: number; readonly lost: number };
  /** The same measurement with a bare mqtt.js client: what the machine and broker give. */
  readonly bareLatencyMs: TelemetryBenchResult['latencyMs'];
  readonly outbox: { readonly events: number; readonly appendUs: { readonly p50: number; readonly p99: number }; readonly drainMs: number; readonly drainPerSecond: number };
  readonly loop?: { readonly seconds: number; readonly offP99Us: number; readonly onP99Us: number; readonly ratio: number; readonly stateRateHz: number; readonly dropped?: number };
  readonly met: { readonly latency: boolean; readonly loop?: boolean };
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

async function startMosquitto(port: number): Promise<ChildProcess> {
  const child = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
  let failed: Error | undefined;
  child.once('error', (error) => (failed = new Error(`mosquitto could not start (${error.message}): install Debian package mosquitto`)));
  const deadline = Date.now() + 5000;
  for (;;) {
    if (failed) throw failed;
    const up = await new Promise<boolean>((done) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

const until = async (predicate: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 5));
  }
  return true;
};

function armSample(robotFile: string): { names: string[]; sample: StatePayload; metrics: MetricsPayload } {
  const doc = parse(readFileSync(robotFile, 'utf8')) as { joints: { name: string; home?: number }[] };
  const names = doc.joints.map((j) => j.name);
  // Mid-motion values with every digit a double has, as the snapshot holds them.
  const position = doc.joints.map((j, i) => (j.home ?? 0) + Math.sin(1.7 * i + 0.3) * 0.123456789);
  return {
    names,
    sample: {
      ts: Date.now(),
      tick: 123_456,
      mode: 'RUNNING',
      position,
      velocity: position.map((_, i) => Math.cos(0.9 * i + 0.2) * 0.456789123),
      command: position.map((p, i) => p + Math.sin(i) * 0.000123456),
    },
    metrics: {
      ts: Date.now(),
      ticks: 123_456,
      missed: 0,
      lateness_us: { p50: 4, p99: 9, max: 812 },
      inference_ms: { p50: 0.077, p99: 0.142 },
      starvation: 12,
      cpu: 31.42,
      rss_mb: 142.7,
      dropped: 0,
      events_pending: 0,
      events_dropped: 0,
    },
  };
}

/** An MQTT subscriber in its own process that reports `topic tick monotonic-ms` per message. */
async function subscriberProcess(url: string, topics: string[]): Promise<{ arrivals(topic: string): Map<number, number>; stop(): void }> {
  const source = `
    import mqtt from 'mqtt';
    const client = await mqtt.connectAsync(${JSON.stringify(url)}, { reconnectPeriod: 0 });
    client.on('message', (topic, payload) => {
      const at = Number(process.hrtime.bigint()) / 1e6;
      const tick = JSON.parse(payload.toString()).tick;
      process.stdout.write(topic + ' ' + tick + ' ' + at + '\\n');
    });
    await client.subscribeAsync(${JSON.stringify(topics)}, { qos: 0 });
    process.stdout.write('ready\\n');
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  `;
  // Bare imports in --eval resolve from the working directory: the package root has mqtt.
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const byTopic = new Map<string, Map<number, number>>();
  const arrivals = (topic: string): Map<number, number> => {
    let map = byTopic.get(topic);
    if (map === undefined) byTopic.set(topic, (map = new Map()));
    return map;
  };
  let ready = false;
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready = true;
      const [topic, tick, at] = line.split(' ');
      if (at !== undefined) arrivals(topic!).set(Number(tick), Number(at));
    }
  });
  if (!(await until(() => ready, 5000))) throw new Error('the bench subscriber did not start');
  return { arrivals, stop: () => child.stdin!.end() };
}

/** A copy of robot.yaml with telemetry rates set and the policy path made absolute. */
function robotWithRates(robotFile: string, directory: string, stateRateHz: number): string {
  const doc = parse(readFileSync(robotFile, 'utf8')) as { policy: { manifest: string }; telemetry?: Record<string, unknown> };
  doc.policy.manifest = resolve(dirname(robotFile), doc.policy.manifest);
  doc.telemetry = { ...doc.telemetry, state_rate_hz: stateRateHz, tactile_rate_hz: 30, metrics_rate_hz: 1 };
  const file = join(directory, 'robot-telemetry.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

export async function benchTelemetry(options: TelemetryBenchOptions = {}): Promise<TelemetryBenchResult> {
  const robotFile = options.robotFile ?? `${root}robots/sim-arm.yaml`;
  const seconds = options.seconds ?? 5;
  const loopSeconds = options.loopSeconds ?? 10;
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-telemetry-'));
  const port = await freePort();
  const broker = await startMosquitto(port);
  const url = `mqtt://127.0.0.1:${port}`;
  try {
    // ---- bytes ----
    const { names, sample, metrics } = armSample(robotFile);
    const withNames = JSON.stringify({
      ts: sample.ts,
      tick: sample.tick,
      mode: sample.mode,
      joints: names.map((name, i) => ({ name, position: sample.position[i], velocity: sample.velocity[i], command: sample.command[i] })),
    });
    const event = JSON.stringify({
      id: 'sim-arm-01-m5x2k1q-1234',
      ts: Date.now(),
      tick: 123_456,
      kind: 'velocity_limited',
      cause: 'safety envelope',
      joint: 'elbow_pitch',
      requested: 1.734512,
      commanded: 1.5,
      message: 'envelope velocity limited on elbow_pitch',
    });
    const bytes = {
      joints: names.length,
      state: Buffer.byteLength(encodeState(sample)),
      stateWithNames: Buffer.byteLength(withNames),
      tactile: Buffer.byteLength(encodeTactile({ ts: Date.now(), frame: 4321, contact: [0.981234, 0.012345], force: [0.734567, 0.000123], area: [0.412345, 0] })),
      metrics: Buffer.byteLength(JSON.stringify(metrics)),
      event: Buffer.byteLength(event),
    };

    // ---- latency: publish to a subscriber in another process, through loopback mosquitto ----
    // Both sides read CLOCK_MONOTONIC (process.hrtime), so the times compare across processes;
    // the subscriber's own event loop is not shared with the publisher's.
    const link = connectTelemetry({ url, robotId: 'bench', joints: names, stateDir: join(directory, 'state-latency') });
    const bare = await mqtt.connectAsync(url, { clientId: 'bench-bare', reconnectPeriod: 0 });
    (bare.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const subscriber = await subscriberProcess(url, ['embody/bench/state', 'bench/bare']);
    await until(() => link.connected, 5000);
    const rateHz = 200;
    const measure = async (publish: (tick: number) => void, topic: string): Promise<TelemetryBenchResult['latencyMs']> => {
      const warmup = 100;
      const total = warmup + Math.round(seconds * rateHz);
      const sentAt = new Float64Array(total);
      const arrivals = subscriber.arrivals(topic);
      const start = performance.now();
      for (let tick = 0; tick < total; tick++) {
        const due = start + (tick * 1000) / rateHz;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((done) => setTimeout(done, wait - 0.5));
        sentAt[tick] = Number(process.hrtime.bigint()) / 1e6;
        publish(tick);
      }
      await until(() => arrivals.size >= total, 2000);
      const latencies: number[] = [];
      for (let tick = warmup; tick < total; tick++) {
        const at = arrivals.get(tick);
        if (at !== undefined) latencies.push(at - sentAt[tick]!);
      }
      latencies.sort((a, b) => a - b);
      return {
        rateHz,
        messages: latencies.length,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies.at(-1) ?? Number.NaN,
        lost: total - warmup - latencies.length,
      };
    };
    // The anchor: a bare mqtt.js client sending the same bytes, measured the same way.
    const bareLatencyMs = await measure((tick) => bare.publish('bench/bare', encodeState({ ...sample, ts: Date.now(), tick }), { qos: 0 }), 'bench/bare');
    const latencyMs = await measure((tick) => link.publishStream('state', { ...sample, ts: Date.now(), tick }), 'embody/bench/state');
    subscriber.stop();
    await bare.endAsync();
    await link.close();

    // ---- outbox: append while offline, then drain after connect ----
    const events = 5000;
    const deadPort = await freePort();
    const offline = connectTelemetry({ url: `mqtt://127.0.0.1:${deadPort}`, robotId: 'bench-outbox', stateDir: join(directory, 'state-outbox'), reconnectMinMs: 60_000 });
    const appendUs: number[] = [];
    for (let i = 0; i < events; i++) {
      const t0 = performance.now();
      offline.publishEvent({ kind: 'velocity_limited', cause: 'safety envelope', joint: 'elbow_pitch', requested: 1.734512, commanded: 1.5, tick: i });
      appendUs.push((performance.now() - t0) * 1000);
    }
    await offline.close();
    appendUs.sort((a, b) => a - b);
    const received = { n: 0 };
    const drainWatcher = await mqtt.connectAsync(url, { clientId: 'bench-drain', reconnectPeriod: 0 });
    await drainWatcher.subscribeAsync('embody/bench-outbox/events', { qos: 1 });
    drainWatcher.on('message', () => received.n++);
    const drainStart = performance.now();
    const drainer = connectTelemetry({ url, robotId: 'bench-outbox', stateDir: join(directory, 'state-outbox') });
    await until(() => received.n >= events, 60_000);
    const drainMs = performance.now() - drainStart;
    await drainer.close();
    await drainWatcher.endAsync();

    // ---- loop: p99 lateness with telemetry off, then on, same process ----
    let loop: TelemetryBenchResult['loop'];
    if (loopSeconds > 0) {
      const stateRateHz = 200;
      const robot = robotWithRates(robotFile, directory, stateRateHz);
      const log = createLogger({ level: 'warn', pretty: false });
      const previousState = process.env.STATE_DIRECTORY;
      process.env.STATE_DIRECTORY = join(directory, 'state-loop');
      try {
        const off = await runRobot({ robotFile: robot, durationS: loopSeconds, broker: 'none', autoArm: true, log });
        const on = await runRobot({ robotFile: robot, durationS: loopSeconds, broker: url, autoArm: true, log });
        loop = {
          seconds: loopSeconds,
          stateRateHz,
          offP99Us: off.tick_lateness_us.p99,
          onP99Us: on.tick_lateness_us.p99,
          ratio: on.tick_lateness_us.p99 / off.tick_lateness_us.p99,
        };
      } finally {
        if (previousState === undefined) delete process.env.STATE_DIRECTORY;
        else process.env.STATE_DIRECTORY = previousState;
      }
    }

    return {
      broker: 'mosquitto (loopback)',
      bytes,
      latencyMs,
      bareLatencyMs,
      outbox: {
        events,
        appendUs: { p50: percentile(appendUs, 0.5), p99: percentile(appendUs, 0.99) },
        drainMs,
        drainPerSecond: (events * 1000) / drainMs,
      },
      ...(loop ? { loop } : {}),
      met: { latency: latencyMs.p99 <= 2, ...(loop ? { loop: loop.ratio <= 1.1 } : {}) },
    };
  } finally {
    broker.kill('SIGTERM');
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The lines `embody bench telemetry` prints. */
export function formatTelemetry(r: TelemetryBenchResult): string {
  const b = r.bytes;
  const l = r.latencyMs;
  const lines = [
    `telemetry: state message ${b.state} bytes for ${b.joints} joints (with a name per joint and every digit: ${b.stateWithNames} bytes, ${(b.stateWithNames / b.state).toFixed(1)}x); tactile ${b.tactile}, metrics ${b.metrics}, event ${b.event} bytes`,
    `telemetry: publish to subscriber (another process) via ${r.broker}, state at ${l.rateHz} Hz, ${l.messages} messages: p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms (target <= 2), max ${l.max.toFixed(3)} ms, lost ${l.lost} -> ${r.met.latency ? 'met' : 'NOT met'}; bare mqtt.js anchor p50 ${r.bareLatencyMs.p50.toFixed(3)} ms, p99 ${r.bareLatencyMs.p99.toFixed(3)} ms, max ${r.bareLatencyMs.max.toFixed(3)} ms`,
    `telemetry: outbox append (offline publishEvent) p50 ${r.outbox.appendUs.p50.toFixed(1)} µs, p99 ${r.outbox.appendUs.p99.toFixed(1)} µs; ${r.outbox.events} outboxed events drained in ${r.outbox.drainMs.toFixed(0)} ms (${r.outbox.drainPerSecond.toFixed(0)}/s)`,
  ];
  if (r.loop) {
    lines.push(
      `telemetry: control loop p99 lateness, ${r.loop.seconds} s each: off ${r.loop.offP99Us} µs, on (state ${r.loop.stateRateHz} Hz + tactile + metrics) ${r.loop.onP99Us} µs -> ${r.loop.ratio.toFixed(2)}x (target <= 1.10) -> ${r.met.loop ? 'met' : 'NOT met'}`,
    );
  }
  return lines.join('\n');
}
