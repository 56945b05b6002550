/**
 * What a worker tells the main thread for the monitoring endpoints: its counters, its open
 * connections, its subscriptions, and a bounded ring of the connections it closed (nats-server keeps
 * the last 10,000 for /connz?state=closed). Built only when asked, never on the message path.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SublistStats } from '../sublist/sublist.js';
import type { KeyUserInfo } from '../auth/authenticator.js';
import type { Client, CloseReason } from './client.js';
import type { PendingHandshake, Shard, ShardStats } from './shard.js';
import { describePeerCertificates, describeTransport, type TlsPeerCert, type TransportDescription } from '../transport/describe.js';

/** nats-server DEFAULT_MAX_CLOSED_CLIENTS; each worker keeps as many, the main thread keeps the newest. */
export const MAX_CLOSED_CONNECTIONS = 10_000;

export interface SubscriptionSnapshot {
  subject: string;
  qgroup: string | null;
  sid: string;
  msgs: number;
  cid: number;
  /** Account id (0 = $G). */
  account: number;
}

export interface ConnectionSnapshot {
  cid: number;
  worker: number;
  /** nats or websocket, and the TLS version and cipher suite when encrypted. */
  transport: TransportDescription;
  ip: string;
  port: number;
  /** Epoch milliseconds. */
  start: number;
  lastActivity: number;
  /** Round trip of the last server PING, ms (0: none answered yet). */
  rttMs: number;
  /** Set for closed connections. */
  stop: number | null;
  reason: CloseReason | null;
  pendingBytes: number;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  subscriptions: number;
  name: string;
  lang: string;
  version: string;
  /** nats-server's getRawAuthUser: the NKey, user name, JWT user key or token; '' for none. */
  authorizedUser: string;
  /** Account id (0 = $G). */
  account: number;
  /** An NKey or JWT user: what /connz shows of it with auth=1. */
  keyUser: KeyUserInfo | null;
  /** The client's certificates, only when asked for (connz auth=1) and for open connections. */
  tlsPeerCerts: TlsPeerCert[] | null;
  /** Only when asked for (connz subs=1 / subs=detail). */
  subs: SubscriptionSnapshot[] | null;
}


export interface StatsQuery {
  /** Open connections; with their subscriptions when `subs`. */
  connections: boolean;
  closed: boolean;
  /**
   * Only the connection with this id, open or closed, and the counts /connz's total needs
   * (`accountConnections`, `closedAccounts`): a lookup by id does not copy every connection. 0: all.
   */
  cid: number;
  subs: boolean;
  /** Every subscription (subsz subs=1). */
  subscriptions: boolean;
  /** Open connections with their certificates (connz auth=1). */
  auth: boolean;
  /** Open connections per account (accountz). */
  accounts: boolean;
}

/** Cross-worker figures (ShardMesh.snapshot): forwards, drops, ring occupancy. */
export interface InterconnectSnapshot {
  [figure: string]: number;
}

/** Event-loop delay of one worker over its last complete window, in nanoseconds (perf_hooks). */
export interface EventLoopDelaySnapshot {
  windowMs: number;
  /** Epoch milliseconds when the window closed; 0 while the first one is still open. */
  windowEnd: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export const EVENT_LOOP_WINDOW_MS = 10_000;

/**
 * Samples how late the worker's event loop runs timers; a busy or blocked shard shows here before
 * its clients notice. Figures are per fixed window so that any number of pollers see the same ones.
 */
class EventLoopDelayMeter {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private last: EventLoopDelaySnapshot = { windowMs: EVENT_LOOP_WINDOW_MS, windowEnd: 0, mean: 0, p50: 0, p99: 0, max: 0 };

  constructor() {
    this.histogram.enable();
    setInterval(() => this.closeWindow(), EVENT_LOOP_WINDOW_MS).unref();
  }

