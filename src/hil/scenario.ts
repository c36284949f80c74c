/**
 * HIL scenario files: a robot, a policy, a duration, a timeline of stimuli and the expected
 * reactions. One zod schema validates, types and documents them (`embody hil --schema`);
 * problems are reported with file, line, field and fix like robot.yaml's.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, displayFile, formatPath, readYamlFile, validateSource, type ConfigProblem, type FieldPath, modeNames } from '../runtime/index.js';

const ms = z.number().min(0).describe('milliseconds from the start of the run');
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case');
const mode = z.enum(modeNames);

const at = { at_ms: ms, id: name.optional().describe('name a stimulus to measure reactions from it') };

/** Chips an `i2c_fault` can name (ServoArmModel.models), and the faults their models have. */
export const I2C_DEVICE = /^(pca9685|mux|adc|power|encoder:[a-z][a-z0-9_]*)$/;
export const I2C_FAULTS = ['nack', 'stuck', 'wrong-id', 'stale', 'clear'] as const;
/** Stimuli that act on the emulated chips, so only on `hal: emulated`. */
const HARDWARE_STIMULI = new Set(['i2c_fault', 'brownout']);
const messageContains = z.string().min(1).optional().describe("the event's message contains this text (case-sensitive), e.g. AS5600 or 0x36");

export const stimulusSchema = z
  .discriminatedUnion('do', [
    z.object({ do: z.literal('estop_press'), ...at }).strict(),
    z.object({ do: z.literal('estop_release'), ...at }).strict(),
    z
      .object({
        do: z.enum(['camera_stall', 'camera_dead', 'camera_dark', 'camera_saturated', 'camera_noise', 'camera_ok']),
        ...at,
        camera: name.optional().describe('default: every camera'),
        amount: z.number().min(0).optional().describe('camera_noise: pixel noise standard deviation, 0-255'),
      })
      .strict()
      .describe('stall: frames stop coming; dead: the camera process is gone; dark/saturated: exposure faults'),
    z
      .object({
        do: z.enum(['joint_error', 'joint_freeze', 'joint_jump', 'joint_ok']),
        ...at,
        joint: name.describe('joint name from robot.yaml'),
        amount: z.number().optional().describe('joint_jump: offset added to the reading, rad or m'),
      })
      .strict()
      .describe('error: reads throw; freeze: readings stop changing; jump: readings are offset'),
    z
      .object({
        do: z.enum(['policy_nan', 'policy_out_of_range', 'policy_oscillate', 'policy_silent', 'policy_slow', 'policy_ok']),
        ...at,
        latency_ms: z.number().min(0).optional().describe('policy_slow: answer this late'),
      })
      .strict(),
    z.object({ do: z.literal('object_slip'), ...at }).strict().describe('the object drops out of the grip'),
    z.object({ do: z.literal('push'), ...at, joint: name, amount: z.number().describe('rad or m') }).strict().describe('an external push on a joint'),
    z.object({ do: z.literal('operator'), ...at, command: z.enum(['arm', 'disarm', 'stop', 'reset', 'estop']) }).strict(),
    z.object({ do: z.literal('instruction'), ...at, text: z.string().min(1).max(500) }).strict(),
    z
      .object({ do: z.literal('loop_stall'), ...at, duration_ms: z.number().positive() })
      .strict()
      .describe('the control loop stops ticking (a hung worker): the watchdog must notice'),
    z
      .object({
        do: z.literal('clock_stutter'),
        ...at,
        duration_ms: z.number().positive(),
        every_ms: z.number().positive().describe('one stall this often'),
        stall_ms: z.number().positive().describe('each stall this long (the process held off the CPU)'),
      })
      .strict()
      .describe('the control loop is held off the CPU again and again (a loaded host): it keeps ticking, with gaps'),
    z
      .object({ do: z.literal('clock_skip'), ...at, ticks: z.number().int().positive() })
      .strict()
      .describe('the control clock misses deadlines (ticks overrun)'),
    z
      .object({
        do: z.literal('i2c_fault'),
        ...at,
        device: z
          .string()
          .regex(I2C_DEVICE, 'one of pca9685, mux, adc, power, encoder:<joint name>')
          .describe('the chip: pca9685, mux (TCA9548A), adc (ADS1115), power (INA219) or encoder:<joint> (that joint\'s AS5600)'),
        fault: z
          .enum(I2C_FAULTS)
          .describe('nack: stops acknowledging; stuck: holds SDA low (its bus segment fails); wrong-id: another chip answers; stale: its values freeze; clear: back to normal'),
        count: z.number().int().positive().optional().describe('nack only: NACK just the next `count` transactions addressed to it (a transient burst), then answer again'),
      })
      .strict()
      .describe('a fault on one chip of the emulated I2C buses (needs `hal: emulated`)'),
    z
      .object({
        do: z.literal('brownout'),
        ...at,
        volts: z.number().min(0).max(40).describe('servo rail supply, V, before the wiring sag'),
        ramp_ms: z.number().min(0).default(0).describe('reach `volts` linearly over this long'),
        duration_ms: z.number().positive().optional().describe('then back to the supply before the stimulus; default: to the end'),
      })
      .strict()
      .describe("the servo rail's supply sags (the emulated INA219 sees it; needs `hal: emulated`)"),
  ])
  .describe('one stimulus on the timeline');

