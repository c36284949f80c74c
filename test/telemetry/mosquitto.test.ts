/**
 * The link against mosquitto processes configured by the test: TLS with a CA and certificates
 * generated here with openssl, username/password, an ACL file; birth and last will when a
 * robot process closes cleanly and when it is killed with -9; and a broker outage with events
 * published meanwhile, including by a process killed with -9 during the outage and restarted
 * at once on the same state directory (as systemd would restart it).
 *
 * The outage lasts ~5 s, not the 30 s: what it exercises (socket loss, reconnect
 * attempts with back-off, outbox on disk, flush on reconnect) is the same after 5 s, and the
 * suite stays fast. Keepalive plays no part: the broker's socket closes at once either way.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connectTelemetry, type TelemetryLink, type TelemetryOptions, type ValidatedCommand } from '../../src/telemetry/index.js';
import { cable, cleanups, file, freePort, linkProcess, metrics, sleep, startMosquitto, state, tempDir, until, watcher } from './helpers.js';

interface Pki {
  readonly dir: string;
  readonly ca: string;
  /** Certificate and key file paths per client name. */
  readonly client: Record<string, { cert: string; key: string }>;
}

/** A CA, a server certificate for 127.0.0.1 and one client certificate per name (EC P-256: fast). */
function makePki(dir: string, clients: string[]): Pki {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=embody-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const client: Record<string, { cert: string; key: string }> = {};
  ['server', ...clients].forEach((name, i) => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + i), '-days', '2', '-out', `${name}.pem`, '-extfile', 'san.cnf');
    client[name] = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  });
  return { dir, ca: join(dir, 'ca.pem'), client };
}

