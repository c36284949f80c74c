/**
 * `npm run bench -- feetech`: the SO-101's bus (robots/so101.yaml, six STS3215) on a real
 * pseudo-terminal served by scripts/feetech-bus-model.py, which imposes 1 Mbps byte timing and
 * the servos' return delay (it runs under SCHED_FIFO: it stands in for the servos' own MCUs).
 * - bytes each way per tick (SYNC_WRITE of the goals + SYNC_READ request out, six status packets
 *   in), and their wire time at 1 Mbps (10 bits a byte, plus each servo's 2 µs return delay);
 * - the exchange on the pty: from the request written to the last reply parsed, p50/p99; the
 *   highest control rate the bus supports keeping the exchange within half of the period;
 * - the tick's own I/O cost, read() + write() as the control worker calls them, p50/p99, beside an
 *   anchor in the same run: one bare non-blocking read of the tty (the syscall floor);
 * - young-generation bytes per tick of read() + write() (target 0);
 * - tick lateness of `embody run` with the bus on (--hal real on the pty) and off (--hal sim),
 *   same robot, same rate, same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse, stringify } from 'yaml';
import { BusStat, FeetechArmHardware, FeetechBus, SyncRead, TtySerialPort, byteMicros, FEEDBACK_ADDRESS, FEEDBACK_LENGTH } from '../src/hal/feetech/index.js';
import { robotFeetechArm } from '../src/hal/index.js';
import { createJointState } from '../src/hal/types.js';
import { loadRobotDescription } from '../src/runtime/config/robot.js';
import { createLogger } from '../src/runtime/logger.js';
import { runRobot } from '../src/runtime/run.js';
import { JointEnvelope, limitsFromJoints } from '../src/safety/index.js';
import { sleepMs } from '../src/hal/sleep.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));
const presetFile = join(root, 'robots/so101.yaml');
const modelScript = join(root, 'scripts/feetech-bus-model.py');

interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface FeetechBenchResult {
  readonly preset: string;
  readonly servos: number;
  readonly ticks: number;
  readonly txBytesPerTick: number;
  readonly rxBytesPerTick: number;
  /** Wire time of one tick's traffic at the bus's baud rate, µs. */
  readonly wireUs: number;
  /** Request written → last reply parsed, on the pty, µs. */
  readonly exchangeUs: Percentiles;
  /** Highest rate with the p99 exchange within half of the period, Hz (host jitter included). */
  readonly maxRateHz: number;
  /** The same from the p50 exchange: what the bus itself allows, Hz. */
  readonly maxRateP50Hz: number;
  /** read() + write() as the worker calls them, µs. */
  readonly tickIoUs: Percentiles;
  /** One bare non-blocking read() of the tty, µs (the syscall floor). */
  readonly anchorReadUs: Percentiles;
  /** Young-generation bytes per tick, least over rounds with no late tick (NaN: every round had one). */
  readonly heapBytesPerTick: number;
  /** Share of paced ticks whose replies were not all in when the tick began. */
  readonly lateTickShare: number;
  readonly lateness: { readonly rateHz: number; readonly seconds: number; readonly busOn: Percentiles & { missed: number; hardwareErrors: number }; readonly busOff: Percentiles & { missed: number } };
}

