/**
 * One MCAP segment file: `@mcap/core`'s writer over a file handle, with chunks small enough that a
 * kill -9 loses at most the open one (about half a second of data), an fsync at most once a second
 * off the main thread (libuv's pool), and every call serialised (the writer corrupts its file if
 * two calls overlap; foxglove/mcap typescript/core/src/McapWriter.ts says so).
 *
 * A segment is written as `<name>.mcap.part` and renamed to `<name>.mcap` after its footer is
 * written, so an unfinished segment is recognisable by its name alone (recover.ts).
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { McapWriter, type IWritable } from '@mcap/core';

export const PART_SUFFIX = '.part';

/** A channel as the recorder declares it: topic, message encoding, schema (name, encoding, text). */
export interface ChannelSpec {
  readonly topic: string;
  readonly messageEncoding: string;
  readonly schemaName: string;
  readonly schemaEncoding: string;
  readonly schema: string;
}

export class FileWritable implements IWritable {
  #position = 0n;
  constructor(readonly handle: FileHandle) {}
  async write(buffer: Uint8Array): Promise<unknown> {
    let done = 0;
    while (done < buffer.byteLength) {
      const { bytesWritten } = await this.handle.write(buffer, done, buffer.byteLength - done, Number(this.#position) + done);
      done += bytesWritten;
    }
    this.#position += BigInt(buffer.byteLength);
    return undefined;
  }
  position(): bigint {
    return this.#position;
  }
}

export interface SegmentOptions {
  /** Final path (`….mcap`); written as path + PART_SUFFIX until closed. */
  readonly path: string;
  readonly channels: readonly ChannelSpec[];
  /** Chunk size, bytes: the most a kill -9 can lose of this segment. */
  readonly chunkBytes: number;
  /** Key/value metadata record written at the start (robot, episode, time base). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Open the file only after this (the episode's directory exists). */
  readonly after?: Promise<void>;
}

/**
 * Created synchronously; the file opens on the segment's own queue, so messages can be added at
 * once (rotation never waits on the disk on the main thread).
 */
export class Segment {
  readonly path: string;
  #writer: McapWriter | undefined;
  #writable: FileWritable | undefined;
  readonly #channelIds: number[] = [];
  #queue: Promise<void>;
  #pending = 0;
  #messages = 0;
  #closed = false;
  #lastSync = performance.now();
  #error: unknown;

  constructor(options: SegmentOptions) {
    this.path = options.path;
    this.#queue = (options.after ?? Promise.resolve()).then(() => this.#open(options)).catch((error: unknown) => void (this.#error ??= error));
  }

  async #open(options: SegmentOptions): Promise<void> {
    const handle = await open(options.path + PART_SUFFIX, 'wx');
    const writable = new FileWritable(handle);
    this.#writable = writable;
    const writer = new McapWriter({ writable, chunkSize: options.chunkBytes, useMessageIndex: true });
    await writer.start({ profile: '', library: 'embody' });
    for (const c of options.channels) {
      const schemaId = await writer.registerSchema({ name: c.schemaName, encoding: c.schemaEncoding, data: new TextEncoder().encode(c.schema) });
      this.#channelIds.push(await writer.registerChannel({ topic: c.topic, messageEncoding: c.messageEncoding, schemaId, metadata: new Map() }));
    }
    if (options.metadata) await writer.addMetadata({ name: 'embody', metadata: new Map(Object.entries(options.metadata)) });
    this.#writer = writer;
  }

  /** Bytes on disk so far (the open chunk not included). */
  get bytes(): number {
    return this.#writable === undefined ? 0 : Number(this.#writable.position());
  }

  get messages(): number {
    return this.#messages;
  }

  /** Messages accepted but not yet handed to the writer (bounded by the caller). */
  get pending(): number {
    return this.#pending;
  }

  /** The first write error, if any (the recorder stops on it). */
  get error(): unknown {
    return this.#error;
  }

  /** Queue one message on channel `index` (in the order of SegmentOptions.channels); times in ns. */
  add(index: number, logTimeNs: bigint, data: Uint8Array): void {
    if (this.#closed) return;
    this.#pending++;
    this.#queue = this.#queue.then(async () => {
      this.#pending--;
      if (this.#error !== undefined || this.#writer === undefined) return;
      try {
        await this.#writer.addMessage({ channelId: this.#channelIds[index], sequence: this.#messages, logTime: logTimeNs, publishTime: logTimeNs, data });
        this.#messages++;
      } catch (error) {
        this.#error = error;
      }
    });
  }

  /** fsync what was written, at most once per `minIntervalMs` (in libuv's pool, not on the main thread). */
  sync(minIntervalMs = 1000): void {
    const now = performance.now();
    if (this.#closed || now - this.#lastSync < minIntervalMs) return;
    this.#lastSync = now;
    this.#queue = this.#queue.then(async () => {
      await this.#writable?.handle.sync().catch((error: unknown) => void (this.#error ??= error));
    });
  }

  /** Write the open chunk, the summary and the footer, fsync, close, and rename to the final name. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    const writable = this.#writable;
    if (writable === undefined) return;
    try {
      if (this.#error === undefined) await this.#writer?.end();
      await writable.handle.sync();
    } catch (error) {
      this.#error ??= error;
    } finally {
      await writable.handle.close();
    }
    if (this.#error === undefined) await rename(this.path + PART_SUFFIX, this.path);
  }
}
