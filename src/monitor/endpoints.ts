/**
 * The monitoring endpoints' bodies, with nats-server's field names, types and units
 * (server/monitor.go): durations in nanoseconds, times in RFC 3339, uptime as `1d2h3m4s`.
 * Figures are summed over the workers' snapshots; `/workerz` shows them per worker.
 */
import os from 'node:os';
import type { ServerInfo } from '../protocol/encoder.js';
import type { ServerOptions } from '../server/options.js';
import type { SublistStats } from '../sublist/sublist.js';
import { MAX_CLOSED_CONNECTIONS, type ConnectionSnapshot, type StatsQuery, type SubscriptionSnapshot, type WorkerSnapshot } from '../worker/stats.js';
import { GLOBAL_ACCOUNT } from '../auth/authenticator.js';
import { decodeJwt } from '../auth/jwt.js';
import { formatDuration, formatTime, formatUptime, nanoseconds } from './format.js';

/** What the endpoints read from the running server. */
export interface MonitorContext {
  serverId: string;
  info: ServerInfo;
  /** The live options object: a reload shows at once. */
  options: ServerOptions;
  startedAt: number;
  configLoadTime: number;
  workers: number;
  httpHost: string;
  httpPort: number;
  /** Asks every worker for a snapshot. */
  query(query: StatsQuery): Promise<WorkerSnapshot[]>;
}

/** A request the endpoint refuses, answered 400 with this text, as nats-server does. */
export class BadRequest extends Error {}

const DEFAULT_LIMIT = 1024;

/** Account names by id: $G, then the `accounts` block's (operator mode: the preloaded accounts' keys). */
function accountNames(options: ServerOptions): string[] {
  const others = options.operator !== null ? Object.keys(options.operator.preload) : options.accounts.map((account) => account.name);
  return [GLOBAL_ACCOUNT, ...others];
}

