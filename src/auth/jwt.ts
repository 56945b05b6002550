/**
 * Decentralized authentication (nats-server operator mode with `resolver: MEMORY`): the operator's
 * JWT is trusted, account JWTs are preloaded and must be issued by the operator (or one of its
 * signing keys), and a client presents a user JWT issued by a preloaded account (or one of the
 * account's signing keys) plus its signature of the INFO nonce. Natrium validates the whole chain
 * itself: signatures, types, expiry and not-before, revocations, bearer tokens.
 */
import { verify } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { decodePublicKey, ed25519PublicKey, KEY_PREFIX } from './nkey.js';
import type { Permissions, SubjectPermission } from './options.js';

export interface JwtClaims {
  iss: string;
  sub: string;
  iat?: number;
  exp?: number;
  nbf?: number;
  name?: string;
  nats?: Record<string, unknown>;
}

export interface DecodedJwt {
  claims: JwtClaims;
  /** The bytes the issuer signed: `<header>.<claims>`. */
  signed: Buffer;
  signature: Buffer;
}

/** Header, claims and signature of a JWT, or null when it is not one nats tools make. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { typ?: string; alg?: string };
    if (header.alg !== 'ed25519-nkey' && header.alg !== 'ed25519') return null;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as JwtClaims;
    if (typeof claims.iss !== 'string' || typeof claims.sub !== 'string') return null;
    return { claims, signed: Buffer.from(`${parts[0]}.${parts[1]}`, 'latin1'), signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return null;
  }
}

/** The JWT's signature checks out against the public key `issuer` of role `prefix`. */
export function signedBy(jwt: DecodedJwt, issuer: string, prefix: number): boolean {
  const key = decodePublicKey(issuer, prefix);
  if (key === null || jwt.signature.length !== 64) return false;
  try {
    return verify(null, jwt.signed, ed25519PublicKey(key), jwt.signature);
  } catch {
    return false;
  }
}

/** Within exp/nbf at `nowSeconds`. */
export function inTime(claims: JwtClaims, nowSeconds: number): boolean {
  if (typeof claims.exp === 'number' && claims.exp > 0 && nowSeconds >= claims.exp) return false;
  if (typeof claims.nbf === 'number' && claims.nbf > 0 && nowSeconds < claims.nbf) return false;
  return true;
}

function natsType(claims: JwtClaims): unknown {
  return claims.nats?.type;
}

/** Signing keys as JWTs list them: strings, or objects with a `key` (scoped keys). */
function signingKeys(claims: JwtClaims): Set<string> {
  const keys = new Set<string>();
  const list = claims.nats?.signing_keys;
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (typeof entry === 'string') keys.add(entry);
      else if (entry !== null && typeof entry === 'object' && typeof (entry as { key?: unknown }).key === 'string') {
        keys.add((entry as { key: string }).key);
      }
    }
  }
  return keys;
}

/** JWT limits use -1 for "no limit". */
export const NO_LIMIT = -1;

