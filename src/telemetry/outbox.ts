/**
 * The telemetry outbox: what must reach the broker even across an outage or a restart.
 *
 * Two append-only logs under `<state_dir>/outbox/<robot_id>/`:
 *   events/  every event (QoS 1), never dropped while younger than the limit;
 *   stream/  stream samples that could not be sent live (metrics taken while the link was
 *            down), the first thing to go when the outbox is full.
 * Each log is a series of segment files of JSON lines, `<first seq, 16 digits>.jsonl`, one
 * record per line: `{"seq":N,"topic":"events","payload":{...}}`. A `head` file holds the
 * sequence number of the first record not yet acknowledged by the broker; records below it
 * are done, and a segment whose records are all done is deleted. A new process reads the
 * segments from `head` on and sends them again in order (at least once: consumers
 * de-duplicate on the event id, which is part of the stored payload).
 *
 * Durability: each record is written with one write() before append() returns, so it
 * survives a crash or kill -9 of the process (it is in the page cache). fdatasync runs at
 * most every `fsyncIntervalMs` (1 s) off the main thread, so a power loss can lose up to the
 * last second of records; 0 syncs every record before append() returns. `head` is replaced
 * atomically (rename) at most every 250 ms and not synced: after a crash, up to the last
 * 250 ms of acknowledgements are forgotten and those records are sent again.
 *
 * Limits (of records not yet acknowledged; defaults in `defaultOutboxLimits`):
 *   maxEvents  events;                maxStream  stream samples;
 *   maxBytes   bytes of both (the JSON lines as stored).
 * When a record would break a limit, the oldest stream samples go first; an event goes only
 * when the events newer than it alone fill maxEvents or maxBytes. Each removal is counted
 * (`evictedEvents`, `evictedStream`). On disk a log may hold up to one segment
 * (`segmentBytes`) of finished records beyond that.
 *
 * The outbox never throws after open: a write error (disk full, read-only) is counted and
 * logged once, and the record is kept in memory (it is still sent, but would not survive a
 * restart). Open throws only when another live process holds the same outbox (lock file);
 * the link then runs with an outbox in memory (Outbox.inMemory) and says so.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsync,
  fsyncSync,
  mkdirSync,
  open as openAsync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  close as closeAsync,
} from 'node:fs';
import { join } from 'node:path';

export interface OutboxLimits {
  /** Bytes of unacknowledged records, events and stream samples together. */
  readonly maxBytes?: number;
  /** Unacknowledged events. */
  readonly maxEvents?: number;
  /** Unacknowledged stream samples. */
  readonly maxStream?: number;
  /** Size at which a segment file is closed and a new one started. */
  readonly segmentBytes?: number;
  /** fdatasync at most this often; 0: every record before append() returns. */
  readonly fsyncIntervalMs?: number;
}

export const defaultOutboxLimits: Required<OutboxLimits> = {
  maxBytes: 8 * 2 ** 20,
  maxEvents: 20_000,
  maxStream: 3_600,
  segmentBytes: 256 * 1024,
  fsyncIntervalMs: 1000,
};

export type OutboxKind = 'events' | 'stream';

export interface OutboxRecord {
  readonly kind: OutboxKind;
  readonly seq: number;
  /** Topic key under embody/<robot_id>/ ('events', 'metrics'). */
  readonly topic: string;
  /** The MQTT payload (JSON). */
  readonly payload: string;
}

export interface OutboxStats {
  readonly dir: string;
  /** False when the outbox could not use its directory and keeps records in memory only. */
  readonly disk: boolean;
  readonly events: number;
  readonly stream: number;
  readonly bytes: number;
  readonly evictedEvents: number;
  readonly evictedStream: number;
  /** Records read back from disk at open. */
  readonly recovered: number;
  /** Lines that could not be read back (a torn last write after a power loss). */
  readonly corrupt: number;
  readonly writeErrors: number;
}

