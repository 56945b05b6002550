/**
 * A shard's link to the other shards: the shared interest table (who may want a subject), the
 * queue-group directory (who has members of a group, so each message goes to exactly one), and
 * the rings that carry messages between workers. With one worker it has no peers, and the same
 * calls are made.
 */
import { randomBytes } from 'node:crypto';
import { InterestTable, SubjectHash, createInterestRegion } from '../sublist/shared-interest.js';
import { QueueDirectory, createQueueDirectory } from '../sublist/queue-directory.js';
import { Sublist } from '../sublist/sublist.js';
import { RingMesh, WriteResult, createRingMesh, readRingStats, type RecordHandler, type RingMeshBuffers } from './ring.js';
import type { Subscription } from './client.js';
import type { MessageView } from './message.js';

/** Everything shared between the workers; created once by the main thread. */
export interface MeshBuffers {
  rings: RingMeshBuffers;
  /** interestRegions[w]: worker w's current region (replaced when it grows). */
  interestRegions: SharedArrayBuffer[];
  queueDirectory: SharedArrayBuffer;
  /** Key of the reply subjects that service imports hand out; the same in every worker. */
  replySecret: Uint8Array;
}

/** Rings hold a whole message, so they are sized for the largest payload. */
export function createMeshBuffers(workers: number, maxPayload: number): MeshBuffers {
  const ringBytes = Math.max(2 * 1024 * 1024, 4 * (maxPayload + 64 * 1024));
  return {
    rings: createRingMesh(workers, ringBytes),
    interestRegions: Array.from({ length: workers }, () => createInterestRegion()),
    queueDirectory: createQueueDirectory(workers),
    replySecret: randomBytes(32),
  };
}

/** One (subject pattern, queue name) with members on some workers; `id` is its directory id. */
export interface QueueGroup {
  readonly subject: string;
  readonly queue: string;
  readonly id: number;
}

/** Account of records that carry no message (no-responders results). */
const GLOBAL_ACCOUNT = 0;

/**
 * Ring record flags. The low byte counts queue re-forwards. A request whose publisher wants
 * no-responders status is tagged CHECK: a receiver with no subscriber for it answers NO_INTEREST
 * (the interest table may report interest that is not there), and the origin sends the 503 once
 * every peer did.
 */
export const HOPS_MASK = 0xff;
export const FLAG_CHECK = 0x100;
export const FLAG_NO_INTEREST = 0x200;
/** A singleton service response for the worker that routed its request; the tag is the request's number there. */
export const FLAG_RESPONSE = 0x400;
const NO_BYTES = new Uint8Array(0);
/** Records longer than the ring, or dropped behind a full overflow, are counted here. */
export interface MeshStats {
  forwards: number;
  dropped: number;
}

export class ShardMesh {
  readonly self: number;
  readonly replySecret: Uint8Array;
  readonly workers: number;
  readonly rings: RingMesh;
  /** Every queue group any worker has defined, to route a message to one member across workers. */
  private readonly groupsByAccount: Sublist<QueueGroup>[] = [];
  private readonly groupsById: QueueGroup[] = [];
  readonly stats: MeshStats = { forwards: 0, dropped: 0 };
  private readonly interest: InterestTable;
  private readonly directory: QueueDirectory;
  private readonly hash = new SubjectHash();
  private readonly candidates: Int32Array;
  /** Per peer: the queue groups it must serve for the message being forwarded. */
  private readonly assignedGroups: Int32Array[];
  private readonly assignedCount: Int32Array;
  private readonly weights: Int32Array;
  /** Rings this worker writes to and reads from, for monitoring. */
  private readonly outgoing: SharedArrayBuffer[] = [];
  private readonly incoming: SharedArrayBuffer[] = [];

  constructor(
    buffers: MeshBuffers,
    self: number,
    /** Called with this worker's interest region when it grew: every peer must adopt it. */
    private readonly onRegionGrown: (region: SharedArrayBuffer) => void,
  ) {
    this.self = self;
    this.replySecret = buffers.replySecret;
    this.workers = buffers.rings.workers;
    this.rings = new RingMesh(buffers.rings, self);
    for (let peer = 0; peer < this.workers; peer++) {
      if (peer === self) continue;
      this.outgoing.push(buffers.rings.rings[self * this.workers + peer]!);
      this.incoming.push(buffers.rings.rings[peer * this.workers + self]!);
    }
    this.interest = new InterestTable(self, buffers.interestRegions);
    this.directory = new QueueDirectory(buffers.queueDirectory, self, (id, account, subject, queue) => {
      const group = { subject, queue, id };
      this.groupsById[id] = group;
      this.groupsOf(account).insert(group);
    });
    // A respawned worker inherits the counters of the one that died: none of its members exist now.
    this.directory.resetWorker();
    this.candidates = new Int32Array(this.workers);
    this.assignedGroups = Array.from({ length: this.workers }, () => new Int32Array(16));
    this.assignedCount = new Int32Array(this.workers);
    this.weights = new Int32Array(this.workers);
    this.directory.sync();
  }

