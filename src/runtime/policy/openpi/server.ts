/**
 * `embody policy serve`: an ONNX policy behind openpi's websocket protocol, as openpi's
 * WebsocketPolicyServer speaks it (src/openpi/serving/websocket_policy_server.py): on each
 * connection the metadata first, then one reply per observation with `server_timing.infer_ms`;
 * an observation that cannot be run is a text frame
 * with the error, then close 1011; `GET /healthz` answers 200 `OK\n`; no compression.
 *
 * The observation is keyed by the manifest's input names (the ONNX input names): a camera is a
 * uint8 [height, width, 3] image (any size; it is area-resized like a local frame), joint state
 * and touch are float vectors in the manifest's order, the instruction is a string. The reply's
 * `actions` is float32 [horizon, joints]: absolute joint targets in robot units (unnormalised,
 * deltas added to the observed positions), so the client's manifest says `mode: absolute` and
 * gives no output `normalize`. The model runs through the same PolicyRunner as `embody run`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Frame } from '../../../hal/types.js';
import type { RobotDescription } from '../../../robot/index.js';
import { SnapshotRecord } from '../../records.js';
import type { PolicyManifest } from '../manifest.js';
import type { TouchReadings } from '../observation.js';
import { PolicyRunner } from '../runner.js';
import type { PolicySession } from '../session.js';
import { isNdArray, ndarray, packMessage, unpackMessage, type NdArray, type WireValue } from './msgpack-numpy.js';

type Observation = { readonly [key: string]: WireValue };

/** An observation the model cannot take: becomes the text frame before the 1011 close. */
class ObservationError extends Error {
  override name = 'ObservationError';
}

function vector(observation: Observation, key: string, size: number): NdArray {
  const value = observation[key];
  if (value === undefined) throw new ObservationError(`the observation has no \`${key}\` (it has: ${Object.keys(observation).join(', ')})`);
  if (!isNdArray(value) || value.data instanceof BigInt64Array) throw new ObservationError(`\`${key}\` must be a numeric array`);
  if (value.data.length !== size) throw new ObservationError(`\`${key}\` has ${value.data.length} values (shape [${value.shape.join(', ')}]), the policy needs ${size}`);
  return value;
}

/** The openpi observation as the sources a local observation is built from. */
class WireSources {
  readonly snapshot: Float64Array;
  readonly touch: TouchReadings;
  readonly #frames = new Map<string, Frame>();
  readonly #manifest: PolicyManifest;
  readonly #robot: RobotDescription;
  #instruction = '';

  constructor(manifest: PolicyManifest, robot: RobotDescription) {
    this.#manifest = manifest;
    this.#robot = robot;
    this.snapshot = new Float64Array(SnapshotRecord.size(robot.joints.length));
    const pads = robot.fingertips.length;
    this.touch = { contact: new Float64Array(pads), force: new Float64Array(pads), area: new Float64Array(pads) };
  }

  get instruction(): string {
    return this.#instruction;
  }

  get nowMs(): number {
    return performance.now();
  }

  frame(camera: string): Frame | undefined {
    return this.#frames.get(camera);
  }

  /** Take one observation; throws an ObservationError naming the key that is wrong. */
  load(observation: Observation): void {
    const joints = this.#robot.joints.map((j) => j.name);
    const pads = this.#robot.fingertips.map((f) => f.name);
    for (const input of this.#manifest.inputs) {
      switch (input.kind) {
        case 'joint_state': {
          const values = vector(observation, input.name, input.joints.length * input.fields.length).data;
          let i = 0;
          for (const field of input.fields) {
            for (const joint of input.joints) this.snapshot[SnapshotRecord.block(field, joints.length) + joints.indexOf(joint)] = Number(values[i++]);
          }
          break;
        }
        case 'touch': {
          const values = vector(observation, input.name, input.fingertips.length * input.features.length).data;
          let i = 0;
          for (const pad of input.fingertips) for (const feature of input.features) (this.touch[feature] as Float64Array)[pads.indexOf(pad)] = Number(values[i++]);
          break;
        }
        case 'camera': {
          const image = observation[input.name];
          if (!isNdArray(image) || image.dtype !== '|u1' || image.shape.length !== 3 || image.shape[2] !== 3) {
            throw new ObservationError(`\`${input.name}\` must be a uint8 image [height, width, 3]`);
          }
          const [height, width] = image.shape;
          this.#frames.set(input.camera, { camera: input.camera, sequence: 0, timestampMs: performance.now(), width, height, data: image.data as Uint8Array });
          break;
        }
        case 'instruction': {
          const text = observation[input.name];
          if (typeof text !== 'string') throw new ObservationError(`\`${input.name}\` must be a string`);
          this.#instruction = text;
          break;
        }
      }
    }
  }
}

export interface ServedPolicy {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export interface PolicyServerOptions {
  readonly session: PolicySession;
  readonly manifest: PolicyManifest;
  readonly robot: RobotDescription;
  readonly port: number;
  readonly host?: string;
  /** Observations answered (for a log line). */
  readonly onInference?: (inferMs: number) => void;
}

/** The metadata every connection gets first: what this policy takes and gives. */
function metadataOf(manifest: PolicyManifest): { [key: string]: WireValue } {
  return {
    name: manifest.name,
    server: 'embody policy serve',
    rate_hz: manifest.rate_hz,
    action_horizon: manifest.output.horizon,
    action_joints: manifest.output.joints,
    action_mode: 'absolute',
    observation_keys: manifest.inputs.map((i) => i.name),
  };
}

export async function servePolicy(options: PolicyServerOptions): Promise<ServedPolicy> {
  const { manifest, robot } = options;
  const runner = new PolicyRunner(options.session, manifest, robot);
  const sources = new WireSources(manifest, robot);
  const dim = manifest.output.joints.length;
  const metadata = packMessage(metadataOf(manifest));
  // One model, one request at a time across connections: runs are queued in arrival order.
  let queue: Promise<unknown> = Promise.resolve();

  const http: Server = createServer((request: IncomingMessage, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('OK\n');
      return;
    }
    response.writeHead(426, { 'content-type': 'text/plain' }).end('this is an openpi policy server: connect with a websocket\n');
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 0 });

  const answer = async (data: Uint8Array): Promise<Uint8Array> => {
    const observation = unpackMessage(data);
    if (observation === null || typeof observation !== 'object' || Array.isArray(observation) || isNdArray(observation) || ArrayBuffer.isView(observation)) {
      throw new ObservationError('the observation is not a map');
    }
    sources.load(observation as Observation);
    let chunk: Float32Array | undefined;
    const started = performance.now();
    const result = await runner.infer(sources, {
      publishChunk: (_tick, values, count) => (chunk = Float32Array.from(values.subarray(0, count * dim))),
    });
    const inferMs = performance.now() - started;
    if (result.gap !== undefined) throw new ObservationError(result.gap.missing);
    if (result.malformed !== undefined) throw new Error(`the model's output is malformed: ${result.malformed}`);
    if (chunk === undefined) throw new Error('the model produced no chunk');
    options.onInference?.(inferMs);
    return packMessage({ actions: ndarray(chunk, [chunk.length / dim, dim]), server_timing: { infer_ms: inferMs } });
  };

  wss.on('connection', (ws: WebSocket) => {
    ws.send(metadata);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      queue = queue.then(async () => {
        try {
          if (!isBinary) throw new ObservationError('an observation must be a binary msgpack frame');
          ws.send(await answer(data));
        } catch (error) {
          ws.send(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
          ws.close(1011, 'Internal server error. Traceback included in previous frame.');
        }
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: `ws://${options.host ?? '127.0.0.1'}:${port}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
