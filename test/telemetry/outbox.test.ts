/**
 * The on-disk outbox alone: order, acknowledgement, recovery by a new process (simulated by
 * re-opening after a stale lock), limits (stream samples go first; an event only when newer
 * events fill the limit), torn writes, and the fallback to memory when the disk is unusable.
 * The kill -9 of a real process is in mosquitto.test.ts.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox, OutboxLockedError, type OutboxLimits, type OutboxRecord } from '../../src/telemetry/index.js';
import { cleanups, tempDir } from './helpers.js';

function open(dir: string, limits: OutboxLimits = {}): Outbox {
  const outbox = Outbox.open(dir, limits);
  cleanups.push(() => outbox.close());
  return outbox;
}

const event = (tick: number, pad = 0): string => JSON.stringify({ id: `e${tick}`, tick, kind: 'fault', cause: 'x'.repeat(pad) });

function drain(outbox: Outbox): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  for (let r = outbox.next(); r !== undefined; r = outbox.next()) out.push(r);
  return out;
}

const ticks = (records: OutboxRecord[]): number[] => records.map((r) => (JSON.parse(r.payload) as { tick?: number; ticks?: number }).tick ?? -1);

/** Pretends the process that held the outbox died: its lock names a pid that is not running. */
function crash(dir: string): void {
  const lock = join(dir, 'lock');
  const [, boot] = readFileSync(lock, 'utf8').trim().split(' ');
  writeFileSync(lock, `999999999 ${boot}\n`);
}

