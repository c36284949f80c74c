/**
 * The sysfs backend against a model of the kernel's /sys/class/gpio, at the real path: this
 * machine has no GPIO, and onoff hard-codes /sys/class/gpio, so the test starts a private mount
 * namespace (`unshare --mount`, we are root), mounts a tmpfs over /sys/class there (sysfs cannot
 * create the gpio directory itself), runs test/support/gpio-sysfs-model.ts on it, and drives a
 * client process that opens lines through src/hal/gpio (via tsx) on command. The test presses
 * and releases the model's pins (files outside the tmpfs) and reads the model's journal of what
 * the client wrote. Nothing is skipped: no unshare or mount permission fails the test, saying so.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const gpioModule = pathToFileURL(join(repo, 'src/hal/gpio/index.ts')).href;
const gpioDistModule = join(repo, 'dist/src/hal/gpio/index.js');

const CHIPS = [
  { base: 512, label: 'pinctrl-bcm2711', ngpio: 54 },
  { base: 566, label: 'raspberrypi-exp-gpio', ngpio: 8 },
];

/** The client: opens lines on command (one JSON object per stdin line) and answers on stdout. */
const CLIENT = String.raw`
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { PerformanceObserver } from 'node:perf_hooks';
const gpio = await import(process.env.GPIO_MODULE);
const sleep = new Int32Array(new SharedArrayBuffer(4));
const inputs = new Map();
const outputs = new Map();
const edges = [];
let sink;

async function countGcs(n, body) {
  for (let i = 0; i < 20000; i++) body(i);
  globalThis.gc();
  let gcs = 0;
  const observer = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) body(i);
  const after = process.memoryUsage().heapUsed;
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  return { gcs, bytesPerCall: (after - before) / n };
}

const ops = {
  openInput({ name, config, options }) {
    const extra = options.onEdge ? { onEdge: (error, level) => edges.push([error?.message ?? null, level]) } : {};
    const line = gpio.openGpioInput(config, { ...options, ...extra });
    inputs.set(name, line);
    return { description: line.description, globalNumber: line.globalNumber, valuePath: line.valuePath };
  },
  read({ name, n }) {
    const line = inputs.get(name);
    const levels = [];
    for (let i = 0; i < n; i++) levels.push(line.read());
    return { levels };
  },
  readUntil({ name, level, timeoutMs }) {
    const line = inputs.get(name);
    const deadline = performance.now() + timeoutMs;
    let reads = 0;
    while (performance.now() < deadline) {
      reads++;
      if (line.read() === level) return { reads };
      Atomics.wait(sleep, 0, 0, 1);
    }
    throw new Error('level ' + level + ' not read within ' + timeoutMs + ' ms');
  },
  closeInput({ name }) { inputs.get(name).close(); return {}; },
  openOutput({ name, config, options }) {
    const line = gpio.openGpioOutput(config, options);
    outputs.set(name, line);
    return { description: line.description, globalNumber: line.globalNumber };
  },
  write({ name, level }) { outputs.get(name).write(level); return {}; },
  closeOutput({ name }) { outputs.get(name).close(); return {}; },
  writeFile({ path, data }) { writeFileSync(path, data); return {}; },
  async alloc({ name, n }) {
    const line = inputs.get(name);
    return countGcs(n, () => line.read());
  },
  async allocControl({ name, n }) {
    const line = inputs.get(name);
    return countGcs(n, (i) => { line.read(); sink = { i }; });
  },
  worker({ config, options, n }) {
    const code = "const { parentPort, workerData } = require('node:worker_threads');" +
      "import(workerData.module).then((gpio) => {" +
      "  try { const line = gpio.openGpioInput(workerData.config, workerData.options); const levels = [];" +
      "    for (let i = 0; i < workerData.n; i++) levels.push(line.read());" +
      "    const description = line.description; line.close(); parentPort.postMessage({ ok: true, levels, description }); }" +
      "  catch (e) { parentPort.postMessage({ ok: false, name: e.name, error: e.message }); } });";
    return new Promise((resolve, reject) => {
      // Loader hooks (tsx) do not reach worker threads: the worker runs the build, as the control worker does.
      const worker = new Worker(code, { eval: true, workerData: { module: process.env.GPIO_DIST_MODULE, config, options, n } });
      worker.once('message', (message) => resolve({ result: message }));
      worker.once('error', reject);
    });
  },
  edges() { return { edges }; },
};

for await (const text of createInterface({ input: process.stdin })) {
  const command = JSON.parse(text);
  try {
    const result = await ops[command.op](command);
    process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, name: error.name, error: error.message }) + '\n');
  }
}
`;

