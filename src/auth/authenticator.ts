/**
 * Who may connect: checks the credentials of a CONNECT in nats-server's order (server/auth.go,
 * processClientOrLeafAuthentication): an NKey user when the client names an NKey, else a user of
 * the `users` list (or `no_auth_user` for a client without credentials), else the token, else the
 * single user/password. bcrypt hashes and NKey signatures are checked in a thread pool; plain
 * secrets are compared in constant time on the spot.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import type { ServerOptions } from '../server/options.js';
import { decodePublicUserKey } from './nkey.js';
import { authRequired, type AccountConfig, type AuthorizationOptions, type OperatorOptions, type UserConfig } from './options.js';
import { decodeJwt, minLimit, OperatorTrust, userPermissions, userRestrictions, type Peer } from './jwt.js';
import { CompiledPermissions } from './permissions.js';
import { VerifierPool } from './verifier-pool.js';
import { dnEqual, domainComponents, goSubjectString, parseDn, rdnsMatch, subjectDn, type DistinguishedName } from './distinguished-name.js';
import type { CertificateFields } from '../transport/x509.js';

/** A client that passed authentication: its user name (or NKey) and permissions. */
export interface Identity {
  readonly name: string;
  readonly permissions: CompiledPermissions | null;
  /** Account id: 0 = $G (users of `authorization`), i + 1 = the i-th account of `accounts`. */
  readonly account: number;
  /** Epoch milliseconds when the credentials expire (user JWT `exp`, end of its `times` window); 0 = never. */
  readonly expiresAt: number;
  /** Operator mode: what the user and account JWTs limit; null otherwise. */
  readonly jwtLimits: JwtLimits | null;
  /**
   * What the credentials were checked against (method, user and configured secret): a reload that
   * leaves it unchanged need not compare the same credentials again ('' = nothing to compare).
   */
  readonly proof: string;
  /** How the user was found: the CONNECT's credentials, `no_auth_user`, or the client certificate (verify_and_map). */
  readonly foundBy: 'credentials' | 'no_auth_user' | 'certificate';
  /** An NKey or JWT user: what /connz shows of it with auth=1; null for others. */
  readonly keyUser: KeyUserInfo | null;
}

/** /connz `jwt`, `issuer_key`, `name_tag` and `tags` (nats-server shows them for NKey and JWT users). */
export interface KeyUserInfo {
  /** The user JWT; '' for an NKey user of the configuration. */
  readonly jwt: string;
  /** The signing key that issued the JWT, else the account (its name, or its key in operator mode). */
  readonly issuerKey: string;
  readonly nameTag: string;
  readonly tags: readonly string[];
}

/** A user JWT's limits combined with its account's (nats-server's applyAccountLimits); NO_LIMIT = none. */
export interface JwtLimits {
  readonly maxSubscriptions: number;
  readonly maxPayload: number;
  /** The account's `limits.conn`, counted over all workers. */
  readonly accountMaxConnections: number;
  /** Epoch milliseconds when the account JWT expires; 0 = never. */
  readonly accountExpiresAt: number;
}

/** Where a reload leaves a connected client: its (new) identity, or closed, as nats-server decides. */
export type Reauthorization =
  | { readonly verdict: 'authorized'; readonly identity: Identity }
  /** Its user or NKey is no longer configured (or moved account): closed without a word. */
  | { readonly verdict: 'removed' }
  /** Its credentials no longer pass: -ERR 'Authorization Violation'. */
  | { readonly verdict: 'refused' };

const REMOVED: Reauthorization = { verdict: 'removed' };
const REFUSED: Reauthorization = { verdict: 'refused' };
/** Who a client is when authentication is off. */
export const ANONYMOUS: Identity = { name: '', permissions: null, account: 0, expiresAt: 0, jwtLimits: null, proof: '', foundBy: 'credentials', keyUser: null };

/** The CONNECT fields that carry credentials (nats-server's JSON names). */
export interface Credentials {
  user?: unknown;
  pass?: unknown;
  auth_token?: unknown;
  nkey?: unknown;
  sig?: unknown;
  jwt?: unknown;
}

interface KnownUser {
  readonly config: UserConfig;
  readonly identity: Identity;
  /** Raw Ed25519 key, for NKey users. */
  readonly publicKey: Buffer | null;
}

/** The global account, of the `authorization` block's users. */
export const GLOBAL_ACCOUNT = '$G';

const BCRYPT_PREFIX = /^\$2[abxy]\$\d{2}\$/;
/** nats-server's nonce: 11 random bytes, base64url without padding (15 characters). */
const NONCE_BYTES = 11;
/**
 * Nonces are derived from the client id with a secret of this thread, so the INFO (which a
 * transport may send before the connection reaches the shard) and the check agree without state.
 */
