/**
 * `npm run bench -- hal`: one full control tick of the pi-servo-arm preset's I/O (6 AS5600 behind a
 * TCA9548A, ADS1115 with two fingertips, INA219, one PCA9685 block write) on the emulated bus, as
 * ServoArmHardware.read() + write() do it in the control worker:
 * - p50/p99/max µs of read + write (the servo model's physics step and the envelope run outside
 *   the timed region: they are not I/O), beside an anchor in the same run: the same number of
 *   bare emulated-bus transactions, so the drivers' own cost shows as the difference;
 * - transactions and wire bytes per tick (address bytes included), and the time a real 400 kHz bus
 *   needs for them (bytes × 9 bits / 400 kHz) against 40% of a 100 Hz period (4 ms);
 * - young-generation bytes per tick (target: zero), the least over five rounds.
 * On real hardware the bus time dominates: the emulated tick measures the drivers' CPU cost only.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { busSeconds, I2cStat } from '../src/hal/bus/index.js';
import { fileURLToPath } from 'node:url';
import { robotServoArm } from '../src/hal/index.js';
import { EmulatedServoArmHardware } from '../src/hal/sim/devices/index.js';
import { loadRobotDescription } from '../src/runtime/config/robot.js';
import { createJointState } from '../src/hal/types.js';
import { JointEnvelope, limitsFromJoints } from '../src/safety/index.js';

/** The preset the numbers are for: its own robot.yaml, as `embody run` loads it. */
const presetFile = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../robots/pi-servo-arm.yaml' : '../../robots/pi-servo-arm.yaml', import.meta.url));
const BUS_HZ = 400_000;
const BUDGET = 0.4;

export interface HalBenchResult {
  readonly preset: string;
  readonly joints: number;
  readonly ticks: number;
  readonly tickUs: { p50: number; p99: number; max: number };
  /** The same number of bare emulated transactions (a 3-byte block read each), timed the same way. */
  readonly anchorUs: { p50: number; p99: number };
  readonly transactionsPerTick: number;
  readonly bytesPerTick: number;
  /** bytes × 9 / 400 kHz, ms. */
  readonly busMs400k: number;
  /** 40% of the 100 Hz period, ms. */
  readonly budgetMs: number;
  readonly busShareOfPeriod: number;
  readonly heapBytesPerTick: { steady: number; worstRound: number };
  readonly met: boolean;
}