export interface OutboxLogger {
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

export class OutboxLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`telemetry outbox ${dir} is in use by process ${pid}: one runtime per robot and state directory`);
    this.name = 'OutboxLockedError';
  }
}

const QUEUED = 0;
const INFLIGHT = 1;
const ACKED = 2;

interface Entry extends OutboxRecord {
  readonly bytes: number;
  state: number;
  removed: boolean;
}

interface Segment {
  readonly first: number;
  readonly file: string;
}

const segmentName = (seq: number): string => `${String(seq).padStart(16, '0')}.jsonl`;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One append-only log (events or stream) with its pending records in memory. */
class Log {
  readonly entries: Entry[] = [];
  /** Index of the first pending entry (a deque without shifting). */
  head = 0;
  /** Index from which next() looks for a queued entry. */
  cursor = 0;
  bytes = 0;
  nextSeq = 0;
  segments: Segment[] = [];
  current: { fd: number; first: number; bytes: number; synced: boolean } | undefined;
  headDirty = false;
  writtenHead = -1;

  constructor(
    readonly kind: OutboxKind,
    readonly dir: string | undefined,
  ) {}

  get count(): number {
    return this.entries.length - this.head;
  }

  get headSeq(): number {
    return this.head < this.entries.length ? this.entries[this.head].seq : this.nextSeq;
  }

  push(entry: Entry): void {
    this.entries.push(entry);
    this.bytes += entry.bytes;
  }

  next(): Entry | undefined {
    while (this.cursor < this.entries.length && this.entries[this.cursor].state !== QUEUED) this.cursor++;
    const entry = this.entries[this.cursor];
    if (entry === undefined) return undefined;
    entry.state = INFLIGHT;
    this.cursor++;
    return entry;
  }

  ack(entry: Entry): void {
    if (entry.removed) return;
    entry.state = ACKED;
    while (this.head < this.entries.length && this.entries[this.head].state === ACKED) this.remove();
  }

  nack(entry: Entry): void {
    if (entry.removed || entry.state === ACKED) return;
    entry.state = QUEUED;
    // Binary search: seqs increase along the log (gaps only where a line was unreadable).
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].seq < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    this.cursor = Math.min(this.cursor, lo);
  }

  /** Removes the oldest pending entry (acknowledged or evicted). */
  remove(): Entry {
    const entry = this.entries[this.head++];
    entry.removed = true;
    this.bytes -= entry.bytes;
    this.cursor = Math.max(this.cursor, this.head);
    this.headDirty = true;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
    return entry;
  }

  /** In-flight entries become queued again (nothing of them was acknowledged). */
  requeueAll(): void {
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i].state === INFLIGHT) this.entries[i].state = QUEUED;
    this.cursor = this.head;
  }
}

export class Outbox {
  readonly #dir: string;
  readonly #limits: Required<OutboxLimits>;
  readonly #log: OutboxLogger | undefined;
  readonly #logs: Record<OutboxKind, Log>;
  #disk: boolean;
  #evictedEvents = 0;
  #evictedStream = 0;
  #recovered = 0;
  #corrupt = 0;
  #writeErrors = 0;
  #lastEvictionLog = 0;
  #syncTimer: NodeJS.Timeout | undefined;
  #headTimer: NodeJS.Timeout | undefined;
  #dirsToSync = new Set<string>();
  #closed = false;
  #lockFile: string | undefined;

  private constructor(dir: string, limits: Required<OutboxLimits>, log: OutboxLogger | undefined, disk: boolean) {
    this.#dir = dir;
    this.#limits = limits;
    this.#log = log;
    this.#disk = disk;
    this.#logs = { events: new Log('events', disk ? join(dir, 'events') : undefined), stream: new Log('stream', disk ? join(dir, 'stream') : undefined) };
  }

