/**
 * Action chunks joined into one continuous trajectory (real-time chunking).
 *
 * A policy returns H future actions computed from an observation taken at `obsTick`; action k
 * is the target for obsTick + (k + 1) * ticksPerAction. By the time it arrives, inference has
 * consumed some of that time. Joining:
 *   - actions whose time is at or before the current tick are dropped (counted);
 *   - the trajectory restarts from the command being executed now, so there is no jump;
 *   - over the first `blendSteps` kept actions the new chunk fades in against the old
 *     trajectory sampled at the same instants;
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
    this.#times = [new Float64Array(horizon + 1), new Float64Array(horizon + 1)];
    this.#values = [new Float64Array((horizon + 1) * dim), new Float64Array((horizon + 1) * dim)];
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
   * `current` is the command being executed now (the trajectory starts there).
   * Returns how many actions were dropped because their time had already passed.
   */
  join(tick: number, obsTick: number, values: Float64Array, offset: number, count: number, current: Float64Array): number {
    const dim = this.#dim;
    const next = 1 - this.#active;
    const times = this.#times[next];
    const out = this.#values[next];
    times[0] = tick;
    for (let d = 0; d < dim; d++) out[d] = current[d];
    let length = 1;
    let dropped = 0;
    let kept = 0;
    for (let k = 0; k < count; k++) {
      const t = obsTick + (k + 1) * this.#ticksPerAction;
      if (t <= tick) {
        dropped++;
        continue;
      }
      const weight = this.#length === 0 ? 1 : Math.min(1, (kept + 1) / (this.#blendSteps + 1));
      const base = length * dim;
      const src = offset + k * dim;
      times[length] = t;
      for (let d = 0; d < dim; d++) {
        const fresh = values[src + d];
        out[base + d] = weight >= 1 ? fresh : weight * fresh + (1 - weight) * this.#valueAt(t, d);
      }
      length++;
      kept++;
    }
    this.#active = next;
    this.#length = length;
    this.#cursor = 0;
    this.#joinTick = tick;
    return dropped;
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

  /** Old trajectory at an arbitrary time (for blending); holds the ends. */
  #valueAt(t: number, d: number): number {
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
    return values[(length - 1) * dim + d];
  }
}
