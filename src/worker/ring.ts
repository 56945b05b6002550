/**
 * Message rings between shards (worker threads), in SharedArrayBuffers.
 *
 * One single-producer/single-consumer ring per ordered pair of workers. The producer copies each
 * record straight from the source buffer into the ring (one copy) and publishes the tail once per
 * read buffer (commit). The consumer reads records in place and publishes the head once per drain.
 *
 * Ring layout: a 384-byte control block, then `capacity` data bytes (a power of two).
 *   Int32 [0]   head     (consumer-written, free-running byte counter)      own 64-byte line
 *   Int32 [16]  tail     (producer-written, free-running byte counter)      own line
 *   Int32 [32]  producer-waiting flag (producer has overflow, wants a wake when space frees)
 *   Int32 [48]  capacity
 *   Float64 [32..36] producer stats, [40] consumer stats (plain stores, for monitoring only)
 * Positions are counters & (capacity - 1); counters wrap at 2^32, which capacity divides.
 *
 * Record: Int32 words, then bytes, padded to 4:
 *   [0] record bytes (or WRAP_MARKER: the rest up to the end of the data area is unused)
 *   [1] account id   [2] flags (low 16 bits) | queue-group count << 16
 *   [3] subject length | reply length << 16   [4] header length (-1: no headers)   [5] payload length
 *   [6] tag (the sender's correlation id, 0 for none)
 *   then one Int32 per queue-group id, then subject, reply and payload bytes (payload includes headers).
 *
 * Wake-ups: each worker owns a Doorbell (an Int32 sequence and a parked flag). A consumer that found
 * nothing sets parked, re-checks all its rings, and only then waits (Atomics.waitAsync on the
 * sequence). A producer publishes its tail, then rings the consumer's bell, which costs one
 * Atomics.load unless the consumer is parked. All accesses involved are sequentially consistent
 * atomics, so either the consumer's re-check sees the tail or the producer sees the parked flag:
 * no wake-up is lost. The same protocol in reverse wakes a producer with overflow when its consumer
 * frees space.
 *
 * Full ring: the producer keeps records in a local overflow (bounded in bytes) and moves them into
 * the ring first, on its next commit or wake; new records queue behind them, so order is kept.
 * Beyond the limit a record is dropped and counted (the caller reports a slow consumer).
 */

import { copyBytes, dataViewOf } from './copy-bytes.js';

const HEAD = 0;
const TAIL = 16;
const PRODUCER_WAITING = 32;
const CAPACITY = 48;
const STAT_RECORDS_WRITTEN = 32;
const STAT_BYTES_WRITTEN = 33;
const STAT_RECORDS_DROPPED = 34;
const STAT_RECORDS_TOO_LARGE = 35;
const STAT_OVERFLOW_BYTES = 36;
const STAT_RECORDS_READ = 40;
const CONTROL_BYTES = 384;

const WRAP_MARKER = -1;
const RECORD_HEADER_BYTES = 28;
const MAX_FIELD = 0xffff;
/** An emptied overflow buffer larger than this is released rather than kept for the next burst. */
const OVERFLOW_KEEP_BYTES = 64 * 1024;

export const DEFAULT_RING_BYTES = 2 * 1024 * 1024;
export const DEFAULT_OVERFLOW_LIMIT_BYTES = 8 * 1024 * 1024;

/** Bytes a record needs in a ring; a ring must be at least this big for the largest message. */
export function recordBytes(subjectLength: number, replyLength: number, payloadLength: number, groupCount = 0): number {
  return (RECORD_HEADER_BYTES + 4 * groupCount + subjectLength + replyLength + payloadLength + 3) & ~3;
}

/** Allocates one ring; capacity is rounded up to a power of two. */
export function createRing(capacityBytes = DEFAULT_RING_BYTES): SharedArrayBuffer {
  let capacity = 64;
  while (capacity < capacityBytes) capacity *= 2;
  if (capacity > 1 << 30) throw new RangeError('ring capacity above 1 GiB');
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacity);
  new Int32Array(sab, 0, CONTROL_BYTES >> 2)[CAPACITY] = capacity;
  return sab;
}

