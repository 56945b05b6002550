/**
 * Decentralized authentication (nats-server operator mode with `resolver: MEMORY`): the operator's
 * JWT is trusted, account JWTs are preloaded and must be issued by the operator (or one of its
 * signing keys), and a client presents a user JWT issued by a preloaded account (or one of the
 * account's signing keys) plus its signature of the INFO nonce. Natrium validates the whole chain
 * itself: signatures, types, expiry and not-before, revocations, bearer tokens.
 */
import { verify } from 'node:crypto';
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

export interface TrustedAccount {
  /** Account public key. */
  readonly key: string;
  /** Natrium's account id (1, 2, ... in preload order). */
  readonly id: number;
  readonly signingKeys: Set<string>;
  /** User key (or '*') → unix seconds: user JWTs issued at or before are revoked. */
  readonly revocations: Record<string, number>;
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
      for (const key of ['exports', 'imports']) {
        const list = jwt.claims.nats?.[key];
        if (Array.isArray(list) && list.length > 0) throw new Error(`resolver_preload: account ${name}: JWT ${key} are not supported by natrium yet`);
      }
      const revocations = (jwt.claims.nats?.revocations ?? {}) as Record<string, number>;
      this.accounts.set(name, { key: name, id: id++, signingKeys: signingKeys(jwt.claims), revocations });
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
    if (claims.iss !== account.key && !account.signingKeys.has(claims.iss)) return null;
    const iat = typeof claims.iat === 'number' ? claims.iat : 0;
    for (const key of [claims.sub, '*']) {
      const revokedAt = account.revocations[key];
      if (typeof revokedAt === 'number' && iat <= revokedAt) return null;
    }
    return { account, claims };
  }
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
