/**
 * The command boundary: everything that arrives under `embody/<robot_id>/cmd/` passes here
 * before the runtime sees it. Pure (the clock is an argument), so every refusal is tested
 * without a broker. Checks, in order:
 *
 *   1. size      payload larger than maxBytes (8 KiB) is never parsed       too_large
 *   2. rate      token bucket: 10 in a burst, then 5 per second; a stop     rate_limited
 *                is never limited (a flood of other messages cannot lock
 *                the operator out of stopping)
 *   3. topic     only cmd/mode, cmd/instruction, cmd/episode are commands  unknown_topic
 *   4. JSON      not UTF-8 (decoded strictly: no U+FFFD stand-ins), or     not_json
 *                not JSON
 *   5. retain    retained commands would replay on every reconnect          retained
 *   6. schema    unknown fields, wrong types, unknown commands              invalid
 *   7. expiry    MQTT 5 message expiry used up in transit (stop excepted)   expired
 *   8. age       `ts` older than maxAgeMs (10 s; stop excepted)             too_old
 *   9. future    `ts` more than maxClockSkewMs (5 s) ahead of the robot's    too_new
 *                clock (stop excepted): it would pass the age check for
 *                its skew plus 10 s, so it could be held back and replayed
 *
 * After the gate, the link (connection.ts, recent-commands.ts) answers a repeated id with its
 * first ack instead of acting on it again, and refuses an id reused by another command.
 *
 * Every message counts against the rate, refused or not, except a stop.
 * Refusals say which check failed in `reason` (a sentence) and `code` (a word).
 */
import type { z } from 'zod';
import { episodeCommandSchema, instructionCommandSchema, modeCommandSchema, type RefusalCode, type ValidatedCommand } from './schemas.js';

export interface CommandRate {
  /** Commands in a burst (the bucket's size). */
  readonly burst: number;
  /** Sustained commands per second (the bucket's refill). */
  readonly perSecond: number;
}

export const defaultCommandRate: CommandRate = { burst: 10, perSecond: 5 };
export const defaultMaxCommandBytes = 8192;
export const defaultMaxCommandAgeMs = 10_000;
export const defaultMaxClockSkewMs = 5_000;

/** A token bucket on an injected clock (ms). */
export class TokenBucket {
  #tokens: number;
  #at: number | undefined;

  constructor(readonly rate: CommandRate) {
    this.#tokens = rate.burst;
  }

