/**
 * The `authorization` block and `no_auth_user` of a nats-server config file, read with
 * nats-server's rules and error texts (server/opts.go: parseAuthorization, parseUsers,
 * parseUserPermissions).
 */
import type { ConfEntry, ConfMap, ConfValue } from '../config/conf-parser.js';
import { parseDuration } from '../config/units.js';
import { isValidSubject, subjectIsLiteral } from '../sublist/subject.js';
import type { ServerOptions } from '../server/options.js';
import { readFileSync } from 'node:fs';
import { OperatorTrust } from './jwt.js';
import { decodePublicUserKey } from './nkey.js';
import { authorizingExport } from './imports.js';
import {
  DEFAULT_RESPONSE_PERMISSION,
  emptyAuthorization,
  type AccountConfig,
  type AuthorizationOptions,
  type ExportConfig,
  type OperatorOptions,
  type StreamImportConfig,
  type Permissions,
  type ResponsePermission,
  type ServiceResponseType,
  type SubjectPermission,
  type UserConfig,
} from './options.js';

/** Reports a problem at an entry's place (file:line:column). */
export type ProblemSink = (entry: ConfEntry, message: string) => void;

export interface AuthorizationBlock {
  authorization: AuthorizationOptions;
  /** `timeout` in milliseconds, when given. */
  timeoutMs: number | undefined;
}

function isMap(value: ConfValue): value is ConfMap {
  return value instanceof Map;
}

function text(entry: ConfEntry, key: string, problem: ProblemSink): string {
  if (typeof entry.value === 'string') return entry.value;
  if (typeof entry.value === 'number') return String(entry.value);
  problem(entry, `"${key}" expects a string`);
  return '';
}

export function readAuthorization(entry: ConfEntry, problem: ProblemSink): AuthorizationBlock | undefined {
  if (!isMap(entry.value)) {
    problem(entry, `Expected authorization to be a map, got ${typeof entry.value}`);
    return undefined;
  }
  const auth = emptyAuthorization();
  let timeoutMs: number | undefined;
  let defaults: Permissions | null = null;
  let usersEntry: ConfEntry | null = null;
  for (const [rawKey, item] of entry.value) {
    const key = rawKey.toLowerCase();
    switch (key) {
      case 'user':
      case 'username':
        auth.user = text(item, key, problem);
        break;
      case 'pass':
      case 'password':
        auth.password = text(item, key, problem);
        break;
      case 'token':
        auth.token = text(item, key, problem);
        break;
      case 'timeout':
        // Seconds, integer or float; nats-server takes anything else as 1 second.
        timeoutMs = typeof item.value === 'number' ? item.value * 1000 : 1000;
        break;
      case 'users':
        usersEntry = item;
        auth.users = readUsers(item, problem);
        break;
      case 'default_permission':
      case 'default_permissions':
      case 'permissions':
        defaults = readPermissions(item, problem);
        break;
      default:
        if (!item.usedAsVariable) problem(item, `unknown field "${rawKey}"`);
    }
  }
  if (usersEntry !== null) {
    if (auth.user !== '') problem(entry, 'Can not have a single user/pass and a users array');
    if (auth.token !== '') problem(entry, 'Can not have a token and a users array');
  }
  if (defaults !== null) for (const user of auth.users) user.permissions ??= defaults;
  return { authorization: auth, timeoutMs };
}

/**
 * The `accounts` block: a map of account names to { users, exports, imports }. Each account is a
 * subject space of its own; stream and service exports and imports connect them.
 */
export function readAccounts(entry: ConfEntry, problem: ProblemSink): AccountConfig[] {
  if (!isMap(entry.value)) {
    problem(entry, `Expected accounts to be a map, got ${typeof entry.value}`);
    return [];
  }
  const accounts: AccountConfig[] = [];
  const seenUsers = new Set<string>();
  for (const [name, item] of entry.value) {
    const account: AccountConfig = { name, users: [], exports: [], imports: [], serviceImports: [] };
    accounts.push(account);
    if (name === '$G') {
      problem(item, '"$G" is a Reserved Account');
      continue;
    }
    if (!isMap(item.value)) {
      problem(item, `Expected account "${name}" to be a map, got ${typeof item.value}`);
      continue;
    }
    for (const [rawKey, field] of item.value) {
      const key = rawKey.toLowerCase();
      if (key === 'users') account.users = readUsers(field, problem);
      else if (key === 'exports') account.exports = readExports(field, problem);
      else if (key === 'imports') readImports(field, account, problem);
      else if (field.usedAsVariable) continue;
      else if (ACCOUNT_KEYS_NOT_YET_SUPPORTED.has(key)) problem(field, `"${rawKey}" is not supported by natrium yet`);
      else problem(field, `unknown field "${rawKey}"`);
    }
    for (const user of account.users) {
      const id = user.nkey !== '' ? user.nkey : user.user;
      if (seenUsers.has(id)) problem(item, `Duplicate user ${JSON.stringify(id)} detected`);
      seenUsers.add(id);
    }
  }
  checkImports(entry, accounts, problem);
  return accounts;
}

