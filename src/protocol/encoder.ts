/** Server-to-client protocol lines, pre-encoded where they never change. */

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
