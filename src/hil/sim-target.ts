/**
 * The `sim` target: a scenario runs against the production control loop, envelope, policy
 * runner, observation builder, sim camera and touch estimator, in one thread on a virtual
 * clock. Virtual time makes a run a pure function of the scenario and its seed (same seed,
 * same trace, bit for bit), and lets 20 scenarios run in seconds. What virtual time cannot
 * show (scheduling latency, a main thread starved of CPU) belongs to the real-clock runs:
 * `npm run bench -- loop` and the rig target.
 *
 * Each tick: apply the stimuli due, run ControlLoop.tick() with a synthetic clock reading,
 * record mode, commands, positions and events, render camera frames at their rate (through
 * the camera fault injector), answer chunk requests with the real policy after
 * `policy_latency_ms` (through the policy faults), and ask the watchdog question every period.
 */
import { createHash } from 'node:crypto';
import { createSimCameraRenderer } from '../hal/camera/index.js';
import { hardwareWorldSize, openRobotHardware, robotForHal, robotServoArm, type RobotHardware } from '../hal/index.js';
import type { RobotDescription } from '../robot/index.js';
import type { ServoArmModel } from '../hal/sim/devices/servo-arm-model.js';
import type { DeviceModel } from '../hal/sim/devices/model.js';
import { CameraFault, CameraFaultInjector, JointFault, JointFaultInjector } from '../hal/inject/index.js';
import { createRandom, worldTask } from '../hal/sim/index.js';
import type { I2C_FAULTS, LoadedScenario, Stimulus } from './scenario.js';
import { describeEvent, TouchStage } from '../runtime/index.js';
import { loadConfig, ConfigError, displayFile, type ConfigProblem, ControlLoop, ClockTime, type ClockReading, EventRingReader, PolicyRunner, allocateShared, CHUNK_HEADER, Counter, Ctrl, EventKind, Mode, OperatorCommand, readFaultText, SNAPSHOT_HEADER, snapshotWorldOffset, TRACE_CAPACITY, traceRecordSize, viewShared, type ModeCode, LoopHealth } from '../runtime/index.js';

/** Watchdog period asked about on the virtual clock (systemd pets at half of WatchdogSec). */
export const WATCHDOG_PERIOD_MS = 500;
/** How long the runtime retries an observation with a missing input before giving up (run.ts). */
const GAP_RETRY_MS = 400;

export interface HilEvent {
  readonly tick: number;
  readonly kind: string;
  readonly joint?: string;
  readonly detail?: string;
  /** What the runtime's events topic says (hardware_error: the error text naming the chip, bus and address). */
  readonly message?: string;
}

/** Bits of TargetRun.outputs. */
export const Outputs = {
  /** The output-enable line asserted (emulated: the PCA9685 /OE cell; sim: drive power on). */
  ENABLED: 1,
  /** A servo gets pulses on some channel (emulated: PCA9685 model awake, a channel set to pulse, /OE asserted; sim: drive power on). */
  PULSING: 2,
} as const;

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

const PolicyFault = { NONE: 0, NAN: 1, OUT_OF_RANGE: 2, OSCILLATE: 3, SILENT: 4 } as const;

interface PendingChunk {
  dueTick: number;
  obsTick: number;
  count: number;
  values: Float64Array;
}

