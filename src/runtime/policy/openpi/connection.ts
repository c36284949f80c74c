/**
 * One websocket to an openpi policy server, as openpi's WebsocketClientPolicy speaks it
 * (packages/openpi-client/src/openpi_client/websocket_client_policy.py): connect without
 * compression and without a size limit, with `Authorization: Api-Key KEY` when there is a key;
 * the server's first message is its metadata; then strictly one observation, one reply. A text
 * frame instead of a reply is the server's error (a traceback), after which it closes with 1011.
 *
 * A request that misses its deadline is rejected at once, but its reply is still owed on this
 * socket: the connection stays `busy` until it arrives and is thrown away.
 */
import WebSocket from 'ws';
import { packMessage, unpackMessage, type WireValue } from './msgpack-numpy.js';

export type WireMap = { readonly [key: string]: WireValue };

/** Why a round trip failed, in words for the `policy_fallback` event. */
export class RemotePolicyError extends Error {
  constructor(
    readonly reason: 'connect' | 'closed' | 'server_error' | 'deadline' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'RemotePolicyError';
  }
}

/** The last line of a Python traceback ("RuntimeError: ..."), which says what went wrong. */
function lastLine(text: string): string {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? 'empty error text';
}

interface Waiting {
  resolve(reply: WireMap): void;
  reject(error: RemotePolicyError): void;
  timer: NodeJS.Timeout;
  late: boolean;
}

export class OpenpiConnection {
  readonly metadata: WireMap;
  readonly #ws: WebSocket;
  #waiting: Waiting | undefined;
  #closed: RemotePolicyError | undefined;
  readonly #onClose = new Set<(why: RemotePolicyError) => void>();

  private constructor(ws: WebSocket, metadata: WireMap) {
    this.#ws = ws;
    this.metadata = metadata;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#message(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      const text = reason.toString();
      this.#close(new RemotePolicyError('closed', `the server closed the link (${code}${text ? `: ${text}` : ''})`));
    });
    ws.on('error', (error: Error) => this.#close(new RemotePolicyError('closed', `link error: ${error.message}`)));
  }

  /** Open the socket and read the server's metadata; rejects with reason 'connect'. */
  static connect(url: string, options: { apiKey?: string; timeoutMs: number }): Promise<OpenpiConnection> {
    return new Promise((resolve, reject) => {
      const headers = options.apiKey === undefined ? undefined : { Authorization: `Api-Key ${options.apiKey}` };
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0, handshakeTimeout: options.timeoutMs, ...(headers ? { headers } : {}) });
      const fail = (message: string): void => {
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(new RemotePolicyError('connect', `cannot reach the policy server at ${url}: ${message}`));
      };
      const timer = setTimeout(() => fail(`no metadata within ${options.timeoutMs} ms`), options.timeoutMs);
      ws.once('error', (error: Error) => fail(error.message));
      ws.once('close', (code: number) => fail(`closed before its metadata (${code})`));
      ws.once('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return fail(`the server sent an error instead of its metadata: ${lastLine(data.toString())}`);
        let metadata: WireValue;
        try {
          metadata = unpackMessage(data);
        } catch (error) {
          return fail(`its metadata is not openpi msgpack (${(error as Error).message})`);
        }
        if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || ArrayBuffer.isView(metadata)) return fail('its metadata is not a map');
        clearTimeout(timer);
        ws.removeAllListeners();
        resolve(new OpenpiConnection(ws, metadata as WireMap));
      });
    });
  }

  /** A request is in flight (perhaps one whose deadline passed and whose reply is still owed). */
  get busy(): boolean {
    return this.#waiting !== undefined;
  }

  get isOpen(): boolean {
    return this.#closed === undefined;
  }

  /** Called once when the link closes, for any reason. */
  onClose(listener: (why: RemotePolicyError) => void): void {
    if (this.#closed) listener(this.#closed);
    else this.#onClose.add(listener);
  }

  /** Send packed observation bytes and await the reply map, for at most `deadlineMs`. */
  request(message: Uint8Array, deadlineMs: number): Promise<WireMap> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#waiting) return Promise.reject(new RemotePolicyError('deadline', 'the previous request is still unanswered'));
    return new Promise<WireMap>((resolve, reject) => {
      const waiting: Waiting = {
        resolve,
        reject,
        late: false,
        timer: setTimeout(() => {
          waiting.late = true;
          reject(new RemotePolicyError('deadline', `no answer within ${deadlineMs} ms`));
        }, deadlineMs),
      };
      this.#waiting = waiting;
      this.#ws.send(message, { binary: true }, (error) => {
        if (error) this.#close(new RemotePolicyError('closed', `send failed: ${error.message}`));
      });
    });
  }

  /** Pack and send an observation (see `request`). */
  infer(observation: WireMap, deadlineMs: number): Promise<WireMap> {
    return this.request(packMessage(observation), deadlineMs);
  }

  close(): void {
    this.#close(new RemotePolicyError('closed', 'closed by embody'));
    this.#ws.close(1000);
  }

  #message(data: Buffer, isBinary: boolean): void {
    const waiting = this.#waiting;
    if (!isBinary) {
      // The server's error: it closes with 1011 next.
      this.#settle(undefined, new RemotePolicyError('server_error', `the policy server failed: ${lastLine(data.toString())}`));
      return;
    }
    if (waiting === undefined) {
      this.#close(new RemotePolicyError('malformed', 'the server sent a message nobody asked for'));
      this.#ws.terminate();
      return;
    }
    let reply: WireValue;
    try {
      reply = unpackMessage(data);
    } catch (error) {
      this.#settle(undefined, new RemotePolicyError('malformed', `the reply is not openpi msgpack (${(error as Error).message})`));
      return;
    }
    if (reply === null || typeof reply !== 'object' || Array.isArray(reply) || ArrayBuffer.isView(reply)) {
      this.#settle(undefined, new RemotePolicyError('malformed', 'the reply is not a map'));
      return;
    }
    this.#settle(reply as WireMap, undefined);
  }

  #settle(reply: WireMap | undefined, error: RemotePolicyError | undefined): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    if (waiting.late) return; // already rejected at its deadline; the reply is thrown away
    if (reply !== undefined) waiting.resolve(reply);
    else waiting.reject(error ?? new RemotePolicyError('malformed', 'no reply'));
  }

  #close(why: RemotePolicyError): void {
    if (this.#closed) return;
    this.#closed = why;
    this.#settle(undefined, why);
    for (const listener of this.#onClose) listener(why);
    this.#onClose.clear();
  }
}