  /** Once per read buffer, before matching: learn queue groups other workers defined. */
  sync(): void {
    this.directory.sync();
  }

  /** Queue groups of one account. */
  groupsOf(account: number): Sublist<QueueGroup> {
    let groups = this.groupsByAccount[account];
    if (groups === undefined) {
      groups = new Sublist<QueueGroup>();
      this.groupsByAccount[account] = groups;
    }
    return groups;
  }

  groupById(id: number): QueueGroup {
    return this.groupsById[id];
  }

  adoptRegion(worker: number, region: SharedArrayBuffer): void {
    this.interest.adoptRegion(worker, region);
  }

  subscriptionAdded(sub: Subscription): void {
    const account = sub.client.account;
    const grown = this.interest.addSubscription(account, sub.subject);
    if (grown !== null) this.onRegionGrown(grown);
    if (sub.queue !== null) sub.groupId = this.directory.addMember(account, sub.subject, sub.queue);
  }

  subscriptionRemoved(sub: Subscription): void {
    this.interest.removeSubscription(sub.client.account, sub.subject);
    if (sub.groupId >= 0) this.directory.removeMember(sub.groupId);
  }

  /**
   * The worker that delivers one message to a queue group: weighted by the members each worker
   * has in the patterns `entries` (one queue name, every pattern matching the subject). -1 when
   * no worker has a member.
   */
  pickWorker(entries: readonly QueueGroup[]): number {
    const weights = this.weights;
    let total = 0;
    for (let w = 0; w < this.workers; w++) {
      const count = this.memberCount(entries, w);
      weights[w] = count;
      total += count;
    }
    if (total <= 0) return -1;
    let target = Math.floor(Math.random() * total);
    for (let w = 0; w < this.workers; w++) {
      target -= weights[w];
      if (target < 0) return w;
    }
    return -1;
  }

  /**
   * The first worker after `worker`, in worker order, with members in `entries`; -1 when none has.
   * A message no member on `worker` could take walks on this way, each worker at most once a round.
   */
  nextWorker(entries: readonly QueueGroup[], worker: number): number {
    for (let step = 1; step < this.workers; step++) {
      const next = (worker + step) % this.workers;
      if (this.memberCount(entries, next) > 0) return next;
    }
    return -1;
  }

  private memberCount(entries: readonly QueueGroup[], worker: number): number {
    let count = 0;
    for (let i = 0; i < entries.length; i++) count += this.directory.memberCount(entries[i].id, worker);
    return count;
  }

  /** The message being routed goes to `worker` for one of its members of group `groupId`. */
  assign(worker: number, groupId: number): void {
    let list = this.assignedGroups[worker];
    const n = this.assignedCount[worker];
    if (n === list.length) {
      const grown = new Int32Array(n * 2);
      grown.set(list);
      list = this.assignedGroups[worker] = grown;
    }
    list[n] = groupId;
    this.assignedCount[worker] = n + 1;
  }

  /**
   * Sends the message to every peer that may have interest or was assigned a queue group: one
   * record per peer. Returns how many records went out (nothing is visible before commit()).
   * `hops` counts re-forwards of a queue message whose chosen member left meanwhile; a re-forward
   * goes only to the assigned workers (`toInterested` false), its plain subscribers were served.
   */
  forward(msg: MessageView, hops: number, toInterested: boolean, checkTag = 0): number {
    if (this.workers === 1) return 0;
    const candidates = this.candidates;
    const interested = toInterested
      ? this.interest.collectPeers(this.hash.hashBytes(msg.account, msg.bytes, msg.subjectOffset, msg.subjectLength), candidates)
      : 0;
    let sent = 0;
    for (let w = 0; w < this.workers; w++) {
      if (w === this.self) continue;
      const groupCount = this.assignedCount[w];
      if (groupCount === 0 && !contains(candidates, interested, w)) continue;
      const result = this.rings.producers[w]!.write(
        msg.bytes, msg.account, checkTag === 0 ? hops : hops | FLAG_CHECK, msg.subjectOffset, msg.subjectLength,
        msg.replyOffset, msg.replyLength, msg.headerLength, msg.payloadOffset, msg.payloadLength,
        this.assignedGroups[w], groupCount, checkTag,
      );
      this.assignedCount[w] = 0;
      if (this.counted(result)) sent++;
    }
    return sent;
  }