export async function runOnSim(loaded: LoadedScenario, options: { seed?: number } = {}): Promise<TargetRun> {
  const { scenario } = loaded;
  const seed = options.seed ?? scenario.seed;
  const hal = scenario.hal;
  // Inline: the HIL steps a virtual clock and awaits each inference, so there is nothing to protect.
  const config = await loadConfig(loaded.robotFile, { policyHost: 'inline', ...(loaded.policyFile ? { policyOverride: loaded.policyFile } : {}) });
  const { manifest } = config;
  const seeded: RobotDescription = config.robot.sim ? { ...config.robot, sim: { ...config.robot.sim, seed } } : config.robot;
  // Cameras render the simulated world on either HAL, as `embody run --hal emulated` does.
  const robot = robotForHal(seeded, hal);
  const rate = robot.control.rate_hz;
  const msToTicks = (ms: number): number => Math.round((ms * rate) / 1000);
  const n = robot.joints.length;
  const jointNames = robot.joints.map((j) => j.name);
  const runner = new PolicyRunner(config.session, manifest, robot);
  const layout = {
    jointCount: n,
    horizon: manifest.output.horizon,
    actionDim: manifest.output.joints.length,
    worldSize: hardwareWorldSize(robot, { kind: hal }),
  };
  const shared = viewShared(layout, allocateShared(layout));
  const control = shared.control;
  let hardware: RobotHardware;
  try {
    hardware = openRobotHardware(robot, { kind: hal, seed }, {
      cells: control,
      estop: Ctrl.SIM_ESTOP_LINE,
      brake: Ctrl.SIM_BRAKE_LINE,
      pushJoint: Ctrl.SIM_PUSH_JOINT,
      pushMicro: Ctrl.SIM_PUSH_MICRO,
    });
  } catch (error) {
    throw new Error(`${loaded.file}: hal ${hal} cannot run ${loaded.robotFile}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const plant = hardware.plant;
  if (!plant) throw new Error(`${loaded.robotFile}: the sim target needs a simulated robot`);
  const devices = hardware.devices;
  const chips = chipsOfStimuli(loaded, robot, devices);
  const joints = new JointFaultInjector(hardware.joints, jointNames);
  // Stimuli due at tick 0 act before the hardware opens: a chip that is wrong at power-up.
  const stimuli = [...scenario.stimuli].sort((a, b) => a.at_ms - b.at_ms);
  let nextStimulus = 0;
  const atPowerUp = new Set<Stimulus>();
  for (const s of stimuli) {
    if (msToTicks(s.at_ms) > 0) break;
    if (s.do !== 'i2c_fault') continue;
    applyChipFault(chips.get(s), s.fault, s.count);
    atPowerUp.add(s);
  }
  // A driver that cannot open ends the run as it ends `embody run`: the control worker exits
  // before its first tick, READY never comes, and the error names the chip.
  let openFailure: string | undefined;
  try {
    joints.open();
  } catch (error) {
    openFailure = error instanceof Error ? error.message : String(error);
  }
  const loop =
    openFailure === undefined
      ? new ControlLoop({
          robot,
          hardware: { ...hardware, joints },
          shared,
          outputJoints: runner.outputJoints,
          ticksPerAction: rate / manifest.rate_hz,
          blendSteps: manifest.blend_steps,
          replanAfter: manifest.replan_after,
          autoArm: scenario.arm === 'auto',
        })
      : undefined;
  const events = new EventRingReader(shared);

  // Cameras and their fault injectors; touch through the pipeline's TouchStage, as `embody run` has it.
  const touchStage = new TouchStage(robot, {
    get currentTick() {
      return snapshot[0];
    },
    publishTouch(force, frameTick, contact) {
      shared.counters[Counter.TOUCH_FORCE] = force;
      shared.counters[Counter.TOUCH_CONTACT] = contact ? 1 : 0;
      shared.counters[Counter.TOUCH_TICK] = frameTick;
    },
  });
  const frames = touchStage.frames;
  const touch = touchStage.state;
  const cameras = robot.cameras.map((camera) => {
    return {
      camera,
      renderer: createSimCameraRenderer(camera, robot, seed),
      faults: new CameraFaultInjector(createRandom(seed * 31 + camera.name.length)),
      periodTicks: Math.max(1, Math.round(rate / camera.fps)),
    };
  });

  const totalTicks = msToTicks(scenario.duration_ms);
  const modes = new Uint8Array(totalTicks);
  const commands = new Float64Array(totalTicks * n);
  const positions = new Float64Array(totalTicks * n);
  const powered = new Uint8Array(totalTicks);
  const served = new Uint8Array(totalTicks);
  const outputs = new Uint8Array(totalTicks);
  let readyTick = -1;
  const recorded: HilEvent[] = [];
  const stimulusTicks = new Map<string, number>();
  const watchdog: { tick: number; petted: boolean }[] = [];
  const health = new LoopHealth();

  let policyFault: number = PolicyFault.NONE;
  let extraLatencyTicks = 0;
  let instruction = '';
  let stalledUntil = -1;
  let skipTicks = 0;
  let stutter: { next: number; until: number; every: number; stall: number } | undefined;
  let clockTick = 0;
  let lastRequest = 0;
  let retryUntil = -1;
  let pending: PendingChunk | undefined;
  let chunkSeq = 0;
  let commandSeq = 0;
  let truthContactTick = -1;
  let detectedContactTick = -1;
  let oscillate = 0;
  /** The rail supply ramping to (and holding) a brown-out level, then back to `nominal`. */
  let brownout: { from: number; to: number; start: number; rampTicks: number; end: number; nominal: number } | undefined;

  const snapshot = new Float64Array(shared.snapshot.length);
  const traceSize = traceRecordSize(n);
  const reading: ClockReading = { tick: 0, missed: 0, time: new Float64Array(3) };
  const periodMs = 1000 / rate;
  const sink = {
    publishChunk(obsTick: number, values: Float64Array, count: number): void {
      const copy = values.slice(0, count * layout.actionDim);
      if (policyFault === PolicyFault.NAN) copy.fill(Number.NaN);
      else if (policyFault === PolicyFault.OUT_OF_RANGE) {
        for (let k = 0; k < copy.length; k++) copy[k] = k % 2 === 0 ? 50 : -50;
      } else if (policyFault === PolicyFault.OSCILLATE) {
        // Every action flips between the joints' limits: at one action per tick, a control-rate square wave.
        for (let k = 0; k < count; k++) {
          for (let d = 0; d < layout.actionDim; d++) {
            const [lo, hi] = robot.joints[runner.outputJoints[d]].limits.position;
            copy[k * layout.actionDim + d] = (k + oscillate) % 2 === 0 ? lo : hi;
          }
        }
        oscillate++;
      }
      pending = { dueTick: -1, obsTick, count, values: copy };
    },
  };
  const operator = (code: number): void => {
    commandSeq = Atomics.load(control, Ctrl.COMMAND_SEQ) + 1;
    Atomics.store(control, Ctrl.COMMAND_CODE, code);
    Atomics.store(control, Ctrl.COMMAND_SEQ, commandSeq);
  };
  const cameraFault = (s: Stimulus & { camera?: string }, fault: number, amount = 0): void => {
    for (const c of cameras) {
      if (s.camera !== undefined && c.camera.name !== s.camera) continue;
      c.faults.fault = fault as typeof c.faults.fault;
      c.faults.noise = amount;
      if (fault === CameraFault.DEAD) frames.delete(c.camera.name);
    }
  };
  const jointIndex = (name: string): number => {
    const i = jointNames.indexOf(name);
    if (i < 0) throw new Error(`${loaded.file}: no joint named '${name}' in ${loaded.robotFile}`);
    return i;
  };

  const apply = (s: Stimulus, k: number): void => {
    if (s.id !== undefined) stimulusTicks.set(s.id, k);
    recorded.push({ tick: k, kind: `stimulus:${s.do}` });
    switch (s.do) {
      case 'estop_press':
        Atomics.store(control, Ctrl.SIM_ESTOP_LINE, 1);
        break;
      case 'estop_release':
        Atomics.store(control, Ctrl.SIM_ESTOP_LINE, 0);
        break;
      case 'camera_stall':
        cameraFault(s, CameraFault.STALL);
        break;
      case 'camera_dead':
        cameraFault(s, CameraFault.DEAD);
        break;
      case 'camera_dark':
        cameraFault(s, CameraFault.DARK);
        break;
      case 'camera_saturated':
        cameraFault(s, CameraFault.SATURATED);
        break;
      case 'camera_noise':
        cameraFault(s, CameraFault.NOISE, s.amount ?? 20);
        break;
      case 'camera_ok':
        cameraFault(s, CameraFault.NONE);
        break;
      case 'joint_error':
        joints.inject(jointIndex(s.joint), JointFault.ERROR);
        break;
      case 'joint_freeze':
        joints.inject(jointIndex(s.joint), JointFault.FREEZE);
        break;
      case 'joint_jump':
        joints.inject(jointIndex(s.joint), JointFault.JUMP, s.amount ?? 0.2);
        break;
      case 'joint_ok':
        joints.inject(jointIndex(s.joint), JointFault.NONE);
        break;
      case 'policy_nan':
        policyFault = PolicyFault.NAN;
        break;
      case 'policy_out_of_range':
        policyFault = PolicyFault.OUT_OF_RANGE;
        break;
      case 'policy_oscillate':
        policyFault = PolicyFault.OSCILLATE;
        break;
      case 'policy_silent':
        policyFault = PolicyFault.SILENT;
        break;
      case 'policy_slow':
        extraLatencyTicks = msToTicks(s.latency_ms ?? 300);
        break;
      case 'policy_ok':
        policyFault = PolicyFault.NONE;
        extraLatencyTicks = 0;
        break;
      case 'object_slip':
        plant.slip();
        break;
      case 'push':
        Atomics.store(control, Ctrl.SIM_PUSH_JOINT, jointIndex(s.joint));
        Atomics.store(control, Ctrl.SIM_PUSH_MICRO, Math.round(s.amount * 1e6));
        break;
      case 'operator':
        operator(OperatorCommand[s.command.toUpperCase() as 'ARM' | 'DISARM' | 'STOP' | 'RESET' | 'ESTOP']);
        break;
      case 'instruction':
        instruction = s.text;
        recorded.push({ tick: k, kind: 'instruction', detail: s.text });
        break;
      case 'loop_stall':
        stalledUntil = k + msToTicks(s.duration_ms);
        break;
      case 'clock_skip':
        // Deadlines pass with no tick: the plant's time goes on, the loop's does not.
        stalledUntil = Math.max(stalledUntil, k + s.ticks);
        break;
      case 'clock_stutter':
        stutter = { next: k, until: k + msToTicks(s.duration_ms), every: Math.max(1, msToTicks(s.every_ms)), stall: msToTicks(s.stall_ms) };
        break;
      case 'i2c_fault':
        if (!atPowerUp.has(s)) applyChipFault(chips.get(s), s.fault, s.count);
        break;
      case 'brownout': {
        const supply = (devices as ServoArmModel).supplyVolts;
        brownout = {
          from: supply[0],
          to: s.volts,
          start: k,
          rampTicks: msToTicks(s.ramp_ms),
          end: s.duration_ms === undefined ? -1 : k + msToTicks(s.duration_ms),
          nominal: brownout?.nominal ?? supply[0],
        };
        break;
      }
    }
  };

  const sources = {
    snapshot,
    frame: (name: string) => frames.get(name),
    touch,
    get instruction() {
      return instruction;
    },
    nowMs: 0,
  };

  for (let k = 0; k < totalTicks; k++) {
    const nowMs = k * periodMs;
    while (nextStimulus < stimuli.length && msToTicks(stimuli[nextStimulus].at_ms) <= k) apply(stimuli[nextStimulus++], k);
    if (brownout !== undefined && devices !== undefined) {
      const b = brownout;
      const t = k - b.start;
      if (b.end >= 0 && k >= b.end) {
        devices.supplyVolts[0] = b.nominal;
        brownout = undefined;
      } else {
        devices.supplyVolts[0] = t < b.rampTicks ? b.from + ((b.to - b.from) * (t + 1)) / b.rampTicks : b.to;
      }
    }

    if (loop === undefined) {
      // The hardware never opened: no tick ran. Nothing is commanded; the arm stays where it is.
      modes[k] = Mode.BOOT;
      for (let i = 0; i < n; i++) {
        positions[k * n + i] = plant.position[i];
        commands[k * n + i] = Number.NaN;
      }
      outputs[k] = outputsNow(devices, 0);
      if (k === 0) recorded.push({ tick: 0, kind: 'hardware_error', detail: 'open', message: `control worker failed to start: ${openFailure ?? ''}` });
      continue;
    }

    if (stutter && k >= stutter.next && k < stutter.until) {
      stalledUntil = k + stutter.stall;
      stutter.next += stutter.every;
    }
    // A stalled loop serves no deadline; when it runs again the clock skips the ones it missed.
    if (k < stalledUntil) skipTicks++;
    else {
      const missed = skipTicks;
      skipTicks = 0;
      clockTick += missed;
      reading.tick = clockTick;
      reading.missed = missed;
      reading.time[ClockTime.DEADLINE_MS] = clockTick * periodMs;
      reading.time[ClockTime.NOW_MS] = clockTick * periodMs;
      reading.time[ClockTime.LATENESS_MS] = 0;
      loop.tick(reading);
      served[k] = 1;
      clockTick++;
    }

    snapshot.set(shared.snapshot);
    modes[k] = snapshot[2];
    const traceIndex = (Atomics.load(control, Ctrl.TRACE_WRITE) - 1 + TRACE_CAPACITY) % TRACE_CAPACITY;
    powered[k] = shared.trace[traceIndex * traceSize + 5];
    // Positions are the plant's true ones (what a rig's own sensors see), not what the loop
    // read: an injected sensor fault must not hide, or fake, real motion.
    for (let i = 0; i < n; i++) {
      positions[k * n + i] = plant.position[i];
      commands[k * n + i] = snapshot[SNAPSHOT_HEADER + 3 * n + i];
    }
    for (const e of events.drain()) {
      // Named as `embody run` names them (pipeline/events.ts).
      const named = describeEvent(e, jointNames, (seq) => readFaultText(shared, seq));
      recorded.push({
        tick: k,
        kind: named.kind,
        ...(named.joint !== undefined ? { joint: named.joint } : {}),
        ...(e.kind === EventKind.MODE_CHANGE ? { detail: `${e.from}->${e.to}` } : {}),
        ...(e.kind === EventKind.ESTOP || e.kind === EventKind.STALE_ACTIONS || e.kind === EventKind.DRIVE_POWER ? { detail: String(e.value) } : {}),
        message: named.message,
      });
    }
    outputs[k] = outputsNow(devices, powered[k]);
    if (readyTick < 0 && Atomics.load(control, Ctrl.READY) === 1) readyTick = k;

    // Cameras at their frame rate, from the world state this tick published.
    const world = snapshot.subarray(snapshotWorldOffset(n));
    for (const c of cameras) {
      if (k % c.periodTicks !== 0 || !c.faults.delivers) continue;
      c.renderer.world.set(world);
      const frame = c.renderer.render(nowMs);
      c.faults.apply(frame.data);
      touchStage.frame(c.camera.name, frame);
    }
    if (truthContactTick < 0 && plant.truth.gripForce > 0) truthContactTick = k;
    if (detectedContactTick < 0 && touchStage.inContact) detectedContactTick = k;

    // Chunk requests, answered by the real policy after the configured latency.
    const request = Atomics.load(control, Ctrl.CHUNK_REQUEST_SEQ);
    if (request !== lastRequest) {
      lastRequest = request;
      retryUntil = k + msToTicks(GAP_RETRY_MS);
    }
    if (retryUntil >= k && pending === undefined && policyFault !== PolicyFault.SILENT && k % 2 === 0) {
      sources.nowMs = nowMs;
      const result = await runner.infer(sources, sink);
      if (result.gap === undefined) {
        retryUntil = -1;
        if (pending !== undefined) (pending as PendingChunk).dueTick = k + msToTicks(scenario.policy_latency_ms) + extraLatencyTicks;
      }
    }
    if (pending !== undefined && pending.dueTick >= 0 && pending.dueTick <= k) {
      const chunk = shared.chunk;
      chunk[0] = pending.obsTick;
      chunk[1] = pending.count;
      chunk.set(pending.values, CHUNK_HEADER);
      Atomics.store(control, Ctrl.CHUNK_SEQ, ++chunkSeq);
      pending = undefined;
    }

    if (k > 0 && k % msToTicks(WATCHDOG_PERIOD_MS) === 0) {
      watchdog.push({ tick: k, petted: health.check(shared.counters[Counter.TICKS], shared.counters[Counter.MISSED_TICKS]) });
    }
  }
  loop?.close();
  if (loop === undefined) joints.close();

  const digest = createHash('sha256').update(modes).update(new Uint8Array(commands.buffer)).update(new Uint8Array(positions.buffer)).digest('hex');
  return {
    robot,
    rateHz: rate,
    ticks: totalTicks,
    modes,
    commands,
    positions,
    powered,
    served,
    outputs,
    readyTick,
    events: recorded,
    stimulusTicks,
    truthContactTick,
    detectedContactTick,
    watchdog,
    task: worldTask(snapshot.subarray(snapshotWorldOffset(n))),
    digest,
  };
}

/**
 * The actuator outputs now, as Outputs bits. Emulated: ENABLED is the /OE line as the driver left
 * it; PULSING is whether a servo would get pulses on some channel: the PCA9685 model awake, a
 * channel neither full OFF nor ON = OFF in its registers, and /OE asserted. Without an /OE line
 * there is no hard-off, and both bits are PULSING. Sim: drive power.
 */
function outputsNow(devices: ServoArmModel | undefined, powered: number): number {
  if (devices === undefined) return powered ? Outputs.ENABLED | Outputs.PULSING : 0;
  const line = devices.config.output_enable !== undefined;
  const enabled = !line || Atomics.load(devices.outputEnableCells, 0) === 1;
  let pulsing = false;
  const pca = devices.models.pca9685;
  if (enabled && pca.running) {
    const r = pca.registers;
    for (let c = 0; c < 16 && !pulsing; c++) {
      const base = 6 + 4 * c;
      if ((r[base + 3] & 0x10) !== 0) continue; // full OFF
      const on = ((r[base + 1] & 0x0f) << 8) | r[base];
      const off = ((r[base + 3] & 0x0f) << 8) | r[base + 2];
      pulsing = (r[base + 1] & 0x10) !== 0 || on !== off;
    }
  }
  if (!line) return pulsing ? Outputs.ENABLED | Outputs.PULSING : 0;
  return (enabled ? Outputs.ENABLED : 0) | (pulsing ? Outputs.PULSING : 0);
}

function applyChipFault(chip: DeviceModel | undefined, fault: (typeof I2C_FAULTS)[number], count: number | undefined): void {
  if (chip === undefined) throw new Error('i2c_fault on a chip that is not there (checked when the scenario starts)');
  if (fault === 'clear') chip.clear();
  else chip.inject(fault, count);
}

/**
 * The chip model each i2c_fault names, checked against the robot's servo_arm: an unknown chip is
 * refused with the scenario file and line, like any other scenario problem.
 */
function chipsOfStimuli(loaded: LoadedScenario, robot: RobotDescription, devices: ServoArmModel | undefined): Map<Stimulus, DeviceModel> {
  const chips = new Map<Stimulus, DeviceModel>();
  const problems: ConfigProblem[] = [];
  const arm = devices?.config ?? (robot.servo_arm === undefined ? undefined : robotServoArm(robot));
  const encoderJoints = arm?.joints.filter((j) => j.encoder !== undefined).map((j) => `encoder:${j.name}`) ?? [];
  const available = [
    ...(devices ? ['pca9685'] : []),
    ...(devices?.models.mux ? ['mux'] : []),
    ...(devices?.models.adc ? ['adc'] : []),
    ...(devices?.models.power ? ['power'] : []),
    ...encoderJoints,
  ];
  loaded.scenario.stimuli.forEach((s, i) => {
    if (s.do !== 'i2c_fault' && s.do !== 'brownout') return;
    const field = s.do === 'i2c_fault' ? 'device' : 'do';
    const where = ['stimuli', i, field];
    const line = loaded.lineOf?.(where);
    const fail = (message: string, fix: string): void => {
      problems.push({ file: loaded.file, path: `stimuli[${i}].${field}`, message, fix, ...(line === undefined ? {} : { line }) });
    };
    if (devices === undefined) {
      fail(`${s.do} needs the emulated chips, but the scenario runs on hal ${loaded.scenario.hal}`, 'add `hal: emulated` (on a robot with a servo_arm section)');
      return;
    }
    if (s.do === 'brownout') {
      if (!devices.models.power) fail(`${displayFile(loaded.robotFile)} has no INA219 on the servo rail (servo_arm.power): nothing sees a brown-out`, 'add servo_arm.power to the robot, or drop the stimulus');
      return;
    }
    const device = s.device;
    let chip: DeviceModel | undefined;
    if (device === 'pca9685') chip = devices.models.pca9685;
    else if (device === 'mux') chip = devices.models.mux;
    else if (device === 'adc') chip = devices.models.adc;
    else if (device === 'power') chip = devices.models.power;
    else {
      const joint = device.slice('encoder:'.length);
      const index = devices.config.joints.findIndex((j) => j.name === joint);
      chip = index >= 0 ? devices.models.encoders[index] : undefined;
    }
    if (chip === undefined) fail(`${displayFile(loaded.robotFile)} has no chip '${device}'`, `use one of: ${available.join(', ')}`);
    else chips.set(s, chip);
  });
  if (problems.length > 0) throw new ConfigError(problems, `scenario ${displayFile(loaded.file)} has problems`);
  return chips;
}

export type { ModeCode };