export const enum WriteResult {
  /** In the ring; visible to the consumer after commit(). */
  RING = 0,
  /** Ring full: kept in the local overflow, moved into the ring by a later commit. */
  OVERFLOW = 1,
  /** Ring full and overflow at its limit: dropped and counted (slow consumer). */
  DROPPED = 2,
  /** Larger than the ring (or a subject/reply/group list over 65535): dropped and counted. */
  TOO_LARGE = 3,
}

type AtomicsWithWaitAsync = typeof Atomics & {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
};
const atomics = Atomics as AtomicsWithWaitAsync;

const SEQUENCE = 0;
const PARKED = 16;
const RESOLVED = Promise.resolve();

/** A worker's wake-up cell, rung by every producer writing to it (and consumers freeing its space). */
export class Doorbell {
  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(128);
  }

  private readonly cells: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.cells = new Int32Array(sab);
  }

  /** Wakes the owner if it is parked. One Atomics.load when it is not. */
  ring(): void {
    const c = this.cells;
    // Only the producer that flips parked 1 -> 0 pays for the notify. It wakes every waiter: the
    // owner may have more than one pending park() (say, its receive loop and a flow-control wait).
    if (Atomics.load(c, PARKED) !== 0 && Atomics.compareExchange(c, PARKED, 1, 0) === 1) {
      Atomics.add(c, SEQUENCE, 1);
      Atomics.notify(c, SEQUENCE);
    }
  }

  /**
   * Resolves once ring() is called, or at once if hasWork() is true after the parked flag is set.
   * A pending wait does not keep a worker alive; whatever owns the loop must (sockets, a port).
   */
  park(hasWork: () => boolean): Promise<unknown> {
    const c = this.cells;
    const sequence = Atomics.load(c, SEQUENCE);
    Atomics.store(c, PARKED, 1);
    if (hasWork()) {
      // Leave the way a producer wakes us: clearing the flag alone could strand another pending park().
      this.ring();
      return RESOLVED;
    }
    const wait = atomics.waitAsync(c, SEQUENCE, sequence);
    if (!wait.async) {
      this.ring(); // the sequence moved meanwhile: same as above
      return RESOLVED;
    }
    return wait.value;
  }
}

function encodeRecord(
  words: Int32Array, bytes: Uint8Array, view: DataView, position: number, size: number,
  src: Uint8Array, account: number, flags: number,
  subjectOffset: number, subjectLength: number, replyOffset: number, replyLength: number,
  headerLength: number, payloadOffset: number, payloadLength: number,
  groups: Int32Array | null, groupCount: number, tag: number,
): void {
  const w = position >> 2;
  words[w] = size;
  words[w + 1] = account;
  words[w + 2] = (flags & MAX_FIELD) | (groupCount << 16);
  words[w + 3] = subjectLength | (replyLength << 16);
  words[w + 4] = headerLength;
  words[w + 5] = payloadLength;
  words[w + 6] = tag;
  for (let i = 0; i < groupCount; i++) words[w + 7 + i] = groups![i];
  let p = position + RECORD_HEADER_BYTES + 4 * groupCount;
  copyBytes(bytes, view, p, src, subjectOffset, subjectLength);
  p += subjectLength;
  copyBytes(bytes, view, p, src, replyOffset, replyLength);
  copyBytes(bytes, view, p + replyLength, src, payloadOffset, payloadLength);
}

export interface RingProducerOptions {
  /** Bytes of records kept locally while the ring is full; default DEFAULT_OVERFLOW_LIMIT_BYTES. */
  overflowLimitBytes?: number;
}

/** The writing end of one ring. Used by exactly one thread. */
export class RingProducer {
  readonly capacity: number;
  readonly overflowLimitBytes: number;
  private readonly control: Int32Array;
  private readonly stats: Float64Array;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly bytesView: DataView;
  private readonly mask: number;
  private tail: number;
  private publishedTail: number;
  private cachedHead: number;
  private overflow = Buffer.alloc(0);
  private overflowView = dataViewOf(this.overflow);
  private overflowWords = new Int32Array(0);
  private overflowStart = 0;
  private overflowEnd = 0;
  /** Set by a drop, cleared when the overflow is empty again. */
  private dropping = false;

  recordsWritten = 0;
  bytesWritten = 0;
  recordsDropped = 0;
  recordsTooLarge = 0;