/** An integer query option, read and refused as nats-server's decodeInt (`cid`: decodeUint64) does. */
function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const text = params.get(name);
  if (text === null || text === '') return fallback;
  const unsigned = name === 'cid';
  if (!(unsigned ? /^\d+$/ : /^[+-]?\d+$/).test(text)) {
    const [kind, parser] = unsigned ? ['uint64', 'ParseUint'] : ['int', 'Atoi'];
    throw new BadRequest(`Error decoding ${kind} for '${name}': strconv.${parser}: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text);
}

/** nats-server reads boolean query flags with strconv.ParseBool semantics; `subs=detail` is its own value. */
function boolParam(params: URLSearchParams, name: string): boolean {
  const text = params.get(name);
  if (text === null || text === '') return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw new BadRequest(`Error decoding boolean for '${name}': strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}

function sum(snapshots: readonly WorkerSnapshot[], pick: (s: WorkerSnapshot) => number): number {
  let total = 0;
  for (const s of snapshots) total += pick(s);
  return total;
}

/**
 * Sublist figures summed as nats-server adds its accounts' (SublistStats.add): counts added, the
 * largest fanout, hit rate and average fanout over all matches and cached results.
 */
function sumSublistStats(list: readonly SublistStats[]): SublistStats {
  let cache = 0;
  let fanoutTotal = 0;
  let maxFanout = 0;
  let matches = 0;
  let hits = 0;
  for (const stats of list) {
    cache += stats.num_cache;
    fanoutTotal += stats.avg_fanout * stats.num_cache;
    maxFanout = Math.max(maxFanout, stats.max_fanout);
    matches += stats.num_matches;
    hits += stats.cache_hit_rate * stats.num_matches;
  }
  const total = (pick: (stats: SublistStats) => number): number => list.reduce((n, stats) => n + pick(stats), 0);
  return {
    num_subscriptions: total((stats) => stats.num_subscriptions),
    num_cache: cache,
    num_inserts: total((stats) => stats.num_inserts),
    num_removes: total((stats) => stats.num_removes),
    num_matches: matches,
    cache_hit_rate: matches > 0 ? hits / matches : 0,
    max_fanout: maxFanout,
    avg_fanout: cache > 0 ? fanoutTotal / cache : 0,
  };
}

/** One account's sublist figures over all workers, or every account's (`account` null). */
function sublistStats(snapshots: readonly WorkerSnapshot[], account: number | null = null): SublistStats {
  const list: SublistStats[] = [];
  for (const { sublists } of snapshots) {
    sublists.forEach((stats, id) => {
      if (stats !== null && (account === null || id === account)) list.push(stats);
    });
  }
  return sumSublistStats(list);
}

/** CPU use of the whole process (all threads) since the previous /varz, in percent of one core. */
class CpuGauge {
  private lastUsage = process.cpuUsage();
  private lastAt = performance.now();

  read(): number {
    const now = performance.now();
    const usage = process.cpuUsage();
    const usedMicros = usage.user - this.lastUsage.user + (usage.system - this.lastUsage.system);
    const elapsedMicros = (now - this.lastAt) * 1000;
    this.lastUsage = usage;
    this.lastAt = now;
    return elapsedMicros > 0 ? Math.round((usedMicros / elapsedMicros) * 1000) / 10 : 0;
  }
}

const cpu = new CpuGauge();

export function varz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[], httpRequests: Record<string, number>): object {
  const o = ctx.options;
  const now = Date.now();
  return {
    server_id: ctx.serverId,
    server_name: ctx.info.server_name,
    version: ctx.info.version,
    proto: ctx.info.proto,
    go: ctx.info.go ?? `node${process.version}`,
    host: o.host,
    port: ctx.info.port,
    ...(o.tls === null ? {} : { tls_required: true }),
    ...(o.tls?.verify || o.tls?.verifyAndMap ? { tls_verify: true } : {}),
    max_connections: o.maxConnections,
    ping_interval: nanoseconds(o.pingInterval),
    ping_max: o.maxPingsOut,
    http_host: ctx.httpHost,
    http_port: ctx.httpPort,
    http_base_path: '',
    https_port: 0,
    auth_timeout: 2,
    max_control_line: o.maxControlLine,
    max_payload: o.maxPayload,
    max_pending: o.maxPending,
    cluster: {},
    gateway: {},
    leaf: {},
    mqtt: {},
    websocket: o.websocket === null ? {} : { host: o.websocket.host || o.host, port: o.websocket.port, ...(o.websocket.tls === null ? { no_tls: true } : {}), ...(o.websocket.compression ? { compression: true } : {}) },
    jetstream: {},
    tls_timeout: (o.tls?.timeout ?? 2000) / 1000,
    write_deadline: nanoseconds(o.writeDeadline),
    start: formatTime(ctx.startedAt),
    now: formatTime(now),
    uptime: formatUptime(now - ctx.startedAt),
    mem: process.memoryUsage().rss,
    cores: os.cpus().length,
    gomaxprocs: ctx.workers,
    cpu: cpu.read(),
    connections: sum(snapshots, (s) => s.stats.connections),
    total_connections: sum(snapshots, (s) => s.stats.totalConnections),
    routes: 0,
    remotes: 0,
    leafnodes: 0,
    in_msgs: sum(snapshots, (s) => s.stats.msgsIn),
    out_msgs: sum(snapshots, (s) => s.stats.msgsOut),
    in_bytes: sum(snapshots, (s) => s.stats.bytesIn),
    out_bytes: sum(snapshots, (s) => s.stats.bytesOut),
    slow_consumers: sum(snapshots, (s) => s.stats.slowConsumers),
    subscriptions: sum(snapshots, (s) => s.subscriptionCount),
    http_req_stats: httpRequests,
    config_load_time: formatTime(ctx.configLoadTime),
    workers: ctx.workers,
  };
}

type ConnState = 'open' | 'closed' | 'any';

/** Sort keys of /connz and how they order (nats-server's ConnInfos sorters). */
const SORTS: Record<string, (a: ConnectionSnapshot, b: ConnectionSnapshot) => number> = {
  cid: (a, b) => a.cid - b.cid,
  start: (a, b) => a.start - b.start || a.cid - b.cid,
  subs: (a, b) => b.subscriptions - a.subscriptions,
  pending: (a, b) => b.pendingBytes - a.pendingBytes,
  msgs_to: (a, b) => b.outMsgs - a.outMsgs,
  msgs_from: (a, b) => b.inMsgs - a.inMsgs,
  bytes_to: (a, b) => b.outBytes - a.outBytes,
  bytes_from: (a, b) => b.inBytes - a.inBytes,
  last: (a, b) => b.lastActivity - a.lastActivity,
  idle: (a, b) => a.lastActivity - b.lastActivity,
  uptime: (a, b) => a.start - b.start,
  stop: (a, b) => (b.stop ?? 0) - (a.stop ?? 0),
  reason: (a, b) => (a.reason ?? '').localeCompare(b.reason ?? ''),
  rtt: (a, b) => b.rttMs - a.rttMs,
};

