/**
 * Crash recovery. A segment still named `*.mcap.part` was being written when the process died
 * (kill -9, a power cut): it has no footer and may end in half a chunk, so MCAP's indexed reader
 * refuses it. The stream reader (`McapStreamReader`) returns every complete record; this rewrites
 * those into a proper `*.mcap` (schemas, channels, metadata, messages, then summary and footer),
 * checks it opens, and only then removes the `.part`. What could not be read is the unfinished
 * tail (the open chunk), counted in `lostBytes`. The episode's `episode.json` says it was
 * recovered and from which tick on data is missing.
 */
import { open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { McapIndexedReader, McapStreamReader, McapWriter, type IReadable, type TypedMcapRecord } from '@mcap/core';
import { EPISODE_FILE, readEpisodeMeta, writeEpisodeMeta } from './episode.js';
import { FileWritable, PART_SUFFIX } from './segment.js';

export interface RecoveryResult {
  /** The recovered segment (final name). */
  readonly segment: string;
  readonly messages: number;
  /** Bytes at the end of the `.part` that did not form a complete record. */
  readonly lostBytes: number;
  /** Log time of the last recovered message, ns (0n when none). */
  readonly lastLogTimeNs: bigint;
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/** Bytes of every file under `dir` (0 when it does not exist). */
export async function recordingsBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const file of walk(dir)) total += (await stat(file)).size;
  return total;
}

/** Recover every unfinished segment under `dir`; returns what was recovered. */
export async function recoverRecordings(dir: string): Promise<RecoveryResult[]> {
  const parts: string[] = [];
  for await (const file of walk(dir)) if (file.endsWith(`.mcap${PART_SUFFIX}`)) parts.push(file);
  const results: RecoveryResult[] = [];
  for (const part of parts.sort()) {
    const result = await recoverSegment(part);
    results.push(result);
    await noteRecovery(dirname(part), result);
  }
  return results;
}

/** Rewrite the complete records of `part` (`….mcap.part`) into `….mcap`, then remove `part`. */
export async function recoverSegment(part: string): Promise<RecoveryResult> {
  if (!part.endsWith(PART_SUFFIX)) throw new Error(`${part}: not an unfinished segment (expected a name ending in ${PART_SUFFIX})`);
  const target = part.slice(0, -PART_SUFFIX.length);
  const data = await readFile(part);
  const reader = new McapStreamReader({ validateCrcs: true });
  reader.append(data);
  const records: TypedMcapRecord[] = [];
  try {
    for (let record; (record = reader.nextRecord()); ) records.push(record);
  } catch {
    // A damaged record (not only a cut one) ends the readable part as well.
  }
  const temporary = `${target}.recovering`;
  const handle = await open(temporary, 'w');
  let messages = 0;
  let last = 0n;
  try {
    const writer = new McapWriter({ writable: new FileWritable(handle) });
    await writer.start({ profile: '', library: 'embody (recovered)' });
    const schemaIds = new Map<number, number>();
    const channelIds = new Map<number, number>();
    for (const record of records) {
      if (record.type === 'Schema') schemaIds.set(record.id, await writer.registerSchema({ name: record.name, encoding: record.encoding, data: record.data }));
      else if (record.type === 'Channel') {
        const schemaId = record.schemaId === 0 ? 0 : (schemaIds.get(record.schemaId) ?? 0);
        channelIds.set(record.id, await writer.registerChannel({ topic: record.topic, messageEncoding: record.messageEncoding, schemaId, metadata: record.metadata }));
      } else if (record.type === 'Metadata') await writer.addMetadata({ name: record.name, metadata: record.metadata });
      else if (record.type === 'Message') {
        const channelId = channelIds.get(record.channelId);
        if (channelId === undefined) continue;
        await writer.addMessage({ ...record, channelId });
        messages++;
        if (record.logTime > last) last = record.logTime;
      }
    }
    await writer.end();
    await handle.sync();
  } finally {
    await handle.close();
  }
  await checkReadable(temporary);
  await rename(temporary, target);
  await unlink(part);
  return { segment: target, messages, lostBytes: reader.bytesRemaining(), lastLogTimeNs: last };
}

/** An open file as the random-access source McapIndexedReader reads from. */
export function fileReadable(handle: FileHandle): IReadable {
  return {
    size: async () => BigInt((await handle.stat()).size),
    read: async (offset, length) => {
      const buffer = new Uint8Array(Number(length));
      await handle.read(buffer, 0, buffer.length, Number(offset));
      return buffer;
    },
  };
}

/** The indexed reader opens it (what Foxglove and the exporter need). */
async function checkReadable(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await McapIndexedReader.Initialize({ readable: fileReadable(handle) });
  } finally {
    await handle.close();
  }
}

/** Say in the episode's metadata that it ended in a crash and what was recovered. */
async function noteRecovery(directory: string, result: RecoveryResult): Promise<void> {
  let meta;
  try {
    meta = await readEpisodeMeta(directory);
  } catch {
    return; // a segment outside an episode directory (or its metadata lost): the segment alone is recovered
  }
  meta.recovered = [...(meta.recovered ?? []).filter((r) => r.segment !== basename(result.segment)), { segment: basename(result.segment), messages: result.messages, lost_bytes: result.lostBytes }];
  if (!meta.complete) {
    meta.ended_by ??= 'crash';
    const { tick0_unix_ns, period_ns } = meta.time_base;
    if (result.lastLogTimeNs > 0n) {
      const lastTick = Number((result.lastLogTimeNs - BigInt(tick0_unix_ns)) / BigInt(period_ns));
      meta.stop_tick = Math.max(meta.stop_tick ?? 0, lastTick + 1);
    }
  }
  await writeEpisodeMeta(directory, meta);
}

export { EPISODE_FILE };
