/**
 * Where the link's settings come from: robot.yaml's `telemetry` section (broker URL, TLS files,
 * username, password file, outbox limits), the state directory (systemd's $STATE_DIRECTORY),
 * and the secrets, read from files and never logged (redactUrl is what logs show instead).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { OutboxLimits } from './outbox.js';

/** robot.yaml `telemetry.broker` (src/robot/description.ts), snake_case as written. */
export interface BrokerConfig {
  readonly url: string;
  readonly ca_file?: string;
  readonly cert_file?: string;
  readonly key_file?: string;
  readonly username?: string;
  readonly password_file?: string;
}

/** robot.yaml `telemetry.outbox`. */
export interface OutboxConfig {
  readonly max_bytes?: number;
  readonly max_events?: number;
  readonly max_stream?: number;
}

/** The connection settings of TelemetryOptions, as robot.yaml gives them. */
export interface BrokerSettings {
  readonly url: string;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly passwordFile?: string;
}

/**
 * The TelemetryOptions fields robot.yaml's telemetry section sets, with file paths resolved
 * against robot.yaml's directory (as the policy manifest path is). Files are not read here:
 * connectTelemetry reads them, and re-reads them on each reconnect (rotated certificates).
 */
export function telemetrySettingsFromRobot(
  telemetry: { readonly broker?: BrokerConfig; readonly outbox?: OutboxConfig },
  robotFile: string,
): { broker?: BrokerSettings; outbox?: OutboxLimits } {
  const base = dirname(resolve(robotFile));
  const path = (file: string | undefined): string | undefined => (file === undefined ? undefined : resolve(base, file));
  const b = telemetry.broker;
  const o = telemetry.outbox;
  return {
    ...(b === undefined
      ? {}
      : {
          broker: {
            url: b.url,
            ...(b.ca_file === undefined ? {} : { caFile: path(b.ca_file) }),
            ...(b.cert_file === undefined ? {} : { certFile: path(b.cert_file) }),
            ...(b.key_file === undefined ? {} : { keyFile: path(b.key_file) }),
            ...(b.username === undefined ? {} : { username: b.username }),
            ...(b.password_file === undefined ? {} : { passwordFile: path(b.password_file) }),
          },
        }),
    ...(o === undefined
      ? {}
      : {
          outbox: {
            ...(o.max_bytes === undefined ? {} : { maxBytes: o.max_bytes }),
            ...(o.max_events === undefined ? {} : { maxEvents: o.max_events }),
            ...(o.max_stream === undefined ? {} : { maxStream: o.max_stream }),
          },
        }),
  };
}

/**
 * The state directory: `$STATE_DIRECTORY` (systemd's StateDirectory=; the first when it lists
 * several), else `./.embody-state`.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromSystemd = env.STATE_DIRECTORY?.split(':').find((d) => d.length > 0);
  return resolve(cwd, fromSystemd ?? '.embody-state');
}

/** The URL with any password replaced by `***`, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable: show only the scheme and what follows an '@', never what precedes it.
    const at = url.lastIndexOf('@');
    return at < 0 ? url : `${url.slice(0, url.indexOf('//') + 2)}***@${url.slice(at + 1)}`;
  }
}

/**
 * A secret or certificate file. The error names the file and why it failed, never its content.
 * A password file's single trailing newline (as `echo` writes it) is not part of the password.
 */
export function readSecretFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`telemetry ${what} ${file} cannot be read (${code})`);
  }
}

export function readPasswordFile(file: string): string {
  return readSecretFile(file, 'password_file').toString('utf8').replace(/\r?\n$/, '');
}
