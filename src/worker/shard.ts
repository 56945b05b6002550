import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerOptions } from '../server/options.js';
import { encodeInfo, NO_RESPONDERS_HEADER, type ServerInfo } from '../protocol/encoder.js';
import { OPS_ARRAY_LENGTH, type ParseFunction } from '../protocol/ops.js';
import { ProtocolReader } from '../protocol/reader.js';
import * as errors from '../protocol/errors.js';
import { Sublist } from '../sublist/sublist.js';
import { Client, Subscription, type CloseReason } from './client.js';

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
 * The seam between a shard and the other shards. A shard tells it about local interest and hands
 * it every publish; it delivers what other shards publish through `Shard.deliverFromPeer`.
 * With one worker it has no peers and does nothing.
 */
export interface Interconnect {
  subscriptionAdded(sub: Subscription): void;
  subscriptionRemoved(sub: Subscription): void;
  /** Forwards a publish to the peers that may have interest; true if any may. */
  forward(
    subject: string,
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadOff: number,
    payloadLen: number,
  ): boolean;
  /** Once per flush: make what was forwarded visible to peers and wake them. */
  commit(): void;
}

/** A worker with no peers. */
export const NO_PEERS: Interconnect = {
  subscriptionAdded() {},
  subscriptionRemoved() {},
  forward: () => false,
  commit() {},
};

/**
 * A complete broker for the connections it owns: their protocol state, the local subject index
 * and delivery. Messages from other shards arrive through `deliverFromPeer`.
 */
export class Shard {
  readonly sublist = new Sublist<Subscription>();
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
  interconnect: Interconnect = NO_PEERS;
  /** Shared by every connection: ops are consumed synchronously within one read. */
  private readonly ops = new Int32Array(OPS_ARRAY_LENGTH);
  private readonly dirtyClients: Client[] = [];
  private flushScheduled = false;

  constructor(
    readonly options: ServerOptions,
    private readonly parse: ParseFunction,
    private readonly info: ServerInfo,
    readonly log: Logger,
  ) {}

  /** Takes ownership of an accepted connection and greets it with INFO. */
  addConnection(socket: Socket, clientId: number): Client {
    const reader = new ProtocolReader(this.parse, this.ops, this.options.maxControlLine, this.options.maxPayload);
    const client = new Client(clientId, socket, this, reader);
    this.clients.add(client);
    this.stats.connections++;
    this.stats.totalConnections++;
    client.send(encodeInfo({ ...this.info, client_id: clientId, client_ip: socket.remoteAddress ?? '' }));
    return client;
  }

  /** Greets and turns away a connection over max_connections, as nats-server does. */
  rejectConnection(socket: Socket, clientId: number): void {
    const client = this.addConnection(socket, clientId);
    client.sendErrorAndClose(errors.ERR_MAX_CONNECTIONS, 'Maximum Connections Exceeded');
  }

  removeClient(client: Client, reason: CloseReason): void {
    if (!this.clients.delete(client)) return;
    this.stats.connections--;
    this.log.debug({ cid: client.id, reason }, 'Client connection closed');
  }

  addSubscription(sub: Subscription): void {
    this.sublist.insert(sub);
    this.interconnect.subscriptionAdded(sub);
  }

  removeSubscription(sub: Subscription): void {
    if (this.sublist.remove(sub)) this.interconnect.subscriptionRemoved(sub);
  }

  /** A publish from a local client: deliver locally, forward to interested peers. */
  publish(
    publisher: Client,
    subject: string,
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadOff: number,
    payloadLen: number,
  ): void {
    this.stats.msgsIn++;
    this.stats.bytesIn += payloadLen;
    const delivered = this.deliverLocal(publisher, subject, src, subjectOff, subjectLen, replyOff, replyLen, hdrLen, payloadOff, payloadLen);
    const forwarded = this.interconnect.forward(subject, src, subjectOff, subjectLen, replyOff, replyLen, hdrLen, payloadOff, payloadLen);
    if (delivered === 0 && !forwarded && replyLen > 0 && publisher.noResponders) {
      this.sendNoResponders(publisher, src.toString('latin1', replyOff, replyOff + replyLen), src, replyOff, replyLen);
    }
  }

