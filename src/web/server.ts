/**
 * The HTTP face of a run: Node's own http/https server and a `ws` WebSocket at /live.
 *
 *   GET /            the live page (page.ts; no third-party script, style or font)
 *   GET /healthz     200 while the process serves
 *   GET /readyz      200 when the loop is healthy and ready to arm, else 503 and why
 *   GET /metrics     Prometheus text exposition (prometheus.ts)
 *   POST /api/command  {"kind":"mode","command":"stop"} (a token in `Authorization: Bearer …`)
 *   WS  /live        state as JSON text, camera JPEGs as binary, commands in, acks out
 *
 * Security: stop, estop and disarm are never refused; arm, reset and an instruction need the
 * token (robot.yaml http.token_file), compared in constant time. A browser's WebSocket and POST
 * must come from this server's own origins (its addresses and host names at its port) or
 * `allowed_origins`: a page elsewhere, or one that reached us by DNS rebinding, is refused. A
 * strict Content-Security-Policy allows only this server's own script and style. A page that
 * reads slower than we send is dropped, never buffered without bound.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';

export type WebCommand =
  | { readonly kind: 'mode'; readonly command: 'arm' | 'disarm' | 'stop' | 'reset' | 'estop' }
  | { readonly kind: 'instruction'; readonly text: string };

export interface WebOutcome {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface WebLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface WebFaceOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** The operator token (arm, reset, instruction); absent: the page can only stop. */
  readonly token?: string;
  /** Extra origins whose pages may connect (scheme://host[:port]). */
  readonly allowedOrigins?: readonly string[];
  /** If the port is taken, listen on a free one instead of failing (with a warning). */
  readonly fallbackToFreePort?: boolean;
  /** A page whose unsent bytes pass this is dropped (default 1 MiB); camera frames stop at a quarter of it. */
  readonly maxBufferedBytes?: number;
  /** Pages open at once (default 8); more are refused. */
  readonly maxPages?: number;
  readonly log: WebLog;
  metrics(): string;
  ready(): { readonly ready: boolean; readonly reason: string };
  /** The first message a page gets: what does not change during a run (JSON). */
  hello(): object;
  command(command: WebCommand): Promise<WebOutcome>;
}

const MAX_COMMAND_BYTES = 8192;
const PING_MS = 5000;

const commandSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mode'), command: z.enum(['arm', 'disarm', 'stop', 'reset', 'estop']), id: z.string().max(64).optional(), token: z.string().max(512).optional() }).strict(),
  z.object({ kind: z.literal('instruction'), text: z.string().max(1024), id: z.string().max(64).optional(), token: z.string().max(512).optional() }).strict(),
]);

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** Commands that only make the robot safer: never refused for want of a token. */
function needsToken(command: WebCommand): boolean {
  return !(command.kind === 'mode' && (command.command === 'stop' || command.command === 'estop' || command.command === 'disarm'));
}

export class WebFace {
  readonly #options: WebFaceOptions;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #tokenDigest: Buffer | undefined;
  readonly #pages = new Set<WebSocket>();
  readonly #alive = new WeakSet<WebSocket>();
  #origins = new Set<string>();
  #ping: NodeJS.Timeout | undefined;
  #dropped = 0;
  #url = '';

