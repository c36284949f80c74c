/**
 * HIL scenario files: a robot, a policy, a duration, a timeline of stimuli and the expected
 * reactions. One zod schema validates, types and documents them (`embody hil --schema`);
 * problems are reported with file, line, field and fix like robot.yaml's.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, readYamlFile, validateSource, type ConfigProblem } from '../runtime/config/problems.js';
import { modeNames } from '../runtime/shared-state.js';

const ms = z.number().min(0).describe('milliseconds from the start of the run');
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower_snake_case');
const mode = z.enum(modeNames);

const at = { at_ms: ms, id: name.optional().describe('name a stimulus to measure reactions from it') };

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
      .object({ do: z.literal('clock_skip'), ...at, ticks: z.number().int().positive() })
      .strict()
      .describe('the control clock misses deadlines (ticks overrun)'),
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
      .object({ check: z.literal('limits'), max_excursion: z.literal(0).default(0) })
      .strict()
      .describe('commands never leave position, velocity, acceleration or jerk limits; measured positions stay inside'),
    z
      .object({
        check: z.literal('reaction'),
        after: name.describe('id of a stimulus'),
        mode: mode.optional(),
        event: z.string().optional().describe('event kind, e.g. estop, stale_actions, action_rejected'),
        within_ticks: z.number().int().min(0),
      })
      .strict()
      .describe('ticks from a stimulus to the first tick in the mode (or with the event)'),
    z
      .object({ check: z.literal('events'), kind: z.string(), min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() })
      .strict()
      .describe('how many events of a kind (mode changes count as mode_change)'),
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
}

/** Read and check one scenario file; throws ConfigError naming every problem. */
export function loadScenario(file: string): LoadedScenario {
  const absolute = path.resolve(file);
  const parsed = readYamlFile(absolute);
  if (!parsed.ok) throw new ConfigError(parsed.problems, `scenario ${file} cannot be read`);
  const result = validateSource(scenarioSchema, parsed.source);
  if (!result.ok) throw new ConfigError(result.problems, `scenario ${file} has problems`);
  const scenario = result.value;
  const problems: ConfigProblem[] = [];
  const ids = new Set<string>();
  scenario.stimuli.forEach((s, i) => {
    if (s.id === undefined) return;
    if (ids.has(s.id)) problems.push({ file: absolute, path: `stimuli[${i}].id`, message: `id '${s.id}' is used twice`, fix: 'give every stimulus a unique id' });
    ids.add(s.id);
    if (s.at_ms > scenario.duration_ms) problems.push({ file: absolute, path: `stimuli[${i}].at_ms`, message: `${s.at_ms} ms is after the end (${scenario.duration_ms} ms)`, fix: 'move it earlier or lengthen duration_ms' });
  });
  scenario.expect.forEach((e, i) => {
    if (e.check === 'reaction') {
      if (!ids.has(e.after)) problems.push({ file: absolute, path: `expect[${i}].after`, message: `no stimulus has id '${e.after}'`, fix: `use one of: ${[...ids].join(', ') || '(no stimulus has an id)'}` });
      if (e.mode === undefined && e.event === undefined) problems.push({ file: absolute, path: `expect[${i}]`, message: 'a reaction needs a mode or an event', fix: 'add `mode: FAULT` or `event: estop`' });
    }
    if ((e.check === 'mode_within' || e.check === 'watchdog' || e.check === 'held_still') && e.from_ms > e.to_ms) {
      problems.push({ file: absolute, path: `expect[${i}]`, message: `from_ms ${e.from_ms} is after to_ms ${e.to_ms}`, fix: 'swap them' });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems, `scenario ${file} has problems`);
  const dir = path.dirname(absolute);
  return {
    file: absolute,
    scenario,
    robotFile: path.resolve(dir, scenario.robot),
    ...(scenario.policy ? { policyFile: path.resolve(dir, scenario.policy) } : {}),
  };
}

/** The scenario format as JSON Schema, for editors. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input' }) as Record<string, unknown>;
}