const NONCE_SECRET = randomBytes(32);

export function isBcrypt(secret: string): boolean {
  return BCRYPT_PREFIX.test(secret);
}

function plainEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export type AuthResult = Identity | null | Promise<Identity | null>;

export class Authenticator {
  readonly required: boolean;
  /** NKey users exist: every client gets a nonce to sign. */
  readonly nonceRequired: boolean;
  readonly timeoutMs: number;
  private readonly users = new Map<string, KnownUser>();
  /** Users whose name reads as a DN, for verify_and_map (config order). */
  private readonly distinguishedUsers: { dn: DistinguishedName; known: KnownUser }[] = [];
  private readonly nkeys = new Map<string, KnownUser>();
  private readonly single: Identity;
  private readonly noAuthUser: KnownUser | null;
  /** The `no_auth_user`'s identity, marked as such; null when there is none. */
  private readonly noAuthIdentity: Identity | null;
  /** Operator mode: the trusted operator and preloaded accounts; null otherwise. */
  private readonly trust: OperatorTrust | null;

  constructor(
    readonly auth: AuthorizationOptions | null,
    noAuthUser: string,
    timeoutMs: number,
    private readonly pool: VerifierPool,
    /** tls verify_and_map: with `users`, the client certificate names the user. */
    readonly tlsMap = false,
    accounts: readonly AccountConfig[] = [],
    operator: OperatorOptions | null = null,
  ) {
    this.trust = operator === null ? null : new OperatorTrust(operator.jwts, operator.preload);
    this.required = this.trust !== null || authRequired(auth, accounts);
    this.timeoutMs = timeoutMs;
    const addUsers = (users: readonly UserConfig[], account: number, accountName: string): void => {
      for (const config of users) {
        const identity: Identity = {
          name: config.nkey !== '' ? config.nkey : config.user,
          permissions: config.permissions === null ? null : new CompiledPermissions(config.permissions),
          account,
          expiresAt: 0,
          jwtLimits: null,
          proof: config.nkey !== '' ? `nkey\0${config.nkey}` : `user\0${config.user}\0${config.password}`,
          foundBy: 'credentials',
          keyUser: config.nkey === '' ? null : { jwt: '', issuerKey: accountName, nameTag: '', tags: [] },
        };
        if (config.nkey !== '') this.nkeys.set(config.nkey, { config, identity, publicKey: decodePublicUserKey(config.nkey) });
        else this.users.set(config.user, { config, identity, publicKey: null });
      }
    };
    addUsers(auth?.users ?? [], 0, GLOBAL_ACCOUNT);
    accounts.forEach((account, i) => addUsers(account.users, i + 1, account.name));
    if (tlsMap) {
      for (const [name, known] of this.users) {
        const dn = parseDn(name);
        if (dn !== null) this.distinguishedUsers.push({ dn, known });
      }
    }
    this.nonceRequired = this.nkeys.size > 0 || this.trust !== null;
    const proof = auth === null ? '' : auth.token !== '' ? `token\0${auth.token}` : `single\0${auth.user}\0${auth.password}`;
    this.single = { name: auth?.user ?? '', permissions: null, account: 0, expiresAt: 0, jwtLimits: null, proof, foundBy: 'credentials', keyUser: null };
    this.noAuthUser = noAuthUser === '' ? null : (this.users.get(noAuthUser) ?? null);
    this.noAuthIdentity = this.noAuthUser === null ? null : { ...this.noAuthUser.identity, foundBy: 'no_auth_user' };
  }

  /** The nonce of connection `clientId` ('' when no NKey user needs one). */
  nonceFor(clientId: number): string {
    if (!this.nonceRequired) return '';
    return createHmac('sha256', NONCE_SECRET).update(String(clientId)).digest().subarray(0, NONCE_BYTES).toString('base64url');
  }

  /** The `no_auth_user`, for a client that sends no credentials (or no CONNECT at all). */
  get defaultIdentity(): Identity | null {
    return this.required ? this.noAuthIdentity : ANONYMOUS;
  }

