/**
 * Action chunks joined into one continuous trajectory (real-time chunking).
 *
 * A policy returns H future actions computed from an observation taken at `obsTick`; action k
 * is the target for obsTick + (k + 1) * ticksPerAction. By the time it arrives, inference has
 * consumed some of that time. Joining:
 *   - actions whose time is at or before the current tick are dropped (counted);
 *   - the trajectory restarts from the command executed on the previous tick (placed at that
 *     tick), so there is neither a jump nor a one-tick stall;
 *   - over `blendSteps + 1` actions' time from the join the new chunk fades in against the old
 *     trajectory, one knot per tick of that window, with a smoothstep weight of the time since
 *     the join: the fade adds no kink of its own and its slope is zero at both ends; the new
 *     chunk before its first kept action is its first segment extended, and the old one past
 *     its end its last segment extended when it was still moving at the join (a chunk arriving
 *     just before the old one ends is not blended against a stop). bench/remote.ts measures the
 *     boundary jerk against mid-chunk jerk and against a naive splice;
 *   - after the last action the trajectory holds that action (never zeros), and every tick
 *     spent there is starvation, which the caller counts.
 * The control loop samples it once per tick with linear interpolation between actions.
 * Hand-written because it runs in the allocation-free tick: two preallocated buffers,
 * swapped on each join.
 */
export class ActionQueue {
  readonly #dim: number;
  readonly #blendSteps: number;
  readonly #ticksPerAction: number;
  #times: [Float64Array, Float64Array];
  readonly #freshTimes: Float64Array;
  readonly #freshValues: Float64Array;
  #values: [Float64Array, Float64Array];
  #active = 0;
  #length = 0;
  #cursor = 0;
  #joinTick = 0;

  constructor(dim: number, horizon: number, ticksPerAction: number, blendSteps: number) {
    if (!(ticksPerAction > 0)) throw new RangeError(`ticksPerAction must be > 0, got ${ticksPerAction}`);
    this.#dim = dim;
    this.#blendSteps = blendSteps;
    this.#ticksPerAction = ticksPerAction;
    // Knots: the current command, one per tick of the blend window, the chunk's actions.
    const knots = horizon + 2 + Math.ceil((blendSteps + 1) * ticksPerAction);
    this.#times = [new Float64Array(knots), new Float64Array(knots)];
    this.#values = [new Float64Array(knots * dim), new Float64Array(knots * dim)];
    this.#freshTimes = new Float64Array(horizon);
    this.#freshValues = new Float64Array(horizon * dim);
  }

  get isEmpty(): boolean {
    return this.#length === 0;
  }

  get ticksPerAction(): number {
    return this.#ticksPerAction;
  }

  clear(): void {
    this.#length = 0;
    this.#cursor = 0;
  }

