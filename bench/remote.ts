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
 * measured latency plus one action). Reported: the largest commanded jerk and step within the
 * blend window of a join (blend_steps + 1 actions: "boundary") and elsewhere ("mid-chunk"). The envelope's own shaping is not
 * in this number: it acts on what is commanded here.
 */
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { ActionQueue } from '../src/runtime/action-queue.js';
import { loadConfig } from '../src/runtime/index.js';
import { OpenpiConnection } from '../src/runtime/policy/openpi/connection.js';
import { ndarray, packMessage } from '../src/runtime/policy/openpi/msgpack-numpy.js';
import { servePolicy } from '../src/runtime/policy/openpi/index.js';

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
  return { roundTrip: rt, splices };
}