  constructor(ring: SharedArrayBuffer, private readonly consumerBell: Doorbell, options: RingProducerOptions = {}) {
    this.control = new Int32Array(ring, 0, CONTROL_BYTES >> 2);
    this.stats = new Float64Array(ring, 0, CONTROL_BYTES >> 3);
    this.capacity = this.control[CAPACITY];
    this.mask = this.capacity - 1;
    this.words = new Int32Array(ring, CONTROL_BYTES, this.capacity >> 2);
    // Buffers like the read buffers and outbound buffers copyBytes also sees: one shape there.
    this.bytes = Buffer.from(ring, CONTROL_BYTES, this.capacity);
    this.bytesView = dataViewOf(this.bytes);
    this.tail = this.publishedTail = Atomics.load(this.control, TAIL);
    this.cachedHead = Atomics.load(this.control, HEAD);
    this.overflowLimitBytes = options.overflowLimitBytes ?? DEFAULT_OVERFLOW_LIMIT_BYTES;
  }

  /**
   * Appends one record, copying subject, reply and payload from `src` (the publisher's read buffer,
   * or another ring's record when re-forwarding). Nothing is visible to the consumer before commit().
   * `headerLength` is -1 for a message without headers; otherwise the payload starts with them.
   * `groups[0, groupCount)` are the queue-group ids the receiver must serve.
   */
  write(
    src: Uint8Array, account: number, flags: number,
    subjectOffset: number, subjectLength: number, replyOffset: number, replyLength: number,
    headerLength: number, payloadOffset: number, payloadLength: number,
    groups: Int32Array | null, groupCount: number, tag = 0,
  ): WriteResult {
    const size = (RECORD_HEADER_BYTES + 4 * groupCount + subjectLength + replyLength + payloadLength + 3) & ~3;
    if (size > this.capacity || subjectLength > MAX_FIELD || replyLength > MAX_FIELD || groupCount > MAX_FIELD) {
      this.recordsTooLarge++;
      return WriteResult.TOO_LARGE;
    }
    if (this.overflowStart === this.overflowEnd) {
      const position = this.reserve(size);
      if (position >= 0) {
        encodeRecord(this.words, this.bytes, this.bytesView, position, size, src, account, flags, subjectOffset, subjectLength,
          replyOffset, replyLength, headerLength, payloadOffset, payloadLength, groups, groupCount, tag);
        this.tail = (this.tail + size) | 0;
        this.recordsWritten++;
        this.bytesWritten += size;
        return WriteResult.RING;
      }
    }
    if (this.dropping || this.overflowEnd - this.overflowStart + size > this.overflowLimitBytes) {
      // Once one record is dropped, later ones are too until the overflow drained: what the
      // consumer gets is a prefix of what was sent, never a stream with holes.
      this.dropping = true;
      this.recordsDropped++;
      return WriteResult.DROPPED;
    }
    if (this.overflowEnd + size > this.overflow.length) this.makeOverflowRoom(size);
    encodeRecord(this.overflowWords, this.overflow, this.overflowView, this.overflowEnd, size, src, account, flags, subjectOffset,
      subjectLength, replyOffset, replyLength, headerLength, payloadOffset, payloadLength, groups, groupCount, tag);
    this.overflowEnd += size;
    return WriteResult.OVERFLOW;
  }

  /**
   * Once per read buffer: moves overflow into the ring, publishes the tail (one Atomics.store) and
   * wakes the consumer if it is parked. Cheap when nothing was written.
   */
  commit(): void {
    if (this.overflowStart !== this.overflowEnd) {
      this.flushOverflow();
      if (this.overflowStart !== this.overflowEnd) {
        // Ask the consumer for a wake when it frees space, then look again: it may have just done so.
        Atomics.store(this.control, PRODUCER_WAITING, 1);
        this.flushOverflow();
      }
    }
    if (this.tail !== this.publishedTail) {
      Atomics.store(this.control, TAIL, this.tail);
      this.publishedTail = this.tail;
      this.publishStats();
      this.consumerBell.ring();
    } else if (this.recordsDropped !== this.stats[STAT_RECORDS_DROPPED] ||
               this.recordsTooLarge !== this.stats[STAT_RECORDS_TOO_LARGE]) {
      this.publishStats();
    }
  }