  /**
   * The identity these credentials prove, or null; a promise when a pool thread must check them.
   * `peer` is where the client connects from; `certificate` is the verified client certificate,
   * for verify_and_map. `proven` is an earlier identity of the same credentials: a secret it was
   * already checked against is not compared again.
   */
  authenticate(credentials: Credentials, nonce: string, peer: Peer, certificate: CertificateFields | null = null, proven: Identity | null = null): AuthResult {
    if (!this.required) return ANONYMOUS;
    if (this.trust !== null) return this.authenticateJwt(credentials, nonce, peer);
    const nkey = str(credentials.nkey);
    const user = str(credentials.user);
    const pass = str(credentials.pass);
    if (this.nkeys.size > 0 && nkey !== '') {
      const known = this.nkeys.get(nkey);
      const sig = str(credentials.sig);
      if (known === undefined || known.publicKey === null || sig === '') return null;
      // The same key, nonce and signature: the verdict cannot have changed.
      if (proven?.proof === known.identity.proof) return known.identity;
      return this.verified(this.pool.verify({ kind: 'nonce-signature', publicKey: known.publicKey, nonce, signature: sig }), known.identity);
    }
    if (this.users.size > 0) {
      if (this.tlsMap) {
        // The CONNECT user is ignored; its password still has to match the mapped user's (none
        // when the user has none).
        const mapped = this.userOfCertificate(certificate);
        return mapped === undefined ? null : this.checkSecret(mapped.config.password, pass, { ...mapped.identity, foundBy: 'certificate' }, proven);
      }
      if (user === '' && pass === '' && str(credentials.auth_token) === '' && this.noAuthUser !== null) return this.noAuthUserLogin(this.noAuthUser);
      if (user === '') return null;
      const known = this.users.get(user);
      if (known === undefined) return null;
      return this.checkSecret(known.config.password, pass, known.identity, proven);
    }
    const auth = this.auth!;
    if (auth.token !== '') return this.checkSecret(auth.token, str(credentials.auth_token), this.single, proven);
    if (auth.user !== '') return user === auth.user ? this.checkSecret(auth.password, pass, this.single, proven) : null;
    return null;
  }

  /**
   * A reload's verdict on a connected client, as nats-server's reloadAuthorization gives it: a
   * client whose CONNECT named an NKey or user that is no longer configured (or now in another
   * account) is closed; the others must pass authentication again with the credentials of their
   * CONNECT (a `no_auth_user` client as that user with its password of the time), and get the
   * permissions of the new configuration. `previous` is the identity the client has now.
   */
  reauthorize(credentials: Credentials, previous: Identity, nonce: string, peer: Peer, certificate: CertificateFields | null): Reauthorization | Promise<Reauthorization> {
    // Operator settings cannot change on a reload: a user JWT that passed still does.
    if (this.trust !== null) return { verdict: 'authorized', identity: previous };
    const nkey = str(credentials.nkey);
    const user = str(credentials.user);
    if (nkey !== '' || user !== '') {
      const known = nkey !== '' ? this.nkeys.get(nkey) : this.users.get(user);
      if (known === undefined || known.identity.account !== previous.account) return REMOVED;
    }
    const result = this.authenticate(credentials, nonce, peer, certificate, previous);
    const verdict = (identity: Identity | null): Reauthorization => {
      if (identity === null) return REFUSED;
      return identity.account === previous.account ? { verdict: 'authorized', identity } : REMOVED;
    };
    return result instanceof Promise ? result.then(verdict, () => REFUSED) : verdict(result);
  }

  /**
   * The user a client certificate names, in nats-server 2.9's order (checkClientTLSCertSubject):
   * its email, DNS and URI alternative names; a user whose name is a DN equal to the subject, then
   * one with the same RDNs in another order; the subject as Go writes it with the domain
   * components appended; the subject as Go writes it.
   */
  private userOfCertificate(certificate: CertificateFields | null): KnownUser | undefined {
    if (certificate === null) return undefined;
    const subject = certificate.subject;
    const hasSubject = subject.some((rdn) => rdn.length > 0);
    if (!hasSubject && certificate.emails.length === 0 && certificate.uris.length === 0) return undefined;
    for (const name of [...certificate.emails, ...certificate.dnsNames, ...certificate.uris]) {
      const known = this.users.get(name);
      if (known !== undefined) return known;
    }
    const dn = subjectDn(subject);
    if (dn !== null) {
      const byDn = this.distinguishedUsers.find((user) => dnEqual(user.dn, dn)) ?? this.distinguishedUsers.find((user) => rdnsMatch(user.dn, dn));
      if (byDn !== undefined) return byDn.known;
    }
    const written = goSubjectString(subject);
    const dcs = domainComponents(subject);
    const withDcs = dcs === '' ? undefined : this.users.get(`${written},${dcs}`);
    return withDcs ?? (written === '' ? undefined : this.users.get(written));
  }