/** Runs inside the namespace: tmpfs over /sys/class, the model, then the client. */
const NAMESPACE_SCRIPT = String.raw`
set -e
mount -t tmpfs -o mode=0755 embody-gpio-test /sys/class
mkdir /sys/class/gpio
node --import tsx test/support/gpio-sysfs-model.ts --root /sys/class/gpio --pins "$PINS" \
  --journal "$JOURNAL" --ready "$READY" --chips "$CHIPS" 2>"$WORK/model.err" &
model=$!
trap 'kill $model 2>/dev/null || true' EXIT
i=0
while [ ! -e "$READY" ]; do
  i=$((i + 1))
  if [ $i -gt 1500 ] || ! kill -0 $model 2>/dev/null; then echo "the sysfs model did not start:" >&2; cat "$WORK/model.err" >&2; exit 1; fi
  sleep 0.01
done
node --import tsx --expose-gc --max-semi-space-size=1 "$WORK/client.mjs"
`;

interface Reply {
  ok: boolean;
  error?: string;
  name?: string;
  [key: string]: unknown;
}

class Namespace {
  readonly work = mkdtempSync(join(tmpdir(), 'embody-gpio-ns-'));
  readonly pins = join(this.work, 'pins');
  readonly journal = join(this.work, 'journal');
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  readonly #replies: ((reply: Reply) => void)[] = [];
  readonly #exited: Promise<number | null>;