  /** A publish that another shard forwarded here. */
  deliverFromPeer(
    subject: string,
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadOff: number,
    payloadLen: number,
  ): number {
    return this.deliverLocal(null, subject, src, subjectOff, subjectLen, replyOff, replyLen, hdrLen, payloadOff, payloadLen);
  }

  private deliverLocal(
    publisher: Client | null,
    subject: string,
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadOff: number,
    payloadLen: number,
  ): number {
    const result = this.sublist.match(subject);
    const skipOwn = publisher !== null && !publisher.echo ? publisher : null;
    let delivered = 0;
    const plain = result.plain;
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i];
      if (sub.client === skipOwn) continue;
      this.deliver(sub, src, subjectOff, subjectLen, replyOff, replyLen, hdrLen, payloadOff, payloadLen);
      delivered++;
    }
    const queues = result.queues;
    for (let g = 0; g < queues.length; g++) {
      const sub = pickQueueMember(queues[g], skipOwn);
      if (sub === null) continue;
      this.deliver(sub, src, subjectOff, subjectLen, replyOff, replyLen, hdrLen, payloadOff, payloadLen);
      delivered++;
    }
    return delivered;
  }

  private deliver(
    sub: Subscription,
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadOff: number,
    payloadLen: number,
  ): void {
    const client = sub.client;
    if (client.closed) return;
    if (hdrLen >= 0 && !client.headers) {
      // A subscriber that did not announce headers gets the message without them.
      client.outbound.appendMsg(src, subjectOff, subjectLen, sub.sidBytes, src, replyOff, replyLen, -1, src, payloadOff + hdrLen, payloadLen - hdrLen);
    } else {
      client.outbound.appendMsg(src, subjectOff, subjectLen, sub.sidBytes, src, replyOff, replyLen, hdrLen, src, payloadOff, payloadLen);
    }
    client.msgsOut++;
    client.bytesOut += payloadLen;
    this.markDirty(client);
    client.checkPending();
    this.stats.msgsOut++;
    this.stats.bytesOut += payloadLen;
    sub.delivered++;
    if (sub.max > 0 && sub.delivered >= sub.max) client.removeSubscription(sub);
  }

  /** `HMSG <reply> <sid> 16 16` + `NATS/1.0 503` to the requester's own subscription on the reply subject. */
  private sendNoResponders(publisher: Client, reply: string, src: Buffer, replyOff: number, replyLen: number): void {
    const result = this.sublist.match(reply);
    const own = result.plain.find((sub) => sub.client === publisher);
    if (own === undefined) return;
    publisher.outbound.appendMsg(src, replyOff, replyLen, own.sidBytes, src, 0, 0, NO_RESPONDERS_HEADER.length, NO_RESPONDERS_HEADER, 0, NO_RESPONDERS_HEADER.length);
    this.markDirty(publisher);
  }

  markDirty(client: Client): void {
    if (client.dirty) return;
    client.dirty = true;
    this.dirtyClients.push(client);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  /** Once per event-loop turn: one write per touched client, then wake peers. */
  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirtyClients;
    for (let i = 0; i < dirty.length; i++) dirty[i].flush();
    dirty.length = 0;
    this.interconnect.commit();
  };

  /** Closes every connection (server shutdown). */
  closeAll(): void {
    for (const client of [...this.clients]) client.close('Server Shutdown');
  }
}

/** One member of a queue group at random, skipping the publisher's own when echo is off. */
function pickQueueMember(members: readonly Subscription[], skipOwn: Client | null): Subscription | null {
  const n = members.length;
  if (n === 0) return null;
  const start = (Math.random() * n) | 0;
  for (let i = 0; i < n; i++) {
    const sub = members[(start + i) % n];
    if (sub.client !== skipOwn && !sub.client.closed) return sub;
  }
  return null;
}
