/**
 * The robot's MQTT link. It lives on the main thread (the control loop runs in its own worker),
 * never throws into the runtime after it is created, and never grows without bound:
 *   - status is retained, with a last will of `offline`, re-announced on every connect;
 *   - stream samples (state, tactile) are QoS 0 and are dropped and counted while the link is
 *     down or its socket is backed up (mqtt.js would otherwise queue QoS 0 without bound:
 *     queueQoSZero is off); metrics that cannot go live are kept in the outbox instead;
 *   - events go through the on-disk outbox (outbox.ts): QoS 1, a bounded in-flight window,
 *     flushed in order on every connect, including by the next process after a restart;
 *   - commands pass the command gate (commands.ts) and every refusal is answered on cmd/ack;
 *     a repeated command id is answered with its first ack and not acted on again
 *     (recent-commands.ts: the last 256 ids, 10 min);
 *   - reconnects back off exponentially with jitter (backoff.ts); TLS and credentials come from
 *     files, re-read on every reconnect attempt, and never reach a log.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { Observable, Subject } from 'rxjs';
import { backoffDelay } from './backoff.js';
import { createCommandGate, TokenBucket, type CommandRate } from './commands.js';
import { defaultRecentCommandIds, defaultRecentCommandMs, RecentCommands } from './recent-commands.js';
import { defaultStateDir, readPasswordFile, readSecretFile, redactUrl } from './config.js';
import { encodeStream } from './encode.js';
import { Outbox, OutboxLockedError, type OutboxLimits, type OutboxStats } from './outbox.js';
import type { EventInput, RefusalCode, StatusPayload, StreamInputs, StreamPayloads, ValidatedCommand } from './schemas.js';
import { topicRoot, topicsFor, type StreamTopic } from './topics.js';

/** The part of a pino logger the link uses. */
export interface TelemetryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

export interface TelemetryOptions {
  readonly url: string;
  readonly robotId: string;
  readonly clientId?: string;
  readonly username?: string;
  /** Inline password, for programmatic use and tests; robot.yaml names a file (passwordFile). */
  readonly password?: string;
  /** File holding the password (one trailing newline is ignored). */
  readonly passwordFile?: string;
  /** PEM files: the CA that signed the broker's certificate, this robot's certificate and key. */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** MQTT 5 unless set; when the broker refuses 5 (aedes does), the link retries with 3.1.1 (4). */
  readonly protocolVersion?: 4 | 5;
  /** Reported in status; defaults to 0.1.0. */
  readonly version?: string;
  /** Joint names, announced in status: the order of the arrays in state. */
  readonly joints?: readonly string[];
  /** Fingertip region names, announced in status: the order of the arrays in tactile. */
  readonly fingertips?: readonly string[];
  readonly log?: TelemetryLogger;
  /** Bytes waiting in the socket above which stream samples are dropped (default 64 KiB). */
  readonly maxBufferedBytes?: number;
  /** QoS 1 outbox records handed to mqtt.js and not yet acknowledged (default 64). */
  readonly maxInflightEvents?: number;
  /** Commands whose ts is older than this are refused so nothing replays late (default 10 s; 0 turns it off). */
  readonly maxCommandAgeMs?: number;
  /** Commands whose ts is further ahead of the robot's clock than this are refused, so none can be held back and replayed (default 5 s). */
  readonly maxCommandClockSkewMs?: number;
  /** Ids remembered so a repeated command is answered with its first ack, not acted on again (default 256, and 10 min). */
  readonly recentCommandIds?: number;
  readonly recentCommandMs?: number;
  /** Default: 10 in a burst, then 5 per second (stop is never limited). */
  readonly commandRate?: CommandRate;
  /** Larger command payloads are refused unread (default 8 KiB). */
  readonly maxCommandBytes?: number;
  /** First reconnect delay; it doubles per failed attempt up to reconnectMaxMs, with jitter (defaults 1 s, 30 s). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** MQTT keepalive, s (default 10): how soon the broker sends the last will after a silent loss. */
  readonly keepaliveSeconds?: number;
  /** The outbox lives in <stateDir>/outbox/<robot_id>/ (default: $STATE_DIRECTORY, else ./.embody-state). */
  readonly stateDir?: string;
  readonly outbox?: OutboxLimits;
  /** Keep metrics taken while the link is down in the outbox and send them afterwards (default true). */
  readonly spoolMetrics?: boolean;
}

