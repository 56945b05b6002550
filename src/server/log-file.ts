/** Log-file rotation support: nats-server reopens its log file on SIGUSR1 (`--signal reopen`). */
import pino, { type Logger } from 'pino';

/** pino's file destination (SonicBoom): `file` is set when it writes to a path, not a descriptor. */
interface FileDestination {
  file?: unknown;
  reopen?: () => void;
}

/** Reopens the file a logger writes to (after logrotate moved it); a logger on stderr is left alone. */
export function reopenLogFile(log: Logger): void {
  const destination = (log as unknown as Record<symbol, FileDestination | undefined>)[pino.symbols.streamSym];
  if (typeof destination?.file === 'string' && typeof destination.reopen === 'function') destination.reopen();
}
