/**
 * The web face on its own, over real sockets: security headers, the Origin check, the token,
 * stop that needs none, and a page that stops reading being dropped instead of buffered.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WebFace, type WebCommand, type WebFaceOptions } from '../../src/web/index.js';

const faces: WebFace[] = [];
const sockets: (WebSocket | Socket)[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) {
    if (s instanceof WebSocket) s.on('error', () => undefined).terminate();
    else s.destroy();
  }
  for (const f of faces.splice(0)) await f.close();
});

const quiet = { info: () => undefined, warn: () => undefined };

async function open(extra: Partial<WebFaceOptions> = {}): Promise<{ face: WebFace; commands: WebCommand[]; base: string }> {
  const commands: WebCommand[] = [];
  const face = await WebFace.open({
    host: '127.0.0.1',
    port: 0,
    token: 'letmein',
    log: quiet,
    metrics: () => '# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n',
    ready: () => ({ ready: false, reason: 'not ready: mode SAFE_STOP' }),
    hello: () => ({ robot_id: 'r1' }),
    command: async (command) => (commands.push(command), { ok: true }),
    ...extra,
  });
  faces.push(face);
  return { face, commands, base: `http://127.0.0.1:${face.port}` };
}

/** A WebSocket from a page at `origin`; resolves with its first message (hello) or the refusal's status. */
function page(base: string, origin: string): Promise<{ ws: WebSocket; hello?: Record<string, unknown>; status?: number }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/live`, { origin });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve({ ws, hello: JSON.parse(String(data)) as Record<string, unknown> }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode }));
    ws.once('error', reject);
  });
}

function ask(ws: WebSocket, command: object): Promise<{ ok: boolean; reason?: string; id?: string }> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const message = JSON.parse(String(data)) as { type: string; ok: boolean; reason?: string; id?: string };
      if (message.type !== 'ack') return;
      ws.off('message', onMessage);
      resolve(message);
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(command));
  });
}

describe('WebFace', () => {
  it('serves the page with a strict Content-Security-Policy and no third-party source', async () => {
    const { base } = await open();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|https?:\/\//); // no inline script, nothing fetched from elsewhere
    expect((await fetch(`${base}/page.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  it("refuses a WebSocket from another site's page, accepts this server's own origin", async () => {
    const { base, face } = await open();
    expect((await page(base, 'http://evil.example')).status).toBe(403);
    // A DNS-rebinding page carries its own name as the origin, with our port: refused too.
    expect((await page(base, `http://evil.example:${face.port}`)).status).toBe(403);
    const own = await page(base, `http://localhost:${face.port}`);
    expect(own.hello).toMatchObject({ type: 'hello', robot_id: 'r1', token_configured: true });
    const allowed = await open({ allowedOrigins: ['https://console.example'] });
    expect((await page(allowed.base, 'https://console.example')).hello?.type).toBe('hello');
  });

  it('never refuses stop; arm, reset and instruction need the token', async () => {
    const { base, face, commands } = await open();
    const { ws } = await page(base, `http://127.0.0.1:${face.port}`);
    expect(await ask(ws, { kind: 'mode', command: 'stop', id: 'a' })).toEqual({ type: 'ack', id: 'a', ok: true });
    expect(await ask(ws, { kind: 'mode', command: 'arm' })).toMatchObject({ ok: false, reason: expect.stringMatching(/arm refused: it needs the operator token/) });
    expect(await ask(ws, { kind: 'mode', command: 'reset', token: 'wrong' })).toMatchObject({ ok: false, reason: 'reset refused: wrong operator token' });
    expect(await ask(ws, { kind: 'instruction', text: 'pick', token: 'nope' })).toMatchObject({ ok: false });
    expect(await ask(ws, { kind: 'mode', command: 'arm', token: 'letmein' })).toMatchObject({ ok: true });
    expect(await ask(ws, { kind: 'mode', command: 'jump' })).toMatchObject({ ok: false, reason: expect.stringMatching(/field `command`/) });
    expect(commands).toEqual([{ kind: 'mode', command: 'stop' }, { kind: 'mode', command: 'arm' }]);
  });

  it('takes commands by POST with a bearer token, and refuses a POST from another origin', async () => {
    const { base, commands } = await open();
    const post = (body: object, headers: Record<string, string> = {}) =>
      fetch(`${base}/api/command`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect((await post({ kind: 'mode', command: 'stop' })).status).toBe(200);
    const refused = await post({ kind: 'mode', command: 'arm' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { reason: string }).reason).toMatch(/Authorization: Bearer/);
    expect((await post({ kind: 'mode', command: 'arm' }, { authorization: 'Bearer letmein' })).status).toBe(200);
    expect((await post({ kind: 'mode', command: 'stop' }, { origin: 'http://evil.example' })).status).toBe(403);
    expect(commands.map((c) => (c.kind === 'mode' ? c.command : c.text))).toEqual(['stop', 'arm']);
  });

  it('without a token file the page can only stop, and says so', async () => {
    const { base, face } = await open({ token: undefined });
    const { ws, hello } = await page(base, `http://127.0.0.1:${face.port}`);
    expect(hello?.token_configured).toBe(false);
    expect(await ask(ws, { kind: 'mode', command: 'arm', token: '' })).toMatchObject({ ok: false, reason: 'arm refused: this robot has no http.token_file, so the page can only stop' });
    expect(await ask(ws, { kind: 'mode', command: 'stop' })).toMatchObject({ ok: true });
  });

  it('drops a page that stops reading instead of buffering for it, and keeps serving one that reads', async () => {
    const limit = 256 * 1024;
    const { base, face } = await open({ maxBufferedBytes: limit });
    const reader = await page(base, `http://127.0.0.1:${face.port}`);
    let received = 0;
    reader.ws.on('message', () => received++);
    // A stuck browser: a raw socket that completes the handshake, then never reads again.
    const stuck = connect(face.port, '127.0.0.1');
    sockets.push(stuck);
    await new Promise<void>((resolve) => {
      stuck.once('connect', () => {
        stuck.write(`GET /live HTTP/1.1\r\nHost: 127.0.0.1:${face.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      stuck.once('data', (d: Buffer) => {
        expect(d.toString()).toMatch(/^HTTP\/1\.1 101/);
        stuck.pause();
        resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(face.pages).toBe(2);
    const message = 'x'.repeat(64 * 1024);
    let sent = 0;
    while (face.dropped === 0 && sent < 4000) {
      face.broadcastText(message);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(face.dropped).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(face.pages).toBe(1);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    expect(received).toBeGreaterThan(sent / 2);
  });

  it('serves https and wss with the certificate robot.yaml names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'embody-web-tls-'));
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(made.status).toBe(0);
    const cert = readFileSync(join(dir, 'cert.pem'));
    const { face } = await open({ tls: { cert, key: readFileSync(join(dir, 'key.pem')) } });
    expect(face.url).toBe(`https://127.0.0.1:${face.port}/`);
    const body = await new Promise<string>((resolve, reject) => {
      get(`https://127.0.0.1:${face.port}/healthz`, { ca: cert }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('ok\n');
    const ws = new WebSocket(`wss://127.0.0.1:${face.port}/live`, { ca: cert, origin: `https://127.0.0.1:${face.port}` });
    sockets.push(ws);
    const hello = await new Promise<string>((resolve, reject) => ws.once('message', (d) => resolve(String(d))).once('error', reject));
    expect(JSON.parse(hello)).toMatchObject({ type: 'hello' });
    // The plain-http origin of the same host is another origin.
    const plain = new WebSocket(`wss://127.0.0.1:${face.port}/live`, { ca: cert, origin: `http://127.0.0.1:${face.port}` });
    sockets.push(plain);
    const status = await new Promise<number | undefined>((resolve) => plain.once('unexpected-response', (_req, res) => resolve(res.statusCode)).once('open', () => resolve(undefined)));
    expect(status).toBe(403);
  });

  it('takes a free port when robot.yaml\'s is in use (with a warning), and fails without the fallback', async () => {
    const first = await open();
    const warnings: string[] = [];
    const second = await open({ port: first.face.port, fallbackToFreePort: true, log: { info: () => undefined, warn: (_f, m) => warnings.push(m) } });
    expect(second.face.port).not.toBe(first.face.port);
    expect(warnings).toEqual([`HTTP port ${first.face.port} is in use: the live page took a free one`]);
    await expect(open({ port: first.face.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
