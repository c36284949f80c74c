/**
 * The robot's MQTT link. It lives on the main thread (the control loop runs in its own worker),
 * never throws into the runtime and never grows without bound:
 *   - status is retained, with a last will of `offline`, re-announced on every connect;
 *   - stream samples (state, tactile, metrics) are QoS 0 and are dropped and counted while the
 *     link is down or its socket is backed up (mqtt.js would otherwise queue QoS 0 without
 *     bound: queueQoSZero is off);
 *   - events are QoS 1 through a bounded in-memory queue with a bounded in-flight window,
 *     flushed in order on reconnect (the MQTT issue replaces it with an on-disk outbox);
 *   - commands are validated at the boundary and every refusal is answered on cmd/ack.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Observable, Subject } from 'rxjs';
import type { z } from 'zod';
import {
  instructionCommandSchema,
  modeCommandSchema,
  type EventInput,
  type StatusPayload,
  type StreamPayloads,
  type ValidatedCommand,
} from './schemas.js';
import { topicsFor, type StreamTopic } from './topics.js';

/** The part of a pino logger the link uses. */
export interface TelemetryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TelemetryOptions {
  readonly url: string;
  readonly robotId: string;
  readonly clientId?: string;
  readonly username?: string;
  readonly password?: string;
  /** Reported in status; defaults to 0.1.0. */
  readonly version?: string;
  readonly log?: TelemetryLogger;
  /** Bytes waiting in the socket above which stream samples are dropped (default 64 KiB). */
  readonly maxBufferedBytes?: number;
  /** Events kept while offline; beyond it the oldest are dropped and counted (default 1000). */
  readonly maxQueuedEvents?: number;
  /** QoS 1 events handed to mqtt.js and not yet acknowledged (default 64). */
  readonly maxInflightEvents?: number;
  /** Commands whose ts is older than this are refused so nothing replays late (default 10 s; 0 turns it off). */
  readonly maxCommandAgeMs?: number;
  /** First reconnect delay; it doubles per failed attempt up to reconnectMaxMs (defaults 1 s, 15 s). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface TelemetryLink {
  readonly connected: boolean;
  /** Stream samples dropped (link down or socket backed up). */
  readonly dropped: number;
  /** Events lost because the offline queue overflowed. */
  readonly eventsDropped: number;
  /** Events not yet acknowledged by the broker (queued + in flight). */
  readonly eventsPending: number;
  readonly commands$: Observable<ValidatedCommand>;
  /** QoS 0; false when the sample was dropped. */
  publishStream<K extends StreamTopic>(topic: K, payload: StreamPayloads[K]): boolean;
  /** QoS 1, never blocks; id and ts are stamped unless given. */
  publishEvent(payload: EventInput): void;
  /** Re-announces the retained online status with this mode. */
  setStatus(mode: string): void;
  ack(id: string, ok: boolean, reason?: string): void;
  /** Publishes the offline status (when connected), then disconnects. Never rejects. */
  close(): Promise<void>;
}

const silent: TelemetryLogger = { info: () => undefined, warn: () => undefined };

