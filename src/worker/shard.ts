import type { Socket } from 'node:net';
import type { PeerAddress } from '../transport/accept.js';
import type { Logger } from 'pino';
import type { ServerOptions } from '../server/options.js';
import { type ServerInfo } from '../protocol/encoder.js';
import { OPS_ARRAY_LENGTH, type ParseFunction } from '../protocol/ops.js';
import { ProtocolReader } from '../protocol/reader.js';
import * as errors from '../protocol/errors.js';
import { Sublist, type SublistResult, type SublistStats } from '../sublist/sublist.js';
import { Client, Subscription, type CloseReason } from './client.js';
import { FLAG_CHECK, FLAG_NO_INTEREST, FLAG_RESPONSE, HOPS_MASK, type ShardMesh } from './mesh.js';
import type { RingRecord } from './ring.js';
import { InboundMessage, type MessageView } from './message.js';
import { FlowControl } from './flow-control.js';
import { authenticatorFor } from '../auth/authenticator.js';
import { clientInfoLine, infoHead } from '../auth/info.js';
import { AccountRoutes } from '../auth/imports.js';
import type { AccountConnections } from '../server/shared-state.js';

/** Counters of one shard, read by the main thread for monitoring. */
export interface ShardStats {
  connections: number;
  totalConnections: number;
  msgsIn: number;
  bytesIn: number;
  msgsOut: number;
  bytesOut: number;
  slowConsumers: number;
}

/**
 * A complete broker for the connections it owns: their protocol state, the local subject index
 * and delivery. Other shards are reached through the mesh; their messages arrive through
 * `deliverFromPeer`. A queue group's message goes to exactly one member across all workers: the
 * publishing shard picks the worker (weighted by members), and that worker picks the member.
 */
export class Shard {
  /** The subject index of account $G; each other account has its own (sublistOf). */
  readonly sublist = new Sublist<Subscription>();
  private readonly sublists: Sublist<Subscription>[] = [this.sublist];
  /** Stream and service imports between accounts; null when there are none. */
  private readonly accountRoutes: AccountRoutes | null;
  readonly clients = new Set<Client>();
  readonly stats: ShardStats = {
    connections: 0,
    totalConnections: 0,
    msgsIn: 0,
    bytesIn: 0,
    msgsOut: 0,
    bytesOut: 0,
    slowConsumers: 0,
  };
  /** Shared by every connection: ops are consumed synchronously within one read. */
  private readonly ops = new Int32Array(OPS_ARRAY_LENGTH);
  private readonly dirtyClients: Client[] = [];
  readonly flow: FlowControl;
  /** Requests forwarded with a no-responders check, by tag, until every peer answered. */
  private readonly pendingChecks = new Map<number, PendingCheck>();
  /** Tags of this worker are ≡ self (mod workers), so any worker can tell a tag's origin. */
  private lastCheckTag: number;
  /** The message of the PUB being handled; refilled per op, never retained. */
  readonly inbound = new InboundMessage();
  /** A ring record being delivered, in the same class as `inbound`. */
  private readonly fromPeer = new InboundMessage();
  private flushScheduled = false;
  /** Told of every connection that leaves, with nats-server's close reason (monitoring keeps them). */
  onClientClosed: ((client: Client, reason: CloseReason) => void) | null = null;
  /** TLS clients between their INFO and the end of the handshake, listed and counted as nats-server does. */
  readonly handshakes = new Set<PendingHandshake>();
  /** infoHead() of `info` for `infoHeadAuth`; null until needed again after a change. */
  private infoHead: string | null = null;
  private infoHeadAuth = false;
  /** Told of every handshake that failed (monitoring keeps it as `TLS Handshake Failure`). */
  onHandshakeFailed: ((handshake: PendingHandshake) => void) | null = null;

  constructor(
    readonly options: ServerOptions,
    private readonly parse: ParseFunction,
    private readonly info: ServerInfo,
    readonly log: Logger,
    readonly mesh: ShardMesh,
    private readonly accountConnections: AccountConnections,
  ) {
    this.lastCheckTag = mesh.self;
    this.accountRoutes = AccountRoutes.from(options.accounts, mesh.replySecret, mesh.self);
    this.flow = new FlowControl(options.maxPending / 2, () => mesh.resumeReceiving());
  }

