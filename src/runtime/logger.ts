/**
 * Structured logs (pino) to stdout: JSON lines for journald and log shippers, pretty lines
 * when a person is watching a terminal.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  const level = options.level ?? process.env.EMBODY_LOG_LEVEL ?? 'info';
  if (!pretty) return pino({ level, base: { service: 'embody' } });
  return pino({
    level,
    base: undefined,
    transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'service' } },
  });
}