/** Each import names a defined account that exports what it imports to it (nats-server's texts). */
function checkImports(entry: ConfEntry, accounts: readonly AccountConfig[], problem: ProblemSink): void {
  const byName = new Map(accounts.map((account) => [account.name, account]));
  const check = (importer: AccountConfig, kind: 'stream' | 'service', imported: { account: string; subject: string }): void => {
    const source = byName.get(imported.account);
    if (source === undefined) {
      problem(entry, `"${imported.account}" account not defined for ${kind} import`);
      return;
    }
    if (authorizingExport(source, kind, importer.name, imported.subject) === undefined) problem(entry, `Error adding ${kind} import "${imported.subject}": ${kind} import not authorized`);
  };
  for (const importer of accounts) {
    for (const imported of importer.imports) check(importer, 'stream', imported);
    for (const imported of importer.serviceImports) check(importer, 'service', imported);
  }
}

function readExports(entry: ConfEntry, problem: ProblemSink): ExportConfig[] {
  if (!Array.isArray(entry.value)) {
    problem(entry, `Exports should be an array, got ${typeof entry.value}`);
    return [];
  }
  const exports: ExportConfig[] = [];
  for (const value of entry.value) {
    if (!isMap(value)) {
      problem(entry, `Export Items should be a map with type entry, got ${typeof value}`);
      continue;
    }
    const exported: ExportConfig = { kind: 'stream', subject: '', accounts: null };
    /** Response keys, checked once the kind is known (nats-server: only services take them). */
    const responseKeys: ConfEntry[] = [];
    for (const [rawKey, item] of value) {
      const key = rawKey.toLowerCase();
      if (key === 'stream' || key === 'service') {
        exported.kind = key;
        exported.subject = text(item, rawKey, problem);
        if (!isValidSubject(exported.subject)) problem(item, `Export subject ${JSON.stringify(exported.subject)} is not valid`);
      } else if (key === 'accounts') {
        exported.accounts = Array.isArray(item.value) ? item.value.map(String) : [String(item.value)];
      } else if (RESPONSE_TYPE_KEYS.has(key)) {
        if (exported.responseType !== undefined) problem(item, 'Duplicate response type definition');
        exported.responseType = readResponseType(item, problem);
        responseKeys.push(item);
      } else if (RESPONSE_THRESHOLD_KEYS.has(key)) {
        if (exported.responseThresholdMs !== undefined) problem(item, 'Duplicate response threshold detected');
        exported.responseThresholdMs = readResponseThreshold(item, problem);
        responseKeys.push(item);
      } else if (!item.usedAsVariable) {
        // `latency` among them: its reports go to a system account, which natrium does not have.
        problem(item, `"${rawKey}" is not supported by natrium yet`);
      }
    }
    if (exported.subject === '') problem(entry, 'Export requires a stream or service subject');
    if (exported.kind === 'stream') for (const item of responseKeys) problem(item, 'Detected response directive on non-service');
    exports.push(exported);
  }
  return exports;
}

const RESPONSE_TYPE_KEYS = new Set(['response', 'response_type']);
const RESPONSE_THRESHOLD_KEYS = new Set(['threshold', 'response_threshold', 'response_max_time', 'response_time']);

function readResponseType(item: ConfEntry, problem: ProblemSink): ServiceResponseType {
  if (typeof item.value !== 'string') {
    problem(item, `Expected response type to be string, got ${goTypeName(item.value)}`);
    return 'singleton';
  }
  switch (item.value.toLowerCase()) {
    case 'single':
    case 'singleton':
      return 'singleton';
    case 'stream':
      return 'stream';
    case 'chunk':
    case 'chunked':
      return 'chunked';
    default:
      problem(item, `Unknown response type: ${JSON.stringify(item.value)}`);
      return 'singleton';
  }
}