/** The query part of /connz that workers must know, to send only what is needed. */
export function connzQuery(params: URLSearchParams): StatsQuery {
  const state = parseState(params);
  const subs = params.get('subs');
  return {
    connections: state !== 'closed',
    closed: state !== 'open',
    cid: intParam(params, 'cid', 0),
    subs: subs === 'detail' || (subs !== null && subs !== '' && boolParam(params, 'subs')),
    subscriptions: false,
    auth: boolParam(params, 'auth'),
    accounts: false,
  };
}

function parseState(params: URLSearchParams): ConnState {
  const state = params.get('state') ?? 'open';
  switch (state.toLowerCase()) {
    case '':
    case 'open':
      return 'open';
    case 'closed':
      return 'closed';
    case 'any':
    case 'all':
      return 'any';
  }
  throw new BadRequest(`Error decoding state for ${state}`);
}

function connectionJson(c: ConnectionSnapshot, now: number, subs: 'none' | 'list' | 'detail', auth: boolean, accounts: readonly string[]): object {
  const end = c.stop ?? now;
  const info: Record<string, unknown> = {
    cid: c.cid,
    kind: 'Client',
    type: c.transport.type,
    ip: c.ip,
    port: c.port,
    start: formatTime(c.start),
    last_activity: formatTime(c.lastActivity),
  };
  if (c.stop !== null) {
    info.stop = formatTime(c.stop);
    info.reason = c.reason;
  }
  info.rtt = formatDuration(c.rttMs);
  info.uptime = formatUptime(end - c.start);
  info.idle = formatUptime(end - c.lastActivity);
  info.pending_bytes = c.pendingBytes;
  info.in_msgs = c.inMsgs;
  info.out_msgs = c.outMsgs;
  info.in_bytes = c.inBytes;
  info.out_bytes = c.outBytes;
  info.subscriptions = c.subscriptions;
  if (c.name !== '') info.name = c.name;
  if (c.lang !== '') info.lang = c.lang;
  if (c.version !== '') info.version = c.version;
  if (c.transport.tlsVersion !== '') {
    info.tls_version = c.transport.tlsVersion;
    info.tls_cipher_suite = c.transport.tlsCipherSuite;
  }
  // With auth=1 nats-server shows who the client is: certificates, user, account (not $G), key.
  if (auth) {
    if (c.tlsPeerCerts !== null && c.tlsPeerCerts.length > 0) info.tls_peer_certs = c.tlsPeerCerts;
    if (c.authorizedUser !== '') info.authorized_user = c.authorizedUser;
    if (c.account !== 0) info.account = accounts[c.account];
  }
  const list = c.subs ?? [];
  if (subs === 'list' && list.length > 0) info.subscriptions_list = list.map((s) => s.subject);
  if (subs === 'detail' && list.length > 0) info.subscriptions_list_detail = list.map(subscriptionDetail);
  const key = c.keyUser;
  // A closed connection keeps only its user and account.
  if (auth && key !== null && c.stop === null) {
    if (key.jwt !== '') info.jwt = key.jwt;
    info.issuer_key = key.issuerKey;
    if (key.nameTag !== '') info.name_tag = key.nameTag;
    if (key.tags.length > 0) info.tags = key.tags;
  }
  return info;
}

function subscriptionDetail(s: SubscriptionSnapshot): object {
  const detail: Record<string, unknown> = { subject: s.subject };
  if (s.qgroup !== null) detail.qgroup = s.qgroup;
  detail.sid = s.sid;
  detail.msgs = s.msgs;
  detail.cid = s.cid;
  return detail;
}

