/**
 * The `sim` target: a scenario runs against the production control loop, envelope and the same
 * main-thread Pipeline as `embody run` (touch, observation, policy runner, chunk hand-over,
 * operator commands, event naming), in one thread on a virtual clock. Only the control port
 * (VirtualControl: the loop ticked in this thread instead of a worker) and the policy's link
 * (VirtualPolicy: latency and faults on the virtual clock) differ. Virtual time makes a run a pure
 * function of the scenario and its seed (same seed, same trace, bit for bit), and lets 20
 * scenarios run in seconds. What virtual time cannot show (scheduling latency, a main thread
 * starved of CPU) belongs to the real-clock runs: `npm run bench -- loop` and the rig target.
 */
import { hardwareWorldSize, openRobotHardware, robotForHal, type RobotHardware } from '../hal/index.js';
import type { RobotDescription } from '../robot/index.js';
import { JointFaultInjector } from '../hal/inject/index.js';
import { allocateShared, ControlLoop, Ctrl, loadConfig, Pipeline, PolicyRunner, viewShared, VirtualControl } from '../runtime/index.js';
import { applyChipFault, chipsOfStimuli } from './chips.js';
import type { LoadedScenario, Stimulus } from './scenario.js';
import { SimRun, type SimParts } from './sim-run.js';
import { VirtualPolicy } from './virtual-policy.js';

/** Watchdog period asked about on the virtual clock (systemd pets at a quarter of WatchdogSec). */
export const WATCHDOG_PERIOD_MS = 500;

export interface HilEvent {
  readonly tick: number;
  readonly kind: string;
  readonly joint?: string;
  readonly detail?: string;
  /** What the runtime's events topic says (hardware_error: the error text naming the chip, bus and address). */
  readonly message?: string;
}

export interface TargetRun {
  readonly robot: RobotDescription;
  readonly rateHz: number;
  readonly ticks: number;
  readonly modes: Uint8Array;
  readonly commands: Float64Array;
  /** True joint positions (the plant's, or a rig's own sensors), per tick per joint. */
  readonly positions: Float64Array;
  readonly powered: Uint8Array;
  /** 1 where the loop served the tick, 0 where it was stalled (held off the CPU, hung, skipping deadlines); absent: all served. */
  readonly served?: Uint8Array;
  /** Per tick, after the tick's write: the actuator outputs, Outputs bits (0 = disabled). */
  readonly outputs: Uint8Array;
  /** First tick the loop had reported READY (-1: never, e.g. the hardware did not open). */
  readonly readyTick: number;
  readonly events: readonly HilEvent[];
  /** Tick at which each stimulus with an id was applied. */
  readonly stimulusTicks: ReadonlyMap<string, number>;
  /** First tick with true grip force in the plant, and first with the touch estimate in contact (-1: never). */
  readonly truthContactTick: number;
  readonly detectedContactTick: number;
  readonly watchdog: readonly { readonly tick: number; readonly petted: boolean }[];
  readonly task: Readonly<Record<string, number | boolean>>;
  /** sha256 over modes, commands and positions: equal digests, equal runs. */
  readonly digest: string;
}

export async function runOnSim(loaded: LoadedScenario, options: { seed?: number } = {}): Promise<TargetRun> {
  const parts = await openSim(loaded, options.seed ?? loaded.scenario.seed);
  const run = new SimRun(loaded, parts);
  await run.execute();
  return run.result();
}

/** Load the scenario's robot and policy, open the (simulated or emulated) hardware, build the loop and the pipeline. */
async function openSim(loaded: LoadedScenario, seed: number): Promise<SimParts> {
  const { scenario } = loaded;
  const hal = scenario.hal;
  // Inline: the HIL steps a virtual clock and awaits each inference, so there is nothing to protect.
  const config = await loadConfig(loaded.robotFile, { policyHost: 'inline', ...(loaded.policyFile ? { policyOverride: loaded.policyFile } : {}) });
  const { manifest } = config;
  const seeded: RobotDescription = config.robot.sim ? { ...config.robot, sim: { ...config.robot.sim, seed } } : config.robot;
  // Cameras render the simulated world on either HAL, as `embody run --hal emulated` does.
  const robot = robotForHal(seeded, hal);
  const rate = robot.control.rate_hz;
  const runner = new PolicyRunner(config.session, manifest, robot);
  const layout = { jointCount: robot.joints.length, horizon: manifest.output.horizon, actionDim: manifest.output.joints.length, worldSize: hardwareWorldSize(robot, { kind: hal }) };
  const shared = viewShared(layout, allocateShared(layout));
  const control = shared.control;
  let hardware: RobotHardware;
  try {
    hardware = openRobotHardware(robot, { kind: hal, seed }, { cells: control, estop: Ctrl.SIM_ESTOP_LINE, brake: Ctrl.SIM_BRAKE_LINE, pushJoint: Ctrl.SIM_PUSH_JOINT, pushMicro: Ctrl.SIM_PUSH_MICRO });
  } catch (error) {
    throw new Error(`${loaded.file}: hal ${hal} cannot run ${loaded.robotFile}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const plant = hardware.plant;
  if (!plant) throw new Error(`${loaded.robotFile}: the sim target needs a simulated robot`);
  const chips = chipsOfStimuli(loaded, robot, hardware.devices);
  const joints = new JointFaultInjector(hardware.joints, robot.joints.map((j) => j.name));
  // Stimuli due at tick 0 act before the hardware opens: a chip that is wrong at power-up.
  const atPowerUp = new Set<Stimulus>();
  for (const s of scenario.stimuli) {
    if (Math.round((s.at_ms * rate) / 1000) > 0 || s.do !== 'i2c_fault') continue;
    applyChipFault(chips.get(s), s.fault, s.count);
    atPowerUp.add(s);
  }
  // A driver that cannot open ends the run as it ends `embody run`: the control worker exits
  // before its first tick, READY never comes, and the error names the chip.
  try {
    joints.open();
  } catch (error) {
    const openFailure = error instanceof Error ? error.message : String(error);
    return { robot, shared, plant, devices: hardware.devices, joints, chips, atPowerUp, openFailure };
  }
  const loop = new ControlLoop({
    robot,
    hardware: { ...hardware, joints },
    shared,
    outputJoints: runner.outputJoints,
    ticksPerAction: rate / manifest.rate_hz,
    blendSteps: manifest.blend_steps,
    replanAfter: manifest.replan_after,
    autoArm: scenario.arm === 'auto',
  });
  const periodMs = 1000 / rate;
  let step = 0;
  const clock = { nowMs: () => step * periodMs };
  const virtual = new VirtualControl(shared, loop, clock.nowMs);
  const policy = new VirtualPolicy({ runner, robot, control: virtual, tick: () => step, latencyTicks: Math.round((scenario.policy_latency_ms * rate) / 1000) });
  const pipeline = new Pipeline({ robot, control: virtual, policy, clock });
  return { robot, shared, plant, devices: hardware.devices, joints, chips, atPowerUp, live: { virtual, policy, pipeline, setStep: (k) => (step = k) } };
}
