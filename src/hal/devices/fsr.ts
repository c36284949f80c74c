/**
 * Fingertip force-sensing resistors, read as divider volts on an ADS1115 input (servo_arm.fsr).
 * Volts → newtons goes through the builder's calibration points (`[volts, newtons]`, volts
 * increasing; docs/HARDWARE.md), linear between them and clamped outside. The control tick
 * (ServoArmHardware) and the probe both convert with fsrNewtons.
 */

/**
 * Newtons for `v` volts through calibration points start..end−1 of `volts` and `newtons` (two or
 * more, volts increasing). Typed arrays, so the tick can keep every fingertip's points in one pair
 * of flat arrays and never box a double.
 */
export function fsrNewtons(v: number, volts: Float64Array, newtons: Float64Array, start = 0, end = volts.length): number {
  if (v <= volts[start]) return newtons[start];
  if (v >= volts[end - 1]) return newtons[end - 1];
  let k = start + 1;
  while (volts[k] < v) k++;
  return newtons[k - 1] + ((v - volts[k - 1]) * (newtons[k] - newtons[k - 1])) / (volts[k] - volts[k - 1]);
}