/** A Go duration ("30s", "2m", "1m30s"); a bare number other than 0 is not one. */
function readResponseThreshold(item: ConfEntry, problem: ProblemSink): number {
  const value = item.value;
  if (typeof value === 'string' && (value.trim() === '0' || !/^\s*[\d.]+\s*$/.test(value))) {
    try {
      return parseDuration(value);
    } catch {
      // reported below
    }
  }
  problem(item, `Expected response threshold to be a parseable time duration, got ${typeof value === 'string' ? JSON.stringify(value) : goTypeName(value)}`);
  return 0;
}

/** The Go type nats-server names in its messages for a config value. */
function goTypeName(value: ConfValue): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return '[]interface {}';
  return isMap(value) ? 'map[string]interface {}' : 'string';
}

function readImports(entry: ConfEntry, account: AccountConfig, problem: ProblemSink): void {
  if (!Array.isArray(entry.value)) {
    problem(entry, `Imports should be an array, got ${typeof entry.value}`);
    return;
  }
  for (const value of entry.value) {
    if (!isMap(value)) {
      problem(entry, `Import Items should be a map with type entry, got ${typeof value}`);
      continue;
    }
    const imported: StreamImportConfig = { account: '', subject: '', prefix: '', to: '' };
    let kind: 'stream' | 'service' | null = null;
    for (const [rawKey, item] of value) {
      const key = rawKey.toLowerCase();
      if ((key === 'stream' || key === 'service') && isMap(item.value)) {
        kind = key;
        for (const [sourceKey, source] of item.value) {
          if (sourceKey.toLowerCase() === 'account') imported.account = text(source, sourceKey, problem);
          else if (sourceKey.toLowerCase() === 'subject') imported.subject = text(source, sourceKey, problem);
          else if (!source.usedAsVariable) problem(source, `Unknown field ${JSON.stringify(sourceKey)} parsing import service or stream`);
        }
      } else if (key === 'prefix') {
        imported.prefix = text(item, rawKey, problem);
      } else if (key === 'to') {
        imported.to = text(item, rawKey, problem);
      } else if (key === 'share') {
        // `share: true` hands the exporter the requester's details (user, host, start, ...) in Nats-Request-Info.
        if (typeof item.value !== 'boolean') problem(item, `Expected share to be a boolean, got ${goTypeName(item.value)}`);
        else if (item.value) problem(item, '"share: true" is not supported by natrium yet');
      } else if (!item.usedAsVariable) {
        problem(item, `Unknown field ${JSON.stringify(rawKey)} parsing import service or stream`);
      }
    }
    if (kind === null) {
      problem(entry, 'Import requires a stream or service');
      continue;
    }
    if (imported.account === '' || imported.subject === '') {
      problem(entry, 'Expect an account name and a subject');
      continue;
    }
    if (!isValidSubject(imported.subject)) problem(entry, `Import subject ${JSON.stringify(imported.subject)} is not valid`);
    if (imported.to !== '' && (imported.prefix !== '' || !subjectIsLiteral(imported.subject) || !subjectIsLiteral(imported.to))) {
      problem(entry, `natrium supports "to" on a ${kind} import only with a literal subject and no prefix`);
    }
    if (kind === 'stream') {
      account.imports.push(imported);
    } else {
      if (imported.prefix !== '') problem(entry, 'a service import takes "to", not "prefix"');
      account.serviceImports.push({ account: imported.account, subject: imported.subject, to: imported.to });
    }
  }
}

/** Keys of an account nats-server 2.9 knows and Natrium does not support yet. */
const ACCOUNT_KEYS_NOT_YET_SUPPORTED = new Set([
  'nkey',
  'jetstream',
  'limits',
  'mappings',
  'maps',
  'default_permissions',
  'max_connections',
  'max_subscriptions',
  'max_payload',
  'max_leafnodes',
]);