  take(nowMs: number): boolean {
    if (this.#at !== undefined) this.#tokens = Math.min(this.rate.burst, this.#tokens + ((nowMs - this.#at) * this.rate.perSecond) / 1000);
    this.#at = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface CommandGateOptions {
  /** Commands whose ts is older than this are refused (default 10 s; 0 turns it off). */
  readonly maxAgeMs?: number;
  /** Commands whose ts is further ahead of the robot's clock than this are refused (default 5 s). */
  readonly maxClockSkewMs?: number;
  readonly rate?: CommandRate;
  /** Larger payloads are refused unread (default 8 KiB: a 1024-character instruction in any script fits). */
  readonly maxBytes?: number;
}

/** What the broker told us about the message besides its payload. */
export interface CommandDelivery {
  readonly retain: boolean;
  /** MQTT 5 message expiry interval left at delivery, s (undefined: none set, or MQTT 3.1.1). */
  readonly expirySeconds?: number;
}

export type GateResult =
  | { readonly ok: true; readonly command: ValidatedCommand }
  | { readonly ok: false; readonly id: string; readonly code: RefusalCode; readonly reason: string };

const schemas: Record<'mode' | 'instruction' | 'episode', z.ZodType<Omit<ValidatedCommand, 'kind'>>> = {
  mode: modeCommandSchema,
  instruction: instructionCommandSchema,
  episode: episodeCommandSchema,
};

// fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD, so an id with
// broken bytes is refused rather than silently rewritten (and acted on under another name).
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Decoded = { readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly reason: string };

/** The payload as JSON text (RFC 8259: UTF-8), strictly decoded. */
function decodeJson(payload: Uint8Array): Decoded {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { ok: false, reason: 'payload is not valid UTF-8 (JSON must be UTF-8; broken bytes are refused, never replaced)' };
  }
  try {
    return { ok: true, data: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
}

export interface CommandGate {
  /** `name` is the topic below cmd/ (e.g. 'mode'); `nowMs` is the wall clock (commands carry epoch ms). */
  check(name: string, payload: Uint8Array, delivery: CommandDelivery, nowMs: number): GateResult;
}

export function createCommandGate(options: CommandGateOptions = {}): CommandGate {
  const maxAgeMs = options.maxAgeMs ?? defaultMaxCommandAgeMs;
  const maxSkewMs = options.maxClockSkewMs ?? defaultMaxClockSkewMs;
  const maxBytes = options.maxBytes ?? defaultMaxCommandBytes;
  const rate = options.rate ?? defaultCommandRate;
  const bucket = new TokenBucket(rate);
  const rateText = `at most ${rate.burst} commands in a burst, then ${rate.perSecond} per second; stop is never limited`;

  return {
    check(name, payload, delivery, nowMs) {
      const topic = `cmd/${name}`;
      const refuse = (id: unknown, code: RefusalCode, reason: string): GateResult => ({
        ok: false,
        // An id that is not text (lone surrogate escapes, control characters) is not echoed.
        id: typeof id === 'string' && !/[\p{Cs}\p{Cc}]/u.test(id) ? id.slice(0, 128) : '',
        code,
        reason: `${topic}: ${reason}`,
      });
      const known = name === 'mode' || name === 'instruction' || name === 'episode';
      if (payload.byteLength > maxBytes) {
        bucket.take(nowMs);
        return refuse(undefined, 'too_large', `payload is ${payload.byteLength} bytes, commands are at most ${maxBytes}`);
      }
      const decoded = decodeJson(payload);
      const data = decoded.ok ? decoded.data : undefined;
      const record = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
      const id = record?.id;
      // stop and estop are never refused for rate, age or expiry: acting late on a stop is harmless.
      const isStop = name === 'mode' && (record?.command === 'stop' || record?.command === 'estop');
      if (!isStop && !bucket.take(nowMs)) return refuse(id, 'rate_limited', `rate limited (${rateText})`);
      if (!known) return refuse(id, 'unknown_topic', 'unknown command topic; commands go to cmd/mode (arm, disarm, stop, reset, estop), cmd/instruction or cmd/episode');
      if (!decoded.ok) return refuse(undefined, 'not_json', decoded.reason);
      // A retained command would fire again on every reconnect of every robot that subscribes.
      if (delivery.retain) {
        return refuse(id, 'retained', 'retained commands are refused; publish without the retain flag (and clear this one with an empty retained message)');
      }
      const parsed = schemas[name as keyof typeof schemas].safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.length > 0 ? `field \`${issue.path.join('.')}\`` : 'payload';
        return refuse(id, 'invalid', `${field}: ${issue.message}`);
      }
      // Acting late on a stop is harmless; refusing one is not.
      if (!isStop) {
        if (delivery.expirySeconds !== undefined && delivery.expirySeconds <= 0) {
          return refuse(id, 'expired', 'expired: its MQTT 5 message expiry ran out before it reached the robot');
        }
        const ts = parsed.data.ts;
        if (maxAgeMs > 0 && ts !== undefined && nowMs - ts > maxAgeMs) {
          return refuse(id, 'too_old', `field \`ts\`: command is ${nowMs - ts} ms old, older than ${maxAgeMs} ms`);
        }
        if (ts !== undefined && ts - nowMs > maxSkewMs) {
          return refuse(
            id,
            'too_new',
            `field \`ts\`: command is dated ${ts - nowMs} ms in the future, more than the ${maxSkewMs} ms of clock skew allowed (synchronise the sender's and the robot's clocks, e.g. NTP)`,
          );
        }
      }
      return { ok: true, command: { kind: name, ...parsed.data } as ValidatedCommand };
    },
  };
}
