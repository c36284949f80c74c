/**
 * `npm run bench -- remote`: a remote brain's numbers, each beside its anchor.
 *
 * Round trip: the embody openpi client to `embody policy serve` (demo policy) on loopback, with a
 * 224×224×3 image plus state, beside a bare websocket echo of the same bytes and a bare
 * session.run() of the model (what the protocol and the server add).
 *
 * Splicing: chunks that arrive 100 ms and 300 ms after their observation, joined by the loop's
 * ActionQueue (past actions dropped, started at the current command, blended) beside a naive
 * splice (the new chunk's first action executed at arrival, no blend), on the same chunks in the
 * same run. Each chunk predicts a smooth reference motion with its own error (a per-chunk offset
 * and a drift along the horizon, seeded), as a replanning policy disagrees with itself; the
 * request rule is the control loop's (empty, replan_after actions run, or less left than the
 * measured latency plus one action).
 *
 * Task: `embody run` on the sim arm (9 s) with the demo policy served by `embody policy serve`,
 * directly and through a delaying proxy (50 ms, 100 ms, 300 ms round trip), beside the local
 * policy alone. Switch: a server that dies mid-request, to the local policy's chunk. Reported: the largest commanded jerk and step within the
 * blend window of a join (blend_steps + 1 actions: "boundary") and elsewhere ("mid-chunk"). The envelope's own shaping is not
 * in this number: it acts on what is commanded here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { ActionQueue } from '../src/runtime/action-queue.js';
import { loadConfig } from '../src/runtime/index.js';
import { OpenpiConnection } from '../src/runtime/policy/openpi/connection.js';
import { ndarray, packMessage } from '../src/runtime/policy/openpi/msgpack-numpy.js';
import { RemoteBrain, servePolicy } from '../src/runtime/policy/openpi/index.js';
import { PolicyRunner } from '../src/runtime/policy/runner.js';
import { SnapshotRecord } from '../src/runtime/records.js';
import type { RunReport } from '../src/runtime/output/report.js';
import { delayProxy } from './delay-proxy.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));

type P = { p50: number; p99: number };
function percentiles(values: number[]): P {
  const s = [...values].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}

async function roundTrip(runs: number): Promise<{ remote: P; echo: P; model: P; bytes: number }> {
  const config = await loadConfig(`${root}robots/sim-arm.yaml`, { policyHost: 'inline' });
  const server = await servePolicy({ session: config.session, manifest: config.manifest, robot: config.robot, port: 0, host: '127.0.0.1' });
  const image = new Uint8Array(224 * 224 * 3).map((_, i) => (i * 31) % 251);
  const message = packMessage({
    image: ndarray(image, [224, 224, 3]),
    state: ndarray(new Float32Array(14), [14]),
    touch: ndarray(new Float32Array(4), [4]),
    prompt: 'lift the cube',
  });
  const connection = await OpenpiConnection.connect(server.url, { timeoutMs: 5000 });
  const remote: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const t0 = performance.now();
    await connection.request(message, 5000);
    if (i >= 20) remote.push(performance.now() - t0);
  }
  connection.close();
  await server.close();

  // Anchor: the same bytes echoed by a bare ws server, and a bare session.run().
  const echo = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  echo.on('connection', (ws: ServerSocket) => {
    ws.send(packMessage({}));
    ws.on('message', (data: Buffer) => ws.send(packMessage({ actions: ndarray(new Float32Array(16 * 7), [16, 7]), n: data.length })));
  });
  await new Promise((resolve) => echo.once('listening', resolve));
  const port = (echo.address() as { port: number }).port;
  const bare = await OpenpiConnection.connect(`ws://127.0.0.1:${port}`, { timeoutMs: 5000 });
  const echoes: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const t0 = performance.now();
    await bare.request(message, 5000);
    if (i >= 20) echoes.push(performance.now() - t0);
  }
  bare.close();
  await new Promise((resolve) => echo.close(resolve));

  const { benchModelFile } = await import('../src/runtime/index.js');
  const model = await benchModelFile(config.modelPath, runs);
  await config.session.release();
  return { remote: percentiles(remote), echo: percentiles(echoes), model: { p50: model.p50Ms, p99: model.p99Ms }, bytes: message.length };
}

interface SpliceResult {
  readonly boundaryJerk: number;
  readonly midJerk: number;
  readonly boundaryStep: number;
  readonly midStep: number;
  readonly starvedTicks: number;
  readonly joins: number;
}

/** A small seeded PRNG (mulberry32), so both splices see the same chunks. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CONTROL_HZ = 200;
const POLICY_HZ = 20;
const TPA = CONTROL_HZ / POLICY_HZ;
const HORIZON = 16;
const REPLAN_AFTER = 4;
const BLEND = 3;
const SECONDS = 60;

/** The reference motion, rad: a slow reach back and forth. */
const reference = (tick: number): number => 0.5 * Math.sin((2 * Math.PI * 0.25 * tick) / CONTROL_HZ);