  /**
   * Operator mode: a user JWT of a preloaded account, allowed from this peer at this time, and the
   * nonce signed with the user's key.
   */
  private authenticateJwt(credentials: Credentials, nonce: string, peer: Peer): AuthResult {
    const token = str(credentials.jwt);
    const jwt = token === '' ? null : decodeJwt(token);
    if (jwt === null) return null;
    const now = Date.now();
    const checked = this.trust!.checkUser(jwt, Math.floor(now / 1000));
    if (checked === null) return null;
    const restrictions = userRestrictions(checked.claims, peer, now);
    if (restrictions === null) return null;
    const bearer = checked.claims.nats?.bearer_token === true;
    const sig = str(credentials.sig);
    if (!bearer && sig === '') return null;
    const perms = userPermissions(checked.claims);
    const account = checked.account;
    const exp = typeof checked.claims.exp === 'number' && checked.claims.exp > 0 ? checked.claims.exp * 1000 : Infinity;
    const expiresAt = Math.min(exp, restrictions.windowEnd);
    const identity: Identity = {
      name: checked.claims.sub,
      permissions: perms === null ? null : new CompiledPermissions(perms),
      account: account.id,
      expiresAt: expiresAt === Infinity ? 0 : expiresAt,
      jwtLimits: {
        maxSubscriptions: minLimit(restrictions.maxSubscriptions, account.maxSubscriptions),
        maxPayload: minLimit(restrictions.maxPayload, account.maxPayload),
        accountMaxConnections: account.maxConnections,
        accountExpiresAt: account.expiresAt,
      },
      proof: '',
      foundBy: 'credentials',
      keyUser: {
        jwt: token,
        issuerKey: checked.claims.iss,
        nameTag: checked.claims.name ?? '',
        tags: Array.isArray(checked.claims.nats?.tags) ? checked.claims.nats.tags.filter((tag): tag is string => typeof tag === 'string') : [],
      },
    };
    const task = { kind: 'user-jwt', token, issuer: checked.claims.iss, userKey: checked.claims.sub, nonce, signature: sig, bearer } as const;
    return this.verified(this.pool.verify(task), identity);
  }

  /**
   * A CONNECT without credentials: nats-server compares the no_auth_user's password with itself
   * (it copies it into the client's options), so a plain password passes and a bcrypt hash, which
   * is not its own password, fails. A client that sends no CONNECT at all is never compared.
   */
  private noAuthUserLogin(known: KnownUser): Identity | null {
    return isBcrypt(known.config.password) ? null : this.noAuthIdentity;
  }

  private checkSecret(expected: string, given: string, identity: Identity, proven: Identity | null): AuthResult {
    if (proven?.proof === identity.proof) return identity;
    if (!isBcrypt(expected)) return plainEqual(expected, given) ? identity : null;
    return this.verified(this.pool.verify({ kind: 'bcrypt', hash: expected, password: given }), identity);
  }

  private async verified(check: Promise<boolean>, identity: Identity): Promise<Identity | null> {
    return (await check) ? identity : null;
  }
}

/**
 * One pool per thread: a shard's checks share it, and it starts no thread until needed. Sized so
 * that all shards' pools together have about one thread per core.
 */
let verifiers: VerifierPool | null = null;
let current: {
  auth: AuthorizationOptions | null;
  accounts: readonly AccountConfig[];
  operator: OperatorOptions | null;
  noAuthUser: string;
  timeout: number;
  tlsMap: boolean;
  authenticator: Authenticator;
} | null = null;

/**
 * The authenticator for these options, rebuilt when a reload replaced the settings (the shard then
 * re-checks its connected clients against it).
 */
export function authenticatorFor(options: ServerOptions): Authenticator {
  const c = current;
  const tlsMap = options.tls?.verifyAndMap ?? false;
  if (
    c !== null &&
    c.auth === options.authorization &&
    c.accounts === options.accounts &&
    c.operator === options.operator &&
    c.noAuthUser === options.noAuthUser &&
    c.timeout === options.authTimeout &&
    c.tlsMap === tlsMap
  ) {
    return c.authenticator;
  }
  verifiers ??= new VerifierPool(Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, options.workers))));
  const authenticator = new Authenticator(options.authorization, options.noAuthUser, options.authTimeout, verifiers, tlsMap, options.accounts, options.operator);
  current = { auth: options.authorization, accounts: options.accounts, operator: options.operator, noAuthUser: options.noAuthUser, timeout: options.authTimeout, tlsMap, authenticator };
  return authenticator;
}

/** Stops this thread's verification threads (tests, shutdown). */
export async function closeVerifiers(): Promise<void> {
  await verifiers?.close();
}