export interface TelemetryLink {
  readonly connected: boolean;
  /** MQTT protocol in use: 5, or 4 (3.1.1) after a broker refused 5. */
  readonly protocolVersion: 4 | 5;
  /** Stream samples dropped (link down or socket backed up). */
  readonly dropped: number;
  /** Events the full outbox gave up (docs/MQTT.md: only when newer events alone fill it). */
  readonly eventsDropped: number;
  /** Events not yet acknowledged by the broker (in the outbox, in flight included). */
  readonly eventsPending: number;
  readonly outbox: OutboxStats;
  /** Refusals not answered because refusal acks were coming faster than 10 per second. */
  readonly refusalsUnanswered: number;
  readonly commands$: Observable<ValidatedCommand>;
  /** QoS 0; true when sent now. False: dropped and counted, or (metrics) kept in the outbox. */
  publishStream<K extends StreamTopic>(topic: K, payload: StreamInputs[K]): boolean;
  /** QoS 1 through the outbox, never blocks; id and ts are stamped unless given. Returns the id. */
  publishEvent(payload: EventInput): string;
  /** Re-announces the retained online status with this mode. */
  setStatus(mode: string): void;
  /** Answers a command on cmd/ack (a refusal without a code gets code 'refused'). */
  ack(id: string, ok: boolean, reason?: string, code?: RefusalCode): void;
  /** Publishes the offline status (when connected), then disconnects; the outbox keeps what is unsent. Never rejects. */
  close(): Promise<void>;
}

const silent: TelemetryLogger = { info: () => undefined, warn: () => undefined };

/** A connection that stays up this long resets the back-off; a flapping one keeps backing off. */
const stableConnectionMs = 10_000;
/** After a broker refused a QoS 1 record (MQTT 5 PUBACK error), retry it this much later. */
const rejectedRetryMs = 5_000;

