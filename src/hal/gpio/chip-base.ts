/**
 * Global sysfs GPIO numbers. The legacy sysfs interface (`/sys/class/gpio/export`, and the npm
 * `onoff` package on top of it) addresses a line by one global number: its chip's base plus the
 * line's offset on the chip. Bases are assigned by the kernel and are NOT 0 on current kernels:
 * since the GPIO core dropped the fixed number space (Linux 6.2+), dynamically numbered chips
 * start at 512, so a Raspberry Pi 4 or 5 on a 6.6+ kernel has its main chip at `gpiochip512`
 * (or 571, …) and BCM 17 is 529, not 17. Never assume base 0.
 *
 * The rule implemented here, for `chip` in a GpioLineConfig:
 * 1. Every `<root>/gpiochipB` directory is one chip; read its `base`, `ngpio` and `label`.
 *    (B is the chip's base, not its /dev/gpiochipN index: the two are different numbers.)
 * 2. A chip whose `label` equals `chip` is the match (labels such as `pinctrl-bcm2711` or
 *    `pinctrl-rp1` are stable across kernels and boards; prefer them). Two chips with that label
 *    are refused as ambiguous.
 * 3. Otherwise, when `chip` is a character-device name `gpiochipN`, it is mapped through the
 *    device model: `<busRoot>/gpiochipN` (`/sys/bus/gpio/devices/gpiochipN`) is the GPIO device,
 *    and the sysfs chip whose `device` link resolves to that device, or that has it as its
 *    `gpio/` parent, or (older kernels parent the sysfs chip on the controller) whose `device`
 *    link is that device's parent and is the only sysfs chip there, is the match.
 * 4. Without a bus entry (old kernels), `gpiochipN` matches the sysfs directory of the same name
 *    only when its base is N too (the 0-based numbering of old kernels, where gpiochip0 had base
 *    0); anything else is refused with the list of labels to choose from.
 * 5. `line` must be an integer in [0, ngpio): anything else is refused, naming the chip's range.
 * The global number is then base + line.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HardwareError } from '../types.js';
import { gpioDeviceName, type GpioLineConfig } from './types.js';

export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';
export const DEFAULT_GPIO_BUS_ROOT = '/sys/bus/gpio/devices';

export interface SysfsChip {
  /** `<root>/gpiochipB`. */
  readonly dir: string;
  /** `gpiochipB`, B being the base. */
  readonly name: string;
  readonly base: number;
  readonly ngpio: number;
  readonly label: string;
}

export interface SysfsLine {
  /** The number to write to `export`: base + line. */
  readonly global: number;
  readonly chip: SysfsChip;
}

export interface ChipBaseOptions {
  /** The sysfs GPIO class directory (default /sys/class/gpio). */
  readonly sysfsRoot?: string;
  /** The GPIO bus device directory (default /sys/bus/gpio/devices). */
  readonly busRoot?: string;
}

const SYSFS_FIX =
  "the kernel has no sysfs GPIO (CONFIG_GPIO_SYSFS off, as on many 6.x kernels) or /sys is read-only " +
  "(systemd ProtectKernelTunables=yes); use the 'chardev' backend, or enable sysfs GPIO";

function readAttribute(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8').trim();
}

/** Every chip under the sysfs GPIO class directory, sorted by base. */
export function listSysfsChips(root: string = DEFAULT_SYSFS_GPIO_ROOT, device = 'gpio'): SysfsChip[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (error) {
    throw new HardwareError(device, `cannot list ${root} (${(error as Error).message}): ${SYSFS_FIX}`);
  }
  const chips: SysfsChip[] = [];
  for (const name of entries) {
    if (!/^gpiochip\d+$/.test(name)) continue;
    const dir = join(root, name);
    try {
      const base = Number(readAttribute(dir, 'base'));
      const ngpio = Number(readAttribute(dir, 'ngpio'));
      if (!Number.isInteger(base) || !Number.isInteger(ngpio) || base < 0 || ngpio < 0) {
        throw new Error(`base '${base}' or ngpio '${ngpio}' is not a non-negative integer`);
      }
      chips.push({ dir, name, base, ngpio, label: readAttribute(dir, 'label') });
    } catch (error) {
      throw new HardwareError(device, `cannot read ${dir}/{base,ngpio,label}: ${(error as Error).message}`);
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function describeChips(chips: readonly SysfsChip[]): string {
  return chips.map((c) => `${c.name} (label '${c.label}', base ${c.base}, ${c.ngpio} lines)`).join('; ');
}

function matchByDeviceName(chips: readonly SysfsChip[], chip: string, busRoot: string): SysfsChip | undefined {
  const gpioDevice = realpathOrUndefined(join(busRoot, chip));
  if (gpioDevice === undefined) {
    // Rule 4: old kernels without the GPIO bus, 0-based numbering only.
    const index = Number(chip.slice('gpiochip'.length));
    return chips.find((c) => c.name === chip && c.base === index);
  }
  const exact = chips.filter(
    (c) =>
      realpathOrUndefined(join(c.dir, 'device')) === gpioDevice || existsSync(join(gpioDevice, 'gpio', c.name)),
  );
  if (exact.length === 1) return exact[0];
  const parent = dirname(gpioDevice);
  const siblings = chips.filter((c) => realpathOrUndefined(join(c.dir, 'device')) === parent);
  return siblings.length === 1 ? siblings[0] : undefined;
}

/** Resolve (chip, line) to the global sysfs number, by the rule in this file's header. */
export function resolveSysfsLine(
  config: Pick<GpioLineConfig, 'chip' | 'line'>,
  options: ChipBaseOptions = {},
): SysfsLine {
  const root = options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT;
  const busRoot = options.busRoot ?? DEFAULT_GPIO_BUS_ROOT;
  const device = gpioDeviceName(config);
  if (!Number.isInteger(config.line) || config.line < 0) {
    throw new HardwareError(device, `line must be a non-negative integer offset on the chip, got ${config.line}`);
  }
  const chips = listSysfsChips(root, device);
  if (chips.length === 0) {
    throw new HardwareError(device, `no gpiochip* directories in ${root}: ${SYSFS_FIX}`);
  }
  const byLabel = chips.filter((c) => c.label === config.chip);
  if (byLabel.length > 1) {
    throw new HardwareError(
      device,
      `label '${config.chip}' is ambiguous in ${root}: ${describeChips(byLabel)}; name the chip as gpiochipN instead`,
    );
  }
  let found: SysfsChip | undefined = byLabel[0];
  if (found === undefined && /^gpiochip\d+$/.test(config.chip)) {
    found = matchByDeviceName(chips, config.chip, busRoot);
  }
  if (found === undefined) {
    throw new HardwareError(
      device,
      `no sysfs GPIO chip in ${root} matches '${config.chip}' (by label, or as a /dev name through ` +
        `${join(busRoot, config.chip)}); set chip to one of these labels: ${describeChips(chips)}`,
    );
  }
  if (config.line >= found.ngpio) {
    throw new HardwareError(
      device,
      `line ${config.line} is out of range: ${found.dir} (label '${found.label}') has ${found.ngpio} lines, ` +
        `offsets 0..${found.ngpio - 1}; the line is the offset on the chip, not a global number`,
    );
  }
  return { global: found.base + config.line, chip: found };
}
