/**
 * Helpers for the recorder tests: start the built `embody` as a real process, wait for output,
 * and read MCAP files with @mcap/core's own readers (not the recorder's writer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McapIndexedReader, McapStreamReader } from '@mcap/core';
import { fileReadable } from '../../src/record/index.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const cli = join(root, 'dist/src/cli.js');

export interface Embody {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  output(): string;
}

export function embody(args: string[], children: ChildProcess[], cwd = root): Embody {
  const child = spawn(process.execPath, ['--single-threaded-gc', cli, ...args], { cwd, env: { ...process.env, EMBODY_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, output: () => output };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface ReadMessage {
  readonly topic: string;
  readonly schemaName: string;
  readonly logTime: bigint;
  readonly body: Record<string, unknown>;
}

/** Every message of a finished MCAP file, by the indexed reader (throws on a file without its footer). */
export async function readIndexed(file: string): Promise<{ messages: ReadMessage[]; metadata: Map<string, string>[]; chunks: number }> {
  const handle = await open(file, 'r');
  try {
    const reader = await McapIndexedReader.Initialize({ readable: fileReadable(handle) });
    const messages: ReadMessage[] = [];
    for await (const m of reader.readMessages()) {
      const channel = reader.channelsById.get(m.channelId)!;
      const schema = reader.schemasById.get(channel.schemaId)!;
      messages.push({ topic: channel.topic, schemaName: schema.name, logTime: m.logTime, body: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown> });
    }
    const metadata: Map<string, string>[] = [];
    for await (const md of reader.readMetadata()) metadata.push(md.metadata);
    return { messages, metadata, chunks: reader.chunkIndexes.length };
  } finally {
    await handle.close();
  }
}

/** Every complete message of a (possibly truncated) MCAP file, by the stream reader. */
export async function readStream(file: string): Promise<{ messages: ReadMessage[]; remaining: number }> {
  const reader = new McapStreamReader();
  reader.append(await readFile(file));
  const channels = new Map<number, string>();
  const messages: ReadMessage[] = [];
  for (let record; (record = reader.nextRecord()); ) {
    if (record.type === 'Channel') channels.set(record.id, record.topic);
    if (record.type === 'Message') {
      messages.push({ topic: channels.get(record.channelId) ?? '?', schemaName: '', logTime: record.logTime, body: JSON.parse(new TextDecoder().decode(record.data)) as Record<string, unknown> });
    }
  }
  return { messages, remaining: reader.bytesRemaining() };
}