export function connz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[], params: URLSearchParams): object {
  const state = parseState(params);
  const sortName = params.get('sort') || 'cid';
  const sorter = SORTS[sortName];
  if (sorter === undefined) throw new BadRequest(`invalid sorting option: ${sortName}`);
  if ((sortName === 'stop' || sortName === 'reason') && state === 'open') {
    throw new BadRequest(`sort by ${sortName} only valid on closed connections`);
  }
  const subsText = params.get('subs');
  const subs = subsText === 'detail' ? 'detail' : boolParam(params, 'subs') ? 'list' : 'none';
  const auth = boolParam(params, 'auth');
  let offset = Math.max(0, intParam(params, 'offset', 0));
  let limit = intParam(params, 'limit', DEFAULT_LIMIT);
  if (limit <= 0) limit = DEFAULT_LIMIT;
  const cid = intParam(params, 'cid', 0);
  if (cid > 0) limit = 1;
  const now = Date.now();
  // nats-server 2.9 filters by `user` and `acc` with or without auth=1.
  const user = params.get('user') ?? '';
  const accounts = accountNames(ctx.options);
  const accountName = params.get('acc') ?? '';
  const account = accountName === '' ? null : accounts.indexOf(accountName);
  if (account === -1) {
    // nats-server returns before it fills in its id or any connection.
    return { server_id: '', now: formatTime(now), num_connections: 0, total: 0, offset, limit, connections: null };
  }

  let open: ConnectionSnapshot[] = [];
  let closed: ConnectionSnapshot[] = [];
  for (const s of snapshots) {
    open = open.concat(s.connections);
    closed = closed.concat(s.closed);
  }
  // The newest MAX_CLOSED_CONNECTIONS over all workers, as one ring would keep.
  if (closed.length > MAX_CLOSED_CONNECTIONS) {
    closed.sort((a, b) => (b.stop ?? 0) - (a.stop ?? 0));
    closed.length = MAX_CLOSED_CONNECTIONS;
  }
  if (account !== null) {
    open = open.filter((c) => c.account === account);
    closed = closed.filter((c) => c.account === account);
  }
  let selected = state === 'open' ? open : state === 'closed' ? closed : open.concat(closed);
  // The total counts the (account's) connections before the cid and user filters; for one cid the
  // workers sent just that connection, and their counts.
  const total = cid > 0 ? connectionTotal(snapshots, state, account) : selected.length;
  if (cid > 0) {
    // nats-server answers one connection by id, with limit 1 and the overall total; with
    // state=any it looks among the closed ones only (2.9.10).
    selected = (state === 'any' ? closed : selected).filter((c) => c.cid === cid);
    offset = 0;
  }
  if (user !== '') selected = selected.filter((c) => c.authorizedUser === user);
  selected.sort(sorter);
  const page = selected.slice(offset, offset + limit);
  return {
    server_id: ctx.serverId,
    now: formatTime(now),
    num_connections: page.length,
    total,
    offset,
    limit,
    connections: page.map((c) => connectionJson(c, now, subs, auth, accounts)),
  };
}

/**
 * /connz's total from the workers' counts: open connections, and the closed ones the newest
 * MAX_CLOSED_CONNECTIONS would hold (with an account filter, that account's, capped the same way).
 */
function connectionTotal(snapshots: readonly WorkerSnapshot[], state: ConnState, account: number | null): number {
  const count = (counts: number[]): number => (account === null ? counts.reduce((n, c) => n + c, 0) : (counts[account] ?? 0));
  const open = snapshots.reduce((n, s) => n + count(s.accountConnections), 0);
  const closed = Math.min(MAX_CLOSED_CONNECTIONS, snapshots.reduce((n, s) => n + count(s.closedAccounts), 0));
  return state === 'open' ? open : state === 'closed' ? closed : open + closed;
}

/** Does a subscription's subject (with wildcards) match a literal test subject? */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

export function subszQuery(params: URLSearchParams): StatsQuery {
  const wantList = boolParam(params, 'subs') || (params.get('test') ?? '') !== '';
  return { connections: false, closed: false, cid: 0, subs: false, subscriptions: wantList, auth: false, accounts: false };
}