  /** Around the processing of one read of `client`: learn new queue groups, track the reader. */
  beginRead(client: Client): void {
    this.mesh.sync();
    this.mesh.receivePending();
    this.flow.currentReader = client;
  }

  endRead(): void {
    this.flow.currentReader = null;
  }

  /** Takes a place among the `limits.conn` connections of an operator-mode account, over all workers. */
  enterAccount(account: number, maxConnections: number): boolean {
    return this.accountConnections.tryAdd(this.mesh.self, account, maxConnections);
  }

  leaveAccount(account: number): void {
    this.accountConnections.remove(this.mesh.self, account);
  }

  /** The INFO line that greets a connection. */
  infoLine(clientId: number, clientIp: string): Buffer {
    const auth = authenticatorFor(this.options);
    if (this.infoHead === null || this.infoHeadAuth !== auth.required) {
      this.infoHead = infoHead(this.info, auth.required);
      this.infoHeadAuth = auth.required;
    }
    return clientInfoLine(this.infoHead, clientId, clientIp, auth.nonceFor(clientId));
  }

  /** The server's INFO fields changed (its port, a reload): the next greeting re-encodes them. */
  infoChanged(): void {
    this.infoHead = null;
  }

  /** nats-server's INFO after the first PONG for a client whose JWTs lowered max_payload (no nonce). */
  limitedInfoLine(clientId: number, clientIp: string, maxPayload: number): Buffer {
    return clientInfoLine(infoHead({ ...this.info, max_payload: maxPayload }, true), clientId, clientIp, '');
  }

  /**
   * Takes ownership of an accepted connection and greets it with INFO (unless its transport did).
   * A TLS client comes with its finished `handshake`, under which it was already counted.
   */
  addConnection(socket: Socket, clientId: number, peer: PeerAddress, greeted = false, handshake: PendingHandshake | null = null): Client {
    const reader = new ProtocolReader(this.parse, this.ops, this.options.maxControlLine, this.options.maxPayload);
    const client = new Client(clientId, socket, peer, this, reader, handshake?.startedAt);
    this.clients.add(client);
    if (handshake === null || !this.handshakes.delete(handshake)) {
      this.stats.connections++;
      this.stats.totalConnections++;
    }
    if (!greeted) client.send(this.infoLine(clientId, peer.ip));
    return client;
  }

  /** A TLS client got its INFO and starts the handshake: nats-server counts and lists it from now on. */
  beginHandshake(socket: Socket, clientId: number, peer: PeerAddress): PendingHandshake {
    const handshake = { clientId, socket, peer, startedAt: Date.now() };
    this.handshakes.add(handshake);
    this.stats.connections++;
    this.stats.totalConnections++;
    return handshake;
  }

  handshakeFailed(handshake: PendingHandshake): void {
    if (!this.handshakes.delete(handshake)) return;
    this.stats.connections--;
    this.onHandshakeFailed?.(handshake);
  }

  /** Greets and turns away a connection over max_connections, as nats-server does. */
  rejectConnection(socket: Socket, clientId: number, peer: PeerAddress): void {
    const client = this.addConnection(socket, clientId, peer);
    client.sendErrorAndClose(errors.ERR_MAX_CONNECTIONS, 'Maximum Connections Exceeded');
  }

  removeClient(client: Client, reason: CloseReason): void {
    if (!this.clients.delete(client)) return;
    this.stats.connections--;
    this.onClientClosed?.(client, reason);
    this.log.debug({ cid: client.id, reason }, 'Client connection closed');
  }

  /** Subscriptions over all accounts. */
  get subscriptionCount(): number {
    let count = 0;
    for (const sublist of this.sublists) if (sublist !== undefined) count += sublist.count;
    return count;
  }

  /** Sublist figures by account id (null where this shard has no index for the account). */
  sublistStats(): (SublistStats | null)[] {
    return Array.from(this.sublists, (sublist) => sublist?.stats() ?? null);
  }

