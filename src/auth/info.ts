import type { ServerInfo } from '../protocol/encoder.js';

/**
 * The JSON of the INFO fields every client of a server gets, without the closing brace: in
 * nats-server's field order, `auth_required` before `max_payload` (clients do not care; byte-exact
 * transcripts do). Computed once per change of the server's INFO, not per connection.
 */
export function infoHead(base: ServerInfo, authRequired: boolean): string {
  if (!authRequired) return JSON.stringify(base).slice(0, -1);
  const info: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) {
    if (key === 'max_payload') info.auth_required = true;
    info[key] = value;
  }
  info.auth_required = true;
  return JSON.stringify(info).slice(0, -1);
}

/**
 * The INFO line for one client: the head, then `client_id`, `client_ip` and the `nonce` ('' for
 * none). nats-server ends it with a space before CRLF.
 */
export function clientInfoLine(head: string, clientId: number, clientIp: string, nonce: string): Buffer {
  const tail = nonce === '' ? '' : `,"nonce":${JSON.stringify(nonce)}`;
  return Buffer.from(`INFO ${head},"client_id":${clientId},"client_ip":${JSON.stringify(clientIp)}${tail}} \r\n`);
}
