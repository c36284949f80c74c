/**
 * Configuration of a servo arm on I2C (ServoArmHardware): one zod schema that validates, types and
 * documents it (the integration puts it into robot.yaml). Angles in rad, times in ms, addresses as
 * 7-bit numbers (YAML reads 0x40 as 64).
 *
 * Address rules checked here, because a clash is silent on the wire (two chips answer at once):
 * every chip on the main bus segment needs its own address; an INA219 and a PCA9685 both default
 * to 0x40 (move the INA219: A0 bridged = 0x41); the AS5600 is always 0x36, so encoders need one
 * TCA9548A channel each (or a bus each).
 */
import { z } from 'zod';

/** The ADS1115's data rates (SPS) and full-scale ranges (V), TI datasheet SBAS444 tables 8/9: the values robot.yaml may name. */
export const ADS1115_DATA_RATES = [8, 16, 32, 64, 128, 250, 475, 860] as const;
export const ADS1115_PGA_VOLTS = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256] as const;
export type Ads1115DataRate = (typeof ADS1115_DATA_RATES)[number];
export type Ads1115Pga = (typeof ADS1115_PGA_VOLTS)[number];
/** The INA219's shunt voltage ranges (V), TI datasheet SBOS448 (PGA /1../8). */
export const INA219_SHUNT_RANGES = [0.04, 0.08, 0.16, 0.32] as const;

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const positive = finite.refine((v) => v > 0, { message: 'must be greater than zero' });
const address = z.number().int().min(0x03).max(0x77).describe('7-bit I2C address (write 0x40 in YAML)');
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case');

export const servoCalibrationSchema = z
  .object({
    min_us: finite.refine((v) => v >= 300 && v <= 3000, { message: 'must be 300..3000 µs' }).describe('pulse width at min_angle, µs'),
    max_us: finite.refine((v) => v >= 300 && v <= 3000, { message: 'must be 300..3000 µs' }).describe('pulse width at max_angle, µs'),
    min_angle: finite.describe('joint angle at min_us, rad'),
    max_angle: finite.describe('joint angle at max_us, rad (below min_angle for a servo mounted reversed)'),
  })
  .strict()
  .refine((c) => c.min_us < c.max_us, { message: 'min_us must be below max_us' })
  .refine((c) => c.min_angle !== c.max_angle, { message: 'min_angle and max_angle must differ' })
  .describe('linear map joint angle → servo pulse width, measured per servo (docs/HARDWARE.md)');

export const as5600Schema = z
  .object({
    address: address.default(0x36).describe('always 0x36 for an AS5600 (the AS5600L is programmable)'),
    bus: z.number().int().min(0).optional().describe('I2C adapter of this encoder when not the arm\'s bus (one bus per encoder)'),
    mux_channel: z.number().int().min(0).max(7).optional().describe('TCA9548A channel the encoder sits on (needs `mux`)'),
    zero_raw: z.number().int().min(0).max(4095).default(0).describe('RAW ANGLE (0..4095) read with the joint at angle 0'),
    direction: z.union([z.literal(1), z.literal(-1)]).default(1).describe('1 if RAW ANGLE grows with the joint angle, -1 if it falls'),
    slow_filter: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).default(1).describe('CONF SF: 0 = 16x (2.2 ms) … 3 = 2x (0.29 ms)'),
    travel_per_turn: positive
      .optional()
      .describe('joint travel per magnet turn: 2π rad (the default) for a magnet on the joint shaft; for a gripper driven through a rack or linkage, its opening per turn, m (required on a prismatic joint)'),
  })
  .strict();

export const servoJointSchema = z
  .object({
    name: name.describe('the robot.yaml joint this servo moves'),
    channel: z.number().int().min(0).max(15).describe('PCA9685 output channel'),
    servo: servoCalibrationSchema,
    encoder: as5600Schema.optional().describe('AS5600 on the joint; without one, position reads back the last command (open loop)'),
    initial_position: finite.optional().describe('open-loop joints: where the servo is assumed at start, rad (default: mid of the calibration)'),
    torque_per_amp: positive.default(0.4).describe('servo torque per amp of supply current, N·m/A (stall torque / stall current), for the effort proxy'),
    follow: z.boolean().default(true).describe('take part in the arm\'s `follow` check (false for a gripper, which sits away from its command when it holds something)'),
  })
  .strict();

/** robot.yaml `joints[].driver` of a servo joint: the servo's settings, named by the joint itself. */
export const servoDriverSchema = servoJointSchema
  .omit({ name: true })
  .extend({ kind: z.literal('servo') })
  .describe('a hobby servo on the PCA9685 of `servo_arm` (the I2C side is in that section)');

export const pca9685Schema = z
  .object({
    address: address.default(0x40),
    frequency_hz: positive.refine((v) => v >= 40 && v <= 400, { message: 'servos want 40..400 Hz' }).default(50),
    oscillator_hz: positive.default(25_000_000).describe('measured PCA9685 oscillator (25 MHz nominal; real parts are a few % off)'),
  })
  .strict();

