/**
 * Global sysfs numbers from (chip, line), over temporary trees shaped like /sys/class/gpio and
 * /sys/bus/gpio/devices on old (base 0) and current (base 512+) kernels.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareError, listSysfsChips, resolveSysfsLine } from '../../src/hal/gpio/index.js';

interface Chip {
  base: number;
  label: string;
  ngpio: number;
  /** Where the class directory's `device` link points, relative to the tree. */
  device?: string;
}

const trees: string[] = [];

/** A tree with class/ (the sysfs GPIO root), bus/ (the GPIO bus) and devices/ (the device model). */
function tree(chips: Chip[], gpioDevices: Record<string, string> = {}): { root: string; busRoot: string; top: string } {
  const top = mkdtempSync(join(tmpdir(), 'embody-gpio-chips-'));
  trees.push(top);
  const root = join(top, 'class');
  const busRoot = join(top, 'bus');
  mkdirSync(root);
  mkdirSync(busRoot);
  for (const [name, path] of Object.entries(gpioDevices)) {
    mkdirSync(join(top, path), { recursive: true });
    symlinkSync(join(top, path), join(busRoot, name));
  }
  for (const chip of chips) {
    const dir = join(root, `gpiochip${chip.base}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'base'), `${chip.base}\n`);
    writeFileSync(join(dir, 'label'), `${chip.label}\n`);
    writeFileSync(join(dir, 'ngpio'), `${chip.ngpio}\n`);
    if (chip.device !== undefined) {
      mkdirSync(join(top, chip.device), { recursive: true });
      symlinkSync(join(top, chip.device), join(dir, 'device'));
    }
  }
  // Something that is not a chip, as the real directory has.
  writeFileSync(join(root, 'export'), '');
  return { root, busRoot, top };
}

afterEach(() => {
  for (const top of trees.splice(0)) rmSync(top, { recursive: true, force: true });
});

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HardwareError);
    return (error as Error).message;
  }
  throw new Error('expected a HardwareError');
}

describe('sysfs chip base resolution', () => {
  it('base 0 (older kernels): the global number is the offset', () => {
    const { root, busRoot } = tree([{ base: 0, label: 'pinctrl-bcm2835', ngpio: 54 }]);
    const line = resolveSysfsLine({ chip: 'pinctrl-bcm2835', line: 17 }, { sysfsRoot: root, busRoot });
    expect(line.global).toBe(17);
    expect(line.chip).toMatchObject({ name: 'gpiochip0', base: 0, ngpio: 54 });
  });

  it('base 512 (6.6+ kernels, Raspberry Pi 4/5): BCM 17 is 529, never 17', () => {
    const { root, busRoot } = tree([
      { base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
      { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
    expect(resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 17 }, { sysfsRoot: root, busRoot }).global).toBe(529);
    expect(resolveSysfsLine({ chip: 'raspberrypi-exp-gpio', line: 2 }, { sysfsRoot: root, busRoot }).global).toBe(572);
    expect(listSysfsChips(root).map((c) => c.name)).toEqual(['gpiochip512', 'gpiochip570']);
  });

  it('a /dev name maps through the GPIO bus when the sysfs chip hangs on the controller (the usual case)', () => {
    const { root, busRoot } = tree(
      [
        { base: 512, label: 'pinctrl-bcm2711', ngpio: 58, device: 'devices/soc/fe200000.gpio' },
        { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8, device: 'devices/soc/firmware/gpio' },
      ],
      { gpiochip0: 'devices/soc/fe200000.gpio/gpiochip0', gpiochip1: 'devices/soc/firmware/gpio/gpiochip1' },
    );
    expect(resolveSysfsLine({ chip: 'gpiochip0', line: 4 }, { sysfsRoot: root, busRoot }).global).toBe(516);
    expect(resolveSysfsLine({ chip: 'gpiochip1', line: 4 }, { sysfsRoot: root, busRoot }).global).toBe(574);
  });

  it('a /dev name maps when the sysfs chip hangs on the GPIO device itself', () => {
    const { root, busRoot } = tree([{ base: 571, label: 'pinctrl-rp1', ngpio: 54, device: 'devices/rp1/gpiochip4' }], {
      gpiochip4: 'devices/rp1/gpiochip4',
    });
    expect(resolveSysfsLine({ chip: 'gpiochip4', line: 17 }, { sysfsRoot: root, busRoot }).global).toBe(588);
  });

  it('two sysfs chips on one controller make a /dev name ambiguous: refused, with the labels to use', () => {
    const { root, busRoot } = tree(
      [
        { base: 512, label: 'bank-a', ngpio: 32, device: 'devices/soc/gpio' },
        { base: 544, label: 'bank-b', ngpio: 32, device: 'devices/soc/gpio' },
      ],
      { gpiochip0: 'devices/soc/gpio/gpiochip0', gpiochip1: 'devices/soc/gpio/gpiochip1' },
    );
    const text = message(() => resolveSysfsLine({ chip: 'gpiochip0', line: 1 }, { sysfsRoot: root, busRoot }));
    expect(text).toMatch(/no sysfs GPIO chip .* matches 'gpiochip0'/);
    expect(text).toContain("gpiochip512 (label 'bank-a', base 512, 32 lines)");
    expect(text).toContain("gpiochip544 (label 'bank-b', base 544, 32 lines)");
    expect(resolveSysfsLine({ chip: 'bank-b', line: 1 }, { sysfsRoot: root, busRoot }).global).toBe(545);
  });

  it('without a GPIO bus, gpiochipN matches only a chip numbered from 0 (old kernels)', () => {
    const old = tree([{ base: 0, label: 'pinctrl-bcm2835', ngpio: 54 }]);
    expect(resolveSysfsLine({ chip: 'gpiochip0', line: 3 }, { sysfsRoot: old.root, busRoot: old.busRoot }).global).toBe(3);
    const current = tree([{ base: 512, label: 'pinctrl-bcm2711', ngpio: 58 }]);
    const text = message(() =>
      resolveSysfsLine({ chip: 'gpiochip0', line: 3 }, { sysfsRoot: current.root, busRoot: current.busRoot }),
    );
    expect(text).toContain("set chip to one of these labels: gpiochip512 (label 'pinctrl-bcm2711'");
  });

  it('refuses a line at or past ngpio, naming the chip, its path and range', () => {
    const { root, busRoot } = tree([{ base: 512, label: 'pinctrl-bcm2711', ngpio: 58 }]);
    const text = message(() => resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 58 }, { sysfsRoot: root, busRoot }));
    expect(text).toContain('gpio pinctrl-bcm2711:58: line 58 is out of range');
    expect(text).toContain(`${join(root, 'gpiochip512')} (label 'pinctrl-bcm2711') has 58 lines, offsets 0..57`);
    expect(text).toContain('not a global number');
    // A global number passed by mistake is caught the same way.
    expect(message(() => resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 529 }, { sysfsRoot: root, busRoot }))).toMatch(
      /line 529 is out of range/,
    );
    expect(message(() => resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: -1 }, { sysfsRoot: root, busRoot }))).toMatch(
      /non-negative integer/,
    );
    expect(message(() => resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 1.5 }, { sysfsRoot: root, busRoot }))).toMatch(
      /non-negative integer/,
    );
  });

  it('refuses an ambiguous label, and says what to do without sysfs GPIO at all', () => {
    const { root, busRoot } = tree([
      { base: 512, label: 'same', ngpio: 8 },
      { base: 520, label: 'same', ngpio: 8 },
    ]);
    expect(message(() => resolveSysfsLine({ chip: 'same', line: 0 }, { sysfsRoot: root, busRoot }))).toMatch(
      /label 'same' is ambiguous.*gpiochip512.*gpiochip520.*name the chip as gpiochipN/,
    );
    const missing = message(() =>
      resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 0 }, { sysfsRoot: join(root, 'nope'), busRoot }),
    );
    expect(missing).toMatch(/cannot list .*nope .*ENOENT.*CONFIG_GPIO_SYSFS.*ProtectKernelTunables.*'chardev' backend/);
    const empty = tree([]);
    expect(message(() => resolveSysfsLine({ chip: 'x', line: 0 }, { sysfsRoot: empty.root, busRoot }))).toMatch(
      /no gpiochip\* directories in/,
    );
  });

  it('a chip directory with an unreadable base is reported with its path', () => {
    const { root, busRoot } = tree([{ base: 512, label: 'pinctrl-bcm2711', ngpio: 58 }]);
    writeFileSync(join(root, 'gpiochip512', 'base'), 'garbage\n');
    expect(message(() => resolveSysfsLine({ chip: 'pinctrl-bcm2711', line: 0 }, { sysfsRoot: root, busRoot }))).toMatch(
      /cannot read .*gpiochip512\/\{base,ngpio,label\}/,
    );
  });
});