  private constructor(options: WebFaceOptions) {
    this.#options = options;
    this.#tokenDigest = options.token !== undefined ? digest(options.token) : undefined;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res);
    this.#server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_COMMAND_BYTES });
    this.#server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      const refusal = this.#upgradeRefusal(req);
      if (refusal !== undefined) {
        options.log.warn({ origin: req.headers.origin, url: req.url }, `live page connection refused: ${refusal}`);
        socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${refusal}\n`);
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#page(ws));
    });
    this.#server.on('clientError', (_error, socket) => socket.destroy());
  }

  static async open(options: WebFaceOptions): Promise<WebFace> {
    const face = new WebFace(options);
    await face.#listen(options.port).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE' || !options.fallbackToFreePort) throw error;
      options.log.warn({ port: options.port }, `HTTP port ${options.port} is in use: the live page took a free one`);
      await face.#listen(0);
    });
    const port = (face.#server.address() as AddressInfo).port;
    face.#origins = ownOrigins(options.host, port, options.tls !== undefined, options.allowedOrigins ?? []);
    const scheme = options.tls ? 'https' : 'http';
    const shown = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
    face.#url = `${scheme}://${shown}:${port}/`;
    face.#ping = setInterval(() => face.#heartbeat(), PING_MS);
    face.#ping.unref();
    return face;
  }

  /** Where the page is (the listen address; 127.0.0.1 for a wildcard). */
  get url(): string {
    return this.#url;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Pages open now. */
  get pages(): number {
    return this.#pages.size;
  }

  /** Pages dropped for reading too slowly. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Send one text message to every page; a page too far behind is dropped. */
  broadcastText(text: string): void {
    for (const ws of this.#pages) this.#send(ws, text, false);
  }

  /** Send one binary message (a camera image) to every page not already behind. */
  broadcastBinary(data: Uint8Array): void {
    for (const ws of this.#pages) this.#send(ws, data, true);
  }

  async close(): Promise<void> {
    clearInterval(this.#ping);
    for (const ws of this.#pages) ws.terminate();
    this.#wss.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(port, this.#options.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  #send(ws: WebSocket, data: string | Uint8Array, droppable: boolean): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const limit = this.#options.maxBufferedBytes ?? 1 << 20;
    if (ws.bufferedAmount > limit) {
      this.#dropped++;
      this.#options.log.warn({ buffered: ws.bufferedAmount, limit }, 'live page dropped: it reads slower than the robot sends');
      ws.terminate();
      return;
    }
    if (droppable && ws.bufferedAmount > limit / 4) return;
    ws.send(data);
  }

  #heartbeat(): void {
    for (const ws of this.#pages) {
      if (!this.#alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }

  #upgradeRefusal(req: IncomingMessage): string | undefined {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/live') return 'no WebSocket here (the live page connects to /live)';
    const origin = req.headers.origin;
    if (origin !== undefined && !this.#origins.has(origin.toLowerCase())) return `origin ${origin} is not this robot's page (add it to http.allowed_origins to allow it)`;
    if (this.#pages.size >= (this.#options.maxPages ?? 8)) return `${this.#pages.size} pages are open already; close one`;
    return undefined;
  }

  #page(ws: WebSocket): void {
    this.#pages.add(ws);
    this.#alive.add(ws);
    ws.on('pong', () => this.#alive.add(ws));
    ws.on('close', () => this.#pages.delete(ws));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      void this.#handle(text, undefined).then((ack) => this.#send(ws, JSON.stringify({ type: 'ack', ...ack }), false));
    });
    this.#send(ws, JSON.stringify({ type: 'hello', token_configured: this.#tokenDigest !== undefined, ...this.#options.hello() }), false);
  }

  /** One command from a page or a POST: checked, authorised, sent to the pipeline. Never rejects. */
  async #handle(text: string, headerToken: string | undefined): Promise<{ id?: string; ok: boolean; reason?: string }> {
    let data: unknown;
    try {
      data = JSON.parse(text) as unknown;
    } catch {
      return { ok: false, reason: 'not JSON: send {"kind":"mode","command":"stop"} or {"kind":"instruction","text":"…","token":"…"}' };
    }
    const parsed = commandSchema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { ok: false, reason: `${issue.path.length > 0 ? `field \`${issue.path.join('.')}\`` : 'command'}: ${issue.message}` };
    }
    const { id, token, ...command } = parsed.data;
    const answer = (outcome: WebOutcome): { id?: string; ok: boolean; reason?: string } => ({ ...(id !== undefined ? { id } : {}), ...outcome });
    if (needsToken(command)) {
      const what = command.kind === 'mode' ? command.command : 'instruction';
      if (this.#tokenDigest === undefined) return answer({ ok: false, reason: `${what} refused: this robot has no http.token_file, so the page can only stop` });
      const given = token ?? headerToken;
      if (given === undefined || given === '') return answer({ ok: false, reason: `${what} refused: it needs the operator token (enter it on the page, or send Authorization: Bearer <token>)` });
      if (!timingSafeEqual(digest(given), this.#tokenDigest)) return answer({ ok: false, reason: `${what} refused: wrong operator token` });
    }
    try {
      return answer(await this.#options.command(command));
    } catch (error) {
      return answer({ ok: false, reason: `command failed: ${(error as Error).message}` });
    }
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const reply = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { ...securityHeaders, 'content-type': type, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/api/command') {
      if (req.method !== 'POST') return reply(405, 'text/plain', 'POST a command here\n', { allow: 'POST' });
      this.#post(req, reply);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
    switch (path) {
      case '/':
        return reply(200, 'text/html; charset=utf-8', PAGE_HTML);
      case '/page.js':
        return reply(200, 'text/javascript; charset=utf-8', PAGE_JS);
      case '/page.css':
        return reply(200, 'text/css; charset=utf-8', PAGE_CSS);
      case '/favicon.ico':
        return reply(204, 'image/x-icon', '');
      case '/healthz':
        return reply(200, 'text/plain', 'ok\n');
      case '/readyz': {
        const { ready, reason } = this.#options.ready();
        return reply(ready ? 200 : 503, 'text/plain', `${reason}\n`);
      }
      case '/metrics':
        return reply(200, PROMETHEUS_CONTENT_TYPE, this.#options.metrics());
      default:
        return reply(404, 'text/plain', 'not found: try /, /metrics, /healthz or /readyz\n');
    }
  }

  #post(req: IncomingMessage, reply: (status: number, type: string, body: string) => void): void {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.#origins.has(origin.toLowerCase())) {
      reply(403, 'application/json', JSON.stringify({ ok: false, reason: `origin ${origin} is not this robot's page` }));
      req.resume();
      return;
    }
    const auth = req.headers.authorization;
    const headerToken = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_COMMAND_BYTES) chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (size > MAX_COMMAND_BYTES) return reply(413, 'application/json', JSON.stringify({ ok: false, reason: `commands are at most ${MAX_COMMAND_BYTES} bytes` }));
      void this.#handle(Buffer.concat(chunks).toString('utf8'), headerToken).then((ack) => reply(ack.ok ? 200 : 403, 'application/json', `${JSON.stringify(ack)}\n`));
    });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The origins a page served by us can have: every address and name of this computer at our port. */
function ownOrigins(host: string, port: number, tls: boolean, extra: readonly string[]): Set<string> {
  const scheme = tls ? 'https' : 'http';
  const names = new Set<string>(['localhost', '127.0.0.1', '[::1]']);
  if (host === '0.0.0.0' || host === '::') {
    // Listening everywhere: any of this computer's addresses and names may be in the address bar.
    names.add(hostname()).add(`${hostname()}.local`);
    for (const list of Object.values(networkInterfaces())) {
      for (const address of list ?? []) names.add(address.family === 'IPv6' ? `[${address.address}]` : address.address);
    }
  } else {
    names.add(host.includes(':') ? `[${host}]` : host);
  }
  const origins = new Set<string>();
  const defaultPort = tls ? 443 : 80;
  for (const name of names) {
    origins.add(`${scheme}://${name.toLowerCase()}:${port}`);
    if (port === defaultPort) origins.add(`${scheme}://${name.toLowerCase()}`);
  }
  for (const origin of extra) origins.add(origin.toLowerCase());
  return origins;
}
