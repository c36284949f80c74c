/**
 * The shared debouncer and the SharedArrayBuffer line model (the simulator's and HIL harness's
 * GPIO): debounce semantics, a press from another thread via Atomics, outputs, the door's
 * validation, and that read() allocates nothing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AsymmetricDebounce,
  createGpioModelCells,
  getGpioModelLevel,
  GpioLineModel,
  HardwareError,
  openGpioInput,
  openGpioOutput,
  releaseSamplesFor,
  setGpioModelLevel,
  type GpioLevel,
} from '../../src/hal/gpio/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const estop = { chip: 'model', line: 0, active_low: true, debounce_ms: 30 };

describe('asymmetric debounce', () => {
  it('counts the release in ticks: samples spanning debounce_ms, so ceil(debounce / period) + 1', () => {
    expect(releaseSamplesFor(0, 10)).toBe(1);
    expect(releaseSamplesFor(30, 10)).toBe(4);
    expect(releaseSamplesFor(25, 10)).toBe(4);
    expect(releaseSamplesFor(5, 10)).toBe(2);
    expect(releaseSamplesFor(10, 10 / 3)).toBe(4);
    expect(releaseSamplesFor(5, 5)).toBe(2); // DESIGN default: 5 ms at 200 Hz
    expect(() => releaseSamplesFor(-1, 10)).toThrow(RangeError);
    expect(() => releaseSamplesFor(5, 0)).toThrow(RangeError);
    expect(() => releaseSamplesFor(Number.NaN, 10)).toThrow(RangeError);
  });

  it('a press acts on the first sample; a release needs the full run; a bounce restarts it', () => {
    const d = new AsymmetricDebounce(20, 10, 0);
    const raw: GpioLevel[] = [0, 1, 0, 0, 1, 0, 0, 0, 0, 1];
    expect(raw.map((r) => d.sample(r))).toEqual([0, 1, 1, 1, 1, 1, 1, 0, 0, 1]);
  });

  it('starts at the level sampled at open: released at start-up reads released at once', () => {
    expect(new AsymmetricDebounce(50, 10, 0).sample(0)).toBe(0);
    expect(new AsymmetricDebounce(50, 10, 1).sample(0)).toBe(1);
  });

  it('property: asserted whenever the raw sample is, released exactly after N released samples in a row', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<GpioLevel>(0, 1), { maxLength: 200 }),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom(1, 2.5, 5, 10),
        fc.constantFrom<GpioLevel>(0, 1),
        (raw, debounceMs, period, initial) => {
          const d = new AsymmetricDebounce(debounceMs, period, initial);
          const n = releaseSamplesFor(debounceMs, period);
          let level = initial;
          let run = 0;
          for (const r of raw) {
            // Reference: the level drops once n released samples follow an asserted level.
            if (r === 1) {
              level = 1;
              run = 0;
            } else if (level === 1 && ++run >= n) {
              level = 0;
              run = 0;
            }
            const got = d.sample(r);
            if (got !== level) return false;
            if (r === 1 && got !== 1) return false;
          }
          return true;
        },
      ),
    );
  });
});

describe('GPIO line model (SharedArrayBuffer)', () => {
  it('reads the cell through the debouncer and follows Atomics stores', () => {
    const cells = createGpioModelCells(2);
    const line = openGpioInput(estop, { backend: 'model', tickPeriodMs: 10, model: cells, modelIndex: 1 });
    expect(line.description).toBe('model gpio model:0 (cell 1)');
    expect(line.read()).toBe(0);
    setGpioModelLevel(cells, 1, 1);
    expect(line.read()).toBe(1);
    setGpioModelLevel(cells, 1, 0);
    expect([line.read(), line.read(), line.read(), line.read(), line.read()]).toEqual([1, 1, 1, 0, 0]);
    expect(getGpioModelLevel(cells, 0)).toBe(0); // the other cell is untouched
    line.close();
    expect(() => line.read()).toThrow(HardwareError);
  });

  it('another thread presses and releases the line; the reader sees each on its next tick', async () => {
    // Cell 0: the line. 1: request sequence, 2: requested level, 3: acknowledged sequence.
    const cells = createGpioModelCells(4);
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const cells = workerData;
       for (let seen = 0; ; ) {
         Atomics.wait(cells, 1, seen);
         seen = Atomics.load(cells, 1);
         if (seen < 0) break;
         Atomics.store(cells, 0, Atomics.load(cells, 2));
         Atomics.store(cells, 3, seen);
         Atomics.notify(cells, 3);
       }`,
      { eval: true, workerData: cells },
    );
    const fromWorker = (level: GpioLevel, seq: number): void => {
      Atomics.store(cells, 2, level);
      Atomics.store(cells, 1, seq);
      Atomics.notify(cells, 1);
      expect(Atomics.wait(cells, 3, seq - 1, 5000)).not.toBe('timed-out');
    };
    const line = new GpioLineModel(estop, { tickPeriodMs: 10, cells });
    try {
      expect(line.read()).toBe(0);
      fromWorker(1, 1);
      expect(line.read()).toBe(1);
      fromWorker(0, 2);
      expect([line.read(), line.read(), line.read(), line.read()]).toEqual([1, 1, 1, 0]);
    } finally {
      Atomics.store(cells, 1, -1);
      Atomics.notify(cells, 1);
      await worker.terminate();
    }
  });

  it('as an output: starts at the safe level 0 unless told, and write() stores the logical level', () => {
    const cells = createGpioModelCells(1);
    const brake = openGpioOutput({ ...estop, debounce_ms: 0 }, { backend: 'model', tickPeriodMs: 5, model: cells });
    expect(getGpioModelLevel(cells, 0)).toBe(0);
    brake.write(1);
    expect(Atomics.load(cells, 0)).toBe(1);
    brake.write(0);
    expect(Atomics.load(cells, 0)).toBe(0);
    brake.close();
    expect(() => brake.write(1)).toThrow(/write\(\) after close/);
    const enabled = createGpioModelCells(1);
    openGpioOutput(estop, { backend: 'model', tickPeriodMs: 5, model: enabled, initialLevel: 1 });
    expect(Atomics.load(enabled, 0)).toBe(1);
  });

  it('the door refuses bad configuration with HardwareErrors naming the line', () => {
    const open = (config: Partial<typeof estop>, options: Record<string, unknown> = {}) => () =>
      openGpioInput({ ...estop, ...config }, { backend: 'model', tickPeriodMs: 10, ...options });
    expect(open({}, { tickPeriodMs: 0 })).toThrow(/gpio model:0: tickPeriodMs must be a positive number/);
    expect(open({ debounce_ms: -1 })).toThrow(/debounce_ms must be a non-negative number/);
    expect(open({ line: -3 })).toThrow(/line must be a non-negative integer/);
    expect(open({ chip: '' })).toThrow(/chip must be a gpiochip name/);
    expect(open({}, { model: new Int32Array(1) })).toThrow(/SharedArrayBuffer/);
    expect(open({}, { model: createGpioModelCells(1), modelIndex: 1 })).toThrow(/model index 1 is outside the 1 cells/);
    expect(open({}, { backend: 'spi' })).toThrow(/unknown GPIO backend 'spi'/);
    expect(open({}, { tickPeriodMs: 0 })).toThrow(HardwareError);
  });
});

describe('allocation', () => {
  it('read() on the model allocates nothing: 1M reads with a 1 MB young generation, no GC (and the check can see garbage)', () => {
    const script = `
      const { PerformanceObserver } = await import('node:perf_hooks');
      const gpio = await import(${JSON.stringify(pathToFileURL(`${repo}src/hal/gpio/index.ts`).href)});
      const cells = gpio.createGpioModelCells(1);
      const line = gpio.openGpioInput({ chip: 'm', line: 0, active_low: true, debounce_ms: 30 }, { backend: 'model', tickPeriodMs: 5, model: cells });
      let sink;
      async function gcsDuring(body) {
        for (let i = 0; i < 50000; i++) body(i);
        globalThis.gc();
        let gcs = 0;
        const observer = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
        observer.observe({ entryTypes: ['gc'] });
        for (let i = 0; i < 1000000; i++) body(i);
        await new Promise((resolve) => setTimeout(resolve, 100));
        observer.disconnect();
        return gcs;
      }
      const reads = await gcsDuring((i) => { if ((i & 63) === 0) Atomics.store(cells, 0, (i >> 6) & 1); line.read(); });
      const control = await gcsDuring((i) => { line.read(); sink = { i }; });
      console.log(JSON.stringify({ reads, control }));`;
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', script],
      { cwd: repo, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { reads: number; control: number };
    expect(result.control).toBeGreaterThan(0);
    expect(result.reads).toBe(0);
  });
});
