/**
 * Judging a run against a scenario's expectations. Each verdict says what was expected and
 * what happened, with the tick (and time) it happened at, so a failing scenario reads as a
 * story rather than a boolean.
 */
import type { Expectation } from './scenario.js';
import { WATCHDOG_PERIOD_MS, type HilEvent, type TargetRun } from './sim-target.js';
import { Outputs } from './chips.js';
import { Mode, modeNames } from '../runtime/index.js';

export interface Verdict {
  readonly expected: string;
  readonly passed: boolean;
  readonly happened: string;
}

/** Relative tolerance for finite differences of doubles (three divisions by dt). */
const TOLERANCE = 1e-6;

function at(run: TargetRun, tick: number): string {
  return `tick ${tick} (${((tick * 1000) / run.rateHz).toFixed(0)} ms)`;
}

/** Every limit violation: commands outside position/velocity/acceleration/jerk limits, measured outside position limits. */
export function limitViolations(run: TargetRun, fromTick = 0): string[] {
  const out: string[] = [];
  const n = run.robot.joints.length;
  const dt = 1 / run.rateHz;
  run.robot.joints.forEach((joint, j) => {
    const { position, velocity, acceleration, jerk } = joint.limits;
    let v0 = 0;
    let a0 = 0;
    let steps = 0;
    for (let k = 0; k < run.ticks; k++) {
      const p = run.commands[k * n + j];
      const measured = run.positions[k * n + j];
      if (k < fromTick) continue;
      if (p < position[0] || p > position[1]) out.push(`${joint.name} command ${p} outside [${position[0]}, ${position[1]}] at ${at(run, k)}`);
      if (measured < position[0] - 1e-9 || measured > position[1] + 1e-9) out.push(`${joint.name} measured ${measured} outside its limits at ${at(run, k)}`);
      // Drives off restarts the differences.
      if (k === fromTick || run.powered[k] === 0 || run.powered[k - 1] === 0) {
        steps = 0;
        continue;
      }
      // The first tick of a stall: the command stops where it was, unavoidably (nothing ran). From
      // there it is held at rest, and the loop's first command after the stall is judged against
      // that rest: resuming at the pre-stall velocity is a violation.
      if (run.served && run.served[k] === 0 && run.served[k - 1] === 1) {
        v0 = 0;
        a0 = 0;
        steps = 2;
        continue;
      }
      const v = (p - run.commands[(k - 1) * n + j]) / dt;
      if (v === 0 && v0 === 0 && a0 === 0) {
        steps = 1;
        continue;
      }
      const a = (v - v0) / dt;
      const jk = (a - a0) / dt;
      if (Math.abs(v) > velocity * (1 + TOLERANCE) + 1e-9) out.push(`${joint.name} velocity ${v.toFixed(4)} > ${velocity} at ${at(run, k)}`);
      if (steps >= 1 && Math.abs(a) > acceleration * (1 + TOLERANCE) + 1e-6) out.push(`${joint.name} acceleration ${a.toFixed(3)} > ${acceleration} at ${at(run, k)}`);
      if (steps >= 2 && Math.abs(jk) > jerk * (1 + TOLERANCE) + 1e-3) out.push(`${joint.name} jerk ${jk.toFixed(1)} > ${jerk} at ${at(run, k)}`);
      v0 = v;
      a0 = a;
      steps++;
    }
  });
  return out;
}

function matches(event: HilEvent, contains: string | undefined): boolean {
  return contains === undefined || (event.message ?? '').includes(contains);
}

function firstTickInMode(run: TargetRun, mode: number, from: number, to: number): number {
  for (let k = Math.max(0, from); k <= Math.min(run.ticks - 1, to); k++) if (run.modes[k] === mode) return k;
  return -1;
}