  /**
   * Opens (creating it if needed) the outbox in `dir`, reads back what an earlier process left,
   * and locks it. Throws OutboxLockedError when a live process holds it; any other problem with
   * the directory leaves an outbox in memory only, and says so in the log.
   */
  static open(dir: string, limits: OutboxLimits = {}, log?: OutboxLogger): Outbox {
    const merged: Required<OutboxLimits> = { ...defaultOutboxLimits, ...limits };
    let disk = true;
    let lockFile: string | undefined;
    try {
      mkdirSync(join(dir, 'events'), { recursive: true });
      mkdirSync(join(dir, 'stream'), { recursive: true });
      lockFile = Outbox.#lock(dir);
    } catch (error) {
      if (error instanceof OutboxLockedError) throw error;
      disk = false;
      log?.warn({ err: error, dir }, 'telemetry outbox directory unusable: events are kept in memory only and do not survive a restart');
    }
    const outbox = new Outbox(dir, merged, log, disk);
    outbox.#lockFile = lockFile;
    if (disk) {
      try {
        outbox.#recover(outbox.#logs.events);
        outbox.#recover(outbox.#logs.stream);
      } catch (error) {
        log?.warn({ err: error, dir }, 'telemetry outbox unreadable: events are kept in memory only and do not survive a restart');
        // Not close(): it would write heads from a half-read outbox. Leave the files as they are.
        outbox.#releaseLock();
        return Outbox.inMemory(dir, limits, log);
      }
      outbox.#enforce();
      outbox.#persistHeads();
    }
    return outbox;
  }

  /** An outbox that keeps records in memory only (`dir` is only reported). */
  static inMemory(dir: string, limits: OutboxLimits = {}, log?: OutboxLogger): Outbox {
    return new Outbox(dir, { ...defaultOutboxLimits, ...limits }, log, false);
  }

  static #lock(dir: string): string {
    const file = join(dir, 'lock');
    const boot = bootId();
    const mine = `${process.pid} ${boot}\n`;
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [pidText, owner] = readFileSync(file, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    // Same boot and still alive (or this very process): in use. Another boot's pid is stale.
    if (Number.isInteger(pid) && owner === boot && (pid === process.pid || alive(pid))) throw new OutboxLockedError(dir, pid);
    writeFileSync(file, mine);
    return file;
  }

