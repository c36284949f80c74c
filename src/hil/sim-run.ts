/**
 * One scenario on the sim target, step by step on the virtual clock. Each step (one control
 * period): apply the stimuli due, tick the loop unless a stall holds it, record mode, commands,
 * true positions and outputs, name the loop's events through the pipeline, render the cameras
 * into the pipeline's touch stage, let the pipeline answer chunk requests through the
 * VirtualPolicy, and ask the watchdog question every WATCHDOG_PERIOD_MS.
 */
import { createHash } from 'node:crypto';
import { Subject, type Subscription } from 'rxjs';
import { createSimCameraRenderer } from '../hal/camera/index.js';
import { CameraFault, CameraFaultInjector, JointFault, type JointFaultInjector } from '../hal/inject/index.js';
import type { ServoArmModel } from '../hal/sim/devices/servo-arm-model.js';
import type { DeviceModel } from '../hal/sim/devices/model.js';
import { createRandom, worldTask, type SimPlant } from '../hal/sim/index.js';
import type { RobotDescription } from '../robot/index.js';
import { ClockTime, Counter, Ctrl, LoopHealth, Mode, SnapshotRecord, snapshotView, TRACE_CAPACITY, TraceRecord, type ClockReading, type Pipeline, type RuntimeEvent, type SharedViews, type VirtualControl } from '../runtime/index.js';
import { applyChipFault, outputsNow } from './chips.js';
import type { LoadedScenario, Stimulus } from './scenario.js';
import { WATCHDOG_PERIOD_MS, type HilEvent, type TargetRun } from './sim-target.js';
import { PolicyFault, type VirtualPolicy } from './virtual-policy.js';

/** What openSim built: always the robot and its hardware; `live` unless the hardware failed to open. */
export interface SimParts {
  readonly robot: RobotDescription;
  readonly shared: SharedViews;
  readonly plant: SimPlant;
  readonly devices: ServoArmModel | undefined;
  readonly joints: JointFaultInjector;
  readonly chips: ReadonlyMap<Stimulus, DeviceModel>;
  readonly atPowerUp: ReadonlySet<Stimulus>;
  readonly openFailure?: string;
  readonly live?: { readonly virtual: VirtualControl; readonly policy: VirtualPolicy; readonly pipeline: Pipeline; setStep(k: number): void };
}

interface SimCamera {
  readonly name: string;
  readonly renderer: ReturnType<typeof createSimCameraRenderer>;
  readonly faults: CameraFaultInjector;
  readonly periodTicks: number;
}

/** The rail supply ramping to (and holding) a brown-out level, then back to `nominal`. */
interface Brownout {
  readonly from: number;
  readonly to: number;
  readonly start: number;
  readonly rampTicks: number;
  readonly end: number;
  readonly nominal: number;
}

export class SimRun {
  readonly #loaded: LoadedScenario;
  readonly #parts: SimParts;
  readonly #robot: RobotDescription;
  readonly #n: number;
  readonly #rate: number;
  readonly #periodMs: number;
  readonly #totalTicks: number;
  readonly #cameras: SimCamera[];
  readonly #snapshot;
  readonly #retry$ = new Subject<void>();
  readonly #drain$ = new Subject<void>();
  readonly #health = new LoopHealth();
  readonly #reading: ClockReading = { tick: 0, missed: 0, time: new Float64Array(3) };
  // What the run records.
  readonly #modes: Uint8Array;
  readonly #commands: Float64Array;
  readonly #positions: Float64Array;
  readonly #powered: Uint8Array;
  readonly #served: Uint8Array;
  readonly #outputs: Uint8Array;
  readonly #events: HilEvent[] = [];
  readonly #stimulusTicks = new Map<string, number>();
  readonly #watchdog: { tick: number; petted: boolean }[] = [];
  #readyTick = -1;
  #truthContactTick = -1;
  #detectedContactTick = -1;
  // The step and the stall model: deadlines that pass with no tick.
  #k = 0;
  #clockTick = 0;
  #stalledUntil = -1;
  #skipTicks = 0;
  #stutter: { next: number; until: number; every: number; stall: number } | undefined;
  #brownout: Brownout | undefined;