function splice(latencyMs: number, naive: boolean, seed: number): SpliceResult {
  const random = prng(seed);
  const queue = new ActionQueue(1, HORIZON, TPA, naive ? 0 : BLEND);
  const chunk = new Float64Array(HORIZON);
  const current = new Float64Array(1);
  const out = new Float64Array(1);
  const ticks = SECONDS * CONTROL_HZ;
  const command = new Float64Array(ticks);
  const boundary = new Uint8Array(ticks);
  let requestTick = -1;
  let arrival = -1;
  let latencyTicks = 0;
  let starved = 0;
  let joins = 0;
  const latency = (latencyMs / 1000) * CONTROL_HZ;
  current[0] = reference(0);
  for (let tick = 0; tick < ticks; tick++) {
    if (tick === arrival) {
      // The chunk computed from the observation at requestTick: the reference, with this chunk's error.
      const offset = (random() - 0.5) * 0.02;
      const drift = (random() - 0.5) * 0.004;
      for (let k = 0; k < HORIZON; k++) chunk[k] = reference(requestTick + (k + 1) * TPA) + offset + drift * k;
      if (naive) queue.join(tick, tick - TPA + 0.5, chunk, 0, HORIZON, current);
      else queue.join(tick, requestTick, chunk, 0, HORIZON, current);
      latencyTicks = Math.max(tick - requestTick, Math.round(0.9 * latencyTicks + 0.1 * (tick - requestTick)));
      for (let t = tick; t < Math.min(ticks, tick + (BLEND + 1) * TPA); t++) boundary[t] = 1;
      joins++;
      requestTick = -1;
      arrival = -1;
    }
    if (!queue.sample(tick, out) && !queue.isEmpty) starved++;
    current[0] = queue.isEmpty ? current[0] : out[0];
    command[tick] = current[0];
    // The control loop's request rule (control-loop.ts #maybeRequestChunk).
    if (requestTick < 0) {
      const due = queue.isEmpty || queue.actionsSinceJoin(tick) >= REPLAN_AFTER || queue.remainingTicks(tick) <= latencyTicks + TPA;
      if (due) {
        requestTick = tick;
        arrival = tick + Math.max(1, Math.round(latency * (0.9 + 0.2 * random())));
      }
    }
  }
  let boundaryJerk = 0;
  let midJerk = 0;
  let boundaryStep = 0;
  let midStep = 0;
  const dt = 1 / CONTROL_HZ;
  // Skip the first second (the first chunk starts from rest).
  for (let t = CONTROL_HZ; t < ticks; t++) {
    const jerk = Math.abs(command[t] - 3 * command[t - 1] + 3 * command[t - 2] - command[t - 3]) / dt ** 3;
    const step = Math.abs(command[t] - command[t - 1]);
    if (boundary[t]) {
      boundaryJerk = Math.max(boundaryJerk, jerk);
      boundaryStep = Math.max(boundaryStep, step);
    } else {
      midJerk = Math.max(midJerk, jerk);
      midStep = Math.max(midStep, step);
    }
  }
  return { boundaryJerk, midJerk, boundaryStep, midStep, starvedTicks: starved, joins };
}

/** The shipped remote demo manifest pointed at `port`, in a temporary file. */
function remoteManifest(directory: string, port: number): string {
  const file = join(directory, `remote-${port}.yaml`);
  writeFileSync(
    file,
    readFileSync(`${root}models/demo/remote.yaml`, 'utf8')
      .replace('ws://127.0.0.1:8000', `ws://127.0.0.1:${port}`)
      .replace('fallback: policy.yaml', `fallback: ${root}models/demo/policy.yaml`),
  );
  return file;
}

