/**
 * Events into the structured log: mode changes at info, the envelope's routine shaping at debug
 * (a policy's piecewise-linear chunks have corners; counted in the report and sent as events),
 * everything else worth a look at warn.
 */
import { Subscription } from 'rxjs';
import { isWarning } from '../pipeline/index.js';
import type { Observer, RunContext } from './observer.js';

export function logObserver(): Observer {
  const subscriptions = new Subscription();
  return {
    name: 'log',
    start({ pipeline, log }: RunContext) {
      subscriptions.add(
        pipeline.events$.subscribe((event) => {
          const { record, message, ...fields } = event;
          void record; // the raw record stays out of the log line
          if (event.kind === 'mode_change' || event.kind === 'instruction') log.info(fields, message);
          else if (isWarning(event)) log.warn(fields, message);
          else log.debug(fields, message);
        }),
      );
    },
    stop() {
      subscriptions.unsubscribe();
    },
  };
}
