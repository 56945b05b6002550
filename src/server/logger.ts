import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { ServerOptions } from './options.js';

/**
 * pino: JSON lines when stderr is not a terminal (or when logging to a file), readable lines on a
 * terminal. Writes are synchronous so that lines are never lost when a process or worker exits.
 */
export function createLogger(options: Pick<ServerOptions, 'logLevel' | 'logFile'>, bindings: Record<string, unknown> = {}): Logger {
  const level = options.logLevel;
  const destination =
    options.logFile !== null
      ? pino.destination({ dest: options.logFile, sync: true, mkdir: true })
      : process.stderr.isTTY
        ? pretty({ sync: true, destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' })
        : pino.destination({ dest: 2, sync: true });
  return pino({ level, base: { ...bindings } }, destination);
}
