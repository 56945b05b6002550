/**
 * Authentication and authorization settings, as plain data (they travel to the workers with the
 * other options). Names and meanings follow nats-server's `authorization` block (server/opts.go).
 */

/** `allow`/`deny` subject lists; null = the list was not given (an empty list is not the same). */
export interface SubjectPermission {
  allow: string[] | null;
  deny: string[] | null;
}

/** `allow_responses`: a client may publish to reply subjects of messages it received. */
export interface ResponsePermission {
  /** Replies allowed per received request; <= 0 = unlimited. nats-server default 1. */
  maxMsgs: number;
  /** Milliseconds a reply subject stays usable; <= 0 = forever. nats-server default 2 minutes. */
  expires: number;
}

export interface Permissions {
  publish: SubjectPermission | null;
  subscribe: SubjectPermission | null;
  response: ResponsePermission | null;
}

/** One entry of `users`: a user with a password (plain or bcrypt), or an NKey user. */
export interface UserConfig {
  user: string;
  password: string;
  /** Public NKey ('U...'); set for NKey users, which have no user or password. */
  nkey: string;
  permissions: Permissions | null;
}

export interface AuthorizationOptions {
  /** `token` (plain or bcrypt); '' = none. */
  token: string;
  /** The single `user`/`password`; '' = none. */
  user: string;
  password: string;
  users: UserConfig[];
}

/** `exports` entry: a stream or service other accounts may import, optionally only some accounts. */
export interface ExportConfig {
  kind: 'stream' | 'service';
  subject: string;
  /** Account names allowed to import; null = every account. */
  accounts: string[] | null;
  /** Services: how many responses a request may get (`response_type`); default singleton, one. */
  responseType?: ServiceResponseType;
  /** Services: how long responses may come (`response_threshold`), milliseconds; default 2 minutes. */
  responseThresholdMs?: number;
}

export type ServiceResponseType = 'singleton' | 'stream' | 'chunked';

/** `imports` entry for a stream: messages of `account` on `subject` arrive here renamed. */
export interface StreamImportConfig {
  account: string;
  subject: string;
  /** Delivered as `<prefix>.<subject>`; '' = no prefix. */
  prefix: string;
  /** Delivered as this literal subject instead; '' = unchanged. */
  to: string;
}

/**
 * `imports` entry for a service: requests published here on `to` (or `subject`) go to `account`
 * on `subject`, with a reply subject that brings the responses back.
 */
export interface ServiceImportConfig {
  account: string;
  subject: string;
  /** Literal local subject of the service; '' = the same as `subject`. */
  to: string;
}

/** One account of the `accounts` block: its own subject space, its users, exports and imports. */
export interface AccountConfig {
  name: string;
  users: UserConfig[];
  exports: ExportConfig[];
  imports: StreamImportConfig[];
  serviceImports: ServiceImportConfig[];
}

/** Operator mode (`operator`, `resolver: MEMORY`, `resolver_preload`): JWTs as text. */
export interface OperatorOptions {
  /** Trusted operator JWTs. */
  jwts: string[];
  /** Account public key → account JWT. */
  preload: Record<string, string>;
}

export const DEFAULT_RESPONSE_PERMISSION: ResponsePermission = { maxMsgs: 1, expires: 2 * 60_000 };
/** nats-server AUTH_TIMEOUT. */
export const DEFAULT_AUTH_TIMEOUT_MS = 2_000;

export function emptyAuthorization(): AuthorizationOptions {
  return { token: '', user: '', password: '', users: [] };
}

/** True when these settings make clients authenticate. */
export function authRequired(auth: AuthorizationOptions | null, accounts: readonly AccountConfig[] = []): boolean {
  if (accounts.some((account) => account.users.length > 0)) return true;
  return auth !== null && (auth.token !== '' || auth.user !== '' || auth.users.length > 0);
}