/** Sublist figures over every account, or the account of `acc` (nothing for an unknown one), as nats-server. */
export function subsz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[], params: URLSearchParams): object {
  const accounts = accountNames(ctx.options);
  const accountName = params.get('acc') ?? '';
  const account = accountName === '' ? null : accounts.indexOf(accountName);
  const stats = account === -1 ? sumSublistStats([]) : sublistStats(snapshots, account);
  const test = params.get('test') ?? '';
  const wantList = boolParam(params, 'subs') || test !== '';
  // Without a list nats-server answers with the sublist figures alone.
  if (!wantList) return stats;
  const offset = Math.max(0, intParam(params, 'offset', 0));
  let limit = intParam(params, 'limit', DEFAULT_LIMIT);
  if (limit <= 0) limit = DEFAULT_LIMIT;
  if (test !== '' && (test.includes('*') || test.includes('>') || test.split('.').includes(''))) {
    throw new BadRequest(`invalid test subject, must be valid publish subject: ${test}`);
  }
  let all: SubscriptionSnapshot[] = [];
  for (const s of snapshots) all = all.concat(s.subscriptions);
  if (account !== null) all = all.filter((sub) => sub.account === account);
  if (test !== '') all = all.filter((sub) => subjectMatches(sub.subject, test));
  all.sort((a, b) => a.account - b.account || a.cid - b.cid || a.sid.localeCompare(b.sid, undefined, { numeric: true }));
  const page = all.slice(offset, offset + limit);
  return {
    server_id: ctx.serverId,
    now: formatTime(Date.now()),
    ...stats,
    // nats-server's total is the length of the page.
    total: page.length,
    offset,
    limit,
    subscriptions_list: page.map((sub) => ({ account: accounts[sub.account], ...subscriptionDetail(sub) })),
  };
}

/** What /accountz asks of the workers: their connections per account. */
export const ACCOUNTZ_QUERY: StatsQuery = { connections: false, closed: false, cid: 0, subs: false, subscriptions: false, auth: false, accounts: true };

/**
 * Every account, or one account's detail: connections and sublist over all workers, its exports
 * and imports with nats-server's names, and in operator mode what its JWT says.
 */
export function accountz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[], params: URLSearchParams): object {
  const accounts = accountNames(ctx.options);
  const name = params.get('acc') ?? '';
  // No system account: nats-server leaves system_account out when it has none.
  const base = { server_id: ctx.serverId, now: formatTime(Date.now()) };
  if (name === '') return { ...base, accounts: [...accounts.slice(1), GLOBAL_ACCOUNT] };
  const id = accounts.indexOf(name);
  if (id === -1) throw new BadRequest(`Account ${name} does not exist`);
  const stats = sublistStats(snapshots, id);
  return {
    ...base,
    account_detail: {
      account_name: name,
      update_time: formatTime(ctx.startedAt),
      expired: false,
      complete: true,
      jetstream_enabled: false,
      leafnode_connections: 0,
      client_connections: sum(snapshots, (s) => s.accountConnections[id] ?? 0),
      subscriptions: stats.num_subscriptions,
      ...accountRoutesJson(ctx.options, name),
      ...accountJwtJson(ctx.options, name),
      sublist_stats: stats,
    },
  };
}

const RESPONSE_TYPES = { singleton: 'Singleton', stream: 'Streamed', chunked: 'Chunked' } as const;

/** `exports` (services, then streams) and `imports` (streams, then services) as nats-server lists them. */
function accountRoutesJson(options: ServerOptions, name: string): object {
  const account = options.accounts.find((a) => a.name === name);
  if (account === undefined) return {};
  const approved = (accounts: string[] | null): object => (accounts === null || accounts.length === 0 ? {} : { approved_accounts: accounts });
  const exports = [
    ...account.exports
      .filter((e) => e.kind === 'service')
      .map((e) => ({ subject: e.subject, type: 'service', response_type: RESPONSE_TYPES[e.responseType ?? 'singleton'], ...approved(e.accounts) })),
    ...account.exports.filter((e) => e.kind === 'stream').map((e) => ({ subject: e.subject, type: 'stream', ...approved(e.accounts) })),
  ];
  const flags = { invalid: false, share: false, tracking: false };
  const imports = [
    ...account.imports.map((i) => ({
      subject: i.subject,
      account: i.account,
      local_subject: i.to !== '' ? i.to : i.prefix !== '' ? `${i.prefix}.${i.subject}` : i.subject,
      type: 'stream',
      ...flags,
    })),
    ...account.serviceImports.map((i) => ({ subject: i.to !== '' ? i.to : i.subject, account: i.account, to: i.subject, type: 'service', ...flags })),
  ];
  return { ...(exports.length > 0 ? { exports } : {}), ...(imports.length > 0 ? { imports } : {}) };
}