export const muxSchema = z
  .object({ address: z.number().int().min(0x70).max(0x77).default(0x70).describe('TCA9548A address, 0x70..0x77') })
  .strict();

export const fingertipFsrSchema = z
  .object({
    name: name.describe('fingertip name (matches robot.yaml fingertips)'),
    input: z.number().int().min(0).max(3).describe('ADS1115 AINn (single-ended, against GND)'),
    calibration: z
      .array(z.tuple([finite, finite]))
      .min(2)
      .refine((points) => points.every((p, i) => i === 0 || p[0] > points[i - 1][0]), { message: 'volts must increase from point to point' })
      .refine((points) => points.every((p, i) => i === 0 || p[1] >= points[i - 1][1]), { message: 'newtons must not decrease as volts increase' })
      .describe('[volts, newtons] points measured with known weights; piecewise linear between, clamped outside'),
  })
  .strict();

export const ads1115Schema = z
  .object({
    address: z.number().int().min(0x48).max(0x4b).default(0x48),
    mux_channel: z.number().int().min(0).max(7).optional(),
    data_rate: z
      .number()
      .refine((v) => (ADS1115_DATA_RATES as readonly number[]).includes(v), { message: `must be one of ${ADS1115_DATA_RATES.join(', ')}` })
      .default(860)
      .describe('samples/s; one conversion (1/rate) must fit in a control tick'),
    pga_volts: z
      .number()
      .refine((v) => (ADS1115_PGA_VOLTS as readonly number[]).includes(v), { message: `must be one of ${ADS1115_PGA_VOLTS.join(', ')}` })
      .default(4.096),
    fingertips: z.array(fingertipFsrSchema).min(1).max(4),
  })
  .strict();

export const ina219Schema = z
  .object({
    address: z.number().int().min(0x40).max(0x4f).default(0x41).describe('0x40..0x4f; 0x41 (A0 bridged) keeps clear of a PCA9685 at 0x40'),
    mux_channel: z.number().int().min(0).max(7).optional(),
    shunt_ohms: positive.default(0.1),
    max_current_a: positive.default(3.2).describe('largest rail current to measure (sets the calibration)'),
    bus_range_v: z.union([z.literal(16), z.literal(32)]).default(16),
    brownout_volts: positive.default(4.5).describe('servo rail below this → HardwareError (brown-out)'),
    brownout_samples: z.number().int().min(1).max(100).default(2).describe('consecutive low samples before a brown-out counts'),
    idle_current_a: finite.refine((v) => v >= 0, { message: 'must be 0 or more' }).default(0.05).describe('rail current with the servos at rest, subtracted for the effort proxy'),
    trip_current_a: positive.optional().describe('rail current above this for brownout_samples → HardwareError (overcurrent)'),
  })
  .strict()
  .refine((c) => c.shunt_ohms * c.max_current_a <= INA219_SHUNT_RANGES[3] + 1e-9, { message: 'shunt_ohms × max_current_a must be at most 0.32 V (the INA219 shunt range)' });

export const outputEnableSchema = z
  .object({
    chip: z.string().default('gpiochip0'),
    line: z.number().int().min(0),
    active_low: z.boolean().default(true).describe('the PCA9685 /OE pin is active low: keep true'),
    backend: z.enum(['sysfs', 'chardev']).default('sysfs'),
  })
  .strict()
  .describe('GPIO line to the PCA9685 /OE pin: asserted = outputs enabled; released = every output low at once');

export const followSchema = z
  .object({
    tolerance_rad: positive.default(0.35).describe('how far an encoder may trail the command'),
    timeout_ms: positive.default(500).describe('for how long before it is a fault (stalled or unpowered servo, frozen encoder)'),
  })
  .strict();

/** Everything of the arm but its joints: robot.yaml's `servo_arm` section (the joints carry their own servo settings there). */
export const servoArmSectionSchema = z
  .object({
    bus: z.number().int().min(0).default(1).describe('I2C adapter: /dev/i2c-<bus> (1 on a Raspberry Pi header)'),
    retries: z.number().int().min(0).max(5).default(2).describe('extra attempts of a failed I2C transaction'),
    max_retry_fraction: finite
      .refine((v) => v > 0 && v < 1, { message: 'must be between 0 and 1' })
      .default(0.01)
      .describe('share of transactions that may need a retry over any second before the bus counts as failing (a storm: noisy cable, failing chip); retries absorb single glitches'),
    pca9685: pca9685Schema.prefault({}),
    mux: muxSchema.optional().describe('TCA9548A, for several AS5600 (fixed address 0x36) on one bus'),
    fsr: ads1115Schema.optional().describe('ADS1115 reading fingertip force-sensing resistors'),
    power: ina219Schema.optional().describe('INA219 on the servo supply rail'),
    output_enable: outputEnableSchema.optional(),
    follow: followSchema
      .optional()
      .describe("the driver's own encoder-vs-command check while powered (off by default: the safety layer's following_error covers it; this one names the chips)"),
  })
  .strict()
  .describe('the I2C side of a hobby-servo arm: bus, PCA9685, TCA9548A mux, ADS1115 fingertip FSRs, INA219 servo rail, /OE line');