  /** Bytes waiting in the local overflow. */
  get overflowBytes(): number {
    return this.overflowEnd - this.overflowStart;
  }

  /** True when overflow is pending and the consumer freed space since the producer last looked. */
  canMakeProgress(): boolean {
    return this.overflowStart !== this.overflowEnd && Atomics.load(this.control, HEAD) !== this.cachedHead;
  }

  /**
   * Returns the byte position for a record of `size`, or -1 if it does not fit now. Writes a wrap
   * marker when the record does not fit before the end of the data area.
   */
  private reserve(size: number): number {
    let position = this.tail & this.mask;
    const contiguous = this.capacity - position;
    const skip = contiguous < size ? contiguous : 0;
    if (this.capacity - ((this.tail - this.cachedHead) | 0) < skip + size) {
      this.cachedHead = Atomics.load(this.control, HEAD);
      const free = this.capacity - ((this.tail - this.cachedHead) | 0);
      if (free < skip + size) {
        // Place the marker anyway when it fits: a record longer than the space left before the end
        // can then start at 0 as soon as the consumer passes the marker.
        if (skip > 0 && free >= skip) {
          this.words[position >> 2] = WRAP_MARKER;
          this.tail = (this.tail + skip) | 0;
        }
        return -1;
      }
    }
    if (skip > 0) {
      this.words[position >> 2] = WRAP_MARKER;
      this.tail = (this.tail + skip) | 0;
      position = 0;
    }
    return position;
  }

  private flushOverflow(): void {
    while (this.overflowStart !== this.overflowEnd) {
      const size = this.overflowWords[this.overflowStart >> 2];
      const position = this.reserve(size);
      if (position < 0) return;
      this.bytes.set(this.overflow.subarray(this.overflowStart, this.overflowStart + size), position);
      this.tail = (this.tail + size) | 0;
      this.overflowStart += size;
      this.recordsWritten++;
      this.bytesWritten += size;
    }
    this.overflowStart = this.overflowEnd = 0;
    this.dropping = false;
    if (this.overflow.length > OVERFLOW_KEEP_BYTES) {
      this.overflow = Buffer.alloc(0);
      this.overflowView = dataViewOf(this.overflow);
      this.overflowWords = new Int32Array(0);
    }
  }

  private makeOverflowRoom(size: number): void {
    const used = this.overflowEnd - this.overflowStart;
    if (used + size <= this.overflow.length) {
      this.overflow.copyWithin(0, this.overflowStart, this.overflowEnd);
    } else {
      const doubled = Math.min(Math.max(4096, this.overflow.length * 2), this.overflowLimitBytes);
      const grown = Buffer.alloc(Math.max(doubled, used + size));
      grown.set(this.overflow.subarray(this.overflowStart, this.overflowEnd));
      this.overflow = grown;
      this.overflowView = dataViewOf(grown);
      this.overflowWords = new Int32Array(grown.buffer);
    }
    this.overflowStart = 0;
    this.overflowEnd = used;
  }

  private publishStats(): void {
    const s = this.stats;
    s[STAT_RECORDS_WRITTEN] = this.recordsWritten;
    s[STAT_BYTES_WRITTEN] = this.bytesWritten;
    s[STAT_RECORDS_DROPPED] = this.recordsDropped;
    s[STAT_RECORDS_TOO_LARGE] = this.recordsTooLarge;
    s[STAT_OVERFLOW_BYTES] = this.overflowEnd - this.overflowStart;
  }
}

/**
 * One record as the consumer sees it: offsets index `bytes` (the ring's data area), valid only
 * during the handler call. The same object is reused for every record.
 */
export class RingRecord {
  account = 0;
  flags = 0;
  subjectOffset = 0;
  subjectLength = 0;
  replyOffset = 0;
  replyLength = 0;
  /** -1: no headers; otherwise the first headerLength payload bytes are the header block. */
  headerLength = -1;
  payloadOffset = 0;
  payloadLength = 0;
  groupCount = 0;
  /** The sender's correlation id (0: none). */
  tag = 0;
  /** The worker that sent it. */
  from = -1;
  /** @internal index of the first group id in `words` */
  groupsIndex = 0;

  /** A Buffer, so deliveries copy from it with Buffer.copy and decode subjects without a view. */
  constructor(readonly bytes: Buffer, private readonly words: Int32Array) {}