function readUsers(entry: ConfEntry, problem: ProblemSink): UserConfig[] {
  if (!Array.isArray(entry.value)) {
    problem(entry, `Expected users field to be an array, got ${typeof entry.value}`);
    return [];
  }
  const users: UserConfig[] = [];
  for (const value of entry.value) {
    if (!isMap(value)) {
      problem(entry, `Expected user entry to be a map/struct, got ${String(value)}`);
      continue;
    }
    const user: UserConfig = { user: '', password: '', nkey: '', permissions: null };
    let place = entry;
    for (const [rawKey, item] of value) {
      place = item;
      switch (rawKey.toLowerCase()) {
        case 'nkey':
          user.nkey = text(item, rawKey, problem);
          break;
        case 'user':
        case 'username':
          user.user = text(item, rawKey, problem);
          break;
        case 'pass':
        case 'password':
          user.password = text(item, rawKey, problem);
          break;
        case 'permission':
        case 'permissions':
        case 'authorization':
          user.permissions = readPermissions(item, problem);
          break;
        case 'allowed_connection_types':
          problem(item, `"${rawKey}" is not supported by natrium yet`);
          break;
        default:
          if (!item.usedAsVariable) problem(item, `unknown field "${rawKey}"`);
      }
    }
    if (user.nkey === '' && user.user === '') {
      problem(place, 'User entry requires a user');
    } else if (user.nkey !== '') {
      if (decodePublicUserKey(user.nkey) === null) problem(place, 'Not a valid public nkey for a user');
      else if (user.user !== '' || user.password !== '') problem(place, 'Nkey users do not take usernames or passwords');
    }
    users.push(user);
  }
  return users;
}

function readPermissions(entry: ConfEntry, problem: ProblemSink): Permissions | null {
  if (!isMap(entry.value)) {
    problem(entry, `Expected permissions to be a map/struct, got ${String(entry.value)}`);
    return null;
  }
  const perms: Permissions = { publish: null, subscribe: null, response: null };
  for (const [rawKey, item] of entry.value) {
    switch (rawKey.toLowerCase()) {
      case 'pub':
      case 'publish':
      case 'import':
        perms.publish = readSubjectPermission(item, problem);
        break;
      case 'sub':
      case 'subscribe':
      case 'export':
        perms.subscribe = readSubjectPermission(item, problem);
        break;
      case 'publish_allow_responses':
      case 'allow_responses':
        perms.response = readResponsePermission(item, problem);
        break;
      default:
        if (!item.usedAsVariable) problem(item, `Unknown field "${rawKey}" parsing permissions`);
    }
  }
  // Responses alone turn off the blanket publish permission, as in nats-server.
  if (perms.response !== null) {
    perms.publish ??= { allow: null, deny: null };
    perms.publish.allow ??= [];
  }
  return perms;
}

function readSubjectPermission(entry: ConfEntry, problem: ProblemSink): SubjectPermission | null {
  if (!isMap(entry.value)) return { allow: readSubjects(entry, problem), deny: null };
  if (entry.value.size === 0) return null;
  const perm: SubjectPermission = { allow: null, deny: null };
  for (const [rawKey, item] of entry.value) {
    switch (rawKey.toLowerCase()) {
      case 'allow':
        perm.allow = readSubjects(item, problem);
        break;
      case 'deny':
        perm.deny = readSubjects(item, problem);
        break;
      default:
        if (!item.usedAsVariable) {
          problem(item, `Unknown field name "${rawKey}" parsing subject permissions, only 'allow' or 'deny' are permitted`);
        }
    }
  }
  return perm;
}

/** A subject, or a subject and a queue name ("foo.* workers"), as permissions allow them. */
export function isValidPermissionSubject(subject: string): boolean {
  if (isValidSubject(subject)) return true;
  const fields = subject.trim().split(/\s+/);
  return fields.length === 2 && isValidSubject(fields[0]) && isValidSubject(fields[1]);
}

function readSubjects(entry: ConfEntry, problem: ProblemSink): string[] {
  const value = entry.value;
  let subjects: string[];
  if (typeof value === 'string') {
    subjects = [value];
  } else if (Array.isArray(value)) {
    subjects = [];
    for (const item of value) {
      if (typeof item !== 'string') {
        problem(entry, 'Subject in permissions array cannot be cast to string');
        return [];
      }
      subjects.push(item);
    }
  } else {
    problem(entry, `Expected subject permissions to be a subject, or array of subjects, got ${typeof value}`);
    return [];
  }
  for (const subject of subjects) {
    if (!isValidPermissionSubject(subject)) {
      problem(entry, `subject ${JSON.stringify(subject)} is not a valid subject`);
      return [];
    }
  }
  return subjects;
}

