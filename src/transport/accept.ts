/**
 * What a worker does with an adopted connection before the shard sees a client: the TLS upgrade
 * after a plaintext INFO (client port with `tls`), or TLS first and the WebSocket upgrade
 * (websocket port). The shard then gets a socket-like stream and runs the same protocol code.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { ServerOptions } from '../server/options.js';
import type { Shard } from '../worker/shard.js';
import type { TlsConfig } from './config.js';
import { createTlsContext, upgradeToTls, type TlsFailure } from './tls.js';
import { WebSocketUpgrader } from './websocket.js';

/** Which listener accepted the connection. */
export type ConnectionKind = 'client' | 'websocket';

/** Where a connection comes from, as accept(2) reported it: client_ip in INFO, /connz ip and port. */
export interface PeerAddress {
  ip: string;
  port: number;
}

/** The peer of a socket accepted without its address (getpeername(2)). */
export function peerAddressOf(socket: Socket): PeerAddress {
  return { ip: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}

interface TlsSetup {
  config: TlsConfig;
  context: SecureContext;
}

function tlsSetup(config: TlsConfig | null): TlsSetup | null {
  return config === null ? null : { config, context: createTlsContext(config) };
}

export class Transports {
  private clientTls: TlsSetup | null;
  private websocketTls: TlsSetup | null;
  private readonly upgrader: WebSocketUpgrader | null;

  constructor(
    options: ServerOptions,
    private readonly log: Logger,
  ) {
    this.clientTls = tlsSetup(options.tls);
    this.websocketTls = tlsSetup(options.websocket?.tls ?? null);
    this.upgrader = options.websocket === null ? null : new WebSocketUpgrader(options.websocket);
  }

  /** Whether the client port's connections start TLS (they then need a net.Socket to build on). */
  get clientTlsEnabled(): boolean {
    return this.clientTls !== null;
  }

  /**
   * A reload's TLS settings (certificates, CA, verify, timeout): connections accepted from now on
   * get them; those already secured, or in their handshake, keep what they started with.
   */
  reloadTls(options: ServerOptions): void {
    this.clientTls = tlsSetup(options.tls);
    this.websocketTls = tlsSetup(options.websocket?.tls ?? null);
  }

  /**
   * Brings `socket` to the point where the shard can serve it, then adds it (or, over
   * max_connections, greets and rejects it through the same transport).
   */
  accept(socket: Socket, kind: ConnectionKind, clientId: number, peer: PeerAddress, shard: Shard, reject: boolean): void {
    const serve = (stream: Socket, greeted: boolean): void => {
      if (reject) shard.rejectConnection(stream, clientId, peer);
      else shard.addConnection(stream, clientId, peer, greeted);
    };
    const failed = (failure: TlsFailure): void => {
      const why = failure.reason === 'timeout' ? 'TLS handshake timeout' : `TLS handshake error: ${failure.message}`;
      this.log.error({ cid: clientId }, why);
    };
    if (kind === 'client') {
      const tls = this.clientTls;
      if (tls === null) {
        serve(socket, false);
        return;
      }
      // nats-server: INFO in plaintext (it tells the client to start TLS), then the handshake;
      // the client is a connection from the INFO on, and a failed handshake closes it.
      socket.write(shard.infoLine(clientId, peer.ip));
      const handshake = shard.beginHandshake(socket, clientId, peer);
      upgradeToTls(
        socket,
        tls.context,
        tls.config,
        (secure) => shard.addConnection(secure, clientId, peer, true, handshake),
        (failure) => {
          shard.handshakeFailed(handshake);
          failed(failure);
        },
      );
      return;
    }
    const upgrader = this.upgrader;
    if (upgrader === null) {
      socket.destroy();
      return;
    }
    const open = (stream: Socket): void => upgrader.upgrade(stream, (duplex) => serve(duplex.asSocket(), false));
    const tls = this.websocketTls;
    if (tls === null) open(socket);
    else upgradeToTls(socket, tls.context, tls.config, open, failed);
  }
}