  /** The i-th queue-group id the receiver must serve, 0 <= i < groupCount. */
  group(i: number): number {
    return this.words[this.groupsIndex + i];
  }
}

export type RecordHandler = (record: RingRecord) => void;

const ALWAYS = (): boolean => true;

/** The reading end of one ring. Used by exactly one thread. */
export class RingConsumer {
  readonly capacity: number;
  private readonly control: Int32Array;
  private readonly stats: Float64Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly record: RingRecord;
  private head: number;
  recordsRead = 0;

  /** `producerBell` is rung when this consumer frees space for a producer holding overflow. */
  /** `peer` is the producing worker, reported as each record's `from`. */
  constructor(ring: SharedArrayBuffer, private readonly producerBell: Doorbell, peer = -1) {
    this.control = new Int32Array(ring, 0, CONTROL_BYTES >> 2);
    this.stats = new Float64Array(ring, 0, CONTROL_BYTES >> 3);
    this.capacity = this.control[CAPACITY];
    this.mask = this.capacity - 1;
    this.words = new Int32Array(ring, CONTROL_BYTES, this.capacity >> 2);
    this.record = new RingRecord(Buffer.from(ring, CONTROL_BYTES, this.capacity), this.words);
    this.record.from = peer;
    this.head = Atomics.load(this.control, HEAD);
  }

  hasData(): boolean {
    return Atomics.load(this.control, TAIL) !== this.head;
  }

  /**
   * Calls `handler` for every record published so far, in order, then frees their space with one
   * Atomics.store of the head. Returns the number of records. Stops early, leaving the rest in the
   * ring, once `canContinue` returns false (a local consumer must drain first). A handler that throws ends the drain;
   * its record counts as consumed.
   */
  drain(handler: RecordHandler, canContinue: () => boolean = ALWAYS): number {
    const tail = Atomics.load(this.control, TAIL);
    let head = this.head;
    if (tail === head) return 0;
    const words = this.words;
    const record = this.record;
    let count = 0;
    try {
      while (head !== tail && canContinue()) {
        const position = head & this.mask;
        const w = position >> 2;
        const size = words[w];
        if (size === WRAP_MARKER) {
          head = (head + this.capacity - position) | 0;
          continue;
        }
        record.account = words[w + 1];
        const flagsAndGroups = words[w + 2];
        record.flags = flagsAndGroups & MAX_FIELD;
        const groupCount = flagsAndGroups >>> 16;
        record.groupCount = groupCount;
        record.tag = words[w + 6];
        record.groupsIndex = w + 7;
        const lengths = words[w + 3];
        const subjectLength = lengths & MAX_FIELD;
        const replyLength = lengths >>> 16;
        record.subjectOffset = position + RECORD_HEADER_BYTES + 4 * groupCount;
        record.subjectLength = subjectLength;
        record.replyOffset = record.subjectOffset + subjectLength;
        record.replyLength = replyLength;
        record.headerLength = words[w + 4];
        record.payloadOffset = record.replyOffset + replyLength;
        record.payloadLength = words[w + 5];
        head = (head + size) | 0;
        count++;
        handler(record);
      }
    } finally {
      this.head = head;
      Atomics.store(this.control, HEAD, head);
      this.recordsRead += count;
      this.stats[STAT_RECORDS_READ] = this.recordsRead;
      // exchange, not store: a flag raised again right after our load must survive for the next drain.
      if (Atomics.load(this.control, PRODUCER_WAITING) !== 0 && Atomics.exchange(this.control, PRODUCER_WAITING, 0) !== 0) {
        this.producerBell.ring();
      }
    }
    return count;
  }
}

export interface RingStats {
  capacity: number;
  /** Bytes published by the producer and not yet consumed. */
  usedBytes: number;
  recordsWritten: number;
  bytesWritten: number;
  recordsRead: number;
  /** Dropped because the producer's overflow was at its limit (slow consumer). */
  recordsDropped: number;
  recordsTooLarge: number;
  /** Producer's local overflow as of its last commit. */
  overflowBytes: number;
}

