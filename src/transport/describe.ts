/**
 * How a client is connected, for /connz: nats-server's connection type (`nats` or `websocket`)
 * and, over TLS, the protocol version and cipher suite in its notation (`1.3`, IANA suite name).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { WebSocketDuplex } from './websocket.js';

export interface TransportDescription {
  type: 'nats' | 'websocket';
  /** '' without TLS. */
  tlsVersion: string;
  tlsCipherSuite: string;
}

export function describeTransport(socket: Socket): TransportDescription {
  const websocket = socket instanceof WebSocketDuplex;
  const secure = websocket ? socket.tlsSocket() : socket instanceof TLSSocket ? socket : null;
  return {
    type: websocket ? 'websocket' : 'nats',
    tlsVersion: secure?.getProtocol()?.replace(/^TLSv/, '') ?? '',
    tlsCipherSuite: secure?.getCipher()?.standardName ?? '',
  };
}