  private closeWindow(): void {
    const h = this.histogram;
    this.last = { windowMs: EVENT_LOOP_WINDOW_MS, windowEnd: Date.now(), mean: Math.round(h.mean) || 0, p50: h.percentile(50), p99: h.percentile(99), max: h.max };
    h.reset();
  }

  snapshot(): EventLoopDelaySnapshot {
    return this.last;
  }
}

export interface WorkerSnapshot {
  worker: number;
  stats: ShardStats;
  eventLoopDelay: EventLoopDelaySnapshot;
  /** V8 heap in use by this worker's isolate, bytes. */
  heapUsed: number;
  /** V8 heap the isolate has committed (in use or not), bytes: what its share of RSS follows. */
  heapTotal: number;
  /** Bytes of ArrayBuffers (socket buffers included) this worker holds, outside the V8 heap. */
  arrayBuffers: number;
  subscriptionCount: number;
  /** Sublist figures by account id; null where this worker has no index for the account. */
  sublists: (SublistStats | null)[];
  /** Open connections by account id (when asked for, and with a `cid`). */
  accountConnections: number[];
  /** Connections in the closed ring by account id (closed ones asked for with a `cid`). */
  closedAccounts: number[];
  connections: ConnectionSnapshot[];
  closed: ConnectionSnapshot[];
  subscriptions: SubscriptionSnapshot[];
  interconnect: InterconnectSnapshot;
}

function subscriptionsOf(client: Client): SubscriptionSnapshot[] {
  const list: SubscriptionSnapshot[] = [];
  for (const sub of client.subs.values()) {
    list.push({ subject: sub.subject, qgroup: sub.queue, sid: sub.sid, msgs: sub.delivered, cid: client.id, account: client.account });
  }
  return list;
}

/**
 * Last activity per client, sampled: a client whose message counters moved since the previous
 * look was active at most now. Tracking it exactly would cost a clock read per socket read.
 */
class ActivitySampler {
  private readonly seen = new WeakMap<Client, { count: number; at: number }>();

  lastActivity(client: Client, now: number): number {
    const count = client.msgsIn + client.msgsOut;
    const previous = this.seen.get(client);
    if (previous === undefined) {
      const at = count === 0 ? client.startedAt : now;
      this.seen.set(client, { count, at });
      return at;
    }
    if (previous.count !== count) {
      previous.count = count;
      previous.at = now;
    }
    return previous.at;
  }
}

function workerMemory(): { heapUsed: number; heapTotal: number; arrayBuffers: number } {
  const { heapUsed, heapTotal, arrayBuffers } = process.memoryUsage();
  return { heapUsed, heapTotal, arrayBuffers };
}

export class WorkerStats {
  private readonly closedRing: ConnectionSnapshot[] = [];
  private closedNext = 0;
  private readonly activity = new ActivitySampler();
  private readonly eventLoop = new EventLoopDelayMeter();

  constructor(
    private readonly shard: Shard,
    private readonly worker: number,
  ) {}

  private snapshot(client: Client, now: number, withSubs: boolean, withCerts: boolean): ConnectionSnapshot {
    const socket = client.socket;
    return {
      cid: client.id,
      worker: this.worker,
      transport: describeTransport(socket),
      ip: client.peer.ip,
      port: client.peer.port,
      start: client.startedAt,
      lastActivity: this.activity.lastActivity(client, now),
      rttMs: client.rttMs,
      stop: null,
      reason: null,
      pendingBytes: client.outbound.length + (socket.destroyed ? 0 : socket.writableLength),
      inMsgs: client.msgsIn,
      outMsgs: client.msgsOut,
      inBytes: client.bytesIn,
      outBytes: client.bytesOut,
      subscriptions: client.subs.size,
      name: client.name,
      lang: client.lang,
      version: client.version,
      authorizedUser: client.authorizedUser,
      account: client.account,
      keyUser: client.keyUser,
      tlsPeerCerts: withCerts ? describePeerCertificates(socket) : null,
      subs: withSubs ? subscriptionsOf(client) : null,
    };
  }