describe('telemetry outbox', () => {
  it('hands out events in order before stream samples, and forgets what is acknowledged', () => {
    const outbox = open(tempDir('outbox'));
    outbox.append('stream', 'metrics', JSON.stringify({ tick: 100 }));
    for (let i = 1; i <= 3; i++) outbox.append('events', 'events', event(i));
    const records = drain(outbox);
    expect(records.map((r) => [r.kind, r.topic])).toEqual([
      ['events', 'events'],
      ['events', 'events'],
      ['events', 'events'],
      ['stream', 'metrics'],
    ]);
    expect(ticks(records)).toEqual([1, 2, 3, 100]);
    expect(outbox.next()).toBeUndefined();
    outbox.ack(records[0]!);
    outbox.ack(records[2]!); // out of order: 3 waits for 2
    expect(outbox.stats).toMatchObject({ events: 2, stream: 1 });
    outbox.ack(records[1]!);
    expect(outbox.stats).toMatchObject({ events: 0, stream: 1 });
  });

  it('gives a record back for another try, before anything newer', () => {
    const outbox = open(tempDir('outbox'));
    for (let i = 1; i <= 4; i++) outbox.append('events', 'events', event(i));
    const [a, b, c] = [outbox.next()!, outbox.next()!, outbox.next()!];
    outbox.ack(a);
    outbox.nack(b);
    expect(ticks([outbox.next()!])).toEqual([2]);
    expect(ticks([outbox.next()!])).toEqual([4]);
    outbox.ack(c);
    outbox.requeueAll();
    // 2 and 4 were handed out again but never acknowledged: a new session sends them again.
    expect(ticks(drain(outbox))).toEqual([2, 4]);
  });

  it('is read back, in order, by the next process: unacknowledged records only, with their payloads', () => {
    const dir = tempDir('outbox');
    const first = Outbox.open(dir, { segmentBytes: 300 });
    for (let i = 1; i <= 20; i++) first.append('events', 'events', event(i));
    first.append('stream', 'metrics', JSON.stringify({ ticks: 5, replayed: true }));
    const records = drain(first);
    for (const r of records.slice(0, 12)) first.ack(r);
    first.close();
    // Finished segments are deleted; at most the one holding the head remains before it.
    const segments = readdirSync(join(dir, 'events')).filter((n) => n.endsWith('.jsonl'));
    expect(segments.length).toBeLessThan(20 / 3);

    const second = open(dir);
    expect(second.stats).toMatchObject({ events: 8, stream: 1, recovered: 9, corrupt: 0 });
    const again = drain(second);
    expect(ticks(again)).toEqual([13, 14, 15, 16, 17, 18, 19, 20, -1]);
    expect(again[0]!.payload).toBe(event(13));
    expect(JSON.parse(again.at(-1)!.payload)).toEqual({ ticks: 5, replayed: true });
    // New records continue the sequence after the old ones.
    second.append('events', 'events', event(21));
    expect(second.next()!.seq).toBeGreaterThan(again[7]!.seq);
  });

  it('survives a crash without close: everything written is there, a torn last line is skipped', () => {
    const dir = tempDir('outbox');
    const crashed = Outbox.open(dir, { fsyncIntervalMs: 0 });
    for (let i = 1; i <= 3; i++) crashed.append('events', 'events', event(i));
    crash(dir);
    // Power loss mid-write: half a line at the end of the segment.
    const segment = readdirSync(join(dir, 'events')).find((n) => n.endsWith('.jsonl'))!;
    appendFileSync(join(dir, 'events', segment), '{"seq":3,"topic":"events","payl');

    const next = open(dir);
    expect(next.stats).toMatchObject({ events: 3, recovered: 3, corrupt: 1 });
    expect(ticks(drain(next))).toEqual([1, 2, 3]);
    next.append('events', 'events', event(4));
    crash(dir);
    const third = open(dir);
    expect(ticks(drain(third))).toEqual([1, 2, 3, 4]);
  });

  it('is locked against a second live user, and takes over a dead one', () => {
    const dir = tempDir('outbox');
    const held = open(dir);
    expect(() => Outbox.open(dir)).toThrow(OutboxLockedError);
    held.close();
    const after = open(dir);
    crash(dir);
    expect(() => open(dir)).not.toThrow();
    after.close();
  });

  it('keeps the newest maxEvents events and counts what it drops', () => {
    const outbox = open(tempDir('outbox'), { maxEvents: 5 });
    for (let i = 1; i <= 8; i++) outbox.append('events', 'events', event(i));
    expect(outbox.stats).toMatchObject({ events: 5, evictedEvents: 3 });
    expect(ticks(drain(outbox))).toEqual([4, 5, 6, 7, 8]);
  });

  it('when full by bytes, drops the oldest stream samples first, and an event only when newer events fill it', () => {
    const maxBytes = 2000;
    const outbox = open(tempDir('outbox'), { maxBytes });
    for (let i = 1; i <= 8; i++) outbox.append('stream', 'metrics', JSON.stringify({ tick: 100 + i, pad: 'x'.repeat(100) }));
    for (let i = 1; i <= 8; i++) outbox.append('events', 'events', event(i, 100));
    let stats = outbox.stats;
    // ~150 bytes a record: 16 do not fit in 2000; stream samples made the room.
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(stats.evictedEvents).toBe(0);
    expect(stats.evictedStream).toBeGreaterThan(0);
    expect(stats.events).toBe(8);

    for (let i = 9; i <= 20; i++) outbox.append('events', 'events', event(i, 100));
    stats = outbox.stats;
    expect(stats.stream).toBe(0);
    expect(stats.evictedStream).toBe(8);
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    const kept = ticks(drain(outbox));
    // The newest events, as many as fit; one more would not have fit.
    expect(kept.at(-1)).toBe(20);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 21 - kept.length + i));
    const perEvent = stats.bytes / kept.length;
    expect(stats.bytes + perEvent).toBeGreaterThan(maxBytes);
    expect(stats.evictedEvents).toBe(20 - kept.length);
  });

  it('bounds the stream samples by count', () => {
    const outbox = open(tempDir('outbox'), { maxStream: 3 });
    for (let i = 1; i <= 5; i++) outbox.append('stream', 'metrics', JSON.stringify({ tick: i }));
    expect(outbox.stats).toMatchObject({ stream: 3, evictedStream: 2 });
    expect(ticks(drain(outbox))).toEqual([3, 4, 5]);
  });

  it('falls back to memory when its directory cannot be used, and still works', () => {
    const blocker = join(tempDir('outbox'), 'a-file');
    writeFileSync(blocker, '');
    const warnings: string[] = [];
    const outbox = Outbox.open(join(blocker, 'outbox'), {}, { warn: (_obj, msg) => warnings.push(msg) });
    cleanups.push(() => outbox.close());
    expect(outbox.stats.disk).toBe(false);
    expect(warnings[0]).toMatch(/in memory only/);
    outbox.append('events', 'events', event(1));
    const r = outbox.next()!;
    outbox.ack(r);
    expect(outbox.stats.events).toBe(0);
  });
});
