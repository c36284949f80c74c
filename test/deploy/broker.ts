/**
 * The fleet's MQTT broker for the deploy test, as a real site runs it: mosquitto on the host (the
 * container shares its network) with TLS, client certificates and a password. The test generates
 * its own certificate authority with openssl (EC keys, a second): the broker's certificate for
 * 127.0.0.1, the robot's client certificate, and a password file for one user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, must, sh } from './container.js';

export interface TlsBroker {
  readonly url: string;
  readonly port: number;
  /** PEM files: the CA, the robot's client certificate and key. */
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly username: string;
  readonly password: string;
  /** mosquitto_sub arguments that connect with the robot's certificate and credentials. */
  subArgs(topic: string, ...more: string[]): string[];
  stop(): void;
}

function openssl(dir: string, args: readonly string[]): void {
  must(sh('openssl', args, { cwd: dir, timeoutMs: 30_000 }), `openssl ${args.slice(0, 2).join(' ')}`);
}

/** A certificate and key signed by the CA in `dir`, with the given X.509 extensions. */
function issue(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

async function listening(port: number, broker: ChildProcess, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (broker.exitCode !== null || broker.signalCode !== null) {
      throw new Error(`mosquitto exited (${broker.exitCode ?? broker.signalCode}):\n${readFileSync(log, 'utf8').slice(-3000)}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port}:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startTlsBroker(work: string, clientName: string): Promise<TlsBroker> {
  const dir = join(work, 'broker');
  mkdirSync(dir, { mode: 0o700 });
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=embody deploy test CA']);
  issue(dir, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'client', `/CN=${clientName}`, 'extendedKeyUsage=clientAuth\n');

  const username = clientName;
  const password = `pw-${randomBytes(16).toString('hex')}`;
  must(sh('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), username, password]), 'mosquitto_passwd');

  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      // Started as root, mosquitto would switch to its own user, which cannot read this directory.
      'user root',
      'persistence false',
      'log_dest stderr',
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${join(dir, 'passwd')}`,
      `listener ${port} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'require_certificate true',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'mosquitto.log');
  const log = openSync(logFile, 'w');
  const broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', log, log] });
  closeSync(log);
  const stop = (): void => {
    if (broker.exitCode === null && broker.signalCode === null) broker.kill('SIGTERM');
  };
  try {
    await listening(port, broker, logFile, 10_000);
  } catch (error) {
    stop();
    throw error;
  }
  const ca = join(dir, 'ca.pem');
  const clientCert = join(dir, 'client.pem');
  const clientKey = join(dir, 'client.key');
  return {
    url: `mqtts://127.0.0.1:${port}`,
    port,
    ca,
    clientCert,
    clientKey,
    username,
    password,
    subArgs: (topic, ...more) => ['-h', '127.0.0.1', '-p', String(port), '--cafile', ca, '--cert', clientCert, '--key', clientKey, '-u', username, '-P', password, '-t', topic, ...more],
    stop,
  };
}
