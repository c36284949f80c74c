/**
 * The character-device backend, as far as a machine without /dev/gpiochip* can test it: the
 * gpiomon output parser and log follower, the refusals when the device or the libgpiod tools are
 * missing, and the tool plumbing with stand-in tools (shell scripts) for what happens before a line
 * is held. Requesting a line, edge events and active-low (the ioctls) need a real board.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GpiomonEventParser,
  GpiomonLogReader,
  HardwareError,
  openGpioInput,
  openGpioOutput,
  type GpioLineConfig,
} from '../../src/hal/gpio/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'embody-gpio-chardev-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function feed(parser: GpiomonEventParser, text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  parser.feed(bytes, 0, bytes.length);
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HardwareError);
    return (error as Error).message;
  }
  throw new Error('expected a HardwareError');
}

describe('gpiomon output parser', () => {
  it("v1.6 custom format '%e %o': '1' is a rising edge, '0' falling; the last complete line wins", () => {
    const parser = new GpiomonEventParser(0);
    feed(parser, '1 17\n');
    expect(parser.level).toBe(1);
    feed(parser, '0 17\n1 17\n0 17\n');
    expect(parser.level).toBe(0);
    expect(parser.events).toBe(4);
  });

  it('a line split across reads counts only once its newline arrives', () => {
    const parser = new GpiomonEventParser(0);
    feed(parser, '1');
    expect(parser.level).toBe(0);
    feed(parser, ' 1');
    expect(parser.level).toBe(0);
    feed(parser, '7\n0 1');
    expect(parser.level).toBe(1);
    feed(parser, '7\n');
    expect(parser.level).toBe(0);
    expect(parser.events).toBe(2);
  });

  it("the default human-readable format and v2's '%e' ('2' = falling) are understood; other lines are ignored", () => {
    const parser = new GpiomonEventParser(0);
    feed(parser, 'event:  RISING EDGE offset: 17 timestamp: [  8122.123456789]\n');
    expect(parser.level).toBe(1);
    feed(parser, 'event: FALLING EDGE offset: 17 timestamp: [  8122.223456789]\n');
    expect(parser.level).toBe(0);
    feed(parser, '1 17\n2 17\n');
    expect(parser.level).toBe(0);
    feed(parser, '\n\nwarning: something\n');
    expect(parser.level).toBe(0);
    expect(parser.events).toBe(4);
  });

  it('the log reader follows a growing file from its last offset, through a buffer smaller than the backlog', () => {
    const dir = tempDir();
    const path = join(dir, 'gpiomon.log');
    writeFileSync(path, '');
    const reader = new GpiomonLogReader(path, 1, 8);
    expect(reader.poll()).toBe(1);
    appendFileSync(path, '0 4\n1 4\n0 4\n1 4\n0 4\n');
    expect(reader.poll()).toBe(0);
    expect(reader.offset).toBe(20);
    expect(reader.parser.events).toBe(5);
    appendFileSync(path, '1 4');
    expect(reader.poll()).toBe(0);
    appendFileSync(path, '\n');
    expect(reader.poll()).toBe(1);
    reader.close();
  });

  it('poll() allocates nothing (1M polls of an idle log with a 1 MB young generation, no GC)', () => {
    const dir = tempDir();
    const path = join(dir, 'gpiomon.log');
    writeFileSync(path, '1 4\n0 4\n');
    const script = `
      const { PerformanceObserver } = await import('node:perf_hooks');
      const gpio = await import(${JSON.stringify(pathToFileURL(`${repo}src/hal/gpio/index.ts`).href)});
      const reader = new gpio.GpiomonLogReader(${JSON.stringify(path)}, 1);
      for (let i = 0; i < 50000; i++) reader.poll();
      globalThis.gc();
      let gcs = 0;
      const observer = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
      observer.observe({ entryTypes: ['gc'] });
      let level = 0;
      for (let i = 0; i < 1000000; i++) level += reader.poll();
      await new Promise((resolve) => setTimeout(resolve, 100));
      observer.disconnect();
      console.log(JSON.stringify({ gcs, level }));`;
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--expose-gc', '--max-semi-space-size=1', '--input-type=module', '-e', script],
      { cwd: repo, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ gcs: 0, level: 0 });
  });
});

const line = (chip: string, offset = 17): GpioLineConfig => ({ chip, line: offset, active_low: true, debounce_ms: 5 });

describe('chardev backend refusals', () => {
  it('without /dev/gpiochipN (this machine): a HardwareError naming the path and the fix', () => {
    expect(existsSync('/dev/gpiochip0')).toBe(false);
    const input = failure(() => openGpioInput(line('gpiochip0'), { backend: 'chardev', tickPeriodMs: 5 }));
    expect(input).toMatch(/^gpio gpiochip0:17: no \/dev\/gpiochip0: .*gpiodetect.*CONFIG_GPIO_CDEV/);
    const output = failure(() => openGpioOutput(line('gpiochip0', 22), { backend: 'chardev', tickPeriodMs: 5 }));
    expect(output).toMatch(/^gpio gpiochip0:22: no \/dev\/gpiochip0/);
    const byLabel = failure(() => openGpioInput(line('pinctrl-bcm2711'), { backend: 'chardev', tickPeriodMs: 5 }));
    expect(byLabel).toMatch(/no \/dev\/gpiochip\* to look label 'pinctrl-bcm2711' up in/);
  });

  it('without the libgpiod tools: a HardwareError saying which package to install', () => {
    const dev = tempDir();
    writeFileSync(join(dev, 'gpiochip0'), '');
    const tools = tempDir();
    const text = failure(() =>
      openGpioInput(line('gpiochip0'), { backend: 'chardev', tickPeriodMs: 5, devRoot: dev, toolDir: tools }),
    );
    expect(text).toContain(`gpiodetect not found (looked in ${tools}): install the libgpiod tools: apt-get install gpiod`);
  });

  describe('with stand-in tools (shell scripts in place of gpiodetect/gpioget/gpiomon/gpioset)', () => {
    function fakeTools(scripts: Record<string, string>): { dev: string; tools: string; run: string } {
      const dev = tempDir();
      writeFileSync(join(dev, 'gpiochip0'), '');
      const tools = tempDir();
      const run = join(tools, 'run');
      mkdirSync(run);
      const all: Record<string, string> = {
        gpiodetect: 'echo "gpiochip0 [pinctrl-bcm2711] (58 lines)"; echo "gpiochip1 [raspberrypi-exp-gpio] (8 lines)"',
        gpioget: 'echo 1',
        gpiomon: 'echo "gpiomon: error waiting for events: Device or resource busy" >&2; exit 1',
        gpioset: 'exec sleep 30',
        ...scripts,
      };
      for (const [name, body] of Object.entries(all)) {
        writeFileSync(join(tools, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(tools, name), 0o755);
      }
      return { dev, tools, run };
    }

    it('a line past the chip (per gpiodetect) and an unknown label are refused', () => {
      const { dev, tools } = fakeTools({});
      const options = { backend: 'chardev' as const, tickPeriodMs: 5, devRoot: dev, toolDir: tools };
      expect(failure(() => openGpioInput(line('gpiochip0', 58), options))).toMatch(
        /line 58 is out of range: .*gpiochip0 \[pinctrl-bcm2711\] has 58 lines, offsets 0\.\.57/,
      );
      expect(failure(() => openGpioInput(line('pinctrl-rp1'), options))).toMatch(
        /lists no chip labelled 'pinctrl-rp1' \(it lists: gpiochip0 \[pinctrl-bcm2711\], gpiochip1 \[raspberrypi-exp-gpio\]/,
      );
    });

    it('gpioget failing (busy line) is reported with its message', () => {
      const { dev, tools } = fakeTools({
        gpioget: 'echo "gpioget: error reading GPIO values: Device or resource busy" >&2; exit 1',
      });
      const text = failure(() =>
        openGpioInput(line('pinctrl-bcm2711'), { backend: 'chardev', tickPeriodMs: 5, devRoot: dev, toolDir: tools }),
      );
      expect(text).toMatch(/gpioget -l gpiochip0 17 failed \(exit 1, gpioget: error reading GPIO values: Device or resource busy\)/);
      expect(text).toContain('gpioinfo gpiochip0');
    });

    it('gpiomon exiting at start is reported with its stderr, and its files are removed', () => {
      const { dev, tools, run } = fakeTools({});
      const text = failure(() =>
        openGpioInput(line('gpiochip0'), { backend: 'chardev', tickPeriodMs: 5, devRoot: dev, toolDir: tools, runDir: run }),
      );
      expect(text).toMatch(/gpiomon -b -l --format=%e %o gpiochip0 17 exited at start: gpiomon: error waiting for events: Device or resource busy/);
      expect(readdirSync(run)).toEqual([]);
    });

    it('a tool that never takes the line times out, is stopped, and leaves nothing behind', () => {
      const { dev, tools, run } = fakeTools({ gpiomon: 'exec sleep 30' });
      const started = performance.now();
      const text = failure(() =>
        openGpioInput(line('gpiochip0'), {
          backend: 'chardev',
          tickPeriodMs: 5,
          devRoot: dev,
          toolDir: tools,
          runDir: run,
          readyTimeoutMs: 300,
        }),
      );
      expect(performance.now() - started).toBeLessThan(3000);
      expect(text).toMatch(/did not take the line within 300 ms \(no anon_inode:gpio-event or anon_inode:gpio-line among \/proc\/\d+\/fd\)/);
      expect(readdirSync(run)).toEqual([]);
      const pid = Number(/\/proc\/(\d+)\/fd/.exec(text)?.[1]);
      // Stopped: gone, or a zombie waiting for this thread's event loop to reap it.
      let state: string | undefined;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        state = stat.charAt(stat.lastIndexOf(')') + 2);
      } catch {
        state = undefined;
      }
      expect([undefined, 'Z', 'X']).toContain(state);
      const output = failure(() =>
        openGpioOutput(line('gpiochip0', 22), {
          backend: 'chardev',
          tickPeriodMs: 5,
          devRoot: dev,
          toolDir: tools,
          runDir: run,
          readyTimeoutMs: 200,
        }),
      );
      expect(output).toMatch(/gpioset -l --mode=signal gpiochip0 22=0 did not take the line within 200 ms \(no anon_inode:gpio-linehandle/);
      expect(readdirSync(run)).toEqual([]);
    });
  });
});
