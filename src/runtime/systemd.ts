/**
 * sd_notify for a Type=notify service: READY=1 once the control loop is healthy, STATUS=,
 * WATCHDOG=1 only while ticks advance on time, STOPPING=1 on the way out. Hand-written on
 * unix-dgram because Node's dgram has no Unix datagram sockets and the protocol is a few
 * newline-separated assignments. Without $NOTIFY_SOCKET every call is a no-op, so the same
 * binary runs under systemd, in a terminal, and in tests.
 */
import unix, { type UnixDgramSocket } from 'unix-dgram';

export interface Notifier {
  readonly enabled: boolean;
  /** A quarter of $WATCHDOG_USEC when systemd expects pings from this process (see createNotifier). */
  readonly watchdogIntervalMs: number | undefined;
  /** The last send failure, if any: notification never throws into the runtime. */
  readonly lastError: Error | undefined;
  ready(status?: string): void;
  status(text: string): void;
  stopping(): void;
  watchdog(): void;
  close(): void;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const target = env.NOTIFY_SOCKET;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID === undefined ? process.pid : Number(env.WATCHDOG_PID);
  // Check (and pet) four times per watchdog period: a pet withheld for one unhealthy check must
  // not leave the next one racing systemd's deadline, so only a loop unhealthy for most of the
  // period (about 3 checks in a row) gets restarted, never one late tick.
  const watchdogIntervalMs = target && watchdogUsec > 0 && watchdogPid === process.pid ? watchdogUsec / 4000 : undefined;
  // An '@' names a socket in the abstract namespace: its address starts with a NUL byte.
  const path = target?.startsWith('@') ? `\0${target.slice(1)}` : target;
  let socket: UnixDgramSocket | undefined;
  let lastError: Error | undefined;

  const send = (message: string): void => {
    if (!path) return;
    try {
      if (!socket) {
        socket = unix.createSocket('unix_dgram');
        socket.on('error', (error: Error) => (lastError = error));
        // The notify socket's queue is full (systemd not reading): the message is lost, as
        // sd_notify(3) would lose it; record it rather than queue without bound.
        socket.on('congestion', () => (lastError = new Error(`sd_notify: ${target} is congested; message dropped`)));
      }
      const buffer = Buffer.from(message);
      socket.sendto(buffer, 0, buffer.length, path);
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
    }
  };
  const oneLine = (text: string): string => text.replace(/\n/g, ' ');

  return {
    enabled: Boolean(path),
    watchdogIntervalMs,
    get lastError() {
      return lastError;
    },
    ready: (status) => send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`),
    status: (text) => send(`STATUS=${oneLine(text)}`),
    stopping: () => send('STOPPING=1'),
    watchdog: () => send('WATCHDOG=1'),
    close: () => {
      try {
        socket?.close();
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
      }
      socket = undefined;
    },
  };
}

/**
 * Pet the watchdog at its interval, but only when `isHealthy()` says the loop is alive and on
 * time: a stalled control worker must let systemd's watchdog fire. Returns the stop function.
 */
export function startWatchdog(notifier: Notifier, isHealthy: () => boolean): () => void {
  const interval = notifier.watchdogIntervalMs;
  if (interval === undefined) return () => undefined;
  const timer = setInterval(() => {
    if (isHealthy()) notifier.watchdog();
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * When the loop deserves a watchdog pet: liveness, not timing quality. It ticked since the last
 * check, and it met at least half of the deadlines of that window (MIN_MET_FRACTION). A hung or
 * stopped loop (no ticks) or one starved of the CPU for most of the window gets no pet and systemd
 * restarts it; a loop that stutters (late ticks, a few deadlines skipped) keeps being petted,
 * because a restart mid-task is worse than a late tick; timing is the safety layer's matter (missed
 * ticks are counted and reported). A latched FAULT is not a reason either: the loop is healthy
 * and holding the robot, and a restart would boot back to IDLE, clearing the latch. The runtime
 * asks every watchdog period; the HIL harness asks the same question of its virtual clock.
 */
export class LoopHealth {
  /** Fraction of a window's deadlines the loop must meet to be called alive. */
  static readonly MIN_MET_FRACTION = 0.5;
  #lastTicks = -1;
  #lastMissed = 0;

  constructor(initialMissed = 0) {
    this.#lastMissed = initialMissed;
  }

  check(ticks: number, missed: number): boolean {
    const met = this.#lastTicks < 0 ? 1 : ticks - this.#lastTicks;
    const skipped = missed - this.#lastMissed;
    const healthy = ticks > this.#lastTicks && met >= LoopHealth.MIN_MET_FRACTION * (met + skipped);
    this.#lastTicks = ticks;
    this.#lastMissed = missed;
    return healthy;
  }
}