export const expectationSchema = z
  .discriminatedUnion('check', [
    z.object({ check: z.literal('mode_at'), at_ms: ms, mode }).strict().describe('the mode at a time'),
    z
      .object({ check: z.literal('mode_within'), from_ms: ms, to_ms: ms, mode })
      .strict()
      .describe('the mode is entered at some time within the window'),
    z.object({ check: z.literal('mode_final'), mode }).strict(),
    z.object({ check: z.literal('never_mode'), mode }).strict().describe('the mode is never entered'),
    z
      .object({
        check: z.literal('limits'),
        max_excursion: z.literal(0).default(0),
        from_ms: ms.optional().describe('judge from this time on (say in the description which transient before it is known, and why)'),
      })
      .strict()
      .describe('commands never leave position, velocity, acceleration or jerk limits; measured positions stay inside'),
    z
      .object({
        check: z.literal('reaction'),
        after: name.describe('id of a stimulus'),
        mode: mode.optional(),
        event: z.string().optional().describe('event kind, e.g. estop, stale_actions, action_rejected'),
        message_contains: messageContains,
        within_ticks: z.number().int().min(0),
      })
      .strict()
      .describe('ticks from a stimulus to the first tick in the mode (or with the event)'),
    z
      .object({
        check: z.literal('events'),
        kind: z.string(),
        message_contains: messageContains,
        min: z.number().int().min(0).optional(),
        max: z.number().int().min(0).optional(),
      })
      .strict()
      .describe('how many events of a kind (mode changes count as mode_change), optionally only those whose message contains a text'),
    z
      .object({ check: z.literal('contact'), within_ms: z.number().min(0) })
      .strict()
      .describe("touch detects contact within this long of the plant's true contact"),
    z
      .object({ check: z.literal('watchdog'), petted: z.boolean(), from_ms: ms, to_ms: ms })
      .strict()
      .describe('petted: true = every watchdog period in the window was petted; false = some period was not'),
    z.object({ check: z.literal('task'), object_lifted: z.boolean() }).strict().describe('the task outcome at the end'),
    z
      .object({
        check: z.literal('held_still'),
        from_ms: ms,
        to_ms: ms,
        tolerance: z.number().positive().default(1e-6),
        of: z.enum(['commands', 'measured']).default('commands'),
      })
      .strict()
      .describe('the commanded (or measured) positions do not move within the window'),
    z
      .object({
        check: z.literal('outputs_off'),
        after: name.optional().describe('id of a stimulus: off within `within_ticks` of it'),
        within_ticks: z.number().int().min(0).optional(),
        from_ms: ms.optional().describe('or: off from this time'),
        to_ms: ms.optional().describe('until this time (default: the end)'),
      })
      .strict()
      .describe('the actuator outputs are disabled from then on: /OE released and no PWM channel pulsing (emulated HAL); drive power off (sim HAL)'),
    z
      .object({ check: z.literal('ready'), ready: z.boolean(), within_ms: ms.optional() })
      .strict()
      .describe('the control loop reported READY (within `within_ms`), or (ready: false) never did'),
  ])
  .describe('one expected reaction');