export const servoArmSchema = servoArmSectionSchema
  .extend({ joints: z.array(servoJointSchema).min(1).max(16) })
  .superRefine((arm, ctx) => {
    const channels = new Map<number, string>();
    arm.joints.forEach((joint, i) => {
      const other = channels.get(joint.channel);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['joints', i, 'channel'], message: `PCA9685 channel ${joint.channel} is already used by '${other}'` });
      channels.set(joint.channel, joint.name);
    });
    // Who answers where: key = bus/segment/address.
    // A chip directly on the bus answers whichever mux channel is on, so it clashes with a chip
    // at the same address behind the mux too.
    const taken = new Map<string, string>();
    const claim = (bus: number, channel: number | undefined, address_: number, who: string, path: (string | number)[]): void => {
      const key = `${bus}/${channel ?? '-'}/${address_}`;
      let clash = taken.get(key);
      if (clash === undefined && channel !== undefined) clash = taken.get(`${bus}/-/${address_}`);
      if (clash === undefined && channel === undefined) {
        for (let c = 0; c < 8 && clash === undefined; c++) clash = taken.get(`${bus}/${c}/${address_}`);
      }
      if (clash !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `${who} at 0x${address_.toString(16)} clashes with ${clash} on bus ${bus}${channel !== undefined ? ` (mux channel ${channel})` : ''}: give each chip its own address (address straps), TCA9548A channel or bus`,
        });
      }
      taken.set(key, who);
    };
    const needsMux = (channel: number | undefined, path: (string | number)[]): void => {
      if (channel !== undefined && arm.mux === undefined) ctx.addIssue({ code: 'custom', path, message: 'mux_channel needs a `mux` (TCA9548A) section' });
    };
    claim(arm.bus, undefined, arm.pca9685.address, 'the PCA9685', ['pca9685', 'address']);
    if (arm.mux) claim(arm.bus, undefined, arm.mux.address, 'the TCA9548A', ['mux', 'address']);
    if (arm.fsr) {
      needsMux(arm.fsr.mux_channel, ['fsr', 'mux_channel']);
      claim(arm.bus, arm.fsr.mux_channel, arm.fsr.address, 'the ADS1115', ['fsr', 'address']);
      const names = new Set<string>();
      arm.fsr.fingertips.forEach((tip, i) => {
        if (names.has(tip.name)) ctx.addIssue({ code: 'custom', path: ['fsr', 'fingertips', i, 'name'], message: `fingertip '${tip.name}' is listed twice` });
        names.add(tip.name);
      });
    }
    if (arm.power) {
      needsMux(arm.power.mux_channel, ['power', 'mux_channel']);
      claim(arm.bus, arm.power.mux_channel, arm.power.address, 'the INA219', ['power', 'address']);
    }
    arm.joints.forEach((joint, i) => {
      const enc = joint.encoder;
      if (!enc) return;
      const bus = enc.bus ?? arm.bus;
      needsMux(enc.mux_channel, ['joints', i, 'encoder', 'mux_channel']);
      if (enc.mux_channel !== undefined && bus !== arm.bus) {
        ctx.addIssue({ code: 'custom', path: ['joints', i, 'encoder'], message: 'an encoder behind the mux must be on the arm\'s bus' });
      }
      claim(bus, enc.mux_channel, enc.address, `the AS5600 of '${joint.name}'`, ['joints', i, 'encoder']);
    });
  })
  .describe('a hobby-servo arm on I2C: PCA9685 PWM, AS5600 encoders, ADS1115 fingertip FSRs, INA219 on the servo rail');

/** The configuration as written (defaults optional). */
export type ServoArmConfigInput = z.input<typeof servoArmSchema>;
/** The configuration after parsing (defaults filled): what ServoArmHardware takes. */
export type ServoArmConfig = z.output<typeof servoArmSchema>;
export type ServoJointConfig = ServoArmConfig['joints'][number];
export type FingertipFsrConfig = z.output<typeof fingertipFsrSchema>;

export type ServoArmSection = z.output<typeof servoArmSectionSchema>;
export type ServoDriver = z.output<typeof servoDriverSchema>;

/** The ServoArmConfig (parsed input form) of a robot.yaml's `servo_arm` section and its servo joints. */
export function servoArmInput(section: ServoArmSection, joints: readonly { name: string; driver: { kind: string } }[]): ServoArmConfigInput {
  const servoJoints = joints.flatMap((joint) => {
    if (joint.driver.kind !== 'servo') return [];
    const { channel, servo, encoder, initial_position, torque_per_amp, follow } = joint.driver as ServoDriver;
    return [{ name: joint.name, channel, servo, encoder, initial_position, torque_per_amp, follow }];
  });
  return { ...section, joints: servoJoints };
}

/** Parse and default a servo-arm configuration; throws a ZodError listing every problem. */
export function parseServoArmConfig(input: unknown): ServoArmConfig {
  return servoArmSchema.parse(input);
}