  constructor(loaded: LoadedScenario, parts: SimParts) {
    this.#loaded = loaded;
    this.#parts = parts;
    const robot = parts.robot;
    this.#robot = robot;
    this.#n = robot.joints.length;
    this.#rate = robot.control.rate_hz;
    this.#periodMs = 1000 / this.#rate;
    this.#totalTicks = this.#ticks(loaded.scenario.duration_ms);
    const total = this.#totalTicks;
    this.#modes = new Uint8Array(total);
    this.#commands = new Float64Array(total * this.#n);
    this.#positions = new Float64Array(total * this.#n);
    this.#powered = new Uint8Array(total);
    this.#served = new Uint8Array(total);
    this.#outputs = new Uint8Array(total);
    this.#snapshot = snapshotView(new Float64Array(parts.shared.snapshot.length), this.#n);
    const seed = robot.sim?.seed ?? loaded.scenario.seed;
    this.#cameras = robot.cameras.map((camera) => ({
      name: camera.name,
      renderer: createSimCameraRenderer(camera, robot, seed),
      faults: new CameraFaultInjector(createRandom(seed * 31 + camera.name.length)),
      periodTicks: Math.max(1, Math.round(this.#rate / camera.fps)),
    }));
  }

  async execute(): Promise<void> {
    const live = this.#parts.live;
    const wiring = live ? this.#connect(live) : undefined;
    const stimuli = [...this.#loaded.scenario.stimuli].sort((a, b) => a.at_ms - b.at_ms);
    let next = 0;
    for (let k = 0; k < this.#totalTicks; k++) {
      this.#k = k;
      live?.setStep(k);
      while (next < stimuli.length && this.#ticks(stimuli[next].at_ms) <= k) this.#apply(stimuli[next++], k);
      this.#brownoutStep(k);
      if (live === undefined) this.#recordUnopened(k);
      else await this.#step(k, live);
    }
    if (live) {
      live.pipeline.close();
      wiring?.unsubscribe();
      live.virtual.close();
    } else {
      this.#parts.joints.close();
    }
  }

  result(): TargetRun {
    const digest = createHash('sha256').update(this.#modes).update(new Uint8Array(this.#commands.buffer)).update(new Uint8Array(this.#positions.buffer)).digest('hex');
    return {
      robot: this.#robot,
      rateHz: this.#rate,
      ticks: this.#totalTicks,
      modes: this.#modes,
      commands: this.#commands,
      positions: this.#positions,
      powered: this.#powered,
      served: this.#served,
      outputs: this.#outputs,
      readyTick: this.#readyTick,
      events: this.#events,
      stimulusTicks: this.#stimulusTicks,
      truthContactTick: this.#truthContactTick,
      detectedContactTick: this.#detectedContactTick,
      watchdog: this.#watchdog,
      task: worldTask(this.#snapshot.world),
      digest,
    };
  }

  #ticks(ms: number): number {
    return Math.round((ms * this.#rate) / 1000);
  }

  #connect(live: NonNullable<SimParts['live']>): Subscription {
    const wiring = live.pipeline.connect({ retry$: this.#retry$, drain$: this.#drain$ });
    wiring.add(live.pipeline.events$.subscribe((event) => this.#events.push(hilEvent(event, this.#k))));
    return wiring;
  }

  async #step(k: number, live: NonNullable<SimParts['live']>): Promise<void> {
    const { shared, plant } = this.#parts;
    const ticked = this.#tickUnlessStalled(k, live.virtual);
    this.#served[k] = ticked ? 1 : 0;
    const snapshot = this.#snapshot;
    snapshot.buffer.set(shared.snapshot);
    this.#modes[k] = snapshot.buffer[SnapshotRecord.header.mode];
    const traceIndex = (Atomics.load(shared.control, Ctrl.TRACE_WRITE) - 1 + TRACE_CAPACITY) % TRACE_CAPACITY;
    this.#powered[k] = shared.trace[traceIndex * TraceRecord.size(this.#n) + TraceRecord.header.powered];
    // Positions are the plant's true ones (what a rig's own sensors see), not what the loop
    // read: an injected sensor fault must not hide, or fake, real motion.
    const n = this.#n;
    for (let i = 0; i < n; i++) {
      this.#positions[k * n + i] = plant.position[i];
      this.#commands[k * n + i] = snapshot.command[i];
    }
    this.#drain$.next();
    this.#outputs[k] = outputsNow(this.#parts.devices, this.#powered[k]);
    if (this.#readyTick < 0 && Atomics.load(shared.control, Ctrl.READY) === 1) this.#readyTick = k;
    // Cameras at their frame rate, from the world state this tick published, into the pipeline's touch stage.
    const nowMs = k * this.#periodMs;
    for (const c of this.#cameras) {
      if (k % c.periodTicks !== 0 || !c.faults.delivers) continue;
      c.renderer.world.set(snapshot.world);
      const frame = c.renderer.render(nowMs);
      c.faults.apply(frame.data);
      live.pipeline.frame(c.name, frame);
    }
    if (this.#truthContactTick < 0 && plant.truth.gripForce > 0) this.#truthContactTick = k;
    if (this.#detectedContactTick < 0 && live.pipeline.touch.inContact) this.#detectedContactTick = k;
    // Commands answered and chunk requests made this step reach the pipeline; its retry cadence is 10 ms, as in `embody run`.
    live.virtual.settle();
    if (k % 2 === 0) this.#retry$.next();
    await live.policy.computed();
    const delivered = live.policy.deliver(k);
    // Let the pipeline's and the command queue's continuations run before the next step.
    if (delivered || live.virtual.takeAnswered() || live.policy.takeActivity()) await new Promise<void>((resolve) => setImmediate(resolve));
    if (k > 0 && k % this.#ticks(WATCHDOG_PERIOD_MS) === 0) {
      this.#watchdog.push({ tick: k, petted: this.#health.check(shared.counters[Counter.TICKS], shared.counters[Counter.MISSED_TICKS]) });
    }
  }

  /** A stalled loop serves no deadline; when it runs again the clock skips the ones it missed. */
  #tickUnlessStalled(k: number, virtual: VirtualControl): boolean {
    const stutter = this.#stutter;
    if (stutter && k >= stutter.next && k < stutter.until) {
      this.#stalledUntil = k + stutter.stall;
      stutter.next += stutter.every;
    }
    if (k < this.#stalledUntil) {
      this.#skipTicks++;
      return false;
    }
    const missed = this.#skipTicks;
    this.#skipTicks = 0;
    this.#clockTick += missed;
    const reading = this.#reading;
    reading.tick = this.#clockTick;
    reading.missed = missed;
    reading.time[ClockTime.DEADLINE_MS] = this.#clockTick * this.#periodMs;
    reading.time[ClockTime.NOW_MS] = this.#clockTick * this.#periodMs;
    reading.time[ClockTime.LATENESS_MS] = 0;
    virtual.tick(reading);
    this.#clockTick++;
    return true;
  }

  /** The hardware never opened: no tick ran. Nothing is commanded; the arm stays where it is. */
  #recordUnopened(k: number): void {
    const { plant, devices } = this.#parts;
    this.#modes[k] = Mode.BOOT;
    for (let i = 0; i < this.#n; i++) {
      this.#positions[k * this.#n + i] = plant.position[i];
      this.#commands[k * this.#n + i] = Number.NaN;
    }
    this.#outputs[k] = outputsNow(devices, 0);
    if (k === 0) this.#events.push({ tick: 0, kind: 'hardware_error', detail: 'open', message: `control worker failed to start: ${this.#parts.openFailure ?? ''}` });
  }

  #brownoutStep(k: number): void {
    const b = this.#brownout;
    const devices = this.#parts.devices;
    if (b === undefined || devices === undefined) return;
    const t = k - b.start;
    if (b.end >= 0 && k >= b.end) {
      devices.supplyVolts[0] = b.nominal;
      this.#brownout = undefined;
    } else {
      devices.supplyVolts[0] = t < b.rampTicks ? b.from + ((b.to - b.from) * (t + 1)) / b.rampTicks : b.to;
    }
  }

  #cameraFault(s: Stimulus & { camera?: string }, fault: number, amount = 0): void {
    for (const c of this.#cameras) {
      if (s.camera !== undefined && c.name !== s.camera) continue;
      c.faults.fault = fault as typeof c.faults.fault;
      c.faults.noise = amount;
      if (fault === CameraFault.DEAD) this.#parts.live?.pipeline.touch.forgetFrame(c.name);
    }
  }

  #joint(name: string): number {
    const i = this.#robot.joints.findIndex((j) => j.name === name);
    if (i < 0) throw new Error(`${this.#loaded.file}: no joint named '${name}' in ${this.#loaded.robotFile}`);
    return i;
  }

  #apply(s: Stimulus, k: number): void {
    if (s.id !== undefined) this.#stimulusTicks.set(s.id, k);
    this.#events.push({ tick: k, kind: `stimulus:${s.do}` });
    const control = this.#parts.shared.control;
    const joints = this.#parts.joints;
    const live = this.#parts.live;
    switch (s.do) {
      case 'estop_press':
      case 'estop_release':
        Atomics.store(control, Ctrl.SIM_ESTOP_LINE, s.do === 'estop_press' ? 1 : 0);
        break;
      case 'camera_stall':
        this.#cameraFault(s, CameraFault.STALL);
        break;
      case 'camera_dead':
        this.#cameraFault(s, CameraFault.DEAD);
        break;
      case 'camera_dark':
        this.#cameraFault(s, CameraFault.DARK);
        break;
      case 'camera_saturated':
        this.#cameraFault(s, CameraFault.SATURATED);
        break;
      case 'camera_noise':
        this.#cameraFault(s, CameraFault.NOISE, s.amount ?? 20);
        break;
      case 'camera_ok':
        this.#cameraFault(s, CameraFault.NONE);
        break;
      case 'joint_error':
        joints.inject(this.#joint(s.joint), JointFault.ERROR);
        break;
      case 'joint_freeze':
        joints.inject(this.#joint(s.joint), JointFault.FREEZE);
        break;
      case 'joint_jump':
        joints.inject(this.#joint(s.joint), JointFault.JUMP, s.amount ?? 0.2);
        break;
      case 'joint_ok':
        joints.inject(this.#joint(s.joint), JointFault.NONE);
        break;
      case 'policy_nan':
      case 'policy_out_of_range':
      case 'policy_oscillate':
      case 'policy_silent':
      case 'policy_slow':
      case 'policy_ok':
        if (live) applyPolicyStimulus(live.policy, s, (ms) => this.#ticks(ms));
        break;
      case 'object_slip':
        this.#parts.plant.slip();
        break;
      case 'push':
        Atomics.store(control, Ctrl.SIM_PUSH_JOINT, this.#joint(s.joint));
        Atomics.store(control, Ctrl.SIM_PUSH_MICRO, Math.round(s.amount * 1e6));
        break;
      case 'operator':
        void live?.pipeline.command({ kind: 'mode', command: s.command });
        break;
      case 'instruction':
        void live?.pipeline.command({ kind: 'instruction', text: s.text });
        break;
      case 'loop_stall':
        this.#stalledUntil = k + this.#ticks(s.duration_ms);
        break;
      case 'clock_skip':
        // Deadlines pass with no tick: the plant's time goes on, the loop's does not.
        this.#stalledUntil = Math.max(this.#stalledUntil, k + s.ticks);
        break;
      case 'clock_stutter':
        this.#stutter = { next: k, until: k + this.#ticks(s.duration_ms), every: Math.max(1, this.#ticks(s.every_ms)), stall: this.#ticks(s.stall_ms) };
        break;
      case 'i2c_fault':
        if (!this.#parts.atPowerUp.has(s)) applyChipFault(this.#parts.chips.get(s), s.fault, s.count);
        break;
      case 'brownout': {
        const supply = (this.#parts.devices as ServoArmModel).supplyVolts;
        this.#brownout = { from: supply[0], to: s.volts, start: k, rampTicks: this.#ticks(s.ramp_ms), end: s.duration_ms === undefined ? -1 : k + this.#ticks(s.duration_ms), nominal: this.#brownout?.nominal ?? supply[0] };
        break;
      }
    }
  }
}

function applyPolicyStimulus(policy: VirtualPolicy, s: Stimulus, ticks: (ms: number) => number): void {
  switch (s.do) {
    case 'policy_nan':
      policy.fault = PolicyFault.NAN;
      break;
    case 'policy_out_of_range':
      policy.fault = PolicyFault.OUT_OF_RANGE;
      break;
    case 'policy_oscillate':
      policy.fault = PolicyFault.OSCILLATE;
      break;
    case 'policy_silent':
      policy.fault = PolicyFault.SILENT;
      break;
    case 'policy_slow':
      policy.extraLatencyTicks = ticks(s.latency_ms ?? 300);
      break;
    case 'policy_ok':
      policy.fault = PolicyFault.NONE;
      policy.extraLatencyTicks = 0;
      break;
    default:
      break;
  }
}

/** A pipeline event as the HIL records it, at the step it was published. */
function hilEvent(event: RuntimeEvent, step: number): HilEvent {
  const detail = event.detail ?? (event.from !== undefined && event.to !== undefined ? `${event.from}->${event.to}` : event.record !== undefined && event.record.value !== 0 ? String(event.record.value) : undefined);
  return {
    tick: step,
    kind: event.kind,
    ...(event.joint !== undefined ? { joint: event.joint } : {}),
    ...(detail !== undefined ? { detail } : {}),
    message: event.message,
  };
}