/** mosquitto with TLS (client certificates required), passwords and an ACL. */
async function secureMosquitto(robotId: string): Promise<{ url: string; pki: Pki; passwords: Record<string, string> }> {
  const dir = tempDir('pki');
  const pki = makePki(dir, ['robot', 'operator', 'intruder']);
  const passwords = { robot: 'robot-pw-7f3a', operator: 'operator-pw-19c2', intruder: 'intruder-pw-55d0' };
  const passwd = join(dir, 'passwd');
  Object.entries(passwords).forEach(([user, password], i) => {
    execFileSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', passwd, user, password]);
  });
  const acl = file(
    dir,
    'acl',
    [
      'user robot',
      `topic readwrite embody/${robotId}/#`,
      '',
      'user operator',
      `topic read embody/${robotId}/#`,
      `topic write embody/${robotId}/cmd/#`,
      '',
      // May watch the robot, must not command it.
      'user intruder',
      `topic read embody/${robotId}/#`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const config = file(
    dir,
    'mosquitto.conf',
    [
      // Root would otherwise drop to the mosquitto user, who cannot read the test's private directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${acl}`,
      `cafile ${pki.ca}`,
      `certfile ${pki.client.server!.cert}`,
      `keyfile ${pki.client.server!.key}`,
      'require_certificate true',
      '',
    ].join('\n'),
  );
  await startMosquitto(port, config);
  return { url: `mqtts://127.0.0.1:${port}`, pki, passwords };
}

function link(options: Omit<TelemetryOptions, 'stateDir'> & { stateDir?: string }): TelemetryLink {
  const l = connectTelemetry({ reconnectMinMs: 100, reconnectMaxMs: 400, stateDir: tempDir('state'), ...options });
  cleanups.push(() => l.close());
  return l;
}

describe('telemetry against mosquitto with TLS, passwords and an ACL', () => {
  it('connects with CA, client certificate and password; a client without rights cannot command the robot', async () => {
    const robotId = 'tls1';
    const { url, pki, passwords } = await secureMosquitto(robotId);
    const dir = pki.dir;
    const robot = link({
      url,
      robotId,
      caFile: pki.ca,
      certFile: pki.client.robot!.cert,
      keyFile: pki.client.robot!.key,
      username: 'robot',
      passwordFile: file(dir, 'robot.password', `${passwords.robot}\n`),
    });
    const received: ValidatedCommand[] = [];
    robot.commands$.subscribe((command) => {
      received.push(command);
      robot.ack(command.id, true);
    });
    await until(() => robot.connected, 'TLS connect', 10_000);
    expect(robot.protocolVersion).toBe(5);

    const tls = (name: string, extra: IClientOptions = {}): IClientOptions => ({
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.client[name]!.cert),
      key: readFileSync(pki.client[name]!.key),
      username: name,
      password: passwords[name as keyof typeof passwords],
      ...extra,
    });
    const operator = await watcher(url, `embody/${robotId}/cmd/ack`, tls('operator'));
    // MQTT 5, so the broker says why it refused the publish instead of dropping it silently.
    const intruder = await mqtt.connectAsync(url, { ...tls('intruder'), protocolVersion: 5, reconnectPeriod: 0 });
    cleanups.push(() => intruder.endAsync(true));
    await expect(
      intruder.publishAsync(`embody/${robotId}/cmd/mode`, JSON.stringify({ id: 'evil', command: 'arm' }), { qos: 1 }),
    ).rejects.toThrow(/Not authorized/i);
    // A client without a certificate does not get in at all.
    await expect(
      mqtt.connectAsync(url, { ca: readFileSync(pki.ca), username: 'operator', password: passwords.operator, reconnectPeriod: 0, connectTimeout: 3000 }),
    ).rejects.toThrow();

    // The operator's command, sent after the intruder's, arrives: the intruder's never will.
    await operator.client.publishAsync(`embody/${robotId}/cmd/mode`, JSON.stringify({ id: 'good', command: 'arm' }), {
      qos: 1,
      properties: { messageExpiryInterval: 30 },
    });
    await until(() => operator.messages.some((m) => m.payload.id === 'good'), 'ack of the operator command');
    await sleep(200);
    expect(received.map((c) => c.id)).toEqual(['good']);
    expect(operator.messages.map((m) => m.payload.id)).toEqual(['good']);
  });

  it('never logs the password, retries after a refused login, and picks up a corrected password file', async () => {
    const robotId = 'tls2';
    const { url, pki, passwords } = await secureMosquitto(robotId);
    const lines: string[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const wrong = 'wrong-secret-d41d8cd9';
    const passwordFile = file(pki.dir, 'robot.password', `${wrong}\n`);
    const robot = link({
      url: url.replace('mqtts://', `mqtts://robot:${wrong}-in-url@`),
      robotId,
      caFile: pki.ca,
      certFile: pki.client.robot!.cert,
      keyFile: pki.client.robot!.key,
      username: 'robot',
      passwordFile,
      log,
    });
    await until(() => lines.some((l) => l.includes('telemetry connection error')), 'the refused login logged', 10_000);
    expect(robot.connected).toBe(false);
    // The operator fixes the password file; the next attempt reads it again.
    writeFileSync(passwordFile, `${passwords.robot}\n`);
    await until(() => robot.connected, 'connect with the corrected password', 10_000);
    await robot.close();
    const all = lines.join('');
    expect(all).toContain('telemetry connected');
    expect(all).toContain('***');
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(passwords.robot);
  });
});

describe('a robot process against mosquitto', () => {
  it('publishes birth, and offline on a clean close and (as last will) on kill -9', async () => {
    const broker = await startMosquitto(await freePort());
    const status = await watcher(broker.url, 'embody/+/status');
    const last = (robot: string): Record<string, unknown> | undefined => status.messages.filter((m) => m.topic === `embody/${robot}/status`).at(-1)?.payload;
    // Two robots, started together: one closes cleanly, the other is killed.
    const options = (robotId: string): Record<string, unknown> => ({ url: broker.url, robotId, stateDir: tempDir('state'), reconnectMinMs: 100 });
    const clean = linkProcess(options('w1'));
    const killed = linkProcess(options('w2'));
    await until(() => last('w1')?.state === 'online' && last('w2')?.state === 'online', 'birth of both', 15_000);

    expect(await clean.closeCleanly()).toBe(0);
    await until(() => last('w1')?.state === 'offline', 'offline on clean close');
    await killed.kill9();
    // The kernel closes the dead process's socket: mosquitto sends the will at once.
    await until(() => last('w2')?.state === 'offline', 'last will after kill -9', 5000);

    const late = await watcher(broker.url, 'embody/+/status');
    await until(() => late.messages.length === 2, 'retained offline of both');
    for (const robot of ['w1', 'w2']) {
      expect(late.messages.find((m) => m.topic === `embody/${robot}/status`)).toMatchObject({ retain: true, payload: { robot_id: robot, state: 'offline' } });
    }
  });

  it('survives a 5 s broker outage: stream drops counted, every event delivered in order, also from a process killed and restarted during the outage', async () => {
    const port = await freePort();
    let broker = await startMosquitto(port);
    // Robots reach the broker through a cable held unplugged until the watcher is back.
    const wire = await cable(port);
    const before = await watcher(broker.url, 'embody/+/events');
    const fast = { reconnectMinMs: 100, reconnectMaxMs: 400 };
    const inProcess = link({ url: wire.url, robotId: 'out1', ...fast });
    const killedState = tempDir('state');
    const killed = linkProcess({ url: wire.url, robotId: 'out2', stateDir: killedState, ...fast });
    await until(() => inProcess.connected, 'in-process link connects');
    await killed.connected();
    inProcess.publishEvent({ kind: 'mode_change', cause: 'test', tick: 0 });
    await killed.request({ op: 'event', tick: 0 });
    await until(() => before.messages.length === 2, 'events before the outage');
    await sleep(500); // the acknowledged head reaches disk (within 250 ms)

    const outageStart = Date.now();
    await broker.stop();
    wire.plugged = false;
    await until(() => !inProcess.connected, 'in-process link sees the outage');
    const killedIds: string[] = [];
    let restarted: ReturnType<typeof linkProcess> | undefined;
    let samples = 0;
    for (let i = 1; i <= 20; i++) {
      inProcess.publishEvent({ kind: 'mode_change', cause: 'test', tick: i });
      if (!inProcess.publishStream('state', state(i))) samples++;
      if (i % 5 === 0) inProcess.publishStream('metrics', metrics(i));
      if (i <= 10) killedIds.push((await killed.request({ op: 'event', tick: i })).id!);
      if (i === 10) {
        expect((await killed.request({ op: 'report' })).pending).toBe(10);
        await killed.kill9();
        // Restarted at once, as systemd would, on the same state directory; it waits out the outage.
        restarted = linkProcess({ url: wire.url, robotId: 'out2', stateDir: killedState, ...fast });
      }
      await sleep(200);
    }
    expect(samples).toBe(20);
    expect(inProcess.dropped).toBe(20);
    expect(inProcess.eventsPending).toBe(20);
    expect(inProcess.outbox.stream).toBe(4);
    await sleep(Math.max(0, 5000 - (Date.now() - outageStart)));

    broker = await startMosquitto(port);
    const after = await watcher(broker.url, ['embody/+/events', 'embody/+/metrics']);
    wire.plugged = true;
    const events = (robot: string): Record<string, unknown>[] => after.messages.filter((m) => m.topic === `embody/${robot}/events`).map((m) => m.payload);
    await until(() => events('out1').length >= 20, 'in-process events after the outage', 10_000);
    expect(events('out1').map((e) => e.tick)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await until(() => after.messages.filter((m) => m.topic.endsWith('/metrics')).length === 4, 'metrics taken during the outage');
    expect(after.messages.filter((m) => m.topic.endsWith('/metrics')).map((m) => m.payload.ticks)).toEqual([5, 10, 15, 20]);

    await until(() => events('out2').length >= 10, 'events of the killed process, sent by its successor', 10_000);
    // At least once: de-duplicate on the id, as a consumer would; the order is kept.
    const firstSeen = [...new Map(events('out2').map((e) => [e.id, e])).values()];
    expect(firstSeen.map((e) => e.tick)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(firstSeen.map((e) => e.id)).toEqual(killedIds);
    const report = await restarted!.request({ op: 'report' });
    expect(report.recovered).toBe(10);
    await until(() => inProcess.eventsPending === 0, 'in-process outbox drained');
    expect(inProcess.eventsDropped).toBe(0);
  }, 40_000);
});
