/**
 * systemd: READY=1 once the loop is healthy (the run starts observers only then), STATUS= on
 * every mode change, STOPPING=1 when the controlled stop begins, and WATCHDOG=1 while the loop
 * makes progress (LoopHealth: liveness, not timing quality).
 */
import { Subscription } from 'rxjs';
import { Counter } from '../shared-state.js';
import { LoopHealth, startWatchdog, type Notifier } from '../systemd.js';
import type { Observer, RunContext } from './observer.js';

export function systemdObserver(notifier: Notifier): Observer {
  const subscriptions = new Subscription();
  return {
    name: 'systemd',
    start({ pipeline, stopping$ }: RunContext) {
      const { control, robot } = pipeline;
      notifier.ready(`mode IDLE, ${robot.control.rate_hz} Hz`);
      subscriptions.add(
        pipeline.events$.subscribe((event) => {
          if (event.kind === 'mode_change' && event.to !== undefined) notifier.status(`mode ${event.to}`);
        }),
      );
      subscriptions.add(stopping$.subscribe(() => notifier.stopping()));
      const health = new LoopHealth(control.counter(Counter.MISSED_TICKS));
      subscriptions.add(startWatchdog(notifier, () => health.check(control.counter(Counter.TICKS), control.counter(Counter.MISSED_TICKS))));
    },
    stop() {
      subscriptions.unsubscribe();
      notifier.close();
    },
  };
}