export function connectTelemetry(options: TelemetryOptions): TelemetryLink {
  const topics = topicsFor(options.robotId);
  const log = options.log ?? silent;
  const version = options.version ?? '0.1.0';
  const maxBuffered = options.maxBufferedBytes ?? 64 * 1024;
  const maxQueued = options.maxQueuedEvents ?? 1000;
  const maxInflight = options.maxInflightEvents ?? 64;
  const maxAgeMs = options.maxCommandAgeMs ?? 10_000;
  const reconnectMin = options.reconnectMinMs ?? 1000;
  const reconnectMax = Math.max(reconnectMin, options.reconnectMaxMs ?? 15_000);

  const status = (state: 'online' | 'offline'): string => {
    const payload: StatusPayload = { robot_id: options.robotId, state, mode, version, ts: Date.now() };
    return JSON.stringify(payload);
  };
  let mode: string | undefined;

  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `embody-${options.robotId}-${randomUUID().slice(0, 8)}`,
    username: options.username,
    password: options.password,
    clean: true,
    keepalive: 10,
    reconnectPeriod: reconnectMin,
    connectTimeout: 5000,
    queueQoSZero: false,
    // Subscriptions are renewed explicitly on every connect, so mqtt.js must not do it again
    // (a retained command would be delivered, and refused, twice).
    resubscribe: false,
    will: { topic: topics.status, payload: Buffer.from(status('offline')), qos: 1, retain: true },
  };
  const client: MqttClient = mqtt.connect(options.url, clientOptions);
  const commands = new Subject<ValidatedCommand>();
  const queuedEvents: string[] = [];
  let inflight = 0;
  let dropped = 0;
  let eventsDropped = 0;
  let eventSeq = 0;
  let closing = false;
  // Logged once per outage, not once per sample or retry.
  let droppingLogged = false;
  let errorLogged = false;
  // A restart must not reuse the previous run's event ids: consumers de-duplicate on them.
  const eventPrefix = `${options.robotId}-${Date.now().toString(36)}`;

  const flushEvents = (): void => {
    while (client.connected && inflight < maxInflight && queuedEvents.length > 0) {
      const message = queuedEvents.shift()!;
      inflight++;
      // mqtt.js keeps an unacknowledged QoS 1 message in its store and resends it after a
      // reconnect, so the callback fires once per message: on PUBACK, or with an error at end().
      client.publish(topics.events, message, { qos: 1 }, () => {
        inflight--;
        flushEvents();
      });
    }
  };

  client.on('connect', () => {
    log.info({ url: options.url, dropped, eventsPending: queuedEvents.length + inflight }, 'telemetry connected');
    droppingLogged = false;
    errorLogged = false;
    client.options.reconnectPeriod = reconnectMin;
    client.publish(topics.status, status('online'), { qos: 1, retain: true });
    client.subscribe([topics['cmd/mode'], topics['cmd/instruction']], { qos: 1 });
    flushEvents();
  });
  // mqtt.js re-arms its reconnect timer from options.reconnectPeriod after each failed attempt:
  // growing it here gives exponential back-off with jitter, so a fleet does not reconnect in step.
  client.on('reconnect', () => {
    const next = Math.min(reconnectMax, client.options.reconnectPeriod! * 2);
    client.options.reconnectPeriod = Math.round(next * (0.8 + 0.4 * Math.random()));
  });
  client.on('offline', () => {
    if (!closing) log.warn({ url: options.url }, 'telemetry offline: dropping stream samples, queueing events');
  });
  client.on('error', (error) => {
    // Errors surface as reconnects; the link never throws into the runtime.
    if (!errorLogged && !closing) log.warn({ err: error, url: options.url }, 'telemetry connection error');
    errorLogged = true;
  });

  const publishAck = (id: string, ok: boolean, reason?: string): void => {
    if (closing) return;
    client.publish(topics['cmd/ack'], JSON.stringify({ id, ok, ...(reason === undefined ? {} : { reason }), ts: Date.now() }), { qos: 1 });
  };
  const refuse = (id: unknown, reason: string): void => {
    log.warn({ id, reason }, 'command refused');
    publishAck(typeof id === 'string' ? id : '', false, reason);
  };

  client.on('message', (topic, payload, packet) => {
    const key = topic === topics['cmd/mode'] ? 'cmd/mode' : topic === topics['cmd/instruction'] ? 'cmd/instruction' : undefined;
    if (key === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(payload.toString('utf8'));
    } catch {
      refuse(undefined, `${key}: payload is not JSON`);
      return;
    }
    const id = typeof data === 'object' && data !== null ? (data as { id?: unknown }).id : undefined;
    // A retained command would fire again on every reconnect of every robot that subscribes.
    if (packet.retain) {
      refuse(id, `${key}: retained commands are refused; publish without the retain flag (and clear this one with an empty retained message)`);
      return;
    }
    const schema: z.ZodType<Omit<ValidatedCommand, 'kind'>> = key === 'cmd/mode' ? modeCommandSchema : instructionCommandSchema;
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `field \`${issue.path.join('.')}\`` : 'payload';
      refuse(id, `${key}: ${field}: ${issue.message}`);
      return;
    }
    const ts = parsed.data.ts;
    if (maxAgeMs > 0 && ts !== undefined && Date.now() - ts > maxAgeMs) {
      refuse(id, `${key}: field \`ts\`: command is ${Date.now() - ts} ms old, older than ${maxAgeMs} ms`);
      return;
    }
    commands.next({ kind: key === 'cmd/mode' ? 'mode' : 'instruction', ...parsed.data } as ValidatedCommand);
  });

  const socketBacklog = (): number => (client.stream as { writableLength?: number } | undefined)?.writableLength ?? 0;

  return {
    get connected() {
      return client.connected;
    },
    get dropped() {
      return dropped;
    },
    get eventsDropped() {
      return eventsDropped;
    },
    get eventsPending() {
      return queuedEvents.length + inflight;
    },
    commands$: commands.asObservable(),
    publishStream(topic, payload) {
      if (closing || !client.connected || socketBacklog() > maxBuffered) {
        dropped++;
        if (!droppingLogged && !closing) log.warn({ topic, connected: client.connected }, 'telemetry stream samples dropped');
        droppingLogged = true;
        return false;
      }
      client.publish(topics[topic], JSON.stringify(payload), { qos: 0 });
      return true;
    },
    publishEvent(payload) {
      const message = JSON.stringify({ id: `${eventPrefix}-${++eventSeq}`, ts: Date.now(), ...payload });
      queuedEvents.push(message);
      if (queuedEvents.length > maxQueued) {
        queuedEvents.shift();
        if (eventsDropped++ === 0) log.warn({ maxQueued }, 'telemetry event queue full: dropping the oldest events');
      }
      flushEvents();
    },
    setStatus(next) {
      mode = next;
      if (client.connected && !closing) client.publish(topics.status, status('online'), { qos: 1, retain: true });
    },
    ack: publishAck,
    async close() {
      if (closing) return;
      closing = true;
      commands.complete();
      // Waiting on a broker that just went away would only delay shutdown.
      const lost = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const within = <T>(promise: Promise<T>, ms: number): Promise<unknown> =>
        Promise.race([promise.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      if (client.connected) {
        await within(Promise.race([client.publishAsync(topics.status, status('offline'), { qos: 1, retain: true }), lost]), 2000);
        // A graceful end waits for every unacknowledged QoS 1 message, forever if the broker
        // went away meanwhile: give it a moment, then cut the socket.
        await within(client.connected ? client.endAsync(false) : client.endAsync(true), 2000);
        if (!client.disconnected) client.stream?.destroy();
      } else {
        // Nothing can be said to a broker that is not there; the will already says offline.
        await within(client.endAsync(true), 1000);
      }
    },
  };
}