  /** Hands a singleton service response to the worker that routed its request (see FLAG_RESPONSE). */
  sendResponse(worker: number, msg: MessageView, seq: number): void {
    this.counted(this.rings.producers[worker]!.write(
      msg.bytes, msg.account, FLAG_RESPONSE, msg.subjectOffset, msg.subjectLength,
      msg.replyOffset, msg.replyLength, msg.headerLength, msg.payloadOffset, msg.payloadLength, null, 0, seq,
    ));
  }

  /** Counts a record written to a peer; false when it was dropped. */
  private counted(result: WriteResult): boolean {
    if (result === WriteResult.DROPPED) {
      this.stats.dropped++;
      return false;
    }
    this.stats.forwards++;
    if (result === WriteResult.OVERFLOW) this.overflowed = true;
    return true;
  }

  /** Answers a CHECK-tagged request from `worker`: no subscriber here got it. */
  sendNoInterest(worker: number, tag: number): void {
    this.rings.producers[worker]!.write(NO_BYTES, GLOBAL_ACCOUNT, FLAG_NO_INTEREST, 0, 0, 0, 0, -1, 0, 0, null, 0, tag);
  }

  /** Publishes what was forwarded since the last commit and wakes parked peers. */
  commit(): void {
    this.rings.commit();
  }

  /** Cross-worker figures for /workerz: forwards, drops, ring occupancy in both directions. */
  snapshot(): Record<string, number> {
    let outUsed = 0;
    let inUsed = 0;
    let capacity = 0;
    let overflow = 0;
    let received = 0;
    for (const ring of this.outgoing) {
      const stats = readRingStats(ring);
      outUsed += stats.usedBytes;
      capacity += stats.capacity;
      overflow += stats.overflowBytes;
    }
    for (const ring of this.incoming) {
      const stats = readRingStats(ring);
      inUsed += stats.usedBytes;
      received += stats.recordsRead;
    }
    return {
      forwards: this.stats.forwards,
      dropped: this.stats.dropped,
      received,
      ring_out_bytes: outUsed,
      ring_in_bytes: inUsed,
      ring_capacity: capacity,
      overflow_bytes: overflow,
    };
  }

  /** Set when a forward had to use a ring's local overflow; the shard clears it. */
  overflowed = false;

  /** True while a ring to a peer is full and records wait in the local overflow. */
  get overflowing(): boolean {
    for (let w = 0; w < this.workers; w++) {
      const producer = this.rings.producers[w];
      if (producer !== null && producer.overflowBytes > 0) return true;
    }
    return false;
  }

  private receiving: { handler: RecordHandler; afterDrain: () => void; canDrain: () => boolean } | null = null;
  private drainDeferred = false;

  /**
   * Delivers records from peers as they arrive, forever: drains once per event-loop turn while
   * records keep coming, parks on this worker's doorbell once a turn found none, and drains as
   * soon as a wake arrives. While `canDrain` is false
   * (a local consumer is being waited for) records stay in the rings until resumeReceiving().
   */
  startReceiving(handler: RecordHandler, afterDrain: () => void, canDrain: () => boolean): void {
    if (this.workers === 1) return;
    this.receiving = { handler, afterDrain, canDrain };
    this.waitForRecords();
  }

  /**
   * Drains what peers already committed, before this shard handles a client's read: a publisher
   * that got its PONG may have told that client to act, and what it published must come first.
   */
  receivePending(): void {
    const receiving = this.receiving;
    if (receiving === null || !this.rings.hasIncoming() || !receiving.canDrain()) return;
    this.rings.drain(receiving.handler, receiving.canDrain);
  }

  resumeReceiving(): void {
    if (this.drainDeferred) {
      this.drainDeferred = false;
      setImmediate(this.drainOnce);
    }
  }

  private readonly drainOnce = (): void => {
    const receiving = this.receiving!;
    if (!receiving.canDrain()) {
      this.drainDeferred = true;
      return;
    }
    this.directory.sync();
    const drained = this.rings.drain(receiving.handler, receiving.canDrain);
    receiving.afterDrain();
    if (!receiving.canDrain()) this.drainDeferred = true;
    // Under load, look again next turn instead of parking: a parked consumer costs every
    // producer commit a futex wake, and this worker a cross-thread task to resume.
    else if (drained > 0) setImmediate(this.drainOnce);
    else this.waitForRecords();
  };

  private waitForRecords(): void {
    // A wake already arrives as its own task: drain right in it (what follows is a fresh park or a
    // setImmediate, so this never loops in microtasks).
    this.rings.park().then(this.drainOnce);
  }
}

function contains(list: Int32Array, length: number, value: number): boolean {
  for (let i = 0; i < length; i++) if (list[i] === value) return true;
  return false;
}
