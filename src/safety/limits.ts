/**
 * Per-joint limits as the envelope uses them: flat typed arrays in robot.yaml joint order,
 * checked once at start. The envelope refuses limits that are missing, inverted or unsafe
 * instead of guessing, because a wrong limit is silently wrong on every tick after.
 */
import type { JointDescription } from '../robot/index.js';

export interface EnvelopeLimits {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  readonly velocity: Float64Array;
  readonly acceleration: Float64Array;
  readonly jerk: Float64Array;
  readonly effort: Float64Array;
  readonly softMargin: Float64Array;
}

/** Everything wrong with one joint's limits, as sentences that name the field and the fix. */
export function jointLimitProblems(joint: JointDescription): string[] {
  const out: string[] = [];
  const { limits } = joint;
  const [lower, upper] = limits.position;
  const unit = joint.type === 'revolute' ? 'rad' : 'm';
  if (!(lower < upper)) out.push(`limits.position [${lower}, ${upper}] is inverted or empty: write [lower, upper] with lower < upper`);
  for (const key of ['velocity', 'acceleration', 'jerk', 'effort'] as const) {
    const value = limits[key];
    if (!(value > 0) || !Number.isFinite(value)) out.push(`limits.${key} ${value} must be a finite number above zero`);
    const rated = limits.rated?.[key];
    if (rated !== undefined && value > rated) {
      out.push(`limits.${key} ${value} is above the actuator's rated maximum ${rated} (limits.rated.${key}): lower it to ${rated} or less`);
    }
  }
  if (limits.soft_margin < 0 || !(limits.soft_margin < (upper - lower) / 2)) {
    out.push(`limits.soft_margin ${limits.soft_margin} ${unit} must be at least 0 and below half the range`);
  }
  return out;
}

export function limitsFromJoints(joints: readonly JointDescription[]): EnvelopeLimits {
  const problems = joints.flatMap((joint) => jointLimitProblems(joint).map((p) => `joint '${joint.name}': ${p}`));
  if (problems.length > 0) throw new RangeError(`the safety envelope refuses these limits:\n  ${problems.join('\n  ')}`);
  const column = (pick: (j: JointDescription) => number): Float64Array => Float64Array.from(joints.map(pick));
  return {
    lower: column((j) => j.limits.position[0]),
    upper: column((j) => j.limits.position[1]),
    velocity: column((j) => j.limits.velocity),
    acceleration: column((j) => j.limits.acceleration),
    jerk: column((j) => j.limits.jerk),
    effort: column((j) => j.limits.effort),
    softMargin: column((j) => j.limits.soft_margin),
  };
}
