/**
 * Cross-worker queue-group directory: each message published to a queue group is delivered to
 * exactly one member across all workers.
 *
 * A group is one (account, subject pattern, queue name). The directory is one SharedArrayBuffer:
 *   - an append-only log of group definitions; a definition's position in the log is its group id,
 *     so every worker derives the same ids. Appends take a tiny spinlock (compareExchange) held
 *     only for the append, and re-read the log under the lock first, so two workers registering the
 *     same group at the same moment still produce one definition (two would split the members and
 *     deliver twice);
 *   - per group, one Int32 member counter per worker, written only by that worker.
 * A publishing shard calls sync() once per read buffer (one Atomics.load when nothing changed) to
 * learn new groups, matches the subject against its local index of known groups, and for each
 * matching group calls pickWorker(): one worker, chosen with weight = its member count, which is
 * the distribution nats-server gives by picking a random member among all.
 *
 * Capacity is fixed at creation (groups and log bytes); a full directory throws
 * QueueDirectoryFullError from addMember. Definitions are never removed: a group whose members all
 * left keeps its id (and is picked as -1). Size the directory for the distinct queue groups a
 * server sees over its lifetime.
 *
 * Layout: Int32 header (lock on its own cache line, then entry count, log bytes used, workers,
 * max groups, log capacity), member counters [group * workers + worker], then the log. A log entry
 * is Int32 account, Int32 (pattern length | queue length << 16), the UTF-8 bytes of both, padded to 4.
 */

const LOCK = 0;
const ENTRY_COUNT = 16;
const LOG_USED = 17;
const WORKERS = 18;
const MAX_GROUPS = 19;
const LOG_CAPACITY = 20;
const HEADER_INTS = 32;
const ENTRY_HEADER_BYTES = 8;
const MAX_NAME_BYTES = 0xffff;

export const DEFAULT_MAX_GROUPS = 16384;
export const DEFAULT_LOG_BYTES_PER_GROUP = 64;

export class QueueDirectoryFullError extends Error {
  constructor(what: string) {
    super(`queue-group directory full (${what})`);
    this.name = 'QueueDirectoryFullError';
  }
}

/** Called once per group, in group-id order, as a worker learns of it (its own groups included). */
export type QueueGroupListener = (groupId: number, account: number, pattern: string, queue: string) => void;