  /** Ticks left before the trajectory runs out (0 when empty or starved). */
  remainingTicks(tick: number): number {
    if (this.#length === 0) return 0;
    const end = this.#times[this.#active][this.#length - 1];
    return end > tick ? end - tick : 0;
  }

  /** Actions executed since the last join, in whole actions. */
  actionsSinceJoin(tick: number): number {
    return Math.floor((tick - this.#joinTick) / this.#ticksPerAction);
  }

  /**
   * Join a new chunk at `tick`. `values` holds `count` actions of `dim` values from `offset`.
   * `current` is the command executed on the previous tick (the trajectory starts there).
   * Returns how many actions were dropped because their time had already passed.
   */
  join(tick: number, obsTick: number, values: Float64Array, offset: number, count: number, current: Float64Array): number {
    const dim = this.#dim;
    // The kept actions, unblended, first.
    const freshTimes = this.#freshTimes;
    const fresh = this.#freshValues;
    let kept = 0;
    let dropped = 0;
    for (let k = 0; k < count; k++) {
      const t = obsTick + (k + 1) * this.#ticksPerAction;
      if (t <= tick) {
        dropped++;
        continue;
      }
      freshTimes[kept] = t;
      for (let d = 0; d < dim; d++) fresh[kept * dim + d] = values[offset + k * dim + d];
      kept++;
    }
    const next = 1 - this.#active;
    const times = this.#times[next];
    const out = this.#values[next];
    // `current` was commanded on the previous tick: anchoring it there (not at `tick`) keeps the
    // motion going through the join instead of holding it for one tick (a velocity dip and a jerk
    // spike at every chunk boundary, measured in bench/remote.ts).
    times[0] = tick - 1;
    for (let d = 0; d < dim; d++) out[d] = current[d];
    let length = 1;
    let k = 0;
    if (this.#length > 0 && this.#blendSteps > 0 && kept > 0) {
      // Blend tick by tick: a knot on every tick of the window, so the fade itself adds no kink.
      const blendTicks = (this.#blendSteps + 1) * this.#ticksPerAction;
      const end = Math.min(tick + blendTicks, freshTimes[kept - 1]);
      const moving = tick < this.#times[this.#active][this.#length - 1];
      for (let t = tick; t <= end; t++) {
        const w = blendWeight((t - tick) / blendTicks);
        times[length] = t;
        for (let d = 0; d < dim; d++) out[length * dim + d] = (1 - w) * this.#valueAt(t, d, moving) + w * this.#freshAt(t, d, kept);
        length++;
      }
      while (k < kept && freshTimes[k] <= times[length - 1]) k++;
    }
    for (; k < kept; k++) {
      times[length] = freshTimes[k];
      for (let d = 0; d < dim; d++) out[length * dim + d] = fresh[k * dim + d];
      length++;
    }
    this.#active = next;
    this.#length = length;
    this.#cursor = 0;
    this.#joinTick = tick;
    return dropped;
  }

  /** The new chunk at time `t`: linear between its actions, extended along its first and last segments. */
  #freshAt(t: number, d: number, kept: number): number {
    const times = this.#freshTimes;
    const values = this.#freshValues;
    const dim = this.#dim;
    if (kept === 1) return values[d];
    let i = 0;
    while (i < kept - 2 && t > times[i + 1]) i++;
    const t0 = times[i];
    const v0 = values[i * dim + d];
    return v0 + ((t - t0) / (times[i + 1] - t0)) * (values[(i + 1) * dim + d] - v0);
  }

  /**
   * Write the target for `tick` into `out`. Returns false when the trajectory has run out
   * (out then holds the last action) or is empty (out is left untouched).
   */
  sample(tick: number, out: Float64Array): boolean {
    const length = this.#length;
    if (length === 0) return false;
    const times = this.#times[this.#active];
    const values = this.#values[this.#active];
    const dim = this.#dim;
    while (this.#cursor < length - 1 && times[this.#cursor + 1] <= tick) this.#cursor++;
    const i = this.#cursor;
    if (i >= length - 1) {
      const base = (length - 1) * dim;
      for (let d = 0; d < dim; d++) out[d] = values[base + d];
      return tick <= times[length - 1];
    }
    const t0 = times[i];
    const t1 = times[i + 1];
    const f = tick <= t0 ? 0 : (tick - t0) / (t1 - t0);
    const a = i * dim;
    const b = a + dim;
    for (let d = 0; d < dim; d++) out[d] = values[a + d] + f * (values[b + d] - values[a + d]);
    return true;
  }

  /** Old trajectory at an arbitrary time (for blending); holds the start. */
  #valueAt(t: number, d: number, extend = false): number {
    const times = this.#times[this.#active];
    const values = this.#values[this.#active];
    const length = this.#length;
    const dim = this.#dim;
    if (t <= times[0]) return values[d];
    for (let i = 0; i < length - 1; i++) {
      if (t <= times[i + 1]) {
        const f = (t - times[i]) / (times[i + 1] - times[i]);
        return values[i * dim + d] + f * (values[(i + 1) * dim + d] - values[i * dim + d]);
      }
    }
    const last = (length - 1) * dim + d;
    // Past its end the old plan is held, unless it was still moving at the join (`extend`): then
    // it goes on along its last segment, so a chunk that arrives just before the old one ends is
    // not blended against a stop (a velocity dip measured in bench/remote.ts at 300 ms).
    if (!extend || length < 2) return values[last];
    const t1 = times[length - 1];
    const t0 = times[length - 2];
    return values[last] + ((t - t1) / (t1 - t0)) * (values[last] - values[last - dim]);
  }
}

/** Smoothstep 3x² − 2x³ on [0, 1]: 0 → 1 with zero slope at both ends. */
function blendWeight(x: number): number {
  if (x >= 1) return 1;
  if (x <= 0) return 0;
  return x * x * (3 - 2 * x);
}