function readResponsePermission(entry: ConfEntry, problem: ProblemSink): ResponsePermission | null {
  const value = entry.value;
  if (typeof value === 'boolean') return value ? { ...DEFAULT_RESPONSE_PERMISSION } : null;
  if (!isMap(value)) {
    problem(entry, 'error parsing response permissions, expected a boolean or a map');
    return null;
  }
  const perm = { ...DEFAULT_RESPONSE_PERMISSION };
  for (const [rawKey, item] of value) {
    switch (rawKey.toLowerCase()) {
      case 'max':
      case 'max_msgs':
      case 'max_messages':
      case 'max_responses':
        // 0 keeps the default; a negative value means unlimited.
        if (typeof item.value !== 'number' || !Number.isInteger(item.value)) problem(item, `"${rawKey}" expects an integer`);
        else if (item.value !== 0) perm.maxMsgs = item.value;
        break;
      case 'expires':
      case 'expiration':
      case 'ttl': {
        if (typeof item.value !== 'string') {
          problem(item, 'error parsing expires, not a duration string');
          return null;
        }
        let ms: number;
        try {
          ms = item.value.trim().startsWith('-') ? -1 : parseDuration(item.value);
        } catch {
          problem(item, `error parsing expires: time: invalid duration ${JSON.stringify(item.value)}`);
          return null;
        }
        if (ms !== 0) perm.expires = ms;
        break;
      }
      default:
        if (!item.usedAsVariable) problem(item, `Unknown field "${rawKey}" parsing permissions`);
    }
  }
  return perm;
}

/**
 * What nats-server checks when it starts (and reloads): `no_auth_user` names a user of `users`, and
 * a single user or token (also from --user/--auth) does not come with a users list. Throws.
 */
export function assertAuthConsistent(options: Pick<ServerOptions, 'authorization' | 'noAuthUser'> & Partial<Pick<ServerOptions, 'accounts'>>): void {
  const auth = options.authorization;
  const noAuthUser = options.noAuthUser;
  if (auth !== null && auth.users.length > 0) {
    if (auth.user !== '') throw new Error('Can not have a single user/pass and a users array');
    if (auth.token !== '') throw new Error('Can not have a token and a users array');
  }
  const users = [...(auth?.users ?? []), ...(options.accounts ?? []).flatMap((account) => account.users)];
  const names = new Set<string>();
  for (const user of users) {
    const name = user.nkey !== '' ? user.nkey : user.user;
    if (names.has(name)) throw new Error(`Duplicate user ${JSON.stringify(name)} detected`);
    names.add(name);
  }
  if (noAuthUser === '') return;
  if (users.length === 0) throw new Error(`no_auth_user: "${noAuthUser}" present, but users are not defined`);
  if (!users.some((user) => user.user === noAuthUser)) {
    throw new Error(`no_auth_user: "${noAuthUser}" not present as user in authorization block or account configuration`);
  }
}

/**
 * `operator` (a JWT, or the file holding it; a list of them), `resolver` (only MEMORY) and
 * `resolver_preload` (account public key → account JWT), merged into `current`.
 */
export function readOperatorKey(key: string, entry: ConfEntry, current: OperatorOptions | null | undefined, problem: ProblemSink): OperatorOptions {
  const operator: OperatorOptions = current ?? { jwts: [], preload: {} };
  if (key === 'operator') {
    const values = Array.isArray(entry.value) ? entry.value : [entry.value];
    for (const value of values) {
      if (typeof value !== 'string') {
        problem(entry, 'operator expects a JWT or the name of a file holding one');
        continue;
      }
      if (value.trim().startsWith('eyJ')) {
        operator.jwts.push(value.trim());
        continue;
      }
      try {
        operator.jwts.push(readFileSync(value, 'utf8').trim());
      } catch (error) {
        problem(entry, `error parsing operator JWT: ${(error as Error).message}`);
      }
    }
  } else if (key === 'resolver') {
    if (typeof entry.value !== 'string' || entry.value.toUpperCase() !== 'MEMORY') {
      problem(entry, 'only "resolver: MEMORY" is supported by natrium yet');
    }
  } else if (isMap(entry.value)) {
    for (const [name, item] of entry.value) {
      if (typeof item.value === 'string') operator.preload[name] = item.value.trim();
      else problem(item, `resolver_preload: the JWT of ${name} must be a string`);
    }
  } else {
    problem(entry, 'resolver_preload expects a map of account public keys to account JWTs');
  }
  return operator;
}

/** Operator mode, checked as nats-server checks it when it starts: throws what is wrong. */
export function assertOperatorConsistent(options: Pick<ServerOptions, 'operator' | 'authorization' | 'accounts'>): void {
  const operator = options.operator;
  if (operator === null) return;
  if (operator.jwts.length === 0) throw new Error('resolver_preload needs an operator');
  if (options.authorization !== null || options.accounts.length > 0) {
    throw new Error('operator mode does not combine with "authorization" or "accounts" in natrium');
  }
  new OperatorTrust(operator.jwts, operator.preload);
}