  #recover(log: Log): void {
    const dir = log.dir!;
    let head = 0;
    try {
      head = Number(readFileSync(join(dir, 'head'), 'utf8').trim()) || 0;
    } catch {
      // No head yet: everything on disk is pending.
    }
    const names = readdirSync(dir)
      .filter((n) => /^\d{16}\.jsonl$/.test(n))
      .sort();
    let maxSeq = head - 1;
    for (const name of names) {
      const first = Number(name.slice(0, 16));
      maxSeq = Math.max(maxSeq, first);
      const file = join(dir, name);
      log.segments.push({ first, file });
      const lines = readFileSync(file, 'utf8').split('\n');
      // The part after the last newline is empty, or a write torn by a power loss.
      if (lines.at(-1) !== '') this.#corrupt++;
      lines.pop();
      for (const line of lines) {
        let parsed: { seq?: unknown; topic?: unknown; payload?: unknown };
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          this.#corrupt++;
          continue;
        }
        const { seq, topic, payload } = parsed;
        if (typeof seq !== 'number' || !Number.isInteger(seq) || typeof topic !== 'string' || payload === undefined) {
          this.#corrupt++;
          continue;
        }
        maxSeq = Math.max(maxSeq, seq);
        if (seq < head || (log.count > 0 && seq <= log.entries.at(-1)!.seq)) continue;
        log.push({ kind: log.kind, seq, topic, payload: JSON.stringify(payload), bytes: Buffer.byteLength(line) + 1, state: QUEUED, removed: false });
        this.#recovered++;
      }
    }
    log.nextSeq = Math.max(head, maxSeq + 1);
    log.writtenHead = head;
    log.headDirty = true;
  }

  get stats(): OutboxStats {
    const { events, stream } = this.#logs;
    return {
      dir: this.#dir,
      disk: this.#disk,
      events: events.count,
      stream: stream.count,
      bytes: events.bytes + stream.bytes,
      evictedEvents: this.#evictedEvents,
      evictedStream: this.#evictedStream,
      recovered: this.#recovered,
      corrupt: this.#corrupt,
      writeErrors: this.#writeErrors,
    };
  }

  get pendingEvents(): number {
    return this.#logs.events.count;
  }

  append(kind: OutboxKind, topic: string, payload: string): OutboxRecord {
    const log = this.#logs[kind];
    const seq = log.nextSeq++;
    const line = `{"seq":${seq},"topic":${JSON.stringify(topic)},"payload":${payload}}\n`;
    const bytes = Buffer.byteLength(line);
    const entry: Entry = { kind, seq, topic, payload, bytes, state: QUEUED, removed: false };
    log.push(entry);
    if (this.#disk && !this.#closed) this.#write(log, seq, line, bytes);
    this.#enforce();
    return entry;
  }

  #write(log: Log, seq: number, line: string, bytes: number): void {
    try {
      if (log.current !== undefined && log.current.bytes >= this.#limits.segmentBytes) this.#closeSegment(log);
      if (log.current === undefined) {
        const file = join(log.dir!, segmentName(seq));
        log.current = { fd: openSync(file, 'a'), first: seq, bytes: 0, synced: true };
        log.segments.push({ first: seq, file });
        this.#dirsToSync.add(log.dir!);
      }
      const buffer = Buffer.from(line);
      let written = 0;
      while (written < buffer.length) written += writeSync(log.current.fd, buffer, written);
      log.current.bytes += bytes;
      log.current.synced = false;
      this.#scheduleSync();
    } catch (error) {
      // A partial line must not run into the next one: continue in a new segment.
      if (log.current !== undefined) this.#closeSegment(log);
      if (this.#writeErrors++ === 0) {
        (this.#log?.error ?? this.#log?.warn)?.call(this.#log, { err: error, dir: log.dir }, 'telemetry outbox write failed: records are kept in memory only until it works again');
      }
    }
  }

  #closeSegment(log: Log): void {
    const { fd, synced } = log.current!;
    log.current = undefined;
    if (synced) closeAsync(fd, () => undefined);
    else fdatasync(fd, () => closeAsync(fd, () => undefined));
  }

  #scheduleSync(): void {
    if (this.#limits.fsyncIntervalMs <= 0) {
      this.#syncNow();
      return;
    }
    this.#syncTimer ??= setTimeout(() => {
      this.#syncTimer = undefined;
      for (const log of Object.values(this.#logs)) {
        const current = log.current;
        if (current === undefined || current.synced) continue;
        current.synced = true;
        fdatasync(current.fd, () => undefined);
      }
      for (const dir of this.#dirsToSync) {
        openAsync(dir, 'r', (error, fd) => {
          if (!error) fsync(fd, () => closeAsync(fd, () => undefined));
        });
      }
      this.#dirsToSync.clear();
    }, this.#limits.fsyncIntervalMs);
    this.#syncTimer.unref();
  }

  #syncNow(): void {
    for (const log of Object.values(this.#logs)) {
      if (log.current === undefined || log.current.synced) continue;
      try {
        fdatasyncSync(log.current.fd);
        log.current.synced = true;
      } catch {
        // Counted by the next write that fails.
      }
    }
    for (const dir of this.#dirsToSync) {
      try {
        const fd = openSync(dir, 'r');
        fsyncSync(fd);
        closeSync(fd);
      } catch {
        // As above.
      }
    }
    this.#dirsToSync.clear();
  }

  /** The oldest record not yet handed out: events first, then stream samples. */
  next(): OutboxRecord | undefined {
    return this.#logs.events.next() ?? this.#logs.stream.next();
  }

  /** The broker acknowledged it: it will not be sent again. */
  ack(record: OutboxRecord): void {
    const log = this.#logs[record.kind];
    log.ack(record as Entry);
    if (log.headDirty) this.#scheduleHead();
  }

  /** It was not delivered: next() hands it out again, before anything newer. */
  nack(record: OutboxRecord): void {
    this.#logs[record.kind].nack(record as Entry);
  }

  /** Everything handed out and not acknowledged is to be sent again (a new session). */
  requeueAll(): void {
    this.#logs.events.requeueAll();
    this.#logs.stream.requeueAll();
  }

  #enforce(): void {
    const { events, stream } = this.#logs;
    const { maxEvents, maxStream, maxBytes } = this.#limits;
    let evicted = 0;
    while (stream.count > maxStream) {
      stream.remove();
      this.#evictedStream++;
    }
    while (events.count > maxEvents) {
      events.remove();
      this.#evictedEvents++;
      evicted++;
    }
    while (events.bytes + stream.bytes > maxBytes) {
      if (stream.count > 0) {
        stream.remove();
        this.#evictedStream++;
      } else if (events.count > 1) {
        events.remove();
        this.#evictedEvents++;
        evicted++;
      } else {
        break;
      }
    }
    if (events.headDirty || stream.headDirty) this.#scheduleHead();
    const now = Date.now();
    if (evicted > 0 && now - this.#lastEvictionLog > 60_000) {
      this.#lastEvictionLog = now;
      this.#log?.warn(
        { evictedEvents: this.#evictedEvents, maxEvents, maxBytes, dir: this.#dir },
        'telemetry outbox full: the oldest events are dropped (newer events alone fill the limit)',
      );
    }
  }

  #scheduleHead(): void {
    if (!this.#disk || this.#closed) return;
    this.#headTimer ??= setTimeout(() => {
      this.#headTimer = undefined;
      this.#persistHeads();
    }, 250);
    this.#headTimer.unref();
  }

  /** Writes each log's head and deletes the segments wholly before it. */
  #persistHeads(): void {
    for (const log of Object.values(this.#logs)) {
      if (!log.headDirty || log.dir === undefined) continue;
      log.headDirty = false;
      const head = log.headSeq;
      try {
        if (head !== log.writtenHead) {
          const file = join(log.dir, 'head');
          writeFileSync(`${file}.tmp`, `${head}\n`);
          renameSync(`${file}.tmp`, file);
          log.writtenHead = head;
        }
        // A segment is done when the next one starts at or below head (the last: when all is).
        const keep: Segment[] = [];
        log.segments.forEach((segment, i) => {
          const end = log.segments[i + 1]?.first ?? log.nextSeq;
          if (end <= head && segment.first !== log.current?.first) unlinkSync(segment.file);
          else keep.push(segment);
        });
        log.segments = keep;
      } catch (error) {
        if (this.#writeErrors++ === 0) this.#log?.warn({ err: error, dir: log.dir }, 'telemetry outbox head could not be written');
      }
    }
  }

  /** Syncs and closes the files and releases the lock; what is pending stays for the next process. */
  close(): void {
    if (this.#closed) return;
    clearTimeout(this.#syncTimer);
    clearTimeout(this.#headTimer);
    if (this.#disk) {
      this.#syncNow();
      this.#logs.events.headDirty = true;
      this.#logs.stream.headDirty = true;
      this.#persistHeads();
      for (const log of Object.values(this.#logs)) {
        if (log.current !== undefined) {
          try {
            closeSync(log.current.fd);
          } catch {
            // Already gone.
          }
          log.current = undefined;
        }
      }
      this.#releaseLock();
    }
    this.#closed = true;
  }

  #releaseLock(): void {
    try {
      if (this.#lockFile && readFileSync(this.#lockFile, 'utf8').startsWith(`${process.pid} `)) unlinkSync(this.#lockFile);
    } catch {
      // Nothing to release.
    }
  }
}