async function runCli(args: string[]): Promise<void> {
  const child = spawn(process.execPath, [`${root}dist/src/cli.js`, ...args], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
}

interface TaskRun {
  readonly link: string;
  readonly lifted: boolean;
  readonly driving: string;
  readonly remoteChunks: number;
  readonly localChunks: number;
  readonly fallbacks: number;
  readonly roundTripP50: number;
}

async function taskRuns(): Promise<TaskRun[]> {
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-remote-'));
  const config = await loadConfig(`${root}robots/sim-arm.yaml`, { policyHost: 'inline' });
  const server = await servePolicy({ session: config.session, manifest: config.manifest, robot: config.robot, port: 0, host: '127.0.0.1' });
  const runs: TaskRun[] = [];
  for (const oneWay of [-1, 0, 25, 50, 150]) {
    const report = join(directory, `run-${oneWay}.json`);
    const proxy = oneWay > 0 ? await delayProxy(server.port, oneWay) : undefined;
    const args = oneWay < 0 ? [] : ['--policy', remoteManifest(directory, proxy?.port ?? server.port)];
    await runCli(['run', ...args, '--broker', 'none', '--duration', '9', '--report', report]);
    await proxy?.close();
    const r = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    runs.push({
      link: oneWay < 0 ? 'local only' : oneWay === 0 ? 'remote, loopback' : `remote, ${2 * oneWay} ms round trip`,
      lifted: r.task?.object_lifted === true,
      driving: r.brain?.driving ?? 'local',
      remoteChunks: r.brain?.remote_chunks ?? 0,
      localChunks: r.brain?.local_chunks ?? r.chunks_applied,
      fallbacks: r.brain?.fallbacks ?? 0,
      roundTripP50: r.brain?.remote_round_trip_ms.p50 ?? 0,
    });
  }
  await server.close();
  await config.session.release();
  return runs;
}

/** A server that dies while a request is on the wire (50 ms away): ms until the local chunk is published. */
async function switchTime(): Promise<number[]> {
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-switch-'));
  const served = await loadConfig(`${root}robots/sim-arm.yaml`, { policyHost: 'inline' });
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const server = await servePolicy({ session: served.session, manifest: served.manifest, robot: served.robot, port: 0, host: '127.0.0.1' });
    const proxy = await delayProxy(server.port, 25);
    const config = await loadConfig(`${root}robots/sim-arm.yaml`, { policyHost: 'inline', policyOverride: remoteManifest(directory, proxy.port) });
    const robot = config.robot;
    const remote = config.remote!;
    const brain = new RemoteBrain({ url: remote.source.url, manifest: remote.manifest, robot, local: new PolicyRunner(config.session, config.manifest, robot), deadlineMs: 1000, healthyRoundTrips: 5, emit: () => undefined });
    const n = robot.joints.length;
    const frame = { camera: 'wrist', sequence: 0, timestampMs: 0, width: 32, height: 24, data: new Uint8Array(32 * 24 * 3).fill(90) };
    const sources = {
      snapshot: new Float64Array(SnapshotRecord.size(n)),
      frame: () => ({ ...frame, timestampMs: performance.now() }),
      touch: { contact: [0, 0], force: [0, 0], area: [0, 0] },
      instruction: '',
      get nowMs() {
        return performance.now();
      },
    };
    let published = 0;
    const sink = { publishChunk: () => (published = performance.now()) };
    for (let k = 0; k < 5; k++) await brain.infer(sources, sink);
    const pending = brain.infer(sources, sink);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the request is on the wire
    const killed = performance.now();
    await server.close();
    await proxy.close();
    await pending;
    times.push(published - killed);
    brain.close();
    await config.session.release();
  }
  await served.session.release();
  return times;
}

export async function benchRemote(): Promise<Record<string, unknown>> {
  const rt = await roundTrip(200);
  process.stdout.write(
    `remote: round trip on loopback, ${(rt.bytes / 1024).toFixed(0)} KiB observation (224x224x3 + state): p50 ${rt.remote.p50.toFixed(2)} ms, p99 ${rt.remote.p99.toFixed(2)} ms; ` +
      `anchors: bare ws echo p50 ${rt.echo.p50.toFixed(2)} ms, model session.run p50 ${rt.model.p50.toFixed(2)} ms -> ${(rt.remote.p50 / (rt.echo.p50 + rt.model.p50)).toFixed(2)}x echo + model\n`,
  );
  const splices: Record<string, { aligned: SpliceResult; naive: SpliceResult }> = {};
  for (const ms of [100, 300]) {
    const aligned = splice(ms, false, 7);
    const naive = splice(ms, true, 7);
    splices[`${ms}ms`] = { aligned, naive };
    const f = (r: SpliceResult): string =>
      `boundary jerk ${r.boundaryJerk.toFixed(1)} rad/s^3 (${(r.boundaryJerk / r.midJerk).toFixed(2)}x mid-chunk ${r.midJerk.toFixed(1)}), largest step ${(r.boundaryStep * 1000).toFixed(2)} mrad (mid ${(r.midStep * 1000).toFixed(2)}), starved ${r.starvedTicks} ticks`;
    process.stdout.write(`remote: splice at ${ms} ms round trip, ${aligned.joins} joins: aligned+blend ${f(aligned)}\n`);
    process.stdout.write(`remote: splice at ${ms} ms round trip, ${naive.joins} joins: naive        ${f(naive)}\n`);
  }
  const switches = await switchTime();
  const sw = percentiles(switches);
  process.stdout.write(`remote: server killed mid-request (50 ms away): local chunk published after p50 ${sw.p50.toFixed(1)} ms, max ${Math.max(...switches).toFixed(1)} ms (${switches.length} kills)\n`);
  const tasks = await taskRuns();
  for (const t of tasks) {
    process.stdout.write(
      `remote: task on the sim arm, ${t.link.padEnd(26)} lifted ${t.lifted ? 'yes' : 'NO '} | driving at the end ${t.driving.padEnd(6)} | chunks remote ${t.remoteChunks}, local ${t.localChunks} | fallbacks ${t.fallbacks} | round trip p50 ${t.roundTripP50.toFixed(1)} ms\n`,
    );
  }
  return { roundTrip: rt, splices, switchMs: switches, tasks };
}