/** Monitoring snapshot of one ring, readable from any thread. */
export function readRingStats(ring: SharedArrayBuffer): RingStats {
  const control = new Int32Array(ring, 0, CONTROL_BYTES >> 2);
  const stats = new Float64Array(ring, 0, CONTROL_BYTES >> 3);
  return {
    capacity: control[CAPACITY],
    usedBytes: (Atomics.load(control, TAIL) - Atomics.load(control, HEAD)) >>> 0,
    recordsWritten: stats[STAT_RECORDS_WRITTEN],
    bytesWritten: stats[STAT_BYTES_WRITTEN],
    recordsRead: stats[STAT_RECORDS_READ],
    recordsDropped: stats[STAT_RECORDS_DROPPED],
    recordsTooLarge: stats[STAT_RECORDS_TOO_LARGE],
    overflowBytes: stats[STAT_OVERFLOW_BYTES],
  };
}

/** Everything a worker needs to join the mesh; structured-clonable (postMessage / workerData). */
export interface RingMeshBuffers {
  workers: number;
  /** doorbells[w]: worker w's bell. */
  doorbells: SharedArrayBuffer[];
  /** rings[from * workers + to]; null on the diagonal. */
  rings: (SharedArrayBuffer | null)[];
}

/** Main thread: allocates all rings and doorbells for `workers` shards. */
export function createRingMesh(workers: number, ringBytes = DEFAULT_RING_BYTES): RingMeshBuffers {
  const doorbells: SharedArrayBuffer[] = [];
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let w = 0; w < workers; w++) doorbells.push(Doorbell.create());
  for (let from = 0; from < workers; from++) {
    for (let to = 0; to < workers; to++) rings.push(from === to ? null : createRing(ringBytes));
  }
  return { workers, doorbells, rings };
}

/** One worker's ends of the mesh: a producer to and a consumer from every peer, and its doorbell. */
export class RingMesh {
  readonly self: number;
  readonly workers: number;
  /** producers[peer]: ring self -> peer (null for self). */
  readonly producers: (RingProducer | null)[] = [];
  /** consumers[peer]: ring peer -> self (null for self). */
  readonly consumers: (RingConsumer | null)[] = [];
  readonly doorbell: Doorbell;
  private readonly hasWorkCheck = (): boolean => this.hasWork();

  constructor(buffers: RingMeshBuffers, self: number, options: RingProducerOptions = {}) {
    this.self = self;
    this.workers = buffers.workers;
    this.doorbell = new Doorbell(buffers.doorbells[self]);
    for (let peer = 0; peer < this.workers; peer++) {
      if (peer === self) {
        this.producers.push(null);
        this.consumers.push(null);
        continue;
      }
      const peerBell = new Doorbell(buffers.doorbells[peer]);
      this.producers.push(new RingProducer(buffers.rings[self * this.workers + peer]!, peerBell, options));
      this.consumers.push(new RingConsumer(buffers.rings[peer * this.workers + self]!, peerBell, peer));
    }
  }

  /** Commits every producer (call once at the end of each read buffer). */
  commit(): void {
    for (let peer = 0; peer < this.workers; peer++) this.producers[peer]?.commit();
  }

  /**
   * Drains every incoming ring into `handler`, then commits (records the handler forwarded, and
   * overflow that fits now that a peer freed space). Returns the number of records handled.
   */
  drain(handler: RecordHandler, canContinue: () => boolean = ALWAYS): number {
    let count = 0;
    for (let peer = 0; peer < this.workers; peer++) {
      const consumer = this.consumers[peer];
      if (consumer !== null) count += consumer.drain(handler, canContinue);
    }
    this.commit();
    return count;
  }

  /** True when a peer committed records not drained yet (one Atomics.load per peer). */
  hasIncoming(): boolean {
    for (let peer = 0; peer < this.workers; peer++) {
      const consumer = this.consumers[peer];
      if (consumer !== null && consumer.hasData()) return true;
    }
    return false;
  }

  /** True when a ring has records or a peer freed space for pending overflow. */
  hasWork(): boolean {
    for (let peer = 0; peer < this.workers; peer++) {
      if (peer === this.self) continue;
      if (this.consumers[peer]!.hasData() || this.producers[peer]!.canMakeProgress()) return true;
    }
    return false;
  }

  /** Resolves when there is work for drain(); never misses a wake-up (see Doorbell.park). */
  park(): Promise<unknown> {
    return this.doorbell.park(this.hasWorkCheck);
  }
}