  /** A TLS client still in its handshake: nats-server lists it with nothing known yet. */
  private handshakeSnapshot(handshake: PendingHandshake): ConnectionSnapshot {
    return {
      cid: handshake.clientId,
      worker: this.worker,
      transport: { type: 'nats', tlsVersion: '', tlsCipherSuite: '' },
      ip: handshake.peer.ip,
      port: handshake.peer.port,
      start: handshake.startedAt,
      lastActivity: handshake.startedAt,
      rttMs: 0,
      stop: null,
      reason: null,
      pendingBytes: 0,
      inMsgs: 0,
      outMsgs: 0,
      inBytes: 0,
      outBytes: 0,
      subscriptions: 0,
      name: '',
      lang: '',
      version: '',
      authorizedUser: '',
      account: 0,
      keyUser: null,
      tlsPeerCerts: null,
      subs: null,
    };
  }

  /** Called as a client leaves the shard: its final figures go into the closed ring. */
  recordClosed(client: Client, reason: CloseReason): void {
    this.keepClosed(this.snapshot(client, Date.now(), true, false), reason);
  }

  /** A TLS handshake that failed or timed out: nats-server keeps it as `TLS Handshake Failure`. */
  recordHandshakeFailure(handshake: PendingHandshake): void {
    this.keepClosed(this.handshakeSnapshot(handshake), 'TLS Handshake Failure');
  }

  private keepClosed(entry: ConnectionSnapshot, reason: CloseReason): void {
    entry.stop = Date.now();
    entry.reason = reason;
    entry.pendingBytes = 0;
    if (this.closedRing.length < MAX_CLOSED_CONNECTIONS) this.closedRing.push(entry);
    else this.closedRing[this.closedNext] = entry;
    this.closedNext = (this.closedNext + 1) % MAX_CLOSED_CONNECTIONS;
  }

  collect(query: StatsQuery, interconnect: InterconnectSnapshot = {}): WorkerSnapshot {
    const now = Date.now();
    const shard = this.shard;
    const connections: ConnectionSnapshot[] = [];
    const subscriptions: SubscriptionSnapshot[] = [];
    const accountConnections: number[] = [];
    const wanted = (cid: number): boolean => query.connections && (query.cid === 0 || cid === query.cid);
    const countAccounts = query.accounts || query.cid > 0;
    if (query.connections || query.subscriptions || countAccounts) {
      for (const client of shard.clients) {
        if (wanted(client.id)) connections.push(this.snapshot(client, now, query.subs, query.auth));
        if (query.subscriptions) subscriptions.push(...subscriptionsOf(client));
        if (countAccounts) accountConnections[client.account] = (accountConnections[client.account] ?? 0) + 1;
      }
      for (const handshake of shard.handshakes) {
        if (wanted(handshake.clientId)) connections.push(this.handshakeSnapshot(handshake));
        // Until it authenticates, a client is in the global account.
        if (countAccounts) accountConnections[0] = (accountConnections[0] ?? 0) + 1;
      }
    }
    const closedAccounts: number[] = [];
    if (query.closed && query.cid > 0) for (const entry of this.closedRing) closedAccounts[entry.account] = (closedAccounts[entry.account] ?? 0) + 1;
    return {
      worker: this.worker,
      stats: { ...shard.stats },
      eventLoopDelay: this.eventLoop.snapshot(),
      ...workerMemory(),
      subscriptionCount: shard.subscriptionCount,
      sublists: shard.sublistStats(),
      accountConnections: Array.from(accountConnections, (count) => count ?? 0),
      closedAccounts: Array.from(closedAccounts, (count) => count ?? 0),
      connections,
      closed: !query.closed ? [] : query.cid > 0 ? this.closedRing.filter((entry) => entry.cid === query.cid) : this.closedRing.slice(),
      subscriptions,
      interconnect,
    };
  }
}
