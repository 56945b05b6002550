/**
 * How a client is connected, for /connz: nats-server's connection type (`nats` or `websocket`)
 * and, over TLS, the protocol version and cipher suite in its notation (`1.3`, IANA suite name),
 * and the client's certificates.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import { goNameString } from '../auth/distinguished-name.js';
import { WebSocketDuplex } from './websocket.js';
import { readCertificate } from './x509.js';

export interface TransportDescription {
  type: 'nats' | 'websocket';
  /** '' without TLS. */
  tlsVersion: string;
  tlsCipherSuite: string;
}

/** nats-server's TLSPeerCert, with its JSON names. */
export interface TlsPeerCert {
  subject: string;
  spki_sha256: string;
  cert_sha256: string;
}

function secureSocketOf(socket: Socket): TLSSocket | null {
  if (socket instanceof WebSocketDuplex) return socket.tlsSocket();
  return socket instanceof TLSSocket ? socket : null;
}

export function describeTransport(socket: Socket): TransportDescription {
  const secure = secureSocketOf(socket);
  return {
    type: socket instanceof WebSocketDuplex ? 'websocket' : 'nats',
    tlsVersion: secure?.getProtocol()?.replace(/^TLSv/, '') ?? '',
    tlsCipherSuite: secure?.getCipher()?.standardName ?? '',
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The client's certificate chain as verified, leaf first: subject as Go writes it, SHA-256 of the
 * public key info and of the certificate. Empty without a client certificate.
 */
export function describePeerCertificates(socket: Socket): TlsPeerCert[] {
  const secure = secureSocketOf(socket);
  const certs: TlsPeerCert[] = [];
  let cert: DetailedPeerCertificate | undefined = secure?.getPeerCertificate(true);
  while (cert?.raw !== undefined) {
    try {
      const fields = readCertificate(cert.raw);
      certs.push({ subject: goNameString(fields.subject), spki_sha256: sha256(fields.subjectPublicKeyInfo), cert_sha256: sha256(cert.raw) });
    } catch {
      break;
    }
    // A self-signed certificate is its own issuer: the chain ends there.
    cert = cert.issuerCertificate === cert ? undefined : cert.issuerCertificate;
  }
  return certs;
}