/** A JWT limit as nats-server reads it: a missing key is 0; null when not an integer. */
function jwtLimit(limits: Record<string, unknown>, key: string): number | null {
  const value = limits[key] ?? 0;
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The tighter of two limits, NO_LIMIT counting as infinite. */
export function minLimit(a: number, b: number): number {
  if (a === NO_LIMIT) return b;
  if (b === NO_LIMIT) return a;
  return Math.min(a, b);
}

export interface TrustedAccount {
  /** Account public key. */
  readonly key: string;
  /** Natrium's account id (1, 2, ... in preload order). */
  readonly id: number;
  readonly signingKeys: Set<string>;
  /** User key (or '*') → unix seconds: user JWTs issued at or before are revoked. */
  readonly revocations: Record<string, number>;
  /** `limits.conn`: live client connections over all workers; NO_LIMIT = none. */
  readonly maxConnections: number;
  /** `limits.subs` and `limits.payload`, applied to each connection of the account. */
  readonly maxSubscriptions: number;
  readonly maxPayload: number;
  /** `limits.disallow_bearer`: bearer user JWTs are refused. */
  readonly disallowBearer: boolean;
  /** The account JWT's `exp` in epoch milliseconds; 0 = never. */
  readonly expiresAt: number;
}

/**
 * What nats-server 2.9 does with an account JWT's other claims, for clients: `limits.data`, `leaf`
 * (no leaf nodes here), `imports`/`exports`/`wildcards` (they bound the account's own imports and
 * exports, refused below) and the JetStream limits (JetStream is not enabled) have no effect. These
 * change what clients may do and are not implemented: the JWT is refused.
 */
function refuseUnsupportedAccountClaims(name: string, nats: Record<string, unknown>): void {
  for (const key of ['exports', 'imports', 'mappings']) {
    const value = nats[key];
    if ((Array.isArray(value) && value.length > 0) || (key === 'mappings' && Object.keys(record(value)).length > 0)) {
      throw new Error(`resolver_preload: account ${name}: JWT ${key} are not supported by natrium yet`);
    }
  }
  const defaults = record(nats.default_permissions);
  const restricts = (perm: unknown): boolean => ['allow', 'deny'].some((k) => Array.isArray(record(perm)[k]) && (record(perm)[k] as unknown[]).length > 0);
  if (restricts(defaults.pub) || restricts(defaults.sub) || defaults.resp != null) {
    throw new Error(`resolver_preload: account ${name}: JWT default_permissions are not supported by natrium yet`);
  }
  const keys = nats.signing_keys;
  if (Array.isArray(keys) && keys.some((entry) => entry !== null && typeof entry === 'object' && (entry as { kind?: unknown }).kind !== undefined)) {
    throw new Error(`resolver_preload: account ${name}: scoped signing keys are not supported by natrium yet`);
  }
}

/**
 * The operator and its preloaded accounts, checked once (at startup, and in each worker). Throws
 * an Error saying what is wrong, as nats-server refuses to start.
 */
export class OperatorTrust {
  readonly accounts = new Map<string, TrustedAccount>();

  constructor(operatorJwts: readonly string[], preload: Readonly<Record<string, string>>) {
    const operatorKeys = new Set<string>();
    for (const token of operatorJwts) {
      const jwt = decodeJwt(token);
      if (jwt === null || natsType(jwt.claims) !== 'operator') throw new Error('operator: not a valid operator JWT');
      if (jwt.claims.iss !== jwt.claims.sub || !signedBy(jwt, jwt.claims.iss, KEY_PREFIX.operator)) {
        throw new Error('operator: the operator JWT is not self-signed');
      }
      operatorKeys.add(jwt.claims.sub);
      for (const key of signingKeys(jwt.claims)) operatorKeys.add(key);
    }
    let id = 1;
    for (const [name, token] of Object.entries(preload)) {
      const jwt = decodeJwt(token);
      if (jwt === null || natsType(jwt.claims) !== 'account') throw new Error(`resolver_preload: ${name} is not a valid account JWT`);
      if (jwt.claims.sub !== name) throw new Error(`resolver_preload: the JWT of ${name} is for account ${jwt.claims.sub}`);
      if (!operatorKeys.has(jwt.claims.iss) || !signedBy(jwt, jwt.claims.iss, KEY_PREFIX.operator)) {
        throw new Error(`resolver_preload: account ${name} is not issued by a trusted operator`);
      }
      const nats = record(jwt.claims.nats);
      refuseUnsupportedAccountClaims(name, nats);
      const limits = record(nats.limits);
      const [conn, subs, payload] = ['conn', 'subs', 'payload'].map((key) => {
        const value = jwtLimit(limits, key);
        if (value === null) throw new Error(`resolver_preload: account ${name}: limits.${key} is not an integer`);
        return value;
      });
      const revocations = record(nats.revocations) as Record<string, number>;
      const exp = typeof jwt.claims.exp === 'number' && jwt.claims.exp > 0 ? jwt.claims.exp * 1000 : 0;
      this.accounts.set(name, {
        key: name,
        id: id++,
        signingKeys: signingKeys(jwt.claims),
        revocations,
        maxConnections: conn,
        maxSubscriptions: subs,
        maxPayload: payload,
        disallowBearer: limits.disallow_bearer === true,
        expiresAt: exp,
      });
    }
  }

  /**
   * The account and claims of a user JWT that passes every check that needs no signature math
   * (type, time, issuer, revocation), or null. The caller verifies the signatures.
   */
  checkUser(jwt: DecodedJwt, nowSeconds: number): { account: TrustedAccount; claims: JwtClaims } | null {
    const claims = jwt.claims;
    if (natsType(claims) !== 'user' || !inTime(claims, nowSeconds)) return null;
    const issuerAccount = typeof claims.nats?.issuer_account === 'string' ? (claims.nats.issuer_account as string) : claims.iss;
    const account = this.accounts.get(issuerAccount);
    if (account === undefined) return null;
    if (account.expiresAt > 0 && nowSeconds * 1000 >= account.expiresAt) return null;
    if (claims.iss !== account.key && !account.signingKeys.has(claims.iss)) return null;
    if (claims.nats?.bearer_token === true && account.disallowBearer) return null;
    const iat = typeof claims.iat === 'number' ? claims.iat : 0;
    for (const key of [claims.sub, '*']) {
      const revokedAt = account.revocations[key];
      if (typeof revokedAt === 'number' && iat <= revokedAt) return null;
    }
    return { account, claims };
  }
}

/** Where and how a client connects, for the user JWT's `src` and `allowed_connection_types`. */
export interface Peer {
  readonly ip: string;
  readonly websocket: boolean;
}

/** A user JWT's restrictions and limits, as nats-server 2.9 applies them when the user connects. */
export interface UserRestrictions {
  /** `subs` and `payload` (a missing key is 0, as in nats-server; NO_LIMIT = none). */
  readonly maxSubscriptions: number;
  readonly maxPayload: number;
  /** Epoch ms when the current `times` window closes; Infinity without `times`. */
  readonly windowEnd: number;
}

/**
 * The restrictions of a user JWT for a client at `peer` at `nowMs`, or null when it may not connect:
 * its IP is outside `src`, it is outside every `times` window (read in `times_location`, else the
 * server's zone), its transport is not in `allowed_connection_types`, or one of these is malformed
 * (nats-server's JWT validation then refuses the user).
 */
export function userRestrictions(claims: JwtClaims, peer: Peer, nowMs: number): UserRestrictions | null {
  const nats = record(claims.nats);
  const maxSubscriptions = jwtLimit(nats, 'subs');
  const maxPayload = jwtLimit(nats, 'payload');
  if (maxSubscriptions === null || maxPayload === null) return null;
  if (!allowedConnectionType(nats.allowed_connection_types, peer.websocket)) return null;
  if (!sourceAllowed(nats.src, peer.ip)) return null;
  const windowEnd = connectWindowEnd(nats.times, nats.times_location, nowMs);
  if (windowEnd === null) return null;
  return { maxSubscriptions, maxPayload, windowEnd };
}

/** nats-server matches the types case-insensitively; one it does not know never matches. */
function allowedConnectionType(types: unknown, websocket: boolean): boolean {
  if (types == null) return true;
  if (!Array.isArray(types)) return false;
  if (types.length === 0) return true;
  const own = websocket ? 'WEBSOCKET' : 'STANDARD';
  return types.some((type) => typeof type === 'string' && type.toUpperCase() === own);
}

/** `src`: CIDRs as a list or one comma-separated string; every entry must be a valid CIDR. */
function sourceAllowed(src: unknown, ip: string): boolean {
  if (src == null || src === '') return true;
  const entries = typeof src === 'string' ? src.split(',').map((entry) => entry.trim()) : src;
  if (!Array.isArray(entries)) return false;
  if (entries.length === 0) return true;
  const allowed = new BlockList();
  for (const entry of entries) {
    const match = typeof entry === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(entry) : null;
    const family = match === null ? 0 : isIP(match[1]);
    const prefix = match === null ? -1 : Number(match[2]);
    if (family === 0 || prefix > (family === 4 ? 32 : 128)) return false;
    allowed.addSubnet(match![1], prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; Go compares them as IPv4.
  const peer = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(peer);
  return family !== 0 && allowed.check(peer, family === 4 ? 'ipv4' : 'ipv6');
}

const DAY_SECONDS = 86_400;
/** Go's time.Parse("15:04:05"): a 1 or 2 digit hour, 2 digit minutes and seconds, an optional fraction. */
const CLOCK_TIME = /^(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?$/;

function secondsOfDay(text: unknown): number | null {
  const match = typeof text === 'string' ? CLOCK_TIME.exec(text) : null;
  if (match === null) return null;
  const [h, m, s] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (h > 23 || m > 59 || s > 59) return null;
  return h * 3600 + m * 60 + s + (match[4] === undefined ? 0 : Number(`0.${match[4]}`));
}

const clocks = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `location` (Go's LoadLocation names; '' and 'Local' = the server's zone), null if unknown. */
function clockOf(location: unknown): Intl.DateTimeFormat | null {
  if (location != null && typeof location !== 'string') return null;
  const zone = location === undefined || location === null || location === '' || location === 'Local' ? '' : location;
  let clock = clocks.get(zone);
  if (clock === undefined) {
    try {
      clock = new Intl.DateTimeFormat('en-US', { timeZone: zone === '' ? undefined : zone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    } catch {
      return null;
    }
    // Go reads zone files by name, so a name that differs only in case is unknown to it.
    const resolved = clock.resolvedOptions().timeZone;
    if (zone !== '' && resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) return null;
    clocks.set(zone, clock);
  }
  return clock;
}

/**
 * nats-server's validateTimes: each range is today's start to today's end (tomorrow's when end <
 * start), and `now` must be strictly inside one; so before today's start, the tail of yesterday's
 * overnight range does not count. Returns when that range ends, Infinity without ranges, or null.
 */
function connectWindowEnd(times: unknown, location: unknown, nowMs: number): number | null {
  if (times == null) return Infinity;
  if (!Array.isArray(times)) return null;
  const ranges: [number, number][] = [];
  for (const range of times) {
    const start = secondsOfDay(record(range).start);
    const end = secondsOfDay(record(range).end);
    if (start === null || end === null) return null;
    ranges.push([start, end]);
  }
  const clock = clockOf(location);
  if (clock === null) return null;
  if (ranges.length === 0) return Infinity;
  const parts = Object.fromEntries(clock.formatToParts(nowMs).map((part) => [part.type, part.value]));
  const now = Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second) + (nowMs % 1000) / 1000;
  for (const [start, end] of ranges) {
    const until = start > end ? end + DAY_SECONDS : end;
    if (start < now && until > now) return nowMs + Math.round((until - now) * 1000);
  }
  return null;
}

function subjectPermission(value: unknown): SubjectPermission | null {
  if (value === null || typeof value !== 'object') return null;
  const { allow, deny } = value as { allow?: unknown; deny?: unknown };
  const list = (v: unknown): string[] | null => (Array.isArray(v) && v.length > 0 ? v.filter((s): s is string => typeof s === 'string') : null);
  const perm = { allow: list(allow), deny: list(deny) };
  return perm.allow === null && perm.deny === null ? null : perm;
}

/** The permissions a user JWT carries (`pub`, `sub`, `resp`), null when it restricts nothing. */
export function userPermissions(claims: JwtClaims): Permissions | null {
  const nats = claims.nats ?? {};
  const publish = subjectPermission(nats.pub);
  const subscribe = subjectPermission(nats.sub);
  const resp = nats.resp as { max?: number; ttl?: number } | undefined;
  const response = resp !== undefined && resp !== null ? { maxMsgs: resp.max ?? 1, expires: Math.round((resp.ttl ?? 0) / 1e6) } : null;
  if (publish === null && subscribe === null && response === null) return null;
  const perms: Permissions = { publish, subscribe, response };
  if (response !== null) {
    perms.publish ??= { allow: null, deny: null };
    perms.publish.allow ??= [];
  }
  return perms;
}