  /** The subject index of one account: accounts never see each other's subjects. */
  sublistOf(account: number): Sublist<Subscription> {
    let sublist = this.sublists[account];
    if (sublist === undefined) {
      sublist = new Sublist<Subscription>();
      this.sublists[account] = sublist;
    }
    return sublist;
  }

  addSubscription(sub: Subscription): void {
    this.sublistOf(sub.client.account).insert(sub);
    this.mesh.subscriptionAdded(sub);
  }

  removeSubscription(sub: Subscription): void {
    if (this.sublistOf(sub.client.account).remove(sub)) this.mesh.subscriptionRemoved(sub);
  }

  /** A publish from a local client: deliver locally, route queue groups, forward to peers. */
  publish(publisher: Client, msg: MessageView): void {
    this.stats.msgsIn++;
    this.stats.bytesIn += msg.payloadLength;
    const local = this.sublistOf(msg.account).matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength);
    const skipOwn = publisher.echo ? null : publisher;
    const delivered = this.deliverPlain(local, skipOwn, msg) + this.routeQueueGroups(local, skipOwn, msg);
    // A request nobody here took: the requester may be owed a no-responders status.
    const own = delivered === 0 && msg.replyLength > 0 && publisher.noResponders ? this.replySubscription(publisher, msg) : null;
    const checkTag = own === null ? 0 : this.nextCheckTag();
    const forwarded = this.forwardToPeers(msg, checkTag);
    // A request a service import took has its responder in the exporting account.
    const routed = this.accountRoutes === null ? 0 : this.accountRoutes.route(msg, publisher.rttMs, this.deliverImported, this.handOffResponse);
    if (own === null || routed > 0) return;
    const reply = Buffer.from(msg.bytes.subarray(msg.replyOffset, msg.replyOffset + msg.replyLength));
    if (forwarded === 0) this.sendNoResponders(own, reply);
    else this.trackCheck(checkTag, own, reply, forwarded);
  }

  /**
   * One member of each queue group the message reaches: here, or on the worker picked for it. When
   * no member here takes it (a deny filter, echo off), the next worker with members gets the group.
   */
  private routeQueueGroups(local: SublistResult<Subscription>, skipOwn: Client | null, msg: MessageView): number {
    const accountGroups = this.mesh.groupsOf(msg.account);
    if (accountGroups.count === 0) return 0;
    let delivered = 0;
    const groups = accountGroups.matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength).queues;
    for (let g = 0; g < groups.length; g++) {
      const entries = groups[g];
      let worker = this.mesh.pickWorker(entries);
      if (worker === this.mesh.self) {
        const done = this.deliverToQueue(local, entries[0].queue, skipOwn, msg);
        delivered += done;
        worker = done > 0 ? -1 : this.mesh.nextWorker(entries, this.mesh.self);
      }
      if (worker >= 0) this.mesh.assign(worker, entries[0].id);
    }
    return delivered;
  }

  private forwardToPeers(msg: MessageView, checkTag: number): number {
    const forwarded = this.mesh.forward(msg, 0, true, checkTag);
    if (forwarded > 0) {
      this.scheduleFlush();
      if (this.mesh.overflowed) {
        this.mesh.overflowed = false;
        this.flow.ringFull();
      }
    }
    return forwarded;
  }

  /**
   * A message an import brings into another account (a stream, a service request or its response):
   * that account's subscribers and queue groups, here and on the peers. Only the publishing worker
   * routes imports (one hop: what an import brought is not routed again).
   */
  private readonly deliverImported = (msg: MessageView): void => {
    const local = this.sublistOf(msg.account).matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength);
    this.deliverPlain(local, null, msg);
    this.routeQueueGroups(local, null, msg);
    this.forwardToPeers(msg, 0);
  };

  /** A singleton service response goes to the worker that routed its request, which lets the first through. */
  private readonly handOffResponse = (response: MessageView, worker: number, seq: number): void => {
    this.mesh.sendResponse(worker, response, seq);
    this.scheduleFlush();
  };

  /** The requester's own subscription that the reply subject reaches, if any. */
  private replySubscription(publisher: Client, msg: MessageView): Subscription | null {
    const plain = this.sublistOf(msg.account).matchBytes(msg.bytes, msg.replyOffset, msg.replyLength).plain;
    for (let i = 0; i < plain.length; i++) if (plain[i].client === publisher) return plain[i];
    return null;
  }

  private nextCheckTag(): number {
    const workers = this.mesh.workers;
    this.lastCheckTag = this.lastCheckTag > 0x7fffffff - workers ? this.mesh.self + workers : this.lastCheckTag + workers;
    return this.lastCheckTag;
  }

  private trackCheck(tag: number, own: Subscription, reply: Buffer, awaiting: number): void {
    // A check some peer answered by delivering never completes: checks expire, oldest first.
    const now = Date.now();
    for (const [oldTag, old] of this.pendingChecks) {
      if (now - old.since < CHECK_EXPIRY_MS && this.pendingChecks.size < MAX_PENDING_CHECKS) break;
      this.pendingChecks.delete(oldTag);
    }
    this.pendingChecks.set(tag, { own, reply, awaiting, since: now });
  }

  /** A peer had no one for a forwarded request: the 503 goes out once every peer said so. */
  private checkResult(record: RingRecord): void {
    const check = this.pendingChecks.get(record.tag);
    if (check === undefined || --check.awaiting > 0) return;
    this.pendingChecks.delete(record.tag);
    this.sendNoResponders(check.own, check.reply);
  }

  /**
   * A message another shard forwarded: every local plain subscriber gets it, and one local member
   * of each queue group the sender assigned here. If no local member takes it (the members left, or
   * their deny filters drop the subject), the message goes on to the next worker that has members,
   * in worker order, so that within `workers` hops every worker with members had its turn.
   */
  deliverFromPeer(record: RingRecord): void {
    if ((record.flags & FLAG_NO_INTEREST) !== 0) {
      this.checkResult(record);
      return;
    }
    if ((record.flags & FLAG_RESPONSE) !== 0) {
      if (this.accountRoutes?.claim(record.tag) === true) this.deliverImported(record);
      return;
    }
    const hops = record.flags & HOPS_MASK;
    const msg = this.fromPeer.copyFrom(record);
    const local = this.sublistOf(msg.account).matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength);
    // A re-forwarded queue message (hops > 0) is only for its group: plain subscribers here got
    // the original record already.
    let delivered = hops === 0 ? this.deliverPlain(local, null, msg) : 0;
    let reassignedTo = -1;
    let reassignedToSeveral = false;
    for (let i = 0; i < record.groupCount; i++) {
      const group = this.mesh.groupById(record.group(i));
      const done = this.deliverToQueue(local, group.queue, null, msg);
      delivered += done;
      if (done > 0 || hops >= this.mesh.workers) continue;
      const all = this.mesh.groupsOf(record.account).matchBytes(record.bytes, record.subjectOffset, record.subjectLength);
      const entries = findQueue(all, group.queue);
      const worker = entries === null ? -1 : this.mesh.nextWorker(entries, this.mesh.self);
      if (worker >= 0) {
        this.mesh.assign(worker, group.id);
        if (reassignedTo >= 0 && reassignedTo !== worker) reassignedToSeveral = true;
        reassignedTo = worker;
      }
    }
    // A request nobody here took that walks on to one worker carries the check with it: that
    // worker answers the origin (tag % workers) if it has no one either.
    const check = (record.flags & FLAG_CHECK) !== 0 && delivered === 0;
    if (reassignedTo >= 0) this.mesh.forward(record, hops + 1, false, check && !reassignedToSeveral ? record.tag : 0);
    // Only "no one here" is answered: a request that found its responder costs no extra message.
    else if (check) this.mesh.sendNoInterest(record.tag % this.mesh.workers, record.tag);
  }

  /** Every local plain subscriber; returns how many got the message (a request with none is owed a 503). */
  private deliverPlain(local: SublistResult<Subscription>, skipOwn: Client | null, msg: MessageView): number {
    let delivered = 0;
    const plain = local.plain;
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i];
      if (sub.client !== skipOwn && this.deliver(sub, msg)) delivered++;
    }
    return delivered;
  }

  /**
   * One local member of queue `name`: starting at a random one, the first that takes the message
   * (nats-server tries the next member when one's deny filter drops it). Returns 1 if one did.
   */
  private deliverToQueue(local: SublistResult<Subscription>, name: string, skipOwn: Client | null, msg: MessageView): number {
    const members = findQueue(local, name);
    if (members === null) return 0;
    const n = members.length;
    const start = (Math.random() * n) | 0;
    for (let i = 0; i < n; i++) {
      const sub = members[(start + i) % n];
      if (sub.client !== skipOwn && this.deliver(sub, msg)) return 1;
    }
    return 0;
  }

  /** False when the subscriber cannot take the message: its connection closed, or its deny filter. */
  private deliver(sub: Subscription, msg: MessageView): boolean {
    const client = sub.client;
    if (client.closed) return false;
    const perms = client.permissions;
    if (perms !== null) {
      // A wildcard subscription does not bring what the subscribe deny list names (nats-server).
      if (perms.filtersDelivery && perms.rules.deliveryDenied(msg.bytes, msg.subjectOffset, msg.subjectLength)) return false;
      if (msg.replyLength > 0) perms.noteReply(msg.bytes, msg.replyOffset, msg.replyLength);
    }
    // A subscriber that did not announce headers gets the message without them.
    client.outbound.appendMsg(msg, sub.sidBytes, client.headers);
    client.msgsOut++;
    client.bytesOut += msg.payloadLength;
    this.stats.msgsOut++;
    this.stats.bytesOut += msg.payloadLength;
    this.markDirty(client);
    // max_pending is enforced when the client is flushed (a read may add a burst meanwhile).
    if (client.pendingBytes() > this.flow.stallThreshold) this.flow.consumerOverThreshold(client);
    sub.delivered++;
    if (sub.max > 0 && sub.delivered >= sub.max) client.removeSubscription(sub);
    return true;
  }

  /** `HMSG <reply> <sid> 16 16` + `NATS/1.0 503` to the requester's own subscription on the reply subject. */
  private sendNoResponders(own: Subscription, reply: Buffer): void {
    const requester = own.client;
    if (requester.closed) return;
    requester.outbound.appendNoResponders(reply, 0, reply.length, own.sidBytes);
    this.markDirty(requester);
  }

  markDirty(client: Client): void {
    if (client.dirty) return;
    client.dirty = true;
    this.dirtyClients.push(client);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  /**
   * Once per event-loop turn: publish forwarded records, then one write per touched client. In
   * that order, a PONG never leaves before the messages its client published reach the peers.
   */
  readonly flushAll = (): void => {
    this.flushScheduled = false;
    this.mesh.commit();
    const dirty = this.dirtyClients;
    for (let i = 0; i < dirty.length; i++) dirty[i].flush();
    dirty.length = 0;
    if (this.flow.holdingForRing && !this.mesh.overflowing) this.flow.ringsDrained();
  };

  /** A reload changed the authentication settings: every connection is checked against them. */
  reauthorize(): void {
    const authenticator = authenticatorFor(this.options);
    for (const client of [...this.clients]) client.reauthorize(authenticator);
  }

  /** Closes every connection (server shutdown). */
  closeAll(): void {
    for (const client of [...this.clients]) client.close('Server Shutdown');
  }
}

/** A TLS connection whose handshake has not finished (its plaintext socket). */
export interface PendingHandshake {
  readonly clientId: number;
  readonly socket: Socket;
  readonly peer: PeerAddress;
  /** Epoch milliseconds, when it was accepted. */
  readonly startedAt: number;
}

/** A forwarded request waiting for its peers' answers before a no-responders status. */
interface PendingCheck {
  own: Subscription;
  reply: Buffer;
  /** Peers that have not said "no one here" yet. */
  awaiting: number;
  since: number;
}

const MAX_PENDING_CHECKS = 10_000;
/** Peers answer within a drain; a check older than this had a responder somewhere. */
const CHECK_EXPIRY_MS = 10_000;

function findQueue<S extends { readonly queue: string | null }>(result: SublistResult<S>, name: string): readonly S[] | null {
  const queues = result.queues;
  for (let i = 0; i < queues.length; i++) if (queues[i][0].queue === name) return queues[i];
  return null;
}

