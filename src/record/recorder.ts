/**
 * The episode recorder, an observer of the run: while an episode is open it writes every control
 * tick (measured joint state, the command after the envelope), each action chunk with its
 * observation tick, each camera frame (JPEG from an ffmpeg child) with the touch of its pads, the
 * instruction and coaching notes, and every event, into MCAP segments (segment.ts) on one time base,
 * the control tick's (channels.ts).
 *
 * It reads only what the shared memory already exposes, with cursors of its own: the trace ring
 * (one record per tick), the chunk mailbox (polled for a new CHUNK_SEQ), the pipeline's newest
 * frame per camera and touch state, and the pipeline's events. Nothing here runs on the control
 * thread, and the control loop does not know the recorder exists.
 *
 * Bounded: at most MAX_PENDING messages wait for the disk (more are dropped and counted), at most
 * MAX_IN_FLIGHT frames per camera wait for the encoder, and the recordings directory never grows
 * past `record.quota_bytes`: then recording stops with a `record_quota_reached` event and the robot
 * keeps running. Nothing is ever deleted.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Subscription } from 'rxjs';
import { recordSchema, type RecordDescription } from '../robot/index.js';
import {
  CHUNK_HEADER_SIZE,
  ChunkRecord,
  Ctrl,
  defaultStateDir,
  eventPayload,
  EventKind,
  isWarning,
  Mode,
  modeNames,
  TRACE_CAPACITY,
  TraceRecord,
  type Observer,
  type EpisodeRequest,
  type Pipeline,
  type RunContext,
  type RuntimeEvent,
} from '../runtime/index.js';
import { foxgloveTime, LogLevel, recordChannels, Topic } from './channels.js';
import { embodyVersion, segmentName, sha256File, writeEpisodeMeta, type EpisodeEnd, type EpisodeMeta } from './episode.js';
import { JpegEncoder } from './jpeg-encoder.js';
import { recoverRecordings, recordingsBytes, type RecoveryResult } from './recover.js';
import { Segment, type ChannelSpec } from './segment.js';

/** Messages waiting for the disk before new ones are dropped. */

