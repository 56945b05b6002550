/**
 * The `tls {}` and `websocket {}` blocks of a nats-server configuration file (server/opts.go
 * parseTLS, parseWebsocket) and the TLS command-line flags, read into TlsConfig/WebSocketConfig.
 * Keys nats-server knows and Natrium does not support are refused, never ignored.
 */
import { confTypeName, type ConfEntry } from '../config/conf-parser.js';
import { parseDuration } from '../config/units.js';
import { createTlsContext } from './tls.js';

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** CA bundle client certificates are verified against; null = the system store. */
  caFile: string | null;
  /** Require a client certificate signed by caFile. */
  verify: boolean;
  /** As verify, and the certificate names the user (email/DNS/URI SAN or subject). */
  verifyAndMap: boolean;
  /** Milliseconds the handshake may take; nats-server's TLS_TIMEOUT is 2 s. */
  timeout: number;
}

export interface WebSocketConfig {
  /** Interface to listen on; '' = the client host. */
  host: string;
  /** -1 picks a free port. */
  port: number;
  /** Allow plain ws:// (nats-server requires TLS unless no_tls is set; a tls block wins). */
  noTls: boolean;
  tls: TlsConfig | null;
  /** Offer permessage-deflate. */
  compression: boolean;
  /** Milliseconds the HTTP upgrade may take; nats-server defaults to 2 s. */
  handshakeTimeout: number;
}

export const DEFAULT_TLS_TIMEOUT_MS = 2_000;
export const DEFAULT_WS_HANDSHAKE_TIMEOUT_MS = 2_000;

export type ReportProblem = (entry: ConfEntry, message: string) => void;

const TLS_NOT_SUPPORTED = new Set([
  'cipher_suites',
  'curve_preferences',
  'pinned_certs',
  'cert_store',
  'cert_match_by',
  'cert_match',
  'min_version',
  'verify_cert_and_check_known_urls',
  'insecure',
  'handshake_first',
  'ocsp_peer',
]);

const WS_NOT_SUPPORTED = new Set(['advertise', 'same_origin', 'allowed_origins', 'authorization', 'no_auth_user', 'jwt_cookie']);

function block(key: string, entry: ConfEntry, report: ReportProblem): Map<string, ConfEntry> | undefined {
  if (!(entry.value instanceof Map)) {
    report(entry, `"${key}" expects a map, got ${confTypeName(entry.value)}`);
    return undefined;
  }
  return entry.value;
}

function str(key: string, entry: ConfEntry, report: ReportProblem): string | undefined {
  if (typeof entry.value === 'string') return entry.value;
  report(entry, `"${key}" expects a string, got ${confTypeName(entry.value)}`);
  return undefined;
}

function bool(key: string, entry: ConfEntry, report: ReportProblem): boolean | undefined {
  if (typeof entry.value === 'boolean') return entry.value;
  report(entry, `"${key}" expects a boolean, got ${confTypeName(entry.value)}`);
  return undefined;
}

/** nats-server's TLS `timeout`: fractional seconds, or a duration string. */
function seconds(key: string, entry: ConfEntry, report: ReportProblem): number | undefined {
  const v = entry.value;
  if (typeof v === 'number' && v > 0) return Math.round(v * 1000);
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch {
      report(entry, `error parsing ${key}: time: invalid duration "${v}"`);
      return undefined;
    }
  }
  report(entry, `"${key}" expects seconds or a duration, got ${confTypeName(v)}`);
  return undefined;
}

/**
 * A `tls {}` block; the files are loaded once here so that a bad one fails at startup (and -t).
 * Certificate-mapped users (verify_and_map) exist for the client port only.
 */
export function readTlsBlock(key: string, entry: ConfEntry, report: ReportProblem, allowMap = true): TlsConfig | undefined {
  const map = block(key, entry, report);
  if (map === undefined) return undefined;
  const config: Partial<TlsConfig> = { caFile: null, verify: false, verifyAndMap: false, timeout: DEFAULT_TLS_TIMEOUT_MS };
  let ok = true;
  const need = <T>(value: T | undefined): T | undefined => {
    if (value === undefined) ok = false;
    return value;
  };
  for (const [rawKey, item] of map) {
    const k = rawKey.toLowerCase();
    switch (k) {
      case 'cert_file':
        config.certFile = need(str(k, item, report));
        break;
      case 'key_file':
        config.keyFile = need(str(k, item, report));
        break;
      case 'ca_file':
        config.caFile = need(str(k, item, report)) ?? null;
        break;
      case 'verify':
        config.verify = need(bool(k, item, report));
        break;
      case 'verify_and_map':
        config.verifyAndMap = need(bool(k, item, report));
        if (config.verifyAndMap && !allowMap) {
          report(item, '"verify_and_map" in the websocket TLS configuration is not supported by natrium yet');
          ok = false;
        }
        break;
      case 'timeout':
        config.timeout = need(seconds(k, item, report));
        break;
      default:
        ok = false;
        if (TLS_NOT_SUPPORTED.has(k)) report(item, `"${k}" in a TLS configuration is not supported by natrium yet`);
        else if (!item.usedAsVariable) report(item, `error parsing tls config, unknown field "${rawKey}"`);
        else ok = true;
    }
  }
  if (!ok) return undefined;
  if (config.certFile === undefined) {
    report(entry, `missing 'cert_file' in TLS configuration`);
    return undefined;
  }
  if (config.keyFile === undefined) {
    report(entry, `missing 'key_file' in TLS configuration`);
    return undefined;
  }
  const tlsConfig = config as TlsConfig;
  try {
    createTlsContext(tlsConfig);
  } catch (error) {
    report(entry, (error as Error).message);
    return undefined;
  }
  return tlsConfig;
}