function percentiles(samples: Float64Array): Percentiles {
  const s = Float64Array.from(samples).sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

function youngBytes(): number {
  let sum = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') sum += space.space_used_size;
  return sum;
}

async function startModel(ids: readonly number[]): Promise<{ port: string; child: ChildProcess }> {
  const child = spawn('chrt', ['-f', '30', '/usr/bin/python3', modelScript, '--ids', ids.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  const first = await new Promise<string>((resolvePort, reject) => {
    lines.once('line', resolvePort);
    child.once('exit', (code) => reject(new Error(`bus model exited (${code}); it needs /usr/bin/python3 and chrt (root)`)));
  });
  return { port: (JSON.parse(first) as { port: string }).port, child };
}

function stopModel(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/** robots/so101.yaml at `rateHz` on `port` (or as written), its manifest path made absolute. */
function so101Copy(directory: string, name: string, rateHz: number, port?: string): string {
  const doc = parse(readFileSync(presetFile, 'utf8')) as { control: { rate_hz: number }; feetech: { serial: { port: string } }; policy: { manifest: string } };
  doc.control.rate_hz = rateHz;
  if (port !== undefined) doc.feetech.serial.port = port;
  doc.policy.manifest = resolve(dirname(presetFile), doc.policy.manifest);
  const file = join(directory, `${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** The driver in a paced loop at the preset's rate: exchange, tick I/O, bytes, heap. */
function measureDriver(port: string, ticks: number): Omit<FeetechBenchResult, 'lateness' | 'preset'> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const robot = loadRobotDescription(presetFile);
  const config = robotFeetechArm(robot);
  if (config === undefined) throw new Error(`${presetFile}: no feetech section`);
  // The bench measures, it does not judge: a late reply (this shared host's tty kernel worker can be
  // tens of ms late) is counted in lateTickShare instead of faulting the run.
  const arm = { ...config, serial: { ...config.serial, port }, max_missed_ticks: 1_000_000, max_error_fraction: 1 };
  const dt = 1 / robot.control.rate_hz;
  const hardware = new FeetechArmHardware(arm, { periodSeconds: dt, readerPriority: Math.max(0, robot.control.realtime_priority - 1) });
  hardware.open();
  const n = hardware.jointCount;
  const state = createJointState(n);
  hardware.read(state);
  const envelope = new JointEnvelope(limitsFromJoints(robot.joints), dt);
  envelope.seed(state.position);
  const target = Float64Array.from(state.position);
  envelope.track(target);
  const command = envelope.command;
  const bus = hardware.bus as FeetechBus;
  const io = new Float64Array(ticks);
  for (let t = 0; t < ticks + 200; t++) {
    const start = performance.now();
    hardware.read(state);
    hardware.write(command);
    if (t >= 200) io[t - 200] = (performance.now() - start) * 1000;
    sleepMs(dt * 1000);
  }
  const tx0 = bus.stats[BusStat.TX_BYTES];
  const rx0 = bus.stats[BusStat.RX_BYTES];
  const late0 = bus.stats[BusStat.LATE_TICKS];
  const heapTicks = 500;
  // Heap per healthy tick: the least over rounds in which no tick took the slow path (a late
  // reply's wait allocates, e.g. performance.now() boxes its result on Node 20).
  let heapBytesPerTick = Number.NaN;
  let lateTicks = 0;
  for (let round = 0; round < 5; round++) {
    const lateBefore = bus.stats[BusStat.LATE_TICKS];
    gc();
    const before = youngBytes();
    for (let t = 0; t < heapTicks; t++) {
      hardware.read(state);
      hardware.write(command);
      sleepMs(10);
    }
    const bytes = Math.max(0, (youngBytes() - before) / heapTicks);
    if (bus.stats[BusStat.LATE_TICKS] === lateBefore && !(bytes >= heapBytesPerTick)) heapBytesPerTick = bytes;
  }
  lateTicks = bus.stats[BusStat.LATE_TICKS] - late0;
  const txBytesPerTick = (bus.stats[BusStat.TX_BYTES] - tx0) / (5 * heapTicks);
  const rxBytesPerTick = (bus.stats[BusStat.RX_BYTES] - rx0) / (5 * heapTicks);
  hardware.close();

  // The exchange alone, on a bus of its own: request → every reply parsed (spinning, to see it).
  const link = new TtySerialPort(port, { baudRate: config.serial.baud_rate });
  const raw = new FeetechBus(link, config.serial.baud_rate);
  const read = new SyncRead(config.joints.map((j) => j.id), FEEDBACK_ADDRESS, FEEDBACK_LENGTH);
  const exchange = new Float64Array(ticks);
  const anchor = new Float64Array(ticks);
  const scratch = new Uint8Array(256);
  for (let t = 0; t < ticks; t++) {
    read.reset();
    const start = performance.now();
    raw.requestSyncRead(read);
    raw.flush();
    while (raw.pollSyncRead(read) > 0 && performance.now() - start < 50);
    exchange[t] = (performance.now() - start) * 1000;
    const a = performance.now();
    link.read(scratch, 0, scratch.length);
    anchor[t] = (performance.now() - a) * 1000;
    sleepMs(2);
  }
  link.close();
  const exchangeUs = percentiles(exchange);
  return {
    servos: n,
    ticks,
    txBytesPerTick,
    rxBytesPerTick,
    wireUs: (txBytesPerTick + rxBytesPerTick) * byteMicros(config.serial.baud_rate) + n * (config.return_delay_us + 2),
    exchangeUs,
    maxRateHz: Math.floor(0.5e6 / exchangeUs.p99),
    maxRateP50Hz: Math.floor(0.5e6 / exchangeUs.p50),
    tickIoUs: percentiles(io),
    anchorReadUs: percentiles(anchor),
    heapBytesPerTick,
    lateTickShare: lateTicks / (5 * heapTicks),
  };
}

export async function benchFeetech(options: { seconds?: number } = {}): Promise<FeetechBenchResult> {
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-feetech-'));
  const robot = loadRobotDescription(presetFile);
  const ids = robot.joints.map((j) => (j.driver.kind === 'feetech' ? j.driver.id : 0));
  const { port, child } = await startModel(ids);
  try {
    const driver = measureDriver(port, 2000);
    const rateHz = robot.control.rate_hz;
    const seconds = options.seconds ?? 10;
    const log = createLogger({ level: 'warn', pretty: false });
    const on = await runRobot({ robotFile: so101Copy(directory, 'bus-on', rateHz, port), durationS: seconds, broker: 'none', stateDir: directory, autoArm: true, hardware: { kind: 'real' }, log });
    const off = await runRobot({ robotFile: so101Copy(directory, 'bus-off', rateHz), durationS: seconds, broker: 'none', stateDir: directory, autoArm: true, hardware: { kind: 'sim' }, log });
    const late = (r: typeof on): Percentiles => ({ p50: r.tick_lateness_us.p50, p99: r.tick_lateness_us.p99, max: r.tick_lateness_us.max });
    return {
      preset: `${robot.robot_id} (robots/so101.yaml: ${ids.length} STS3215 at ${robot.feetech?.serial.baud_rate} baud, ${rateHz} Hz)`,
      ...driver,
      lateness: { rateHz, seconds, busOn: { ...late(on), missed: on.missed_ticks, hardwareErrors: on.hardware_errors }, busOff: { ...late(off), missed: off.missed_ticks } },
    };
  } finally {
    await stopModel(child);
  }
}

export function formatFeetech(r: FeetechBenchResult): string {
  const f = (p: Percentiles, digits = 0): string => `p50 ${p.p50.toFixed(digits)} µs, p99 ${p.p99.toFixed(digits)} µs`;
  return (
    `feetech: ${r.preset}: ${r.txBytesPerTick.toFixed(0)} bytes out + ${r.rxBytesPerTick.toFixed(0)} in per tick = ${(r.wireUs / 1000).toFixed(2)} ms at 1 Mbps; ` +
    `exchange on the pty ${f(r.exchangeUs)} -> with the exchange in half the period the bus supports ${r.maxRateP50Hz} Hz at p50, ${r.maxRateHz} Hz at p99 (LeRobot: 30 Hz; target >= 100); ` +
    `tick I/O read+write ${f(r.tickIoUs, 1)} (anchor: one bare tty read ${f(r.anchorReadUs, 1)}); ${r.heapBytesPerTick.toFixed(2)} heap bytes per healthy tick; ${(100 * r.lateTickShare).toFixed(2)}% of ticks found replies missing (slow path)\n` +
    `feetech: tick lateness at ${r.lateness.rateHz} Hz over ${r.lateness.seconds} s: bus on ${f(r.lateness.busOn)}, max ${r.lateness.busOn.max.toFixed(0)} µs, ${r.lateness.busOn.missed} missed, ${r.lateness.busOn.hardwareErrors} hardware errors; ` +
    `bus off (--hal sim) ${f(r.lateness.busOff)}, max ${r.lateness.busOff.max.toFixed(0)} µs, ${r.lateness.busOff.missed} missed\n`
  );
}