/** Allocates the directory; the main thread creates it once and passes it to every worker. */
export function createQueueDirectory(
  workers: number,
  maxGroups = DEFAULT_MAX_GROUPS,
  logBytes = maxGroups * DEFAULT_LOG_BYTES_PER_GROUP,
): SharedArrayBuffer {
  if (!(workers >= 1 && maxGroups >= 1 && logBytes >= ENTRY_HEADER_BYTES)) throw new RangeError('bad queue directory size');
  const logCapacity = (logBytes + 3) & ~3;
  const sab = new SharedArrayBuffer((HEADER_INTS + maxGroups * workers) * 4 + logCapacity);
  const header = new Int32Array(sab, 0, HEADER_INTS);
  header[WORKERS] = workers;
  header[MAX_GROUPS] = maxGroups;
  header[LOG_CAPACITY] = logCapacity;
  return sab;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class QueueDirectory {
  readonly self: number;
  readonly workers: number;
  private readonly header: Int32Array;
  private readonly members: Int32Array;
  private readonly logBytes: Uint8Array;
  private readonly logWords: Int32Array;
  private readonly maxGroups: number;
  /** Entries ingested so far and the log offset after them. */
  private known = 0;
  private readOffset = 0;
  private readonly ids = new Map<string, number>();
  /** Member counts read once per pick, so the total and the choice agree under concurrent change. */
  private readonly counts: Int32Array;

  constructor(sab: SharedArrayBuffer, self: number, private readonly onGroup: QueueGroupListener = () => {}) {
    this.header = new Int32Array(sab, 0, HEADER_INTS);
    this.workers = this.header[WORKERS];
    this.maxGroups = this.header[MAX_GROUPS];
    if (self < 0 || self >= this.workers) throw new RangeError('self is not a worker index');
    this.self = self;
    const membersBytes = this.maxGroups * this.workers * 4;
    this.members = new Int32Array(sab, HEADER_INTS * 4, this.maxGroups * this.workers);
    const logStart = HEADER_INTS * 4 + membersBytes;
    this.logBytes = new Uint8Array(sab, logStart, this.header[LOG_CAPACITY]);
    this.logWords = new Int32Array(sab, logStart, this.header[LOG_CAPACITY] >> 2);
    this.counts = new Int32Array(this.workers);
  }

  /**
   * Learns groups other workers defined since the last call, passing each to the listener.
   * One Atomics.load when nothing changed: call it once per read buffer before matching.
   */
  sync(): number {
    const count = Atomics.load(this.header, ENTRY_COUNT);
    return count === this.known ? 0 : this.ingest(count);
  }

  /** The id of an already known group, or -1. */
  groupId(account: number, pattern: string, queue: string): number {
    return this.ids.get(groupKey(account, pattern, queue)) ?? -1;
  }

  /**
   * Counts one more local member of (account, pattern, queue), defining the group if no worker
   * has yet. Returns the group id. Throws QueueDirectoryFullError when the directory is full.
   */
  addMember(account: number, pattern: string, queue: string): number {
    const key = groupKey(account, pattern, queue);
    let id = this.ids.get(key);
    if (id === undefined) id = this.define(key, account, pattern, queue);
    Atomics.add(this.members, id * this.workers + this.self, 1);
    return id;
  }

  /**
   * Zeroes this worker's member counters. A respawned worker calls it first: the members counted
   * by the worker that died went with its connections.
   */
  resetWorker(): void {
    for (let id = 0; id < this.maxGroups; id++) Atomics.store(this.members, id * this.workers + this.self, 0);
  }

  /** Counts one local member fewer. */
  removeMember(groupId: number): void {
    const index = groupId * this.workers + this.self;
    if (this.members[index] <= 0) throw new Error(`no local member in queue group ${groupId}`);
    Atomics.sub(this.members, index, 1);
  }

  memberCount(groupId: number, worker: number): number {
    return Atomics.load(this.members, groupId * this.workers + worker);
  }

  /**
   * Picks the worker that delivers one message of the group: weighted by member count, `random` in
   * [0, 1). `exclude` skips one worker (a receiver whose last member left re-picks among the others).
   * Returns -1 when no (other) worker has a member.
   */
  pickWorker(groupId: number, random: number, exclude = -1): number {
    const counts = this.counts;
    const base = groupId * this.workers;
    let total = 0;
    for (let w = 0; w < this.workers; w++) {
      const c = w === exclude ? 0 : Atomics.load(this.members, base + w);
      counts[w] = c;
      total += c;
    }
    if (total <= 0) return -1;
    let target = Math.floor(random * total);
    for (let w = 0; w < this.workers; w++) {
      target -= counts[w];
      if (target < 0) return w;
    }
    return -1; // unreachable for random in [0, 1)
  }

  private define(key: string, account: number, pattern: string, queue: string): number {
    const patternBytes = encoder.encode(pattern);
    const queueBytes = encoder.encode(queue);
    if (patternBytes.length > MAX_NAME_BYTES || queueBytes.length > MAX_NAME_BYTES) {
      throw new RangeError('queue group subject or name too long');
    }
    const size = (ENTRY_HEADER_BYTES + patternBytes.length + queueBytes.length + 3) & ~3;
    const header = this.header;
    for (;;) {
      // Learn what others appended first, outside the lock, so listeners never run under it.
      this.sync();
      const raced = this.ids.get(key);
      if (raced !== undefined) return raced;
      while (Atomics.compareExchange(header, LOCK, 0, 1) !== 0) {
        // Held only for one append by another worker: well under a microsecond.
      }
      const count = Atomics.load(header, ENTRY_COUNT);
      if (count !== this.known) {
        Atomics.store(header, LOCK, 0); // someone appended since the sync: it may be this group
        continue;
      }
      const offset = header[LOG_USED];
      const full = count >= this.maxGroups ? `${this.maxGroups} groups`
        : offset + size > this.logBytes.length ? `${this.logBytes.length} log bytes` : null;
      if (full !== null) {
        Atomics.store(header, LOCK, 0);
        throw new QueueDirectoryFullError(full);
      }
      const word = offset >> 2;
      this.logWords[word] = account;
      this.logWords[word + 1] = patternBytes.length | (queueBytes.length << 16);
      this.logBytes.set(patternBytes, offset + ENTRY_HEADER_BYTES);
      this.logBytes.set(queueBytes, offset + ENTRY_HEADER_BYTES + patternBytes.length);
      header[LOG_USED] = offset + size;
      // Publishes the entry: a reader that loads the new count also sees its bytes.
      Atomics.store(header, ENTRY_COUNT, count + 1);
      Atomics.store(header, LOCK, 0);
      this.ingest(count + 1);
      return count;
    }
  }

  private ingest(count: number): number {
    const first = this.known;
    let offset = this.readOffset;
    for (let id = first; id < count; id++) {
      const word = offset >> 2;
      const account = this.logWords[word];
      const lengths = this.logWords[word + 1];
      const patternLength = lengths & 0xffff;
      const queueLength = lengths >>> 16;
      const start = offset + ENTRY_HEADER_BYTES;
      const pattern = decoder.decode(this.logBytes.slice(start, start + patternLength));
      const queue = decoder.decode(this.logBytes.slice(start + patternLength, start + patternLength + queueLength));
      offset = (start + patternLength + queueLength + 3) & ~3;
      this.ids.set(groupKey(account, pattern, queue), id);
      this.known = id + 1;
      this.readOffset = offset;
      this.onGroup(id, account, pattern, queue);
    }
    return count - first;
  }
}

function groupKey(account: number, pattern: string, queue: string): string {
  return `${account} ${pattern} ${queue}`;
}