export function connectTelemetry(options: TelemetryOptions): TelemetryLink {
  const topics = topicsFor(options.robotId);
  const root = topicRoot(options.robotId);
  const commandPrefix = `${root}cmd/`;
  const log = options.log ?? silent;
  const safeUrl = redactUrl(options.url);
  const version = options.version ?? '0.1.0';
  const maxBuffered = options.maxBufferedBytes ?? 64 * 1024;
  const maxInflight = options.maxInflightEvents ?? 64;
  const reconnectMin = Math.max(1, options.reconnectMinMs ?? 1000);
  const reconnectMax = Math.max(reconnectMin, options.reconnectMaxMs ?? 30_000);
  const spoolMetrics = options.spoolMetrics ?? true;
  const gate = createCommandGate({ maxAgeMs: options.maxCommandAgeMs, maxClockSkewMs: options.maxCommandClockSkewMs, rate: options.commandRate, maxBytes: options.maxCommandBytes });
  const refusalAcks = new TokenBucket({ burst: 20, perSecond: 10 });
  const recent = new RecentCommands({ maxIds: options.recentCommandIds, maxAgeMs: options.recentCommandMs });
  const recentCommandsText = `${options.recentCommandIds ?? defaultRecentCommandIds} commands or ${Math.round((options.recentCommandMs ?? defaultRecentCommandMs) / 1000)} s`;

  // Secrets and certificates: read now (a missing file is a startup error naming the file),
  // again before every reconnect attempt (rotated certificates, changed passwords).
  const readCredentials = (): Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'password'> => ({
    ...(options.caFile === undefined ? {} : { ca: readSecretFile(options.caFile, 'ca_file') }),
    ...(options.certFile === undefined ? {} : { cert: readSecretFile(options.certFile, 'cert_file') }),
    ...(options.keyFile === undefined ? {} : { key: readSecretFile(options.keyFile, 'key_file') }),
    ...(options.passwordFile !== undefined
      ? { password: readPasswordFile(options.passwordFile) }
      : options.password !== undefined
        ? { password: options.password }
        : {}),
  });
  const credentials = readCredentials();
  const outboxDir = join(options.stateDir ?? defaultStateDir(), 'outbox', options.robotId);
  let outbox: Outbox;
  try {
    outbox = Outbox.open(outboxDir, options.outbox, log);
  } catch (error) {
    if (!(error instanceof OutboxLockedError)) throw error;
    // Telemetry is no reason to refuse to run; the robot's hardware has its own guards.
    (log.error ?? log.warn).call(log, { err: { message: error.message }, dir: outboxDir }, 'telemetry outbox in use by another process: this run keeps its events in memory only');
    outbox = Outbox.inMemory(outboxDir, options.outbox, log);
  }

  let mode: string | undefined;
  const status = (state: 'online' | 'offline'): string => {
    const payload: StatusPayload = {
      robot_id: options.robotId,
      state,
      mode,
      version,
      ...(options.joints ? { joints: [...options.joints] } : {}),
      ...(options.fingertips ? { fingertips: [...options.fingertips] } : {}),
      ts: Date.now(),
    };
    return JSON.stringify(payload);
  };

  let attempt = 0;
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `embody-${options.robotId}-${randomUUID().slice(0, 8)}`,
    protocolVersion: options.protocolVersion ?? 5,
    username: options.username,
    ...credentials,
    rejectUnauthorized: true,
    clean: true,
    keepalive: options.keepaliveSeconds ?? 10,
    reconnectPeriod: backoffDelay(0, reconnectMin, reconnectMax),
    // mqtt.js gives up for good after a refused CONNACK (bad credentials, ACL) unless told not to:
    // a robot keeps trying, backing off, until the broker is fixed.
    reconnectOnConnackError: true,
    connectTimeout: 5000,
    queueQoSZero: false,
    // Subscriptions are renewed explicitly on every connect, so mqtt.js must not do it again
    // (a retained command would be delivered, and refused, twice).
    resubscribe: false,
    will: { topic: topics.status, payload: Buffer.from(status('offline')), qos: 1, retain: true },
  };
  const client: MqttClient = mqtt.connect(options.url, clientOptions);
  const commands = new Subject<ValidatedCommand>();
  let inflight = 0;
  let dropped = 0;
  let refusalsUnanswered = 0;
  let eventSeq = 0;
  let closing = false;
  let connectedAt: number | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  // Logged once per outage, not once per sample or retry.
  let droppingLogged = false;
  let errorLogged = false;
  let credentialsLogged = false;
  let rejectLogged = false;
  // A restart must not reuse the previous run's event ids: consumers de-duplicate on them.
  const eventPrefix = `${options.robotId}-${Date.now().toString(36)}`;
  const v5 = (): boolean => client.options.protocolVersion === 5;

  const flush = (): void => {
    while (client.connected && !closing && inflight < maxInflight) {
      const record = outbox.next();
      if (record === undefined) return;
      inflight++;
      // mqtt.js keeps an unacknowledged QoS 1 message in its store and resends it after a
      // reconnect, so the callback fires once per message: on PUBACK, or with an error (a
      // broker's refusal under MQTT 5, or end()). An error leaves it in the outbox.
      client.publish(`${root}${record.topic}`, record.payload, { qos: 1 }, (error) => {
        inflight--;
        if (error) {
          outbox.nack(record);
          if (closing) return;
          if (!rejectLogged) log.warn({ err: { message: error.message }, topic: record.topic }, 'broker did not take an outbox record: it stays in the outbox and is sent again');
          rejectLogged = true;
          retryTimer ??= setTimeout(() => {
            retryTimer = undefined;
            flush();
          }, rejectedRetryMs);
          retryTimer.unref();
          return;
        }
        rejectLogged = false;
        outbox.ack(record);
        flush();
      });
    }
  };

  client.on('connect', () => {
    connectedAt = Date.now();
    // Small messages at a steady rate: Nagle's algorithm would hold one back for the ACK of the
    // previous (up to the peer's 40 ms delayed ACK), which is all of the latency budget.
    (client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined)?.setNoDelay?.(true);
    log.info({ url: safeUrl, protocol: client.options.protocolVersion, dropped, eventsPending: outbox.pendingEvents }, 'telemetry connected');
    droppingLogged = false;
    errorLogged = false;
    client.publish(topics.status, status('online'), { qos: 1, retain: true });
    // MQTT 5 "no local": the robot does not receive its own acks back.
    const filter = `${commandPrefix}#`;
    client.subscribe({ [filter]: v5() ? { qos: 1, nl: true } : { qos: 1 } }, (error, granted) => {
      if (error || granted?.some((g) => g.qos >= 128)) {
        log.warn({ err: error, topic: filter }, 'broker refused the command subscription (ACL?): commands cannot reach this robot');
      }
    });
    flush();
  });
  // Runs before mqtt.js's own close handler arms the reconnect timer: after a connection that
  // held, the back-off starts over; after one that dropped quickly, it keeps growing.
  client.prependListener('close', () => {
    if (connectedAt === undefined) return;
    if (Date.now() - connectedAt >= stableConnectionMs) attempt = 0;
    connectedAt = undefined;
    client.options.reconnectPeriod = backoffDelay(attempt, reconnectMin, reconnectMax);
  });
  // Each attempt sets the wait before the next one, in case this one fails (mqtt.js re-arms its
  // timer from options.reconnectPeriod, and after a refused CONNACK it does so before 'close').
  client.on('reconnect', () => {
    attempt++;
    client.options.reconnectPeriod = backoffDelay(attempt, reconnectMin, reconnectMax);
    try {
      Object.assign(client.options, readCredentials());
      credentialsLogged = false;
    } catch (error) {
      if (!credentialsLogged) log.warn({ err: error }, 'telemetry credentials could not be re-read: using the previous ones');
      credentialsLogged = true;
    }
  });
  client.on('offline', () => {
    if (!closing) log.warn({ url: safeUrl }, 'telemetry offline: dropping stream samples, keeping events in the outbox');
  });
  client.on('error', (error) => {
    const code = (error as { code?: unknown }).code;
    // 1: "unacceptable protocol version" (3.1.1 CONNACK), 0x84: the MQTT 5 reason code.
    if ((code === 1 || code === 0x84) && v5() && options.protocolVersion === undefined) {
      log.info({ url: safeUrl }, 'broker does not speak MQTT 5: using 3.1.1 (no message expiry on commands; their ts still counts)');
      client.options.protocolVersion = 4;
      delete client.options.properties;
      client.options.reconnectPeriod = 1;
      return;
    }
    // Errors surface as reconnects; the link never throws into the runtime.
    if (!errorLogged && !closing) log.warn({ err: { message: error.message, code }, url: safeUrl }, 'telemetry connection error');
    errorLogged = true;
  });

  const sendAck = (json: string): void => {
    if (closing || !client.connected) return;
    client.publish(topics['cmd/ack'], json, { qos: 1 });
  };
  const ackJson = (id: string, ok: boolean, reason?: string, code?: RefusalCode): string =>
    JSON.stringify({ id, ok, ...(reason === undefined ? {} : { reason }), ...(ok ? {} : { code: code ?? 'refused' }), ts: Date.now() });
  // The runtime's answer to a command it was given: remembered for the command's repeats, and
  // sent once more for each repeat that arrived before it.
  const publishAck = (id: string, ok: boolean, reason?: string, code?: RefusalCode): void => {
    const json = ackJson(id, ok, reason, code);
    const repeats = recent.answered(id, json);
    for (let i = 0; i <= repeats; i++) sendAck(json);
  };
  const refuse = (id: string, code: RefusalCode, reason: string): void => {
    // A flood of bad commands must not turn into a flood of acks and log lines.
    if (!refusalAcks.take(Date.now())) {
      refusalsUnanswered++;
      return;
    }
    log.warn({ id, code, reason }, 'command refused');
    sendAck(ackJson(id, false, reason, code));
  };

  client.on('message', (topic, payload, packet) => {
    if (!topic.startsWith(commandPrefix)) return;
    const name = topic.slice(commandPrefix.length);
    if (name === 'ack') return;
    const expiry = packet.properties?.messageExpiryInterval;
    const now = Date.now();
    const result = gate.check(name, payload, { retain: packet.retain, ...(expiry === undefined ? {} : { expirySeconds: expiry }) }, now);
    if (!result.ok) {
      refuse(result.id, result.code, result.reason);
      return;
    }
    const { command } = result;
    let seen = recent.seen(command.id, name, payload, now);
    if (seen.kind === 'reused' && command.kind === 'mode' && (command.command === 'stop' || command.command === 'estop')) {
      // A stop is never refused: it takes the id over.
      recent.forget(command.id);
      seen = recent.seen(command.id, name, payload, now);
    }
    switch (seen.kind) {
      case 'new':
        commands.next(command);
        return;
      case 'repeat':
        // Delivered again (at least once): answered like the first, never acted on twice. A
        // repeat of a command not answered yet gets the answer when the runtime gives it.
        log.info({ id: command.id, topic: `cmd/${name}`, answered: seen.ack !== undefined }, 'repeated command: answered with its original ack, not acted on again');
        if (seen.ack !== undefined) sendAck(seen.ack);
        return;
      case 'reused':
        refuse(
          command.id,
          'duplicate_id',
          `cmd/${name}: id \`${command.id}\` was used by a different command within the last ${recentCommandsText}; give every command a new id`,
        );
        return;
    }
  });

  const socketBacklog = (): number => (client.stream as { writableLength?: number } | undefined)?.writableLength ?? 0;

  return {
    get connected() {
      return client.connected;
    },
    get protocolVersion() {
      return client.options.protocolVersion === 5 ? 5 : 4;
    },
    get dropped() {
      return dropped;
    },
    get eventsDropped() {
      return outbox.stats.evictedEvents;
    },
    get eventsPending() {
      return outbox.pendingEvents;
    },
    get outbox() {
      return outbox.stats;
    },
    get refusalsUnanswered() {
      return refusalsUnanswered;
    },
    commands$: commands.asObservable(),
    publishStream(topic, payload) {
      const live = !closing && client.connected && socketBacklog() <= maxBuffered;
      if (live) {
        client.publish(topics[topic], encodeStream(topic, payload), { qos: 0 } satisfies IClientPublishOptions);
        return true;
      }
      if (topic === 'metrics' && spoolMetrics && !closing) {
        outbox.append('stream', 'metrics', encodeStream('metrics', { ...(payload as StreamPayloads['metrics']), replayed: true }));
        return false;
      }
      dropped++;
      if (!droppingLogged && !closing) log.warn({ topic, connected: client.connected }, 'telemetry stream samples dropped');
      droppingLogged = true;
      return false;
    },
    publishEvent(payload) {
      const id = payload.id ?? `${eventPrefix}-${++eventSeq}`;
      if (closing) {
        log.warn({ id, kind: payload.kind }, 'event after telemetry closed: not sent');
        return id;
      }
      outbox.append('events', 'events', JSON.stringify({ ...payload, id, ts: payload.ts ?? Date.now() }));
      flush();
      return id;
    },
    setStatus(next) {
      mode = next;
      if (client.connected && !closing) client.publish(topics.status, status('online'), { qos: 1, retain: true });
    },
    ack: publishAck,
    async close() {
      if (closing) return;
      closing = true;
      clearTimeout(retryTimer);
      commands.complete();
      // Waiting on a broker that just went away would only delay shutdown.
      const lost = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const within = <T>(promise: Promise<T>, ms: number): Promise<unknown> =>
        Promise.race([promise.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      try {
        if (client.connected && socketBacklog() > maxBuffered) {
          // Backed up: the offline status would queue behind what the peer is not reading.
          // The will says offline once the broker notices.
          client.stream?.destroy();
          await within(client.endAsync(true), 1000);
        } else if (client.connected) {
          await within(Promise.race([client.publishAsync(topics.status, status('offline'), { qos: 1, retain: true }), lost]), 2000);
          // A graceful end waits for every unacknowledged QoS 1 message, forever if the broker
          // went away meanwhile: give it a moment, then cut the socket. What is not acknowledged
          // by then stays in the outbox for the next process.
          await within(client.connected ? client.endAsync(false) : client.endAsync(true), 2000);
          if (!client.disconnected) client.stream?.destroy();
        } else {
          // Nothing can be said to a broker that is not there; the will already says offline.
          await within(client.endAsync(true), 1000);
        }
      } finally {
        outbox.close();
      }
    },
  };
}
