/**
 * Server-side TLS on an adopted socket, as nats-server does it for clients: INFO goes out in
 * plaintext, then the client starts the handshake on the same connection. A handshake that fails
 * or does not finish within the timeout closes the connection without a word (nats-server's
 * 'Secure Connection - TLS Required' is traced but never reaches a client that cannot read TLS).
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { TlsConfig } from './config.js';
import { readCertificate, type CertificateFields } from './x509.js';

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file or directory' : (error as Error).message;
    throw new Error(`error parsing ${what}: open ${file}: ${reason}`);
  }
}

/** Loads the certificate, key and CA; throws with nats-server's wording when one is unusable. */
export function createTlsContext(config: TlsConfig): tls.SecureContext {
  const cert = readPem(config.certFile, 'X509 certificate/key pair');
  const key = readPem(config.keyFile, 'X509 certificate/key pair');
  const ca = config.caFile === null ? undefined : readPem(config.caFile, 'root ca certificate');
  try {
    return tls.createSecureContext({ cert, key, ca, minVersion: 'TLSv1.2' });
  } catch (error) {
    throw new Error(`error parsing X509 certificate/key pair: ${(error as Error).message}`);
  }
}

/** Why a handshake did not produce a usable connection (nats-server logs "TLS handshake error: ..."). */
export type TlsFailure = { reason: 'timeout' } | { reason: 'error'; message: string };

/**
 * Runs the server side of the handshake on `socket` (INFO already written in plaintext). Calls
 * `onSecure` with the TLS socket, or `onFailure` after destroying the connection.
 */
export function upgradeToTls(
  socket: Socket,
  context: tls.SecureContext,
  config: TlsConfig,
  onSecure: (secure: tls.TLSSocket) => void,
  onFailure: (failure: TlsFailure) => void,
): void {
  const requireCert = config.verify || config.verifyAndMap;
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, requestCert: requireCert, rejectUnauthorized: requireCert });
  let settled = false;
  const fail = (failure: TlsFailure): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    secure.destroy();
    socket.destroy();
    onFailure(failure);
  };
  const timer = setTimeout(() => fail({ reason: 'timeout' }), config.timeout);
  const onError = (error: Error): void => fail({ reason: 'error', message: error.message });
  const onClose = (): void => fail({ reason: 'error', message: 'connection closed during the handshake' });
  secure.once('error', onError);
  secure.once('close', onClose);
  // The socket is half-open: a client that ends its side mid-handshake would otherwise be held
  // until the timeout (nats-server's handshake read fails at once).
  secure.once('end', onClose);
  secure.once('secure', () => {
    if (settled) return;
    // A TLSSocket made by hand (not by tls.Server) leaves the verdict on the client certificate to
    // us: OpenSSL only refuses a missing one; the chain's verdict is the handle's verifyError(),
    // which tls.Server reads the same way.
    if (requireCert) {
      const verifyError = (secure as unknown as { _handle: { verifyError(): Error | null } })._handle.verifyError();
      if (verifyError !== null) {
        fail({ reason: 'error', message: verifyError.message });
        return;
      }
    }
    settled = true;
    clearTimeout(timer);
    secure.off('error', onError);
    secure.off('close', onClose);
    secure.off('end', onClose);
    onSecure(secure);
  });
}

/** The verified client certificate on `socket`, read for verify_and_map (null without one). */
export function peerCertificate(socket: Socket): CertificateFields | null {
  if (!(socket instanceof tls.TLSSocket)) return null;
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  if (raw === undefined) return null;
  try {
    return readCertificate(raw);
  } catch {
    return null;
  }
}
