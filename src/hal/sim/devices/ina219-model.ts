/**
 * INA219 register model (TI SBOS448, "8.6 Register Maps", "8.5 Programming"): 16-bit registers,
 * MSB first, one register per pointer (reads longer than two bytes repeat it).
 * - Configuration default 0x399F; RST (bit 15) resets every register.
 * - Continuous conversions (MODE 5..7) at the ADC times of BADC/SADC (12-bit: 532 µs each, shunt
 *   then bus); each completed cycle updates Shunt and Bus, then Current = Shunt × Cal / 4096 and
 *   Power = Current × BD / 5000 (only once Calibration is non-zero), and sets CNVR.
 * - CNVR clears when Power is read or Configuration written; OVF sets when the shunt exceeds the
 *   PGA range or Current/Power overflow.
 * - Calibration bit 0 reads 0; Current and Power read 0 until Calibration is written.
 * Truth (set by ServoArmModel or a test): `current[0]` amps through the shunt, `busVolts[0]` at IN−.
 * Faults: 'stale' = conversions stop (registers frozen, CNVR never set); 'wrong-id' = it resets to
 * 0x4127 (an INA226's default) and ignores writes.
 */
import { DeviceModel, type SimClock } from './model.js';

const CONFIG = 0;
const SHUNT = 1;
const BUS = 2;
const POWER = 3;
const CURRENT = 4;
const CALIBRATION = 5;
/** ADC conversion time, s, by the 4-bit BADC/SADC field ("Table 5"). */
const RESOLUTION_SECONDS = Float64Array.of(84e-6, 148e-6, 276e-6, 532e-6);
const AVERAGING_SECONDS = Float64Array.of(532e-6, 1.06e-3, 2.13e-3, 4.26e-3, 8.51e-3, 17.02e-3, 34.05e-3, 68.1e-3);
function adcSeconds(field: number): number {
  return (field & 0x8) === 0 ? RESOLUTION_SECONDS[field & 0x3] : AVERAGING_SECONDS[field & 0x7];
}

export class Ina219Model extends DeviceModel {
  /** Shunt resistor of this board, ohms. */
  shuntOhms: number;
  /** Truth: amps through the shunt. */
  readonly current = new Float64Array(1);
  /** Truth: volts at IN− (the load side). */
  readonly busVolts = new Float64Array(1);
  readonly registers = new Uint16Array(6);
  /** Conversion cycles completed. */
  conversions = 0;
  #pointer = 0;
  /** [0] = next conversion end, [1] = one cycle's length (cached: a method returning a double would box it). */
  readonly #next = new Float64Array(2);

  constructor(clock: SimClock, options: { name?: string; shuntOhms?: number } = {}) {
    super(options.name ?? 'INA219 model', clock);
    this.shuntOhms = options.shuntOhms ?? 0.1;
    this.reset();
  }

  reset(): void {
    this.registers.fill(0);
    this.registers[CONFIG] = this.wrongId ? 0x4127 : 0x399f;
    this.#pointer = 0;
    this.#next[1] = this.#cycleSeconds();
    this.#next[0] = this.clock.cell[0] + this.#next[1];
  }

  write(data: Uint8Array, length: number): void {
    if (length === 0) return;
    this.#pointer = data[0] < 6 ? data[0] : 0;
    if (length < 3) return;
    this.#update();
    const value = (data[1] << 8) | data[2];
    if (this.#pointer === CONFIG) {
      if ((value & 0x8000) !== 0) {
        this.reset();
        return;
      }
      if (this.wrongId) return;
      this.registers[CONFIG] = value;
      this.registers[BUS] &= ~0x0002;
      this.#next[1] = this.#cycleSeconds();
      this.#next[0] = this.clock.cell[0] + this.#next[1];
    } else if (this.#pointer === CALIBRATION && !this.wrongId) {
      this.registers[CALIBRATION] = value & 0xfffe;
    }
  }

  read(out: Uint8Array, offset: number, length: number): void {
    this.#update();
    const value = this.registers[this.#pointer];
    for (let k = 0; k < length; k++) out[offset + k] = (k & 1) === 0 ? value >> 8 : value & 0xff;
    if (this.#pointer === POWER) this.registers[BUS] &= ~0x0002;
  }

  #cycleSeconds(): number {
    const config = this.registers[CONFIG];
    return adcSeconds((config >> 7) & 0x0f) + adcSeconds((config >> 3) & 0x0f);
  }

  #update(): void {
    const now = this.clock.cell[0];
    if (this.stale || now < this.#next[0]) return;
    const mode = this.registers[CONFIG] & 0x07;
    if (mode < 5) return; // triggered and power-down modes are not modelled: nothing converts
    while (this.#next[0] <= now) this.#next[0] += this.#next[1];
    this.conversions++;
    this.#convert();
  }

  #convert(): void {
    const r = this.registers;
    const config = r[CONFIG];
    const pga = (config >> 11) & 0x03;
    const range = 4000 << pga; // counts of 10 µV: 40, 80, 160, 320 mV
    let ovf = 0;
    let shunt = Math.round((this.current[0] * this.shuntOhms) / 10e-6);
    if (shunt > range) {
      shunt = range;
      ovf = 1;
    } else if (shunt < -range) {
      shunt = -range;
      ovf = 1;
    }
    r[SHUNT] = shunt & 0xffff;
    const maxBd = (config & 0x2000) !== 0 ? 8000 : 4000; // 32 V or 16 V range
    let bd = Math.round(this.busVolts[0] / 0.004);
    if (bd < 0) bd = 0;
    else if (bd > maxBd) bd = maxBd;
    const cal = r[CALIBRATION];
    if (cal !== 0) {
      let current = Math.trunc((shunt * cal) / 4096);
      if (current > 32767 || current < -32768) {
        current = current > 0 ? 32767 : -32768;
        ovf = 1;
      }
      r[CURRENT] = current & 0xffff;
      let power = Math.trunc(((current < 0 ? -current : current) * bd) / 5000);
      if (power > 0xffff) {
        power = 0xffff;
        ovf = 1;
      }
      r[POWER] = power;
    }
    r[BUS] = (bd << 3) | 0x0002 | ovf;
  }
}
