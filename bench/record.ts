/**
 * `embody bench record`: what recording costs, each number beside its anchor in the same run.
 *   loop      tick p99 lateness and missed ticks of the sim arm with recording off (the anchor),
 *             then on, at the camera's 96×72 and at 640×480, 30 fps (target: no missed tick
 *             added, p99 within +10 %)
 *   bytes     bytes per second per channel of the recorded episode (read back with @mcap/core)
 *   encode    JPEG encode time per frame (hand-over to the ffmpeg child → JPEG back)
 *   export    `embody dataset export` time per episode-minute (AV1, as lerobot encodes)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McapStreamReader } from '@mcap/core';
import { parse, stringify } from 'yaml';
import { exportDataset, readEpisodeFrames } from '../src/dataset/index.js';
import { recorderObserver } from '../src/record/index.js';
import { createLogger } from '../src/runtime/logger.js';
import { runRobot } from '../src/runtime/run.js';

export interface RecordBenchRun {
  readonly camera: string;
  readonly offP99Us: number;
  readonly onP99Us: number;
  readonly ratio: number;
  readonly offMissed: number;
  readonly onMissed: number;
  readonly bytesPerSecond: Record<string, number>;
  readonly encodeMs: { readonly p50: number; readonly p99: number };
  /** ffmpeg's CPU time per frame (user + system). */
  readonly encodeCpuMsPerFrame?: number;
  readonly framesDropped: number;
  readonly exportSecondsPerEpisodeMinute: number;
}

function robotWithCamera(robotFile: string, directory: string, width: number, height: number): string {
  const robot = parse(readFileSync(robotFile, 'utf8')) as Record<string, unknown> & { policy: { manifest: string }; cameras: { width: number; height: number }[] };
  robot.policy.manifest = join(robotFile, '..', robot.policy.manifest);
  robot.cameras[0].width = width;
  robot.cameras[0].height = height;
  const file = join(directory, `robot-${width}x${height}.yaml`);
  writeFileSync(file, stringify(robot));
  return file;
}

function channelBytes(episode: string, seconds: number): Record<string, number> {
  const bytes: Record<string, number> = {};
  for (const name of readdirSync(episode).filter((n) => n.endsWith('.mcap'))) {
    const reader = new McapStreamReader();
    reader.append(readFileSync(join(episode, name)));
    const topics = new Map<number, string>();
    for (let record; (record = reader.nextRecord()); ) {
      if (record.type === 'Channel') topics.set(record.id, record.topic);
      if (record.type === 'Message') {
        const topic = topics.get(record.channelId) ?? '?';
        bytes[topic] = (bytes[topic] ?? 0) + record.data.byteLength;
      }
    }
  }
  return Object.fromEntries(Object.entries(bytes).map(([topic, b]) => [topic, Math.round(b / seconds)]));
}

export async function benchRecord(robotFile: string, options: { seconds?: number } = {}): Promise<RecordBenchRun[]> {
  const seconds = options.seconds ?? 10;
  const directory = mkdtempSync(join(tmpdir(), 'embody-bench-record-'));
  const log = createLogger({ level: 'warn', pretty: false });
  const runs: RecordBenchRun[] = [];
  try {
    for (const [width, height] of [
      [96, 72],
      [640, 480],
    ] as const) {
      const robot = robotWithCamera(robotFile, directory, width, height);
      const off = await runRobot({ robotFile: robot, durationS: seconds, broker: 'none', autoArm: true, log });
      const dir = join(directory, `recordings-${width}x${height}`);
      const recorder = recorderObserver({ dir });
      const on = await runRobot({ robotFile: robot, durationS: seconds, broker: 'none', autoArm: true, log, observers: [recorder] });
      const robotDir = join(dir, readdirSync(dir)[0]);
      const episode = join(robotDir, readdirSync(robotDir)[0]);
      const frames = await readEpisodeFrames(episode, 30);
      const episodeSeconds = frames.ticks.length / 30;
      const started = performance.now();
      await exportDataset([frames], { out: join(directory, `dataset-${width}x${height}`), fps: 30, vcodec: 'libsvtav1' });
      const exportSeconds = (performance.now() - started) / 1000;
      const camera = recorder.summary.cameras.wrist;
      runs.push({
        camera: `${width}x${height}`,
        offP99Us: off.tick_lateness_us.p99,
        onP99Us: on.tick_lateness_us.p99,
        ratio: on.tick_lateness_us.p99 / Math.max(1, off.tick_lateness_us.p99),
        offMissed: off.missed_ticks,
        onMissed: on.missed_ticks,
        bytesPerSecond: channelBytes(episode, episodeSeconds),
        encodeMs: camera?.encode_ms ?? { p50: 0, p99: 0 },
        ...(camera?.cpu_ms_per_frame !== undefined ? { encodeCpuMsPerFrame: camera.cpu_ms_per_frame } : {}),
        framesDropped: camera?.dropped ?? 0,
        exportSecondsPerEpisodeMinute: (exportSeconds * 60) / episodeSeconds,
      });
    }
    return runs;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

export function formatRecord(runs: RecordBenchRun[]): string {
  return runs
    .map((r) => {
      const bytes = Object.entries(r.bytesPerSecond)
        .sort((a, b) => b[1] - a[1])
        .map(([topic, b]) => `${topic} ${(b / 1024).toFixed(1)}`)
        .join(', ');
      return (
        `record ${r.camera}: tick p99 ${r.offP99Us} µs off -> ${r.onP99Us} µs on (${r.ratio.toFixed(2)}x, target <= 1.10), missed ${r.offMissed} off, ${r.onMissed} on; ` +
        `JPEG encode latency p50 ${r.encodeMs.p50.toFixed(1)} ms, p99 ${r.encodeMs.p99.toFixed(1)} ms, ffmpeg CPU ${r.encodeCpuMsPerFrame?.toFixed(2) ?? '?'} ms/frame, ${r.framesDropped} dropped; export ${r.exportSecondsPerEpisodeMinute.toFixed(1)} s per episode-minute\n` +
        `record ${r.camera}: KiB/s per channel: ${bytes}\n`
      );
    })
    .join('');
}
