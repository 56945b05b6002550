/**
 * Startup checks of the transport options, for every way they arrive (config file, flags,
 * embedding): unusable certificates and a websocket listener without TLS or no_tls fail here, with
 * nats-server's messages, before any worker starts.
 */
import type { ServerOptions } from '../server/options.js';
import { createTlsContext } from './tls.js';

export function checkTransports(options: ServerOptions): void {
  if (options.tls !== null) createTlsContext(options.tls);
  const ws = options.websocket;
  if (ws === null) return;
  if (ws.tls === null && !ws.noTls) throw new Error('websocket requires TLS configuration');
  if (ws.tls !== null) {
    if (ws.tls.verifyAndMap) throw new Error('websocket tls verify_and_map is not supported by natrium yet');
    createTlsContext(ws.tls);
  }
}
