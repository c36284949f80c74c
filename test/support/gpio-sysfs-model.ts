/**
 * A model of the kernel's legacy sysfs GPIO interface, for tests on machines without GPIO.
 * Run it as its own process over a directory that stands in for /sys/class/gpio (a tmpfs
 * mounted there in a private mount namespace, so code that hard-codes the path, like onoff,
 * runs unchanged):
 *
 *   node --import tsx test/support/gpio-sysfs-model.ts --root /sys/class/gpio --pins DIR \
 *     --journal FILE --ready FILE --chips '[{"base":512,"label":"pinctrl-bcm2711","ngpio":54}]'
 *
 * What it does, like the kernel (drivers/gpio/gpiolib-sysfs.c), but asynchronously (it polls
 * every millisecond and watches the root, where the kernel acts inside the write() call):
 * - creates `gpiochipB/{base,label,ngpio}` per chip and empty `export`/`unexport` files;
 * - a number written to `export` creates `gpioN/{direction,value,edge,active_low}` (in, 0, none,
 *   0) atomically (built aside, then renamed into place); one written to `unexport` removes it;
 *   both files are emptied after each write is taken;
 * - `direction`: 'in', or 'out'/'low'/'high', which set the RAW electrical level (as the kernel,
 *   ignoring active_low). Unlike the kernel, attribute files read back what was written ('high'
 *   stays 'high', not 'out'): the model sees writes through inotify (fs.watch on the line's
 *   directory), so every write is journaled, even one that does not change the content, and it
 *   must not write those files itself;
 * - `active_low`: any non-zero number inverts `value` for reads and writes;
 * - `value` holds the logical level, rewritten in place (never truncated) when the pin changes;
 *   a write to an output's value drives the pin (electrical level = value XOR active_low).
 * The pins are files `<pins>/gpioN` holding the ELECTRICAL level '0'/'1': the test writes them
 * for inputs and reads them for outputs. Everything the client wrote is appended to the journal
 * as one line, `export 529`, `active_low gpio529 1`, `direction gpio529 in`, `edge gpio529 both`,
 * `value gpio530 1` (an output written), `pin gpio529 0` (a pin the model applied),
 * `unexport 529`. It writes the ready file once the tree exists and stops on SIGTERM.
 *
 * `--active-low 529,530` (optional): those lines start with `active_low` 1 when exported, so
 * their `value` is inverted from the start. The kernel applies an `active_low` write inside the
 * write() call; the model only a poll later, so a client that writes `active_low` and samples
 * `value` right away (src/hal/gpio/sysfs.ts seeds its debouncer that way) would otherwise see
 * the un-inverted level for about a millisecond: a released active-low e-stop reads pressed.
 * The client's own writes are still taken and journaled as usual.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
  type FSWatcher,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface ModelChip {
  base: number;
  label: string;
  ngpio: number;
}

interface LineState {
  /** Attribute files written since they were last taken (from inotify). */
  readonly dirty: Set<string>;
  readonly watcher: FSWatcher;
  direction: 'in' | 'out';
  activeLow: 0 | 1;
  edge: string;
  /** Electrical level. */
  pin: 0 | 1;
  /** The byte the model last put in `value`. */
  valueByte: number;
}

class SysfsGpioModel {
  readonly #lines = new Map<number, LineState>();

