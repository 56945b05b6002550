/**
 * A listening port of the main thread. Node binds it (host names, dual-stack, backlog as usual);
 * the addon then polls it and accept(2)s straight into fds for the workers, with the peer address
 * accept reported: no JS handle, dup or close per connection, and one JS call per burst.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Acceptor, NativeAddon } from '../protocol/native.js';
import type { ConnectionKind, PeerAddress } from '../transport/accept.js';

/** nats-server's ACCEPT_MIN_SLEEP and ACCEPT_MAX_SLEEP: the backoff after an accept error. */
const ACCEPT_MIN_SLEEP_MS = 10;
const ACCEPT_MAX_SLEEP_MS = 1000;

/** Out of descriptors or buffers: errors nats-server (Go's net.Error) calls temporary. */
const TEMPORARY_ERRORS = /^(EMFILE|ENFILE|ENOBUFS|ENOMEM):/;

export interface Listener {
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  readonly port: number;
  /** Stops accepting and closes the socket; connections not yet accepted are refused. */
  close(): void;
}

export interface ConnectionHandlers {
  /** One accepted connection, its fd now the caller's. */
  connection(fd: number, peer: PeerAddress): void;
  /** After the connections of one wake-up: the time to hand them on together. */
  burstEnd(): void;
}

export async function listenForConnections(
  native: NativeAddon,
  kind: ConnectionKind,
  host: string,
  port: number,
  handlers: ConnectionHandlers,
  log: Logger,
): Promise<Listener> {
  const server = net.createServer();
  const fd = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      // Taken over before the loop polls again, so libuv never accepts on it itself.
      const handle = (server as unknown as { _handle: { fd?: number } | null })._handle;
      if (handle === null || typeof handle.fd !== 'number' || handle.fd < 0) {
        server.close();
        reject(new Error(`node ${process.version}: the listening socket has no file descriptor to accept on`));
        return;
      }
      resolve(native.dup(handle.fd));
    });
  });
  const bound = (server.address() as net.AddressInfo).port;
  // The duplicate keeps the socket (and its backlog) open after Node lets go of its own descriptor.
  server.close();
  const name = kind === 'client' ? 'Client' : 'Websocket';
  let sleepMs = ACCEPT_MIN_SLEEP_MS;
  let resumeTimer: NodeJS.Timeout | null = null;
  let closed = false;
  const acceptor: Acceptor = native.acceptConnections(fd, (batch, error) => {
    for (let i = 0; i < batch.length; i += 3) handlers.connection(batch[i] as number, { ip: batch[i + 1] as string, port: batch[i + 2] as number });
    if (batch.length > 0) handlers.burstEnd();
    if (error === undefined) {
      sleepMs = ACCEPT_MIN_SLEEP_MS;
      return;
    }
    // The addon paused polling: try again later rather than spin on a failing accept.
    if (TEMPORARY_ERRORS.test(error)) log.error(`Temporary ${name} Accept Error(accept: ${error}), sleeping ${sleepMs}ms`);
    else log.error(`${name} Accept error: accept: ${error}`);
    resumeTimer = setTimeout(() => {
      resumeTimer = null;
      if (!closed) native.resumeAccepting(acceptor);
    }, sleepMs);
    sleepMs = Math.min(sleepMs * 2, ACCEPT_MAX_SLEEP_MS);
  });
  return {
    port: bound,
    close(): void {
      if (closed) return;
      closed = true;
      if (resumeTimer !== null) clearTimeout(resumeTimer);
      native.stopAccepting(acceptor);
    },
  };
}
