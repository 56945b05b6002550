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
    onSecure(secure);
  });
}

/** The verify_and_map names of the client certificate on `socket` (none unless it is a TLS socket). */
export function peerCertificateNames(socket: Socket): string[] {
  return socket instanceof tls.TLSSocket ? certificateIdentities(socket.getPeerCertificate()) : [];
}

/**
 * The names a verified client certificate offers for verify_and_map, in nats-server's order:
 * email SANs, DNS SANs, URI SANs, then the subject as an RFC 2253 string (most specific RDN first,
 * as Go's pkix.Name.String writes it).
 */
export function certificateIdentities(cert: tls.PeerCertificate): string[] {
  const names: string[] = [];
  const san = cert.subjectaltname ?? '';
  const entries = san === '' ? [] : san.split(', ').map((part) => part.split(/:(.*)/s, 2) as [string, string]);
  for (const kind of ['email', 'DNS', 'URI']) {
    for (const [type, value] of entries) if (type === kind) names.push(value);
  }
  const subject = rfc2253(cert.subject);
  if (subject !== '') names.push(subject);
  return names;
}

function escapeRdn(value: string): string {
  let out = value.replace(/([,+"\\<>;=])/g, '\\$1');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/**
 * Node gives the subject as attribute → value(s) in certificate order (repeated attributes grouped
 * at their first place); RFC 2253 writes the sequence reversed.
 */
function rfc2253(subject: tls.Certificate | undefined): string {
  if (subject === undefined) return '';
  const parts: string[] = [];
  for (const key of Object.keys(subject)) {
    const value = (subject as unknown as Record<string, string | string[]>)[key];
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${key}=${escapeRdn(v)}`);
  }
  return parts.reverse().join(',');
}