  constructor(
    readonly root: string,
    readonly pins: string,
    readonly journal: string,
    readonly chips: readonly ModelChip[],
    /** Lines whose `active_low` is 1 when exported (see the file header). */
    readonly activeLowAtExport: ReadonlySet<number> = new Set(),
  ) {
    mkdirSync(root, { recursive: true });
    mkdirSync(pins, { recursive: true });
    for (const chip of chips) {
      const dir = join(root, `gpiochip${chip.base}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'base'), `${chip.base}\n`);
      writeFileSync(join(dir, 'label'), `${chip.label}\n`);
      writeFileSync(join(dir, 'ngpio'), `${chip.ngpio}\n`);
    }
    writeFileSync(join(root, 'export'), '');
    writeFileSync(join(root, 'unexport'), '');
  }

  #log(line: string): void {
    appendFileSync(this.journal, `${line}\n`);
  }

  #read(path: string): string | undefined {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return undefined;
    }
  }

  /** Take a number written to export/unexport, emptying the file. */
  #take(name: string): number | undefined {
    const path = join(this.root, name);
    const text = this.#read(path)?.trim();
    if (!text) return undefined;
    writeFileSync(path, '');
    const n = Number(text);
    if (!Number.isInteger(n)) {
      this.#log(`${name}-invalid ${text}`);
      return undefined;
    }
    return n;
  }

  #pinPath(n: number): string {
    return join(this.pins, `gpio${n}`);
  }

  #readPin(n: number): 0 | 1 {
    return this.#read(this.#pinPath(n))?.trim() === '1' ? 1 : 0;
  }

  #writePin(n: number, level: 0 | 1): void {
    writeFileSync(this.#pinPath(n), `${level}\n`);
  }

  /** Rewrite `value` in place to the logical level, as a reader holding the fd sees it. */
  #publishValue(n: number, state: LineState): void {
    const byte = (state.pin ^ state.activeLow) === 1 ? 0x31 : 0x30;
    if (byte === state.valueByte) return;
    const fd = openSync(join(this.root, `gpio${n}`, 'value'), 'r+');
    try {
      writeSync(fd, Buffer.from([byte, 0x0a]), 0, 2, 0);
    } finally {
      closeSync(fd);
    }
    state.valueByte = byte;
  }

  #export(n: number): void {
    const chip = this.chips.find((c) => n >= c.base && n < c.base + c.ngpio);
    const dir = join(this.root, `gpio${n}`);
    if (chip === undefined) {
      this.#log(`export-invalid ${n}`);
      return;
    }
    if (this.#lines.has(n)) {
      this.#log(`export-busy ${n}`);
      return;
    }
    const pin = existsSync(this.#pinPath(n)) ? this.#readPin(n) : 0;
    if (!existsSync(this.#pinPath(n))) this.#writePin(n, 0);
    const activeLow: 0 | 1 = this.activeLowAtExport.has(n) ? 1 : 0;
    const logical = pin ^ activeLow;
    const staging = join(this.root, `.gpio${n}.new`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    writeFileSync(join(staging, 'direction'), 'in\n');
    writeFileSync(join(staging, 'value'), `${logical}\n`);
    writeFileSync(join(staging, 'edge'), 'none\n');
    writeFileSync(join(staging, 'active_low'), `${activeLow}\n`);
    // Watch before the directory appears: a client may write its attributes right away. The
    // inotify watch follows the directory through the rename.
    const dirty = new Set<string>();
    const watcher = watch(staging, (_event, filename) => {
      if (filename !== null) dirty.add(filename);
    });
    renameSync(staging, dir);
    this.#lines.set(n, { dirty, watcher, direction: 'in', activeLow, edge: 'none', pin, valueByte: logical === 1 ? 0x31 : 0x30 });
    this.#log(`export ${n}`);
  }

  #unexport(n: number): void {
    const state = this.#lines.get(n);
    if (state === undefined) {
      this.#log(`unexport-invalid ${n}`);
      return;
    }
    state.watcher.close();
    this.#lines.delete(n);
    rmSync(join(this.root, `gpio${n}`), { recursive: true, force: true });
    this.#log(`unexport ${n}`);
  }

  /** The content of an attribute the client wrote since the last call, or undefined. */
  #written(n: number, state: LineState, name: string): string | undefined {
    if (!state.dirty.has(name)) return undefined;
    const text = this.#read(join(this.root, `gpio${n}`, name));
    // A writer truncates before writing: an empty file is a write in flight, taken next time.
    if (text === undefined || text === '') return undefined;
    state.dirty.delete(name);
    return text.trim();
  }

  #line(n: number, state: LineState): void {
    const activeLow = this.#written(n, state, 'active_low');
    if (activeLow !== undefined) {
      this.#log(`active_low gpio${n} ${activeLow}`);
      state.activeLow = Number(activeLow) !== 0 ? 1 : 0;
    }
    const direction = this.#written(n, state, 'direction');
    if (direction !== undefined) {
      this.#log(`direction gpio${n} ${direction}`);
      if (direction === 'in') {
        state.direction = 'in';
        state.pin = this.#readPin(n);
      } else if (direction === 'out' || direction === 'low' || direction === 'high') {
        state.direction = 'out';
        state.pin = direction === 'high' ? 1 : 0;
        this.#writePin(n, state.pin);
      }
    }
    const edge = this.#written(n, state, 'edge');
    if (edge !== undefined) {
      this.#log(`edge gpio${n} ${edge}`);
      state.edge = edge;
    }
    if (state.direction === 'out') {
      const value = this.#read(join(this.root, `gpio${n}`, 'value'));
      const byte = value === undefined || value === '' ? undefined : value.charCodeAt(0);
      if (byte !== undefined && byte !== state.valueByte && (byte === 0x30 || byte === 0x31)) {
        const logical = byte === 0x31 ? 1 : 0;
        state.valueByte = byte;
        state.pin = (logical ^ state.activeLow) as 0 | 1;
        this.#writePin(n, state.pin);
        this.#log(`value gpio${n} ${logical}`);
        this.#log(`pin gpio${n} ${state.pin}`);
      }
      this.#publishValue(n, state);
    } else {
      const pin = this.#readPin(n);
      const changed = pin !== state.pin;
      state.pin = pin;
      this.#publishValue(n, state);
      // Logged once `value` shows it, so a test that saw the line can read the new level.
      if (changed) this.#log(`pin gpio${n} ${pin}`);
    }
  }

  step(): void {
    const exported = this.#take('export');
    if (exported !== undefined) this.#export(exported);
    const unexported = this.#take('unexport');
    if (unexported !== undefined) this.#unexport(unexported);
    for (const [n, state] of this.#lines) this.#line(n, state);
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      root: { type: 'string', default: '/sys/class/gpio' },
      pins: { type: 'string' },
      journal: { type: 'string' },
      ready: { type: 'string' },
      chips: { type: 'string', default: '[{"base":512,"label":"pinctrl-bcm2711","ngpio":54}]' },
      'active-low': { type: 'string', default: '' },
    },
  });
  if (values.pins === undefined || values.journal === undefined) {
    throw new Error('usage: gpio-sysfs-model --root DIR --pins DIR --journal FILE [--ready FILE] [--chips JSON] [--active-low N,N]');
  }
  const activeLow = new Set(values['active-low'].split(',').filter((s) => s !== '').map(Number));
  const model = new SysfsGpioModel(values.root, values.pins, values.journal, JSON.parse(values.chips) as ModelChip[], activeLow);
  let busy = false;
  const step = (): void => {
    if (busy) return;
    busy = true;
    try {
      model.step();
    } finally {
      busy = false;
    }
  };
  watch(values.root, step);
  setInterval(step, 1);
  if (values.ready !== undefined) writeFileSync(values.ready, `${process.pid}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

main();
