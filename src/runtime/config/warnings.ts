/**
 * Warnings: robot.yaml values that are each legal but almost certainly a mistake. They never
 * refuse a start (a test rig may want them); `embody check` prints them and `embody run` logs them.
 */
import type { RobotDescription } from '../../robot/index.js';
import { ProblemList, type ConfigProblem, type FieldPath } from './problems.js';

/** Longest time a joint may need to stop from its velocity limit before robot.yaml is warned about. */
export const MAX_STOP_SECONDS = 2;

function fmt(n: number): string {
  const rounded = Number(n.toPrecision(3));
  return Math.abs(rounded) >= 1e6 ? rounded.toExponential() : rounded.toString();
}

/**
 * Time-optimal stop from velocity v at zero acceleration under acceleration limit A and jerk
 * limit J (the profile of src/safety/braking.ts): a triangle below the knee, else a trapezoid.
 */
export function stopSeconds(v: number, A: number, J: number): number {
  return v <= (A * A) / J ? 2 * Math.sqrt(v / J) : v / A + A / J;
}

/**
 * Joints whose limits make a stop from full speed take longer than MAX_STOP_SECONDS: the envelope
 * would honour them, so a stop (SAFE_STOP, an e-stop of category 1) would take that long to finish.
 */
export function stoppingTimeWarnings(robot: RobotDescription, file: string, lineOf?: (p: FieldPath) => number | undefined): ConfigProblem[] {
  const out = new ProblemList(file, lineOf);
  robot.joints.forEach((joint, i) => {
    const { velocity: v, acceleration: A, jerk: J } = joint.limits;
    const seconds = stopSeconds(v, A, J);
    if (!(seconds > MAX_STOP_SECONDS)) return;
    const unit = joint.type === 'revolute' ? 'rad' : 'm';
    const T = MAX_STOP_SECONDS;
    // Braking at A alone takes v/A: past T, acceleration is the field to fix (to 2v/T, half the
    // time, leaving the other half to the jerk ramps). Otherwise the ramps are too slow: the jerk
    // for which this A stops in T (trapezoid), and at least the triangle's 4v/T².
    const byAcceleration = v / A >= T;
    const field = byAcceleration ? 'acceleration' : 'jerk';
    const needed = byAcceleration ? (2 * v) / T : Math.max((4 * v) / (T * T), A / (T - v / A));
    out.add(
      ['joints', i, 'limits', field],
      `joint \`${joint.name}\` needs ${fmt(seconds)} s to stop from its velocity limit ${fmt(v)} ${unit}/s (acceleration ${fmt(A)} ${unit}/s², jerk ${fmt(J)} ${unit}/s³), more than ${T} s: a stop could not finish in a sane time`,
      `raise limits.${field} to at least ${fmt(needed)} ${unit}/s${field === 'acceleration' ? '²' : '³'} (within the actuator's rating), or lower limits.velocity`,
      'warning',
    );
  });
  return out.problems;
}

/** Every warning for a robot that passed its checks. */
export function robotWarnings(robot: RobotDescription, file: string, lineOf?: (p: FieldPath) => number | undefined): ConfigProblem[] {
  return [...stoppingTimeWarnings(robot, file, lineOf), ...estopWarnings(robot, file, lineOf)];
}

/** A robot without an e-stop line can only be stopped in software or by pulling its supply. */
export function estopWarnings(robot: RobotDescription, file: string, lineOf?: (p: FieldPath) => number | undefined): ConfigProblem[] {
  const out = new ProblemList(file, lineOf);
  if (robot.estop.kind === 'none') {
    out.add(
      ['estop', 'kind'],
      'no e-stop line: only the software stop (MQTT cmd/mode stop, SIGTERM) and pulling the servo supply stop this robot',
      'keep the servo supply switch or plug within reach; wire a normally-closed button to a GPIO line (estop: { kind: gpio, ... }) where the host has one',
    );
  }
  return out.problems;
}
