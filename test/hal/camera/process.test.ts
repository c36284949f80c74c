/**
 * Real camera processes: clips made by ffmpeg (lavfi, and the sim renderer's frames) and by
 * gst-launch-1.0 (videotestsrc) flow through the file and gstreamer backends into the touch
 * estimator; the libcamera backend runs against a stand-in rpicam-vid; a process that stalls or
 * dies is restarted with back-off and flagged.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, map, take, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goneWithin } from '../../support/process-gone.js';
import { cameraSchema, type CameraDescription } from '../../../src/robot/index.js';
import type { Frame } from '../../../src/hal/types.js';
import { cameraFrames, createCameraHealth, libcameraCommand, processCameraFrames, RawFrameParser, type CameraEvent } from '../../../src/hal/camera/index.js';
import { loadRobotDescription } from '../../../src/runtime/config/index.js';
import { createTouchEstimator } from '../../../src/tactile/index.js';
import { contactForce, createSyntheticClip, writeSyntheticClip } from '../../../src/tactile/synthetic.js';

const robot = loadRobotDescription(fileURLToPath(new URL('../../../robots/sim-arm.yaml', import.meta.url)));
const W = 96;
const H = 72;
let dir = '';
const contacts = [
  { start: 20, end: 40, force: 20 },
  { start: 60, end: 75, force: 35 },
];

const camera = (fields: Record<string, unknown>): CameraDescription => cameraSchema.parse({ name: 'wrist', width: W, height: H, fps: 30, ...fields });

/** Every frame's contact state (pad 0), copying nothing but the state. */
async function contactStates(frames$: Observable<Frame>, count: number): Promise<number[]> {
  const estimator = createTouchEstimator(robot.fingertips, W, H);
  const states: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const subscription = frames$.subscribe({
      next: (frame) => {
        estimator.updateFrame(frame);
        states.push(estimator.inContact[0]);
        if (states.length === count) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  return states;
}

function onsets(states: number[]): number[] {
  return states.flatMap((s, k) => (s === 1 && (k === 0 || states[k - 1] === 0) ? [k] : []));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'embody-camera-'));
  const clip = createSyntheticClip(robot, 90, { force: contactForce(contacts) });
  await writeSyntheticClip(clip, path.join(dir, 'sim.mkv'));
  // The same frames raw, for a gstreamer pipeline (rawvideoparse).
  const raw = new Uint8Array(W * H * 3 * 90);
  for (let k = 0; k < 90; k++) clip.render(k, raw.subarray(k * W * H * 3, (k + 1) * W * H * 3));
  writeFileSync(path.join(dir, 'sim.rgb'), raw);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-t', '1', '-c:v', 'ffv1', path.join(dir, 'lavfi.mkv')]);
  execFileSync('gst-launch-1.0', [
    '-q', 'videotestsrc', 'num-buffers=30', 'pattern=ball', '!', 'video/x-raw,width=160,height=120,framerate=30/1', '!', 'jpegenc', '!', 'matroskamux', '!', 'filesink', `location=${path.join(dir, 'gst.mkv')}`,
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file backend (ffmpeg)', () => {
  it('plays a sim clip as fast as it decodes; the estimator finds the contacts at their frames', async () => {
    const health = createCameraHealth();
    const events: CameraEvent[] = [];
    const frames$ = cameraFrames(camera({ backend: 'file', file: 'sim.mkv', realtime: false }), robot, undefined, { baseDir: dir, health, onEvent: (e) => events.push(e) });
    const states = await contactStates(frames$, 1000);
    expect(states).toHaveLength(90);
    const on = onsets(states);
    expect(on).toHaveLength(2);
    expect(on[0] - 20).toBeLessThanOrEqual(2);
    expect(on[1] - 60).toBeLessThanOrEqual(2);
    expect(events.map((e) => e.kind)).toEqual(['start', 'streaming', 'end']);
    expect(health.frames).toBe(90);
    expect(health.zeroCopyFrames + health.assembledFrames).toBe(90);
    console.log(`file backend: 90 frames of ${W}x${H}, ${health.zeroCopyFrames} zero-copy, ${health.assembledFrames} assembled`);
  });

  it('paces frames at the clip rate with realtime (ffmpeg -re)', async () => {
    const frames$ = cameraFrames(camera({ backend: 'file', file: path.join(dir, 'sim.mkv') }), robot, undefined);
    const start = performance.now();
    const stamps = await firstValueFrom(frames$.pipe(take(31), toArray()));
    const elapsed = performance.now() - start;
    expect(stamps).toHaveLength(31);
    expect(elapsed).toBeGreaterThan(800); // 30 frame periods at 30 fps, after ffmpeg starts
  });

  it('reads clips ffmpeg made from lavfi and gst-launch-1.0 made from videotestsrc, scaled to the camera size', async () => {
    for (const file of ['lavfi.mkv', 'gst.mkv']) {
      const frames = await firstValueFrom(
        cameraFrames(camera({ backend: 'file', file, realtime: false }), robot, undefined, { baseDir: dir }).pipe(toArray()),
      );
      expect(frames.length).toBe(30);
      expect(frames[0].data.length).toBe(W * H * 3);
      expect(frames[29].sequence).toBe(30);
    }
    // Into the estimator: a test pattern is no pad, but it must flow without faults.
    const states = await contactStates(cameraFrames(camera({ backend: 'file', file: 'lavfi.mkv', realtime: false }), robot, undefined, { baseDir: dir }), 30);
    expect(states).toHaveLength(30);
  });
});

describe('gstreamer backend (gst-launch-1.0)', () => {
  it('streams videotestsrc through videoconvert/videoscale as RGB frames of the camera size', async () => {
    const frames = await firstValueFrom(
      cameraFrames(camera({ backend: 'gstreamer', pipeline: 'videotestsrc is-live=true pattern=smpte' }), robot, undefined).pipe(
        take(10),
        toArray(),
      ),
    );
    expect(frames).toHaveLength(10);
    // SMPTE bars: the top-left bar is light grey, the next yellow.
    const f = frames[9].data;
    expect(f.length).toBe(W * H * 3);
    expect(f[0]).toBeGreaterThan(150);
    const yellow = 3 * (10 * W + 20);
    expect(f[yellow]).toBeGreaterThan(150);
    expect(f[yellow + 2]).toBeLessThan(60);
  });

  it('feeds a recorded sim clip into the estimator with the contact onsets in place', async () => {
    const pipeline = `filesrc location=${path.join(dir, 'sim.rgb')} ! rawvideoparse width=${W} height=${H} format=rgb framerate=30/1`;
    const states = await contactStates(cameraFrames(camera({ backend: 'gstreamer', pipeline }), robot, undefined), 85);
    const on = onsets(states);
    expect(on[0] - 20).toBeLessThanOrEqual(2);
    expect(on[1] - 60).toBeLessThanOrEqual(2);
  });
});

describe('libcamera backend (stand-in rpicam-vid)', () => {
  it('runs rpicam-vid from PATH with the fixed exposure and converts its YUV 4:2:0 to RGB', async () => {
    const bin = path.join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    const script = path.join(bin, 'rpicam-vid');
    // The stand-in records its arguments, then writes raw I420 frames as rpicam-vid --codec yuv420 -o - does.
    writeFileSync(
      script,
      `#!/bin/sh\necho "$@" > ${path.join(dir, 'rpicam-args')}\nexec ffmpeg -hide_banner -loglevel error -f lavfi -i color=c=0x3050a0:size=${W}x${H}:rate=30 -t 2 -pix_fmt yuv420p -f rawvideo pipe:1\n`,
    );
    chmodSync(script, 0o755);
    const cam = camera({ backend: 'libcamera', exposure_us: 10000, gain: 2, white_balance: { red: 1.9, blue: 1.5 } });
    const pathVariable = `${bin}${path.delimiter}${process.env.PATH}`;
    const spec = libcameraCommand(cam, pathVariable);
    expect(spec.command).toBe('rpicam-vid');
    const frames = await firstValueFrom(
      processCameraFrames({ ...spec, command: script }, { name: 'wrist', width: W, height: H, stallMs: 2000, env: { PATH: pathVariable } }).pipe(take(5), toArray()),
    );
    expect(readFileSync(path.join(dir, 'rpicam-args'), 'utf8').trim()).toBe(
      `-t 0 -n --codec yuv420 --width ${W} --height ${H} --framerate 30 --flush --shutter 10000 --gain 2 --awbgains 1.9,1.5 -o -`,
    );
    const px = frames[4].data;
    // 0x3050a0 back from limited-range BT.601: within a few levels.
    expect(Math.abs(px[0] - 0x30)).toBeLessThan(8);
    expect(Math.abs(px[1] - 0x50)).toBeLessThan(8);
    expect(Math.abs(px[2] - 0xa0)).toBeLessThan(8);
  });
});

describe('supervision', () => {
  const frameBytes = W * H * 3;

  it('restarts a stalled process, flags the stall until frames flow again', async () => {
    // Writes 3 frames, then hangs: a camera whose driver wedged.
    const events: CameraEvent[] = [];
    const health = createCameraHealth();
    const spec = { command: 'sh', args: ['-c', `head -c ${3 * frameBytes} /dev/zero; exec sleep 30`], format: 'rgb24' as const, finite: false };
    let stalledSeen = false;
    const sequences = await firstValueFrom(
      processCameraFrames(spec, {
        name: 'wrist',
        width: W,
        height: H,
        stallMs: 300,
        restartMs: [50, 400],
        health,
        onEvent: (e) => {
          events.push(e);
          if (e.kind === 'stall') stalledSeen = health.stalled;
        },
      }).pipe(
        map((f) => f.sequence),
        take(7),
        toArray(),
      ),
    );
    expect(sequences).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const kinds = events.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'stall').length).toBeGreaterThanOrEqual(2);
    expect(kinds.filter((k) => k === 'restart').length).toBeGreaterThanOrEqual(2);
    expect(stalledSeen).toBe(true);
    expect(health.stalled).toBe(false); // frames came back after the last restart
    expect(health.restarts).toBeGreaterThanOrEqual(2);
  });

  it('restarts a process that dies, backing off 50, 100, 200 ms', async () => {
    const events: CameraEvent[] = [];
    const spec = { command: 'sh', args: ['-c', `head -c ${frameBytes} /dev/zero; echo 'sensor lost' >&2; exit 3`], format: 'rgb24' as const, finite: false };
    const frames = await firstValueFrom(
      processCameraFrames(spec, { name: 'wrist', width: W, height: H, stallMs: 2000, restartMs: [50, 1000], onEvent: (e) => events.push(e) }).pipe(take(4), toArray()),
    );
    expect(frames).toHaveLength(4);
    const exits = events.filter((e) => e.kind === 'exit');
    expect(exits[0].message).toMatch(/code 3.*sensor lost/);
    const delays = events.filter((e) => e.kind === 'restart').map((e) => Number(/in (\d+) ms/.exec(e.message)?.[1]));
    expect(delays.slice(0, 3)).toEqual([50, 100, 200]);
  });

  it('kills the process when the subscriber leaves', async () => {
    const health = createCameraHealth();
    let pid: number | undefined;
    const frames$ = processCameraFrames(
      { command: 'sh', args: ['-c', `while true; do head -c ${frameBytes} /dev/zero; sleep 0.02; done`], format: 'rgb24', finite: false },
      { name: 'wrist', width: W, height: H, stallMs: 1000, health, onEvent: (e) => (pid = e.kind === 'start' ? e.pid : pid) },
    );
    await firstValueFrom(frames$.pipe(take(3), toArray()));
    expect(pid).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(() => process.kill(pid as number, 0)).toThrow(); // gone
    expect(health.pid).toBeUndefined();
  });
  it('a camera process that ignores SIGTERM dies with a SIGKILLed runtime instead of holding the device', async () => {
    // A separate Node process (the built module, as `embody run` loads it) starts the camera;
    // then it is killed the way the OOM killer or `kill -9` does it: no exit handler runs.
    const module = path.join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist/src/hal/camera/index.js');
    const script = `
      const { processCameraFrames } = await import(${JSON.stringify(module)});
      processCameraFrames({ command: 'sh', args: ['-c', "trap '' TERM; head -c ${frameBytes} /dev/zero; exec sleep 60"], format: 'rgb24', finite: false },
        { name: 'wrist', width: ${W}, height: ${H}, stallMs: 30000, onEvent: (e) => e.kind === 'start' && console.log('pid', e.pid) }).subscribe();`;
    const runtime = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      runtime.stdout.on('data', (d: Buffer) => {
        const found = /pid (\d+)/.exec(d.toString());
        if (found) resolve(Number(found[1]));
      });
      runtime.on('exit', (code) => reject(new Error(`runtime exited early (${code})`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(() => process.kill(pid, 0)).not.toThrow(); // running, and deaf to SIGTERM
    runtime.kill('SIGKILL');
    expect(await goneWithin(pid, 2000)).toBe(true);
  });
});

describe('raw frame parser', () => {
  it('assembles frames split across chunks and hands whole ones out without copying', () => {
    const seen: Uint8Array[] = [];
    const parser = new RawFrameParser(4, 2, 'rgb24', (data) => seen.push(data.slice()));
    const bytes = Uint8Array.from({ length: 24 * 3 }, (_, i) => i);
    parser.push(bytes.subarray(0, 10));
    parser.push(bytes.subarray(10, 30));
    parser.push(bytes.subarray(30));
    expect(seen.map((f) => f[0])).toEqual([0, 24, 48]);
    expect(parser.assembled).toBe(2);
    expect(parser.zeroCopy).toBe(1);
    expect(parser.pending).toBe(0);
  });
});