/** Bytes in the young generation, where every short-lived object a tick could make lands. */
function youngBytes(): number {
  let sum = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') sum += space.space_used_size;
  return sum;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function benchHal(ticks = 20_000): HalBenchResult {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const robot = loadRobotDescription(presetFile);
  const config = robotServoArm(robot);
  if (config === undefined) throw new Error(`${presetFile}: no servo_arm section`);
  const dt = 1 / robot.control.rate_hz;
  const arm = new EmulatedServoArmHardware(config, { periodSeconds: dt });
  const hardware = arm.hardware;
  const model = arm.model;
  const n = hardware.jointCount;
  hardware.open();
  const state = createJointState(n);
  hardware.read(state);
  const envelope = new JointEnvelope(limitsFromJoints(robot.joints), dt);
  envelope.seed(state.position);
  // A smooth sweep of every joint, from a table so the bench makes no garbage of its own.
  const table = new Float64Array(4096 * n);
  const lower = robot.joints.map((j) => j.limits.position[0]);
  const upper = robot.joints.map((j) => j.limits.position[1]);
  for (let k = 0; k < 4096; k++) {
    for (let i = 0; i < n; i++) table[k * n + i] = (lower[i] + upper[i]) / 2 + 0.3 * (upper[i] - lower[i]) * Math.sin((2 * Math.PI * k) / 4096 + i);
  }
  const target = new Float64Array(n);
  const command = envelope.command;
  const prepare = (t: number): void => {
    const base = (t & 4095) * n;
    for (let i = 0; i < n; i++) target[i] = table[base + i];
    envelope.track(target);
  };

  // Warm up every path, then time.
  for (let t = 0; t < 5000; t++) {
    prepare(t);
    hardware.read(state);
    hardware.write(command);
    model.step();
  }
  const buses = [...model.buses.values()];
  const count = (slot: number): number => buses.reduce((sum, bus) => sum + bus.stats[slot], 0);
  const transactions0 = count(I2cStat.TRANSACTIONS);
  const bytes0 = count(I2cStat.BYTES);
  const samples = new Float64Array(ticks);
  for (let t = 0; t < ticks; t++) {
    prepare(t);
    const start = performance.now();
    hardware.read(state);
    hardware.write(command);
    samples[t] = (performance.now() - start) * 1000;
    model.step();
  }
  const transactionsPerTick = (count(I2cStat.TRANSACTIONS) - transactions0) / ticks;
  const bytesPerTick = (count(I2cStat.BYTES) - bytes0) / ticks;
  samples.sort();

  // Anchor: as many bare bus transactions as a tick makes.
  const bus = model.bus(config.bus);
  const block = Buffer.alloc(3);
  const perTick = Math.round(transactionsPerTick);
  const pca = config.pca9685.address;
  const anchor = new Float64Array(ticks);
  for (let t = 0; t < ticks + 5000; t++) {
    const start = performance.now();
    for (let k = 0; k < perTick; k++) bus.readBlock(pca, 0x06, 3, block);
    if (t >= 5000) anchor[t - 5000] = (performance.now() - start) * 1000;
  }
  anchor.sort();

  // Heap per tick (read + write + the model's step; the envelope holds one command), counted in
  // the young generation: after each gc() V8 re-optimizes this loop (on-stack replacement), and
  // the ~200 KB of code and deoptimization data that makes per round is not tick garbage.
  const rounds = 5;
  const perRound = Math.max(10_000, 5 * ticks);
  let steady = Infinity;
  let worstRound = 0;
  for (let round = 0; round < rounds; round++) {
    gc();
    const before = youngBytes();
    for (let t = 0; t < perRound; t++) {
      hardware.read(state);
      hardware.write(command);
      model.step();
    }
    const bytes = Math.max(0, (youngBytes() - before) / perRound);
    steady = Math.min(steady, bytes);
    worstRound = Math.max(worstRound, bytes);
  }
  hardware.close();

  const busMs400k = busSeconds(bytesPerTick, BUS_HZ) * 1000;
  const budgetMs = BUDGET * 1000 * dt;
  return {
    preset: `${robot.robot_id} (robots/pi-servo-arm.yaml: ${n} servos, ${config.joints.filter((j) => j.encoder).length} AS5600${config.mux ? ' via TCA9548A' : ''}, ADS1115 × ${config.fsr?.fingertips.length ?? 0} FSR, ${config.power ? 'INA219' : 'no INA219'})`,
    joints: n,
    ticks,
    tickUs: { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), max: samples[samples.length - 1] },
    anchorUs: { p50: percentile(anchor, 0.5), p99: percentile(anchor, 0.99) },
    transactionsPerTick,
    bytesPerTick,
    busMs400k,
    budgetMs,
    busShareOfPeriod: busMs400k / (1000 * dt),
    heapBytesPerTick: { steady, worstRound },
    met: busMs400k <= budgetMs && steady < 0.1,
  };
}

/** The one-line summary `embody bench hal` prints. */
export function formatHal(r: HalBenchResult): string {
  return (
    `hal: ${r.preset}: read+write p50 ${r.tickUs.p50.toFixed(1)} µs, p99 ${r.tickUs.p99.toFixed(1)} µs, max ${r.tickUs.max.toFixed(0)} µs ` +
    `(anchor: ${Math.round(r.transactionsPerTick)} bare emulated transactions p99 ${r.anchorUs.p99.toFixed(1)} µs); ` +
    `${r.transactionsPerTick.toFixed(1)} transactions, ${r.bytesPerTick.toFixed(0)} bytes per tick -> ${r.busMs400k.toFixed(2)} ms on a 400 kHz bus ` +
    `(${(100 * r.busShareOfPeriod).toFixed(1)}% of a 10 ms period; budget ${r.budgetMs.toFixed(1)} ms = 40%); ` +
    `${r.heapBytesPerTick.steady.toFixed(3)} heap bytes/tick -> ${r.met ? 'met' : 'NOT met'}\n`
  );
}