  constructor() {
    mkdirSync(this.pins);
    writeFileSync(join(this.work, 'client.mjs'), CLIENT);
    writeFileSync(this.journal, '');
    this.child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', NAMESPACE_SCRIPT], {
      cwd: repo,
      detached: true,
      env: {
        ...process.env,
        WORK: this.work,
        PINS: this.pins,
        JOURNAL: this.journal,
        READY: join(this.work, 'ready'),
        CHIPS: JSON.stringify(CHIPS),
        GPIO_MODULE: gpioModule,
        GPIO_DIST_MODULE: pathToFileURL(gpioDistModule).href,
      },
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.#replies.shift();
      waiter?.(JSON.parse(line) as Reply);
    });
    this.#exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async call(command: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.#replies.push(resolve);
      timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(command)}: ${this.stderr}`)), timeoutMs);
      void this.#exited.then((code) =>
        reject(
          new Error(
            `the namespace exited (code ${code}) before answering ${String(command.op)}. If unshare or mount was ` +
              `refused, this test needs root with CAP_SYS_ADMIN (unshare --mount) on a kernel that allows mount ` +
              `namespaces. stderr: ${this.stderr}`,
          ),
        ),
      );
    });
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    try {
      return await reply;
    } finally {
      clearTimeout(timer);
    }
  }

  async ok(command: Record<string, unknown>): Promise<Reply> {
    const reply = await this.call(command);
    if (!reply.ok) throw new Error(`${String(command.op)} failed: ${reply.name}: ${reply.error}`);
    return reply;
  }

  journalLines(): string[] {
    return readFileSync(this.journal, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** Wait until the journal has `line` more often than `after` times (the model applied it). */
  async waitFor(line: string, after = 0, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.journalLines().filter((l) => l === line).length <= after) {
      if (Date.now() > deadline) {
        throw new Error(`the model never logged '${line}'; journal:\n${this.journalLines().join('\n')}\n${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  count(line: string): number {
    return this.journalLines().filter((l) => l === line).length;
  }

  /** Set a pin's electrical level and wait until the model shows it in `value`. */
  async setPin(global: number, level: 0 | 1): Promise<void> {
    const line = `pin gpio${global} ${level}`;
    const before = this.count(line);
    writeFileSync(join(this.pins, `gpio${global}`), `${level}\n`);
    await this.waitFor(line, before);
  }

  pin(global: number): string {
    return readFileSync(join(this.pins, `gpio${global}`), 'utf8').trim();
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => {
      try {
        process.kill(-(this.child.pid ?? 0), 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    await this.#exited;
    clearTimeout(timer);
    rmSync(this.work, { recursive: true, force: true });
  }
}

const TICK_MS = 10;
const estop = (line: number) => ({ chip: 'pinctrl-bcm2711', line, active_low: true, debounce_ms: 30 });

describe('sysfs GPIO backend in a private mount namespace (tmpfs model of /sys/class/gpio)', () => {
  let ns: Namespace;

  beforeAll(async () => {
    if (!existsSync(gpioDistModule)) throw new Error(`${gpioDistModule} is missing: run \`npm run build\` first`);
    ns = new Namespace();
  });

  afterAll(async () => {
    await ns.stop();
  });

  for (const [driver, offset] of [
    ['fs', 17],
    ['onoff', 18],
  ] as const) {
    describe(`driver '${driver}'`, () => {
      const global = 512 + offset;
      const name = `estop-${driver}`;

      it('exports base + line, then writes active_low, direction and edge, like the kernel wants', async () => {
        // Released e-stop: an active-low line reads electrically high.
        writeFileSync(join(ns.pins, `gpio${global}`), '1\n');
        const opened = await ns.ok({
          op: 'openInput',
          name,
          config: estop(offset),
          options: { backend: 'sysfs', sysfsDriver: driver, tickPeriodMs: TICK_MS },
        });
        expect(opened.globalNumber).toBe(global);
        expect(opened.valuePath).toBe(`/sys/class/gpio/gpio${global}/value`);
        expect(opened.description).toContain(`gpio${global}`);
        await ns.waitFor(`edge gpio${global} both`);
        const journal = ns.journalLines();
        const steps = [`export ${global}`, `active_low gpio${global} 1`, `direction gpio${global} in`, `edge gpio${global} both`];
        const at = steps.map((l) => journal.indexOf(l));
        expect(at.every((i) => i >= 0), journal.join('\n')).toBe(true);
        expect(at).toEqual([...at].sort((a, b) => a - b));
        // The model applies active_low after the client wrote it; settle on "released".
        await ns.ok({ op: 'readUntil', name, level: 0, timeoutMs: 3000 });
      });

      it('read() follows the pin: a press counts on the first read, a release only after debounce_ms of ticks', async () => {
        await ns.setPin(global, 0); // pressed: active-low line pulled to ground
        expect((await ns.ok({ op: 'read', name, n: 1 })).levels).toEqual([1]);
        await ns.setPin(global, 1); // released
        // debounce 30 ms at 10 ms ticks: released samples spanning 30 ms = 4 samples.
        expect((await ns.ok({ op: 'read', name, n: 6 })).levels).toEqual([1, 1, 1, 0, 0, 0]);
        // A bounce during the release restarts the count; a press always acts at once.
        await ns.setPin(global, 0);
        expect((await ns.ok({ op: 'read', name, n: 2 })).levels).toEqual([1, 1]);
        await ns.setPin(global, 1);
        expect((await ns.ok({ op: 'read', name, n: 2 })).levels).toEqual([1, 1]);
        await ns.setPin(global, 0);
        expect((await ns.ok({ op: 'read', name, n: 1 })).levels).toEqual([1]);
        await ns.setPin(global, 1);
        expect((await ns.ok({ op: 'read', name, n: 5 })).levels).toEqual([1, 1, 1, 0, 0]);
      });

      it('close() unexports the line it exported; read() after close is a HardwareError', async () => {
        await ns.ok({ op: 'closeInput', name });
        await ns.waitFor(`unexport ${global}`);
        const reply = await ns.call({ op: 'read', name, n: 1 });
        expect(reply).toMatchObject({ ok: false, name: 'HardwareError' });
        expect(reply.error).toMatch(/read\(\) after close/);
      });

      it('an output starts at the logical initial level (raw high/low XOR active_low) and writes its value file', async () => {
        const out = offset + 10;
        const outGlobal = 512 + out;
        const outName = `brake-${driver}`;
        await ns.ok({
          op: 'openOutput',
          name: outName,
          config: { chip: 'pinctrl-bcm2711', line: out, active_low: true, debounce_ms: 0 },
          options: { backend: 'sysfs', sysfsDriver: driver, tickPeriodMs: TICK_MS, initialLevel: 0 },
        });
        await ns.waitFor(`direction gpio${outGlobal} high`);
        expect(ns.journalLines()).toContain(`active_low gpio${outGlobal} 1`);
        expect(ns.journalLines()).not.toContain(`edge gpio${outGlobal} both`);
        expect(ns.pin(outGlobal)).toBe('1'); // logical 0 on an active-low line: electrically high
        await ns.ok({ op: 'write', name: outName, level: 1 });
        await ns.waitFor(`value gpio${outGlobal} 1`);
        expect(ns.pin(outGlobal)).toBe('0');
        await ns.ok({ op: 'write', name: outName, level: 0 });
        await ns.waitFor(`value gpio${outGlobal} 0`);
        expect(ns.pin(outGlobal)).toBe('1');
        await ns.ok({ op: 'closeOutput', name: outName });
        await ns.waitFor(`unexport ${outGlobal}`);
      });
    });
  }

  it("read() allocates nothing: 200k reads of the sysfs value file with a 1 MB young generation, no GC", async () => {
    const offset = 5;
    writeFileSync(join(ns.pins, `gpio${512 + offset}`), '1\n');
    await ns.ok({
      op: 'openInput',
      name: 'alloc',
      config: estop(offset),
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
    });
    const measured = await ns.ok({ op: 'alloc', name: 'alloc', n: 200_000 });
    // The same loop with one small object per read does collect: the measurement can see garbage.
    const control = await ns.ok({ op: 'allocControl', name: 'alloc', n: 200_000 });
    expect(control.gcs).toBeGreaterThan(0);
    expect(measured.gcs).toBe(0);
    expect(measured.bytesPerCall).toBeLessThan(1);
    await ns.ok({ op: 'closeInput', name: 'alloc' });
  });

  it('a line on a second chip gets that chip\'s base; a line past ngpio and an unknown chip are refused clearly', async () => {
    writeFileSync(join(ns.pins, 'gpio569'), '0\n');
    const opened = await ns.ok({
      op: 'openInput',
      name: 'exp',
      config: { chip: 'raspberrypi-exp-gpio', line: 3, active_low: false, debounce_ms: 0 },
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
    });
    expect(opened.globalNumber).toBe(569);
    await ns.ok({ op: 'closeInput', name: 'exp' });

    const outOfRange = await ns.call({
      op: 'openInput',
      name: 'bad',
      config: { chip: 'pinctrl-bcm2711', line: 54, active_low: false, debounce_ms: 0 },
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
    });
    expect(outOfRange).toMatchObject({ ok: false, name: 'HardwareError' });
    expect(outOfRange.error).toMatch(/line 54 is out of range: \/sys\/class\/gpio\/gpiochip512 .* 54 lines, offsets 0\.\.53/);
    const unknown = await ns.call({
      op: 'openInput',
      name: 'bad',
      config: { chip: 'pinctrl-rp1', line: 4, active_low: false, debounce_ms: 0 },
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
    });
    expect(unknown.error).toMatch(/no sysfs GPIO chip .* matches 'pinctrl-rp1'.*pinctrl-bcm2711.*raspberrypi-exp-gpio/);
    expect(ns.journalLines().filter((l) => l.startsWith('export 566') || l === 'export 570')).toEqual([]);
  });

  it('a line exported by someone else is configured and verified, and left exported on close', async () => {
    const global = 512 + 6;
    writeFileSync(join(ns.pins, `gpio${global}`), '0\n');
    await ns.ok({ op: 'writeFile', path: '/sys/class/gpio/export', data: String(global) });
    await ns.waitFor(`export ${global}`);
    await ns.ok({
      op: 'openInput',
      name: 'foreign',
      config: { chip: 'pinctrl-bcm2711', line: 6, active_low: false, debounce_ms: 0 },
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
    });
    await ns.waitFor(`edge gpio${global} both`);
    expect(ns.count(`export ${global}`)).toBe(1);
    await ns.ok({ op: 'closeInput', name: 'foreign' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ns.journalLines()).not.toContain(`unexport ${global}`);
  });

  it("onoff's edge interrupts need the kernel's value file: on the tmpfs model watch() fails clearly, and the line is released", async () => {
    const global = 512 + 7;
    writeFileSync(join(ns.pins, `gpio${global}`), '1\n');
    const reply = await ns.call({
      op: 'openInput',
      name: 'edges',
      config: estop(7),
      options: { backend: 'sysfs', sysfsDriver: 'onoff', tickPeriodMs: TICK_MS, onEdge: true },
    });
    expect(reply).toMatchObject({ ok: false, name: 'HardwareError' });
    // epoll_ctl refuses regular files with EPERM; a real sysfs value file supports POLLPRI.
    expect(reply.error).toMatch(/edge interrupts unavailable on \/sys\/class\/gpio\/gpio519\/value.*(EPERM|not permitted)/i);
    await ns.waitFor(`unexport ${global}`);
  });

  it("the control worker's case: driver 'fs' works in a worker thread; driver 'onoff' is refused there instead of crashing", async () => {
    const global = 512 + 8;
    writeFileSync(join(ns.pins, `gpio${global}`), '0\n');
    const config = { chip: 'pinctrl-bcm2711', line: 8, active_low: false, debounce_ms: 0 };
    const fromWorker = await ns.ok({
      op: 'worker',
      config,
      options: { backend: 'sysfs', tickPeriodMs: TICK_MS },
      n: 3,
    });
    expect(fromWorker.result).toMatchObject({ ok: true, levels: [0, 0, 0] });
    await ns.waitFor(`unexport ${global}`);
    const refused = await ns.ok({
      op: 'worker',
      config,
      options: { backend: 'sysfs', sysfsDriver: 'onoff', tickPeriodMs: TICK_MS },
      n: 1,
    });
    expect(refused.result).toMatchObject({ ok: false, name: 'HardwareError' });
    expect((refused.result as Reply).error).toMatch(/driver 'onoff' cannot run in a worker thread/);
    expect(ns.count(`export ${global}`)).toBe(1);
    // The client process is still alive and answering.
    expect((await ns.ok({ op: 'edges' })).edges).toEqual([]);
  });
});
