/**
 * The HAL's one blocking sleep. Drivers and GPIO backends wait for a chip or a kernel file at
 * open/close time, possibly on the control worker, which never returns to its event loop: so no
 * timers and no promises (node:timers/promises would never resolve there).
 */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block the calling thread for `ms` milliseconds (allowed on Node's main thread and workers). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
