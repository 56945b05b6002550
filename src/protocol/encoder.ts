/** Server-to-client protocol lines, pre-encoded where they never change. */
import type { TlsConfig } from '../transport/config.js';

export const PONG = Buffer.from('PONG\r\n');
export const PING = Buffer.from('PING\r\n');
export const OK = Buffer.from('+OK\r\n');
export const CRLF = Buffer.from('\r\n');
/** The header block nats-server sends to a requester when nobody listens on the subject. */
export const NO_RESPONDERS_HEADER = Buffer.from('NATS/1.0 503\r\n\r\n');

/** The fields of INFO sent on accept, in nats-server's order. */
export interface ServerInfo {
  server_id: string;
  server_name: string;
  version: string;
  proto: number;
  go?: string;
  host: string;
  port: number;
  headers: boolean;
  tls_required?: boolean;
  tls_verify?: boolean;
  max_payload: number;
  client_id?: number;
  client_ip?: string;
  ldm?: boolean;
}

/**
 * Sets or clears `tls_required`/`tls_verify` for client TLS settings, in place (a reload may turn
 * TLS on or off), keeping nats-server's field order: they come right before `max_payload`.
 */
export function setInfoTls(info: ServerInfo, tls: TlsConfig | null): void {
  const fields = info as unknown as Record<string, unknown>;
  const entries = Object.entries(fields).filter(([key]) => key !== 'tls_required' && key !== 'tls_verify');
  for (const key of Object.keys(fields)) delete fields[key];
  for (const [key, value] of entries) {
    if (key === 'max_payload' && tls !== null) {
      fields.tls_required = true;
      if (tls.verify || tls.verifyAndMap) fields.tls_verify = true;
    }
    fields[key] = value;
  }
}

/**
 * INFO line for one client. nats-server ends it with a space before CRLF; clients tolerate
 * both, but byte-for-byte transcripts do not.
 */
export function encodeInfo(info: ServerInfo): Buffer {
  return Buffer.from(`INFO ${JSON.stringify(info)} \r\n`);
}

/** Decimal digits of a non-negative integer into buf at off; returns the new offset. */
export function writeDecimal(buf: Uint8Array, off: number, value: number): number {
  if (value < 10) {
    buf[off] = 48 + value;
    return off + 1;
  }
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  let end = off + digits;
  for (let v = value, i = end - 1; i >= off; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return end;
}
