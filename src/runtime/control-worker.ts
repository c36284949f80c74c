/**
 * Entry point of the control worker thread. It owns the hardware and the clock: once the loop
 * starts, this thread never returns to its event loop until the robot is stopped, so it talks
 * to the main thread only through the shared memory in shared-state.ts.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openRobotHardware } from '../hal/index.js';
import { preciseClock } from './clock.js';
import { ControlLoop } from './control-loop.js';
import { Ctrl, Mode, viewShared } from './shared-state.js';
import type { ControlWorkerData } from './control-thread.js';

const data = workerData as ControlWorkerData;
const shared = viewShared(data.layout, data.buffers);
const control = shared.control;

function fail(error: unknown): never {
  parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  Atomics.store(control, Ctrl.EXITED, 1);
  Atomics.notify(control, Ctrl.EXITED);
  process.exit(1);
}

/**
 * Give this thread alone (not the process: DESIGN.md) SCHED_FIFO, so a wake-up preempts the
 * main thread's JavaScript and GC at once instead of waiting for the fair scheduler. The
 * thread sleeps most of each period, so it cannot starve the machine. Needs root or
 * CAP_SYS_NICE; without them the loop runs under SCHED_OTHER and says so.
 */
function raiseThreadPriority(priority: number): string {
  if (priority <= 0) return 'SCHED_OTHER (realtime priority disabled)';
  try {
    const tid = readlinkSync('/proc/thread-self').split('/').pop() ?? '';
    const result = spawnSync('chrt', ['-f', '-p', String(priority), tid], { encoding: 'utf8' });
    if (result.status === 0) return `SCHED_FIFO ${priority} (thread ${tid})`;
    return `SCHED_OTHER (chrt refused: ${(result.stderr || result.error?.message || '').trim()})`;
  } catch (error) {
    return `SCHED_OTHER (${error instanceof Error ? error.message : String(error)})`;
  }
}

let loop: ControlLoop;
try {
  const hardware = openRobotHardware(data.robot, data.hardware, {
    cells: control,
    estop: Ctrl.SIM_ESTOP_LINE,
    brake: Ctrl.SIM_BRAKE_LINE,
    pushJoint: Ctrl.SIM_PUSH_JOINT,
    pushMicro: Ctrl.SIM_PUSH_MICRO,
  });
  hardware.joints.open();
  loop = new ControlLoop({
    robot: data.robot,
    hardware,
    shared,
    outputJoints: data.outputJoints,
    ticksPerAction: data.ticksPerAction,
    blendSteps: data.blendSteps,
    replanAfter: data.replanAfter,
    autoArm: data.autoArm,
  });
} catch (error) {
  fail(error);
}

const scheduling = raiseThreadPriority(data.realtimePriority);
parentPort?.postMessage({ type: 'scheduling', message: scheduling });
// Under SCHED_FIFO the wake-up is prompt (cyclictest here: p99 ~40 µs), so a shorter spin tail
// suffices; it also makes less garbage (performance.now() allocates per call on Node 20).
const defaultSpinMs = scheduling.startsWith('SCHED_FIFO') ? 0.1 : 0.25;
shared.counters.fill(0);
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
preciseClock({
  periodMs: 1000 / data.robot.control.rate_hz,
  spinMs: data.spinMs ?? defaultSpinMs,
  sleepCell,
  running: () => loop.running && Atomics.load(control, Ctrl.RUN) === 1,
}).subscribe((reading) => {
  loop.tick(reading);
  if (loop.mode === Mode.STOPPED) loop.close();
});
loop.close();
Atomics.store(control, Ctrl.EXITED, 1);
Atomics.notify(control, Ctrl.EXITED);
