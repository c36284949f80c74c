/**
 * The terminal status line (a TTY only): mode, tick rate, lateness, inference, starvation, touch
 * per pad, and what the simulated task is doing, four times a second; cleared before each log line
 * worth a warning and when the run stops.
 */
import { Subscription } from 'rxjs';
import { UNTRUSTED_FLAGS } from '../../tactile/index.js';
import type { StatusLine } from '../output/status-line.js';
import { isWarning } from '../pipeline/index.js';
import { Counter, modeNames, snapshotView } from '../shared-state.js';
import type { Observer, RunContext } from './observer.js';

const REFRESH_MS = 250;

export function statusLineObserver(line: StatusLine): Observer {
  const subscriptions = new Subscription();
  return {
    name: 'status line',
    start({ pipeline, every, stopping$, world }: RunContext) {
      if (!line.enabled) return;
      const { control, robot } = pipeline;
      const view = snapshotView(new Float64Array(control.shared.snapshot.length), robot.joints.length);
      let previousTicks = control.counter(Counter.TICKS);
      let previousAt = performance.now();
      let alert = '';
      subscriptions.add(
        pipeline.events$.subscribe((event) => {
          if (event.kind === 'mode_change' || isWarning(event)) line.clear();
          if (isWarning(event)) alert = event.message;
        }),
      );
      subscriptions.add(stopping$.subscribe(() => line.clear()));
      subscriptions.add(
        every(REFRESH_MS).subscribe(() => {
          const ticks = control.counter(Counter.TICKS);
          const now = performance.now();
          const rate = ((ticks - previousTicks) * 1000) / (now - previousAt);
          previousTicks = ticks;
          previousAt = now;
          control.readSnapshot(view.buffer);
          const touch = pipeline.touch.state;
          line.show({
            mode: modeNames[control.mode],
            tickRateHz: rate,
            latenessP99Us: control.latenessPercentiles().p99,
            missed: control.counter(Counter.MISSED_TICKS),
            inferenceP50Ms: pipeline.policy.latencyPercentiles().p50,
            starved: control.counter(Counter.STARVED_TICKS),
            contact:
              robot.fingertips.map((f, i) => `${f.name}:${touch.inContact[i] ? 'ON' : 'off'}${touch.flags[i] & UNTRUSTED_FLAGS ? '!' : ''}`).join(' ') || 'n/a',
            task: world?.describe(view.world),
            ...(pipeline.policy.brain ? { brain: pipeline.policy.brain().driving } : {}),
            ...(alert ? { alert } : {}),
          });
        }),
      );
    },
    stop() {
      subscriptions.unsubscribe();
      line.clear();
    },
  };
}