function nullIfNaN(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

export const MAX_PENDING = 20_000;
/** How often the recorder reads the trace ring, the chunk mailbox and the cameras, ms. */
const POLL_MS = 10;
/** Event kinds counted as interventions in an episode's metadata. */
const INTERVENTION_KINDS = new Set(['intervention', 'action_rejected', 'stale_actions', 'stale_observation', 'standstill_violation', 'following_error', 'unexpected_contact', 'estop']);

export interface RecorderOptions {
  /** `--record DIR`: record there even when robot.yaml has no `record:` section (or disables it). */
  readonly dir?: string;
  /** The run's state directory (recordings default to <stateDir>/recordings). */
  readonly stateDir?: string;
}

export interface RecorderSummary {
  readonly dir: string;
  readonly episodes: number;
  readonly segments: number;
  readonly bytes: number;
  readonly dropped_messages: number;
  readonly lost_trace_records: number;
  readonly stopped?: string;
  readonly recovered: RecoveryResult[];
  /** Per camera: frames encoded and dropped, and the JPEG encode time (hand-over to ffmpeg → JPEG back), ms. */
  readonly cameras: Record<string, { encoded: number; dropped: number; encode_ms: { p50: number; p99: number }; cpu_ms_per_frame?: number }>;
}

interface OpenEpisode {
  readonly directory: string;
  readonly meta: EpisodeMeta;
  segment: Segment;
  segments: number;
  segmentStartTick: number;
  /** Began with a RUNNING span: it ends at the first tick the trace shows in another mode, even before that mode change's event is drained. */
  readonly runningSpan: boolean;
}

export interface RecorderObserver extends Observer {
  readonly enabled: boolean;
  readonly summary: RecorderSummary;
  /** An operator's episode command (MQTT cmd/episode); resolves with a refusal reason, or undefined. */
  episode(request: EpisodeRequest): Promise<string | undefined>;
}

function cpu(encoder: JpegEncoder): { cpu_ms_per_frame?: number } {
  const ms = encoder.cpuMsPerFrameAtClose ?? encoder.cpuMsPerFrame();
  return ms === undefined ? {} : { cpu_ms_per_frame: ms };
}

export function recorderObserver(options: RecorderOptions): RecorderObserver {
  return new Recorder(options);
}

class Recorder implements RecorderObserver {
  readonly name = 'recorder';
  readonly #options: RecorderOptions;
  /** Settings and directory once started (undefined: recording is off for this run). */
  #settings: RecordDescription = recordSchema.parse({});
  #dir = '';
  #enabled = false;
  readonly #subscriptions = new Subscription();
  #run: RunContext | undefined;
  #pipeline: Pipeline | undefined;
  #channels: ChannelSpec[] = [];
  #droppedAtStart = new Map<string, number>();
  #periodNs = 0n;
  #epochNs = 0n;
  #traceRead = 0;
  #chunkSeq = 0;
  #frameSeq = new Map<string, number>();
  #encoders = new Map<string, JpegEncoder>();
  #episode: OpenEpisode | undefined;
  #closing: Promise<void> = Promise.resolve();
  #episodes = 0;
  #segmentsWritten = 0;
  #bytesBefore = 0;
  #bytesClosed = 0;
  #dropped = 0;
  #lostTrace = 0;
  #stopped: string | undefined;
  #recovered: RecoveryResult[] = [];
  #instruction = '';
  #provenance: Pick<EpisodeMeta, 'embody_version' | 'robot_sha256' | 'policy'> | undefined;
  #wasRunning = false;
  #closed = false;

  constructor(options: RecorderOptions) {
    this.#options = options;
  }

  /** Whether this run records (robot.yaml `record:` or `--record`), known after start. */
  get enabled(): boolean {
    return this.#enabled;
  }

  get summary(): RecorderSummary {
    return {
      dir: this.#dir,
      episodes: this.#episodes,
      segments: this.#segmentsWritten,
      bytes: this.#bytesClosed + (this.#episode?.segment.bytes ?? 0),
      dropped_messages: this.#dropped,
      lost_trace_records: this.#lostTrace,
      ...(this.#stopped ? { stopped: this.#stopped } : {}),
      recovered: this.#recovered,
      cameras: Object.fromEntries([...this.#encoders].map(([c, e]) => [c, { encoded: e.encoded, dropped: e.dropped, encode_ms: e.encodePercentiles(), ...cpu(e) }])),
    };
  }

  /** Recording never stops a run: a recorder that cannot start (recovery, hashing, the directory) says why and stays off. */
  async start(run: RunContext): Promise<void> {
    try {
      await this.#start(run);
    } catch (error) {
      this.#enabled = false;
      this.#subscriptions.unsubscribe();
      run.pipeline.handleEpisodes(undefined);
      const message = `recording is off for this run: ${error instanceof Error ? error.message : String(error)}`;
      run.log.error({ err: error }, message);
      run.pipeline.emit({ tick: run.pipeline.control.currentTick, kind: 'record_error', cause: 'recorder start', message });
    }
  }

  async #start(run: RunContext): Promise<void> {
    this.#run = run;
    const { pipeline, log, source } = run;
    this.#pipeline = pipeline;
    const { robot, control } = pipeline;
    const given = this.#options.dir;
    if (robot.record === undefined ? given === undefined : !robot.record.enabled && given === undefined) return;
    this.#enabled = true;
    this.#settings = robot.record ?? recordSchema.parse({});
    const dir = given !== undefined ? resolve(given) : robot.record?.dir !== undefined ? resolve(dirname(source.robotFile), robot.record.dir) : join(this.#options.stateDir ?? defaultStateDir(), 'recordings');
    this.#dir = dir;
    await mkdir(join(dir, robot.robot_id), { recursive: true });
    this.#recovered = await recoverRecordings(dir);
    for (const r of this.#recovered) log.warn({ segment: r.segment, messages: r.messages, lost_bytes: r.lostBytes }, 'recovered a segment a crash left unfinished');
    this.#bytesBefore = await recordingsBytes(dir);
    const [robotSha, manifestSha, modelSha, version] = await Promise.all([sha256File(source.robotFile), sha256File(source.manifestFile), sha256File(source.modelPath), embodyVersion()]);
    this.#provenance = { embody_version: version, robot_sha256: robotSha, policy: { name: source.policyName, manifest_sha256: manifestSha, model_sha256: modelSha } };
    const cameras = this.#settings.cameras === 'jpeg' ? robot.cameras.map((c) => c.name) : [];
    this.#channels = recordChannels({ fingertips: robot.fingertips.map((f) => f.name), cameras });
    this.#periodNs = BigInt(Math.round(1e9 / robot.control.rate_hz));
    // One time base: tick k is at the wall-clock time of tick 0 plus k periods.
    this.#epochNs = BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(control.currentTick)) * this.#periodNs;
    this.#traceRead = Atomics.load(control.shared.control, Ctrl.TRACE_WRITE);
    this.#chunkSeq = Atomics.load(control.shared.control, Ctrl.CHUNK_SEQ);
    this.#instruction = pipeline.instruction;
    for (const camera of robot.cameras.filter((c) => cameras.includes(c.name))) {
      const encoder = new JpegEncoder(camera.width, camera.height, this.#settings.jpeg_quality, (f) => this.#frameEncoded(camera.name, f.tick, f.jpeg));
      this.#encoders.set(camera.name, encoder);
      // An encoder that dies mid-run (or never started: no ffmpeg) is said once; its frames are then counted as dropped.
      void encoder.exit.then(() => {
        if (this.#closed) return;
        const message = `camera '${camera.name}' is no longer recorded: its JPEG encoder (ffmpeg) exited${encoder.stderr ? `: ${encoder.stderr}` : ' (is ffmpeg installed?)'}`;
        log.error({ camera: camera.name }, message);
        pipeline.emit({ tick: control.currentTick, kind: 'record_camera_error', cause: `camera '${camera.name}'`, detail: camera.name, message });
      });
    }
    this.#subscriptions.add(pipeline.events$.subscribe((event) => this.#event(event)));
    pipeline.handleEpisodes((request) => this.episode(request));
    this.#subscriptions.add(run.every(POLL_MS).subscribe(() => this.#poll()));
    log.info({ dir, episodes: this.#settings.episodes, quota_bytes: this.#settings.quota_bytes, used_bytes: this.#bytesBefore }, 'recorder ready');
    this.#wasRunning = control.mode === Mode.RUNNING;
    if (this.#settings.episodes === 'running' && this.#wasRunning) this.#begin(control.currentTick, true);
  }

  async stop(): Promise<void> {
    this.#closed = true;
    this.#subscriptions.unsubscribe();
    this.#pipeline?.handleEpisodes(undefined);
    if (this.#episode) {
      this.#poll();
      this.#end(Number.POSITIVE_INFINITY, 'shutdown');
    }
    await this.#closing;
    await Promise.all([...this.#encoders.values()].map((e) => e.close()));
  }

  async episode(request: EpisodeRequest): Promise<string | undefined> {
    const control = this.#pipeline?.control;
    if (!this.#enabled || control === undefined) return 'recording is off: add a record: section to robot.yaml or run with --record DIR';
    const tick = control.currentTick;
    if (request.action === 'start') {
      if (this.#stopped) return `recording stopped: ${this.#stopped}`;
      if (this.#episode) this.#end(tick, 'operator');
      this.#begin(tick);
      return undefined;
    }
    const episode = this.#episode;
    if (episode === undefined) return 'no episode is open: send start first';
    if (request.action === 'stop') {
      this.#poll();
      this.#end(tick, 'operator');
    } else if (request.action === 'label' && request.label) {
      episode.meta.label = request.label;
      this.#mark(tick, { action: 'label', episode: episode.meta.id, label: request.label });
      await writeEpisodeMeta(episode.directory, episode.meta);
    } else if (request.action === 'note' && request.note !== undefined) {
      // A coaching note is the task of the frames after it (LeRobot's per-frame task_index).
      episode.meta.notes.push({ tick, text: request.note });
      episode.meta.tasks.push({ tick, text: request.note, source: 'coaching' });
      this.#mark(tick, { action: 'note', episode: episode.meta.id, note: request.note });
      this.#write(Topic.INSTRUCTION, tick, { text: request.note, source: 'coaching' });
      await writeEpisodeMeta(episode.directory, episode.meta);
    }
    return undefined;
  }

  #ns(tick: number): bigint {
    return this.#epochNs + BigInt(Math.round(tick)) * this.#periodNs;
  }

  /** Queue one JSON message (with its `timestamp` and `tick`) on `topic` in the open segment. */
  #write(topic: string, tick: number, body: Record<string, unknown>, withTick = true): void {
    const episode = this.#episode;
    if (episode === undefined) return;
    if (episode.segment.pending >= MAX_PENDING) {
      this.#dropped++;
      return;
    }
    const index = this.#channels.findIndex((c) => c.topic === topic);
    if (index < 0) return;
    const ns = this.#ns(tick);
    const message = withTick ? { timestamp: foxgloveTime(ns), tick, ...body } : { timestamp: foxgloveTime(ns), ...body };
    episode.segment.add(index, ns, Buffer.from(JSON.stringify(message)));
  }

  #mark(tick: number, body: Record<string, unknown>): void {
    this.#write(Topic.EPISODE, tick, body);
  }

  #event(event: RuntimeEvent): void {
    const auto = this.#settings.episodes === 'running';
    let ending = false;
    if (event.kind === 'mode_change') {
      const running = event.to === 'RUNNING';
      if (auto && running && !this.#wasRunning && !this.#stopped) this.#begin(event.tick, true);
      ending = auto && !running && this.#wasRunning && this.#episode !== undefined;
      this.#wasRunning = running;
    }
    if (event.kind === 'instruction') {
      this.#instruction = event.detail ?? '';
      this.#episode?.meta.tasks.push({ tick: event.tick, text: this.#instruction, source: 'instruction' });
      this.#write(Topic.INSTRUCTION, event.tick, { text: this.#instruction, source: 'instruction' });
    }
    const episode = this.#episode;
    if (episode === undefined) return;
    if (INTERVENTION_KINDS.has(event.kind) || event.record?.kind === EventKind.INTERVENTION) episode.meta.interventions[event.kind] = (episode.meta.interventions[event.kind] ?? 0) + 1;
    // The mode change that ends an episode is its last event: the ticks before it, then it.
    if (ending) this.#poll(event.tick);
    this.#write(Topic.EVENTS, event.tick, eventPayload(event));
    const level = isWarning(event) ? LogLevel.WARNING : LogLevel.INFO;
    this.#write(Topic.LOG, event.tick, { level, message: event.message, name: `embody.${event.kind}`, file: event.cause, line: 0 }, false);
    if (ending) this.#end(event.tick, 'running_span');
  }

  #begin(tick: number, runningSpan = false): void {
    const pipeline = this.#pipeline;
    const run = this.#run;
    if (pipeline === undefined || run === undefined || this.#provenance === undefined || this.#stopped) return;
    const used = this.#bytesBefore + this.#bytesClosed;
    if (used >= this.#settings.quota_bytes) {
      this.#halt(`disk quota reached (${used} of record.quota_bytes ${this.#settings.quota_bytes} bytes in ${this.#dir})`, 'quota');
      return;
    }
    const { robot } = pipeline;
    const started = new Date();
    const id = `${started.toISOString().replace(/[:.]/g, '-')}-${String(this.#episodes).padStart(3, '0')}`;
    const directory = join(this.#dir, robot.robot_id, id);
    const meta: EpisodeMeta = {
      format: 'embody.episode/1',
      id,
      robot_id: robot.robot_id,
      ...this.#provenance,
      robot_file: run.source.robotFile,
      control_rate_hz: robot.control.rate_hz,
      joints: robot.joints.map((j) => j.name),
      cameras: [...this.#encoders.keys()],
      fingertips: robot.fingertips.map((f) => f.name),
      start_tick: tick,
      start_time: started.toISOString(),
      tasks: [{ tick, text: this.#instruction, source: 'instruction' }],
      notes: [],
      interventions: {},
      frames: Object.fromEntries([...this.#encoders.keys()].map((c) => [c, { recorded: 0, dropped: 0 }])),
      time_base: { tick0_unix_ns: String(this.#epochNs), period_ns: String(this.#periodNs) },
      complete: false,
    };
    this.#episodes++;
    for (const [camera, encoder] of this.#encoders) this.#droppedAtStart.set(camera, encoder.dropped);
    const open = this.#closing.then(async () => {
      await mkdir(directory, { recursive: true });
      await writeEpisodeMeta(directory, meta);
    });
    const segment = this.#newSegment(directory, 0, open);
    this.#episode = { directory, meta, segment, segments: 1, segmentStartTick: tick, runningSpan };
    this.#rewindTrace(tick);
    this.#mark(tick, { action: 'start', episode: id });
    this.#write(Topic.INSTRUCTION, tick, { text: this.#instruction, source: 'instruction' });
    run.log.info({ episode: id, tick }, 'episode started');
  }

  #newSegment(directory: string, n: number, after: Promise<void>): Segment {
    const { robot } = this.#pipeline!;
    const bytesPerSecond = robot.control.rate_hz * (200 + 160 * robot.joints.length);
    // Small chunks: a kill -9 loses the open chunk, so it must hold well under a second.
    const chunkBytes = Math.max(8 * 1024, Math.min(1024 * 1024, Math.round(bytesPerSecond / 2)));
    this.#segmentsWritten++;
    return new Segment({ path: join(directory, segmentName(n)), channels: this.#channels, chunkBytes, after, metadata: this.#timeBase() });
  }

  /** How a message's log time maps to its control tick: tick = (log_time - tick0_unix_ns) / period_ns. */
  #timeBase(): Record<string, string> {
    return { tick0_unix_ns: String(this.#epochNs), period_ns: String(this.#periodNs) };
  }

  #end(tick: number, why: EpisodeEnd): void {
    const episode = this.#episode;
    if (episode === undefined) return;
    this.#episode = undefined;
    const { meta } = episode;
    meta.stop_tick = Number.isFinite(tick) ? tick : (this.#pipeline?.control.currentTick ?? meta.start_tick);
    meta.stop_time = new Date().toISOString();
    meta.ended_by = why;
    for (const [camera, encoder] of this.#encoders) meta.frames[camera].dropped = encoder.dropped - (this.#droppedAtStart.get(camera) ?? 0);
    const segment = episode.segment;
    this.#closing = this.#closing.then(async () => {
      await segment.close();
      this.#bytesClosed += segment.bytes;
      meta.complete = segment.error === undefined;
      await writeEpisodeMeta(episode.directory, meta);
    }).catch((error: unknown) => this.#run?.log.error({ err: error, episode: meta.id }, 'closing an episode failed'));
    this.#run?.log.info({ episode: meta.id, ended_by: why, label: meta.label }, 'episode stopped');
  }

  /** The episode began at `tick`: records of that tick on that were already read are read again. */
  #rewindTrace(tick: number): void {
    const shared = this.#pipeline!.control.shared;
    const size = TraceRecord.size(shared.layout.jointCount);
    const oldest = Math.max(0, Atomics.load(shared.control, Ctrl.TRACE_WRITE) - (TRACE_CAPACITY - 16));
    while (this.#traceRead > oldest && shared.trace[((this.#traceRead - 1) % TRACE_CAPACITY) * size + TraceRecord.header.tick] >= tick) this.#traceRead--;
  }

  /** Read what arrived since the last poll; trace records from tick `until` on are left out (the episode ends there). */
  #poll(until = Number.POSITIVE_INFINITY): void {
    const episode = this.#episode;
    if (episode === undefined || this.#pipeline === undefined) return;
    this.#drainTrace(episode, until);
    this.#pollChunk();
    this.#pollCameras();
    this.#maintain(episode);
  }

  #drainTrace(episode: OpenEpisode, until: number): void {
    const { control, robot } = this.#pipeline!;
    const shared = control.shared;
    const n = shared.layout.jointCount;
    const size = TraceRecord.size(n);
    const write = Atomics.load(shared.control, Ctrl.TRACE_WRITE);
    if (write - this.#traceRead > TRACE_CAPACITY - 16) {
      this.#lostTrace += write - (TRACE_CAPACITY - 16) - this.#traceRead;
      this.#traceRead = write - (TRACE_CAPACITY - 16);
    }
    const names = robot.joints.map((j) => j.name);
    for (; this.#traceRead < write; this.#traceRead++) {
      const base = (this.#traceRead % TRACE_CAPACITY) * size;
      const r = shared.trace.subarray(base, base + size);
      const tick = r[TraceRecord.header.tick];
      if (tick < episode.meta.start_tick || tick >= until) continue;
      // The trace and the events are drained on their own cadences: the ticks after a RUNNING span
      // may be read before the mode change that ends it.
      if (episode.runningSpan && r[TraceRecord.header.mode] !== Mode.RUNNING) {
        until = tick;
        continue;
      }
      const v = (block: (typeof TraceRecord.blocks)[number], i: number): number => r[TraceRecord.block(block, n) + i];
      this.#write(Topic.JOINT_STATES, tick, { joints: names.map((name, i) => ({ name, position: v('position', i), velocity: v('velocity', i), effort: v('effort', i) })) }, false);
      this.#write(Topic.COMMAND, tick, { mode: modeNames[r[TraceRecord.header.mode]] ?? 'UNKNOWN', powered: r[TraceRecord.header.powered] === 1, position: Array.from({ length: n }, (_, i) => v('command', i)), requested: Array.from({ length: n }, (_, i) => nullIfNaN(v('requested', i))) });
    }
  }

  #pollChunk(): void {
    const { control } = this.#pipeline!;
    const seq = Atomics.load(control.shared.control, Ctrl.CHUNK_SEQ);
    if (seq === this.#chunkSeq) return;
    this.#chunkSeq = seq;
    const chunk = control.shared.chunk;
    const count = chunk[ChunkRecord.actionCount];
    const dim = control.shared.layout.actionDim;
    const actions: number[][] = [];
    for (let k = 0; k < count; k++) actions.push(Array.from(chunk.subarray(CHUNK_HEADER_SIZE + k * dim, CHUNK_HEADER_SIZE + (k + 1) * dim)));
    const source = this.#run!.source;
    this.#write(Topic.ACTION_CHUNK, control.currentTick, { obs_tick: chunk[ChunkRecord.observationTick], ticks_per_action: source.ticksPerAction, joints: source.actionJoints, actions });
  }

  #pollCameras(): void {
    const { control, touch, robot } = this.#pipeline!;
    const periodMs = 1000 / robot.control.rate_hz;
    for (const [camera, encoder] of this.#encoders) {
      const frame = touch.frames.get(camera);
      if (frame === undefined || frame.sequence === this.#frameSeq.get(camera)) continue;
      this.#frameSeq.set(camera, frame.sequence);
      // The frame's tick: now, less how long ago it was captured (same clock: performance.now()).
      const tick = Math.max(0, control.currentTick - Math.round((performance.now() - frame.timestampMs) / periodMs));
      encoder.encode(tick, frame.data);
      robot.fingertips.forEach((pad, i) => {
        if (pad.camera !== camera) return;
        const s = touch.state;
        this.#write(Topic.touch(pad.name), tick, { contact: s.contact[i], force: s.force[i], area: s.area[i], in_contact: s.inContact[i] === 1, flags: s.flags[i] });
      });
    }
  }

  #frameEncoded(camera: string, tick: number, jpeg: Buffer): void {
    const episode = this.#episode;
    if (episode === undefined || tick < episode.meta.start_tick) return;
    episode.meta.frames[camera].recorded++;
    this.#write(Topic.camera(camera), tick, { frame_id: camera, data: jpeg.toString('base64'), format: 'jpeg' }, false);
  }

  /** Rotate the segment, fsync once a second, stop at the quota or on a write error. */
  #maintain(episode: OpenEpisode): void {
    const settings = this.#settings;
    const segment = episode.segment;
    if (segment.error !== undefined) {
      this.#halt(`write error: ${segment.error instanceof Error ? segment.error.message : String(segment.error)}`, 'write_error');
      return;
    }
    const used = this.#bytesBefore + this.#bytesClosed + segment.bytes;
    if (used >= settings.quota_bytes) {
      this.#halt(`disk quota reached (${used} of record.quota_bytes ${settings.quota_bytes} bytes in ${this.#dir})`, 'quota');
      return;
    }
    const tick = this.#pipeline!.control.currentTick;
    const ageS = (tick - episode.segmentStartTick) / this.#pipeline!.robot.control.rate_hz;
    if (ageS >= settings.segment_seconds || segment.bytes >= settings.segment_bytes) {
      const old = segment;
      this.#closing = this.#closing.then(async () => {
        await old.close();
        this.#bytesClosed += old.bytes;
      });
      episode.segment = this.#newSegment(episode.directory, episode.segments++, Promise.resolve());
      episode.segmentStartTick = tick;
      return;
    }
    segment.sync();
  }

  /** Stop recording for the rest of the run (the robot keeps running), with an event. */
  #halt(reason: string, why: EpisodeEnd): void {
    const tick = this.#pipeline!.control.currentTick;
    this.#stopped = reason;
    this.#end(tick, why);
    this.#pipeline!.emit({ tick, kind: why === 'quota' ? 'record_quota_reached' : 'record_write_error', cause: reason, message: `recording stopped: ${reason}; the robot keeps running` });
  }
}