/** Operator mode: the account JWT, who issued it, its name and tags, and its revoked users. */
function accountJwtJson(options: ServerOptions, name: string): object {
  const token = options.operator?.preload[name];
  const jwt = token === undefined ? null : decodeJwt(token);
  if (jwt === null) return {};
  const nats = jwt.claims.nats ?? {};
  const tags = Array.isArray(nats.tags) ? nats.tags : [];
  const revocations = Object.entries((nats.revocations ?? {}) as Record<string, number>);
  return {
    jwt: token,
    issuer_key: jwt.claims.iss,
    ...(jwt.claims.name ? { name_tag: jwt.claims.name } : {}),
    ...(tags.length > 0 ? { tags } : {}),
    ...(revocations.length > 0 ? { revoked_user: Object.fromEntries(revocations.map(([user, at]) => [user, formatTime(at * 1000)])) } : {}),
  };
}

/** The global account's figures (nats-server /accstatz); `unused=1` is moot with one account in use. */
export function accstatz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[]): object {
  const connections = sum(snapshots, (s) => s.stats.connections);
  return {
    server_id: ctx.serverId,
    now: formatTime(Date.now()),
    account_statz: [
      {
        acc: GLOBAL_ACCOUNT,
        conns: connections,
        leafnodes: 0,
        total_conns: connections,
        sent: { msgs: sum(snapshots, (s) => s.stats.msgsOut), bytes: sum(snapshots, (s) => s.stats.bytesOut) },
        received: { msgs: sum(snapshots, (s) => s.stats.msgsIn), bytes: sum(snapshots, (s) => s.stats.bytesIn) },
        slow_consumers: sum(snapshots, (s) => s.stats.slowConsumers),
      },
    ],
  };
}

/**
 * What nats-server answers for features that are off: no routes, gateways, leaf nodes or
 * JetStream. Tools that poll them (prometheus-nats-exporter) keep working.
 */
export function featureOff(ctx: MonitorContext, path: '/routez' | '/gatewayz' | '/leafz' | '/jsz'): object {
  const base = { server_id: ctx.serverId, now: formatTime(Date.now()) };
  switch (path) {
    case '/routez':
      return { ...base, num_routes: 0, routes: [] };
    case '/gatewayz':
      return { ...base, outbound_gateways: {}, inbound_gateways: {} };
    case '/leafz':
      return { ...base, leafnodes: 0, leafs: null };
    case '/jsz':
      return {
        ...base,
        disabled: true,
        config: { max_memory: 0, max_storage: 0 },
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: { total: 0, errors: 0 },
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
      };
  }
}

/** Natrium's own: each worker's share of the load. */
export function workerz(ctx: MonitorContext, snapshots: readonly WorkerSnapshot[]): object {
  return {
    server_id: ctx.serverId,
    now: formatTime(Date.now()),
    num_workers: ctx.workers,
    workers: snapshots.map((s) => ({
      worker: s.worker,
      connections: s.stats.connections,
      total_connections: s.stats.totalConnections,
      subscriptions: s.subscriptionCount,
      in_msgs: s.stats.msgsIn,
      out_msgs: s.stats.msgsOut,
      in_bytes: s.stats.bytesIn,
      out_bytes: s.stats.bytesOut,
      slow_consumers: s.stats.slowConsumers,
      heap_used: s.heapUsed,
      heap_total: s.heapTotal,
      array_buffers: s.arrayBuffers,
      // Nanoseconds, over the last complete window (window_end is null until the first one closed).
      event_loop_delay: {
        window: nanoseconds(s.eventLoopDelay.windowMs),
        window_end: s.eventLoopDelay.windowEnd === 0 ? null : formatTime(s.eventLoopDelay.windowEnd),
        mean: s.eventLoopDelay.mean,
        p50: s.eventLoopDelay.p50,
        p99: s.eventLoopDelay.p99,
        max: s.eventLoopDelay.max,
      },
      // Cross-worker figures: forwards, drops, ring occupancy (ShardMesh.snapshot).
      interconnect: s.interconnect,
    })),
  };
}