export const scenarioSchema = z
  .object({
    name: name.describe('shown in summaries and JUnit'),
    description: z.string().optional(),
    robot: z.string().describe('robot.yaml, relative to this file'),
    policy: z.string().optional().describe('policy manifest overriding the robot'),
    duration_ms: z.number().positive().max(600_000),
    seed: z.number().int().default(1).describe('sim seed; `embody hil --seed` overrides'),
    arm: z.enum(['auto', 'manual']).default('auto').describe('auto: arm as soon as the loop is ready'),
    hal: z
      .enum(['sim', 'emulated'])
      .default('sim')
      .describe("sim: the plant simulator moves the joints; emulated: the robot's real drivers on register-level chip models (robots with a servo_arm)"),
    policy_latency_ms: z.number().min(0).default(10).describe('time from a chunk request to its answer'),
    stimuli: z.array(stimulusSchema).default([]),
    expect: z.array(expectationSchema).min(1, 'a scenario needs at least one expectation'),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type Stimulus = z.infer<typeof stimulusSchema>;
export type Expectation = z.infer<typeof expectationSchema>;

export interface LoadedScenario {
  readonly file: string;
  readonly scenario: Scenario;
  readonly robotFile: string;
  readonly policyFile?: string;
  /** Line of a field of the scenario file (for problems found when it runs). */
  readonly lineOf?: (fieldPath: FieldPath) => number | undefined;
}

/** Read and check one scenario file; throws ConfigError naming every problem. */
export function loadScenario(file: string): LoadedScenario {
  const absolute = path.resolve(file);
  const parsed = readYamlFile(absolute);
  if (!parsed.ok) throw new ConfigError(parsed.problems, `scenario ${file} cannot be read`);
  const result = validateSource(scenarioSchema, parsed.source);
  if (!result.ok) throw new ConfigError(result.problems, `scenario ${file} has problems`);
  const scenario = result.value;
  const lineOf = parsed.source.lineOf;
  const problems: ConfigProblem[] = [];
  const problem = (fieldPath: FieldPath, message: string, fix: string): void => {
    const line = lineOf(fieldPath);
    problems.push({ file: absolute, path: formatPath(fieldPath), message, fix, ...(line === undefined ? {} : { line }) });
  };
  const ids = new Set<string>();
  scenario.stimuli.forEach((s, i) => {
    if (s.at_ms > scenario.duration_ms) problem(['stimuli', i, 'at_ms'], `${s.at_ms} ms is after the end (${scenario.duration_ms} ms)`, 'move it earlier or lengthen duration_ms');
    if (HARDWARE_STIMULI.has(s.do) && scenario.hal !== 'emulated') {
      problem(['stimuli', i, 'do'], `${s.do} acts on the emulated I2C chips, but the scenario runs on hal ${scenario.hal}`, 'add `hal: emulated` (the robot needs a servo_arm section, e.g. robots/pi-servo-arm.yaml)');
    }
    if (s.do === 'i2c_fault' && s.count !== undefined && s.fault !== 'nack') {
      problem(['stimuli', i, 'count'], `count is for a transient NACK burst, not for '${s.fault}'`, 'remove count, or use `fault: nack`');
    }
    if (s.id === undefined) return;
    if (ids.has(s.id)) problem(['stimuli', i, 'id'], `id '${s.id}' is used twice`, 'give every stimulus a unique id');
    ids.add(s.id);
  });
  scenario.expect.forEach((e, i) => {
    if ((e.check === 'reaction' || e.check === 'outputs_off') && e.after !== undefined && !ids.has(e.after)) {
      problem(['expect', i, 'after'], `no stimulus has id '${e.after}'`, `use one of: ${[...ids].join(', ') || '(no stimulus has an id)'}`);
    }
    if (e.check === 'reaction' && e.mode === undefined && e.event === undefined) problem(['expect', i], 'a reaction needs a mode or an event', 'add `mode: FAULT` or `event: estop`');
    if (e.check === 'reaction' && e.message_contains !== undefined && e.event === undefined) problem(['expect', i, 'message_contains'], 'message_contains needs an event to look in', 'add `event: hardware_error` (or another event kind)');
    if (e.check === 'outputs_off') {
      const byStimulus = e.after !== undefined || e.within_ticks !== undefined;
      if (byStimulus === (e.from_ms !== undefined)) problem(['expect', i], 'outputs_off needs either `after` and `within_ticks`, or `from_ms`', 'e.g. `{ check: outputs_off, after: fail, within_ticks: 5 }`');
      else if (byStimulus && (e.after === undefined || e.within_ticks === undefined)) problem(['expect', i], '`after` and `within_ticks` go together', 'give both');
    }
    const window = e.check === 'mode_within' || e.check === 'watchdog' || e.check === 'held_still' || e.check === 'outputs_off' ? e : undefined;
    if (window?.from_ms !== undefined && window.to_ms !== undefined && window.from_ms > window.to_ms) {
      problem(['expect', i], `from_ms ${window.from_ms} is after to_ms ${window.to_ms}`, 'swap them');
    }
  });
  const dir = path.dirname(absolute);
  const robotFile = path.resolve(dir, scenario.robot);
  if (scenario.hal === 'emulated') {
    const robot = readYamlFile(robotFile);
    const servoArm = robot.ok && typeof robot.source.data === 'object' && robot.source.data !== null && 'servo_arm' in robot.source.data;
    if (robot.ok && !servoArm) {
      problem(['hal'], `${displayFile(robotFile)} has no servo_arm section: there are no chips to emulate`, 'use `hal: sim`, or a robot with I2C servo drivers (robots/pi-servo-arm.yaml)');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems, `scenario ${file} has problems`);
  return {
    file: absolute,
    scenario,
    robotFile,
    ...(scenario.policy ? { policyFile: path.resolve(dir, scenario.policy) } : {}),
    lineOf,
  };
}

/** The scenario format as JSON Schema, for editors. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input' }) as Record<string, unknown>;
}