export function judge(run: TargetRun, expectation: Expectation): Verdict {
  const ticksOf = (ms: number): number => Math.min(run.ticks - 1, Math.round((ms * run.rateHz) / 1000));
  switch (expectation.check) {
    case 'mode_at': {
      const k = ticksOf(expectation.at_ms);
      const actual = modeNames[run.modes[k]];
      return { expected: `mode ${expectation.mode} at ${expectation.at_ms} ms`, passed: actual === expectation.mode, happened: `mode ${actual} at ${at(run, k)}` };
    }
    case 'mode_within': {
      const mode = Mode[expectation.mode];
      const from = ticksOf(expectation.from_ms);
      const k = firstTickInMode(run, mode, from, ticksOf(expectation.to_ms));
      const later = k < 0 ? firstTickInMode(run, mode, from, run.ticks - 1) : k;
      return {
        expected: `mode ${expectation.mode} within ${expectation.from_ms}-${expectation.to_ms} ms`,
        passed: k >= 0,
        happened: k >= 0 ? `${expectation.mode} at ${at(run, k)}` : later >= 0 ? `${expectation.mode} only at ${at(run, later)}` : `never ${expectation.mode} after ${expectation.from_ms} ms`,
      };
    }
    case 'mode_final': {
      const actual = modeNames[run.modes[run.ticks - 1]];
      return { expected: `final mode ${expectation.mode}`, passed: actual === expectation.mode, happened: `final mode ${actual}` };
    }
    case 'never_mode': {
      const k = firstTickInMode(run, Mode[expectation.mode], 0, run.ticks - 1);
      return { expected: `never ${expectation.mode}`, passed: k < 0, happened: k < 0 ? `never ${expectation.mode}` : `${expectation.mode} at ${at(run, k)}` };
    }
    case 'limits': {
      const from = expectation.from_ms === undefined ? 0 : ticksOf(expectation.from_ms);
      const violations = limitViolations(run, from);
      return {
        expected: `zero limit excursions (position, velocity, acceleration, jerk)${from > 0 ? ` from ${expectation.from_ms} ms` : ''}`,
        passed: violations.length === 0,
        happened: violations.length === 0 ? 'none' : `${violations.length}, first: ${violations.slice(0, 3).join('; ')}`,
      };
    }
    case 'reaction': {
      const start = run.stimulusTicks.get(expectation.after);
      const what = expectation.mode ? `mode ${expectation.mode}` : `event ${expectation.event}`;
      const expected = `${what} within ${expectation.within_ticks} ticks of '${expectation.after}'`;
      if (start === undefined) return { expected, passed: false, happened: `stimulus '${expectation.after}' never happened` };
      let reacted = -1;
      const contains = expectation.message_contains;
      if (expectation.mode) reacted = firstTickInMode(run, Mode[expectation.mode], start, run.ticks - 1);
      else reacted = run.events.find((e) => e.tick >= start && e.kind === expectation.event && matches(e, contains))?.tick ?? -1;
      const latency = reacted - start;
      const said = contains === undefined ? '' : ` saying "${contains}"`;
      let happened = reacted < 0 ? `no ${what}${said} after ${at(run, start)}` : `${what}${said} ${latency} ticks after, at ${at(run, reacted)}`;
      if (reacted < 0 && contains !== undefined) {
        const other = run.events.find((e) => e.tick >= start && e.kind === expectation.event);
        if (other) happened += `; the first ${expectation.event} said: ${other.message ?? '(no message)'}`;
      }
      return { expected: `${what}${said} within ${expectation.within_ticks} ticks of '${expectation.after}'`, passed: reacted >= 0 && latency <= expectation.within_ticks, happened };
    }
    case 'events': {
      const contains = expectation.message_contains;
      const selected = run.events.filter((e) => e.kind === expectation.kind && matches(e, contains));
      const count = selected.length;
      const { min, max } = expectation;
      const range = `${min ?? 0}..${max ?? '∞'}`;
      const first = selected[0];
      const said = contains === undefined ? '' : ` saying "${contains}"`;
      // Without a match, show what the events of that kind did say.
      const unmatched = contains !== undefined && first === undefined ? run.events.find((e) => e.kind === expectation.kind) : undefined;
      return {
        expected: `${range} '${expectation.kind}' events${said}`,
        passed: (min === undefined || count >= min) && (max === undefined || count <= max),
        happened:
          `${count}${first ? `, first at ${at(run, first.tick)}${first.joint ? ` on ${first.joint}` : ''}${first.message ? `: ${first.message}` : ''}` : ''}` +
          (unmatched ? `; the first ${expectation.kind} said: ${unmatched.message ?? '(no message)'}` : ''),
      };
    }
    case 'contact': {
      const expected = `touch detects contact within ${expectation.within_ms} ms of true contact`;
      if (run.truthContactTick < 0) return { expected, passed: false, happened: 'the plant never had contact' };
      if (run.detectedContactTick < 0) return { expected, passed: false, happened: `true contact at ${at(run, run.truthContactTick)}, never detected` };
      const ms = ((run.detectedContactTick - run.truthContactTick) * 1000) / run.rateHz;
      return { expected, passed: ms <= expectation.within_ms && ms >= 0, happened: `detected ${ms.toFixed(0)} ms after true contact (${at(run, run.truthContactTick)})` };
    }
    case 'watchdog': {
      const from = ticksOf(expectation.from_ms);
      const to = ticksOf(expectation.to_ms);
      const checks = run.watchdog.filter((w) => w.tick >= from && w.tick <= to);
      const missed = checks.find((w) => !w.petted);
      const expected = expectation.petted
        ? `watchdog petted every ${WATCHDOG_PERIOD_MS} ms in ${expectation.from_ms}-${expectation.to_ms} ms`
        : `watchdog not petted at some point in ${expectation.from_ms}-${expectation.to_ms} ms`;
      if (checks.length === 0) return { expected, passed: false, happened: 'no watchdog period in the window' };
      return {
        expected,
        passed: expectation.petted ? missed === undefined : missed !== undefined,
        happened: missed ? `not petted at ${at(run, missed.tick)}` : `petted all ${checks.length} periods`,
      };
    }
    case 'task': {
      const lifted = run.task.object_lifted === true;
      return { expected: `object ${expectation.object_lifted ? '' : 'not '}lifted`, passed: lifted === expectation.object_lifted, happened: `object ${lifted ? '' : 'not '}lifted (${JSON.stringify(run.task)})` };
    }
    case 'held_still': {
      const n = run.robot.joints.length;
      const from = ticksOf(expectation.from_ms);
      const to = ticksOf(expectation.to_ms);
      let worst = 0;
      let worstTick = from;
      const series = expectation.of === 'measured' ? run.positions : run.commands;
      for (let k = from; k <= to; k++) {
        for (let j = 0; j < n; j++) {
          const moved = Math.abs(series[k * n + j] - series[from * n + j]);
          if (moved > worst) {
            worst = moved;
            worstTick = k;
          }
        }
      }
      return {
        expected: `${expectation.of} held still in ${expectation.from_ms}-${expectation.to_ms} ms (±${expectation.tolerance})`,
        passed: worst <= expectation.tolerance,
        happened: `largest move ${worst.toExponential(2)} at ${at(run, worstTick)}`,
      };
    }
    case 'outputs_off': {
      let from: number;
      let expected: string;
      const to = expectation.to_ms === undefined ? run.ticks - 1 : ticksOf(expectation.to_ms);
      const until = expectation.to_ms === undefined ? 'to the end' : `to ${expectation.to_ms} ms`;
      if (expectation.after !== undefined) {
        const start = run.stimulusTicks.get(expectation.after);
        const within = expectation.within_ticks ?? 0;
        expected = `outputs disabled within ${within} ticks of '${expectation.after}' and ${until}`;
        if (start === undefined) return { expected, passed: false, happened: `stimulus '${expectation.after}' never happened` };
        from = Math.min(run.ticks - 1, start + within);
      } else {
        from = ticksOf(expectation.from_ms ?? 0);
        expected = `outputs disabled from ${expectation.from_ms} ms ${until}`;
      }
      let live = -1;
      for (let k = from; k <= to; k++) {
        if (run.outputs[k] !== 0) {
          live = k;
          break;
        }
      }
      if (live < 0) {
        let since = from;
        while (since > 0 && run.outputs[since - 1] === 0) since--;
        return { expected, passed: true, happened: `disabled from ${at(run, since)}` };
      }
      let off = -1;
      for (let k = live; k < run.ticks; k++) {
        if (run.outputs[k] === 0) {
          off = k;
          break;
        }
      }
      const what = [run.outputs[live] & Outputs.ENABLED ? 'output enable asserted' : '', run.outputs[live] & Outputs.PULSING ? 'a channel pulsing' : ''].filter(Boolean).join(', ');
      return { expected, passed: false, happened: `live at ${at(run, live)} (${what})${off >= 0 ? `; disabled only at ${at(run, off)}` : '; never disabled'}` };
    }
    case 'ready': {
      const limit = expectation.within_ms === undefined ? run.ticks - 1 : ticksOf(expectation.within_ms);
      const ready = run.readyTick >= 0 && run.readyTick <= limit;
      const expected = expectation.ready ? `READY${expectation.within_ms === undefined ? '' : ` within ${expectation.within_ms} ms`}` : `never READY${expectation.within_ms === undefined ? '' : ` within ${expectation.within_ms} ms`}`;
      return { expected, passed: ready === expectation.ready, happened: run.readyTick < 0 ? 'never READY' : `READY at ${at(run, run.readyTick)}` };
    }
  }
}
