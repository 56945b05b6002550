import type { ServerInfo } from '../protocol/encoder.js';

/** INFO fields authentication adds, placed where nats-server's Info struct has them. */
export type AuthInfo = ServerInfo & { auth_required?: boolean; nonce?: string };

/**
 * The INFO for one client: `auth_required` before `max_payload` and the `nonce` after
 * `client_ip`, in nats-server's field order (clients do not care; byte-exact transcripts do).
 */
export function clientInfo(base: ServerInfo, clientId: number, clientIp: string, authRequired: boolean, nonce: string): AuthInfo {
  if (!authRequired) return { ...base, client_id: clientId, client_ip: clientIp };
  const info: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) {
    if (key === 'max_payload') info.auth_required = true;
    info[key] = value;
  }
  info.auth_required = true;
  info.client_id = clientId;
  info.client_ip = clientIp;
  if (nonce !== '') info.nonce = nonce;
  return info as unknown as AuthInfo;
}