/** A `websocket {}` block. */
export function readWebSocketBlock(key: string, entry: ConfEntry, report: ReportProblem): WebSocketConfig | undefined {
  const map = block(key, entry, report);
  if (map === undefined) return undefined;
  const config: WebSocketConfig = {
    host: '',
    port: 0,
    noTls: false,
    tls: null,
    compression: false,
    handshakeTimeout: DEFAULT_WS_HANDSHAKE_TIMEOUT_MS,
  };
  let ok = true;
  for (const [rawKey, item] of map) {
    const k = rawKey.toLowerCase();
    const v = item.value;
    switch (k) {
      case 'listen': {
        const match = typeof v === 'string' ? /^(?:\[([^\]]*)\]|([^:]*)):(-?\d+)$/.exec(v) : null;
        if (typeof v === 'number' && Number.isInteger(v)) config.port = v;
        else if (match !== null) {
          config.host = match[1] ?? match[2];
          config.port = Number(match[3]);
        } else {
          report(item, `could not parse address string ${JSON.stringify(v)}`);
          ok = false;
        }
        break;
      }
      case 'port':
        if (typeof v === 'number' && Number.isInteger(v) && v >= -1 && v <= 65535) config.port = v;
        else {
          report(item, `"port" expects a port number, got ${JSON.stringify(v)}`);
          ok = false;
        }
        break;
      case 'host':
      case 'net': {
        const host = str(k, item, report);
        if (host === undefined) ok = false;
        else config.host = host;
        break;
      }
      case 'no_tls': {
        const noTls = bool(k, item, report);
        if (noTls === undefined) ok = false;
        else config.noTls = noTls;
        break;
      }
      case 'compression': {
        const compression = bool(k, item, report);
        if (compression === undefined) ok = false;
        else config.compression = compression;
        break;
      }
      case 'handshake_timeout': {
        const ms = seconds(k, item, report);
        if (ms === undefined) ok = false;
        else config.handshakeTimeout = ms;
        break;
      }
      case 'tls': {
        const tlsConfig = readTlsBlock(k, item, report, false);
        if (tlsConfig === undefined) ok = false;
        else config.tls = tlsConfig;
        break;
      }
      default:
        if (WS_NOT_SUPPORTED.has(k)) {
          report(item, `"websocket.${k}" is not supported by natrium yet`);
          ok = false;
        } else if (!item.usedAsVariable) {
          report(item, `unknown field "${rawKey}"`);
          ok = false;
        }
    }
  }
  if (!ok) return undefined;
  if (config.port === 0) {
    // nats-server leaves websocket off when its port is 0.
    return undefined;
  }
  if (!config.noTls && config.tls === null) {
    report(entry, 'websocket requires TLS configuration');
    return undefined;
  }
  return config;
}

/** The TLS command-line flags, as nats-server reads them (--tlsverify implies --tls). */
export function tlsFromFlags(flags: { tls: boolean; cert?: string; key?: string; ca?: string; verify: boolean }): TlsConfig | null {
  if (!flags.tls && !flags.verify && flags.cert === undefined && flags.key === undefined && flags.ca === undefined) return null;
  if (!flags.tls && !flags.verify) throw new Error('--tlscert, --tlskey and --tlscacert need --tls or --tlsverify');
  if (flags.cert === undefined) throw new Error('TLS Server certificate must be present and valid');
  if (flags.key === undefined) throw new Error('TLS Server private key must be present and valid');
  const config: TlsConfig = {
    certFile: flags.cert,
    keyFile: flags.key,
    caFile: flags.ca ?? null,
    verify: flags.verify,
    verifyAndMap: false,
    timeout: DEFAULT_TLS_TIMEOUT_MS,
  };
  createTlsContext(config);
  return config;
}
