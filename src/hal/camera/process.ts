/**
 * A camera that is a child process writing raw frames to stdout, supervised: the process is
 * started on subscribe and killed on unsubscribe; when it exits or stalls (no frame for
 * stallMs) it is restarted after a back-off that doubles up to a ceiling and resets once frames
 * flow again. A stall is an event (and `health.stalled` stays true until the next frame), so
 * the touch estimate can be flagged and safety told. Frames reuse their buffers (RawFrameParser)
 * and one Frame object, as the sim camera does: subscribers copy what they keep.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dieWithParent } from '../die-with-parent.js';
import { Observable } from 'rxjs';
import type { Frame } from '../types.js';
import type { CameraCommand } from './backends.js';
import { RawFrameParser } from './parser.js';

export type CameraEventKind = 'start' | 'streaming' | 'stall' | 'exit' | 'restart' | 'end' | 'error' | 'before-failed';

export interface CameraEvent {
  readonly camera: string;
  readonly kind: CameraEventKind;
  readonly message: string;
  readonly pid?: number;
  readonly code?: number | null;
  readonly signal?: string | null;
  /** Restarts so far. */
  readonly restarts: number;
  /** performance.now() when it happened. */
  readonly atMs: number;
}

/** Live counters of a process camera (mutated in place; read them whenever). */
export interface CameraHealth {
  frames: number;
  restarts: number;
  stalls: number;
  /** True from a stall or exit until the next frame. */
  stalled: boolean;
  lastFrameMs: number;
  /** Frames handed out as views of a stdout chunk (no copy), and assembled from pieces. */
  zeroCopyFrames: number;
  assembledFrames: number;
  pid: number | undefined;
}

export interface ProcessCameraOptions {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** No frame for this long after the first (or startupMs after start): stalled, restart. */
  readonly stallMs: number;
  /** Allowance for the first frame after a start. Default max(stallMs, 5000). */
  readonly startupMs?: number;
  /** First and longest back-off between restarts. Default [250, 8000]. */
  readonly restartMs?: readonly [number, number];
  readonly onEvent?: (event: CameraEvent) => void;
  /** Filled in place with live counters. */
  readonly health?: CameraHealth;
  /** Extra environment for the process. */
  readonly env?: NodeJS.ProcessEnv;
}

export function createCameraHealth(): CameraHealth {
  return { frames: 0, restarts: 0, stalls: 0, stalled: false, lastFrameMs: 0, zeroCopyFrames: 0, assembledFrames: 0, pid: undefined };
}

export function processCameraFrames(spec: CameraCommand, options: ProcessCameraOptions): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    const health = options.health ?? createCameraHealth();
    const [minBackoff, maxBackoff] = options.restartMs ?? [250, 8000];
    const startupMs = options.startupMs ?? Math.max(options.stallMs, 5000);
    const frame: { camera: string; sequence: number; timestampMs: number; width: number; height: number; data: Uint8Array } = {
      camera: options.name,
      sequence: 0,
      timestampMs: 0,
      width: options.width,
      height: options.height,
      data: new Uint8Array(0),
    };
    let child: ChildProcess | undefined;
    let closed = false;
    let backoff = minBackoff;
    let startedAt = 0;
    let framesThisRun = 0;
    let restartTimer: NodeJS.Timeout | undefined;
    let stderrTail = '';
    const event = (kind: CameraEventKind, message: string, extra: Partial<CameraEvent> = {}): void => {
      options.onEvent?.({ camera: options.name, kind, message, restarts: health.restarts, atMs: performance.now(), ...extra });
    };
    const parser = new RawFrameParser(options.width, options.height, spec.format, (data) => {
      const now = performance.now();
      frame.sequence++;
      frame.timestampMs = now;
      frame.data = data;
      health.frames++;
      health.lastFrameMs = now;
      health.zeroCopyFrames = parser.zeroCopy;
      health.assembledFrames = parser.assembled;
      if (health.stalled || framesThisRun === 0) {
        health.stalled = false;
        event('streaming', `frames flowing (pid ${child?.pid ?? '?'})`, { pid: child?.pid });
      }
      framesThisRun++;
      // Frames flowing for a while: the next failure starts the back-off over.
      if (framesThisRun > 30) backoff = minBackoff;
      subscriber.next(frame);
    });

    const scheduleRestart = (why: string): void => {
      if (closed || restartTimer) return;
      const delay = backoff;
      backoff = Math.min(maxBackoff, backoff * 2);
      event('restart', `${why}; restarting in ${delay} ms`);
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        health.restarts++;
        start();
      }, delay);
    };

    const start = (): void => {
      if (closed) return;
      for (const step of spec.before ?? []) {
        const result = spawnSync(step.command, [...step.args], { encoding: 'utf8', timeout: 5000 });
        if (result.error || result.status !== 0) {
          event('before-failed', `${step.command} ${step.args.join(' ')}: ${result.error?.message ?? result.stderr.trim() ?? `exit ${result.status}`}`);
        }
      }
      parser.reset();
      framesThisRun = 0;
      stderrTail = '';
      startedAt = performance.now();
      let proc: ChildProcess;
      try {
        // SIGKILL at our death: a hung camera process ignores gentler signals, and an orphan holds the device.
        const line = dieWithParent(spec.command, spec.args, 'KILL');
        proc = spawn(line.command, line.args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ? { ...process.env, ...options.env } : process.env });
      } catch (error) {
        event('error', `cannot start ${spec.command}: ${(error as Error).message}`);
        scheduleRestart('start failed');
        return;
      }
      child = proc;
      health.pid = proc.pid;
      event('start', `${spec.command} ${spec.args.join(' ')}`, { pid: proc.pid });
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (child === proc) parser.push(chunk);
      });
      proc.stderr?.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
      });
      proc.on('error', (error) => {
        if (child !== proc) return;
        event('error', `${spec.command}: ${error.message}`, { pid: proc.pid });
      });
      proc.on('close', (code, signal) => {
        if (child !== proc) return;
        child = undefined;
        health.pid = undefined;
        if (closed) return;
        const tail = stderrTail.trim().split('\n').slice(-3).join(' | ');
        if (spec.finite && code === 0) {
          event('end', `${spec.command} reached the end of its input after ${framesThisRun} frames`, { code, signal });
          subscriber.complete();
          return;
        }
        health.stalled = true;
        event('exit', `${spec.command} exited (code ${code}, signal ${signal})${tail ? `: ${tail}` : ''}`, { pid: proc.pid, code, signal });
        scheduleRestart('camera process exited');
      });
    };

    const watchdog = setInterval(
      () => {
        if (closed || !child) return;
        const now = performance.now();
        const silentFor = framesThisRun === 0 ? now - startedAt : now - health.lastFrameMs;
        const limit = framesThisRun === 0 ? startupMs : options.stallMs;
        if (silentFor <= limit) return;
        health.stalls++;
        health.stalled = true;
        const stuck = child;
        child = undefined;
        health.pid = undefined;
        event('stall', `no frame for ${Math.round(silentFor)} ms (limit ${limit} ms); killing pid ${stuck.pid}`, { pid: stuck.pid });
        stuck.kill('SIGKILL');
        scheduleRestart('camera stalled');
      },
      Math.max(20, Math.min(250, options.stallMs / 4)),
    );
    watchdog.unref();

    start();
    return () => {
      closed = true;
      clearInterval(watchdog);
      if (restartTimer) clearTimeout(restartTimer);
      const last = child;
      child = undefined;
      health.pid = undefined;
      if (last && last.exitCode === null && last.signalCode === null) {
        last.kill('SIGTERM');
        const force = setTimeout(() => last.kill('SIGKILL'), 1000);
        force.unref();
        last.once('close', () => clearTimeout(force));
      }
    };
  });
}
