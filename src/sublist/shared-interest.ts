/**
 * Shared interest table: tells a publishing shard which OTHER shards may have a subscriber for a
 * subject, so it forwards a message only to those. False positives are allowed (the receiver
 * re-checks its own index); false negatives never.
 *
 * Every worker owns one region (a SharedArrayBuffer) that only it writes, so updates are plain
 * Atomics.add with no CAS. A region holds two tables of Int32 counters:
 *   - literal:  slot = hash(account, subject) & mask. The owner adds 1 when its local count of
 *               subscriptions on that exact subject goes 0 -> 1 and subtracts 1 on 1 -> 0, so
 *               subjects colliding in one slot keep it > 0 until all of them are gone.
 *   - wildcard: slot = hash(account, first token) & mask for a wildcard subscription whose first
 *               token is literal ("orders.*.new"), or slot = hash(account) & mask when the first
 *               token is itself a wildcard ("*.new", ">"). Counted per distinct pattern like literals.
 * A reader hashes the published subject once (SubjectHash) and does at most three Atomics.load per
 * peer: literal slot, first-token slot, account slot.
 *
 * Accounts: the account id seeds the hash, so one table set serves all accounts.
 *
 * Growth without stopping traffic: when the owner's distinct literal subjects (or wildcard
 * patterns) exceed `maxLoad` of the slots, it allocates a region 4x larger, fills it from its local
 * counts, and hands it back from addSubscription(); the caller posts it to every peer, which calls
 * adoptRegion(). The owner keeps updating every region a peer may still read, and drops the older
 * ones once all peers have adopted a newer one (peers count themselves into the region's header),
 * so there is no window where a peer reads a stale region that misses a subscription.
 *
 * Region layout (Int32 indices): [0] generation, [1] literal slots, [2] wildcard slots,
 * [3] adopters (peers that switched to this region; Atomics.add by readers), padding to 64 bytes,
 * then the literal counters, then the wildcard counters. Slot counts are powers of two.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const DOT = 0x2e;

/**
 * FNV-1a (32 bit) of one subject, seeded by the account id, with the intermediate states a reader
 * needs. Computed once per published message (hashBytes) and reused for every peer; hashString
 * gives identical values for the subject held as a binary (latin1) string, for the SUB path.
 */
export class SubjectHash {
  /** hash(account, whole subject): the literal slot. */
  subject = 0;
  /** hash(account, first token): the wildcard slot of patterns starting with that token. */
  firstToken = 0;
  /** hash(account): the wildcard slot of patterns starting with `*` or `>`. */
  account = 0;

  hashBytes(account: number, buf: Uint8Array, offset: number, length: number): this {
    let h = accountSeed(account);
    this.account = h;
    let firstToken = -1;
    const end = offset + length;
    for (let i = offset; i < end; i++) {
      const b = buf[i];
      if (b === DOT && firstToken === -1) firstToken = h;
      h = Math.imul(h ^ b, FNV_PRIME);
    }
    this.subject = h;
    this.firstToken = firstToken === -1 ? h : firstToken;
    return this;
  }

  /**
   * The same hash for a subject held as a binary string: shards decode subject bytes as latin1
   * (one char per byte), so char codes are the bytes.
   */
  hashString(account: number, subject: string): this {
    let h = accountSeed(account);
    this.account = h;
    let firstToken = -1;
    const n = subject.length;
    for (let i = 0; i < n; i++) {
      const c = subject.charCodeAt(i) & 0xff;
      if (c === DOT && firstToken === -1) firstToken = h;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    this.subject = h;
    this.firstToken = firstToken === -1 ? h : firstToken;
    return this;
  }
}

/** FNV-1a over the 4 little-endian bytes of the account id. */
function accountSeed(account: number): number {
  let h = FNV_OFFSET;
  h = Math.imul(h ^ (account & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((account >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((account >>> 16) & 0xff), FNV_PRIME);
  return Math.imul(h ^ (account >>> 24), FNV_PRIME);
}

const GENERATION = 0;
const LITERAL_SLOTS = 1;
const WILDCARD_SLOTS = 2;
const ADOPTERS = 3;
const HEADER_INTS = 16;

export const DEFAULT_LITERAL_SLOTS = 4096;
export const DEFAULT_WILDCARD_SLOTS = 1024;
/**
 * Growth threshold in distinct entries per slot. At 0.25 about 22% of slots are non-zero, so about
 * 22% of subjects nobody on a peer listens to are still forwarded to that peer (and dropped there).
 */
export const DEFAULT_MAX_LOAD = 0.25;
const GROWTH_FACTOR = 4;

/** Allocates a zeroed region. The main thread creates one per worker before spawning them. */
export function createInterestRegion(
  literalSlots = DEFAULT_LITERAL_SLOTS,
  wildcardSlots = DEFAULT_WILDCARD_SLOTS,
  generation = 0,
): SharedArrayBuffer {
  if (!isPowerOfTwo(literalSlots) || !isPowerOfTwo(wildcardSlots)) {
    throw new RangeError('interest table slot counts must be powers of two');
  }
  const sab = new SharedArrayBuffer((HEADER_INTS + literalSlots + wildcardSlots) * 4);
  const header = new Int32Array(sab, 0, HEADER_INTS);
  header[GENERATION] = generation;
  header[LITERAL_SLOTS] = literalSlots;
  header[WILDCARD_SLOTS] = wildcardSlots;
  return sab;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** True when one token of the pattern is `*` or `>` (NATS wildcards are whole tokens only). */
export function isWildcardSubject(subject: string): boolean {
  const n = subject.length;
  for (let i = 0; i < n; i++) {
    const c = subject.charCodeAt(i);
    if ((c === 0x2a || c === 0x3e) && (i === 0 || subject.charCodeAt(i - 1) === DOT) &&
        (i + 1 === n || subject.charCodeAt(i + 1) === DOT)) {
      return true;
    }
  }
  return false;
}

function startsWithWildcard(subject: string): boolean {
  const c = subject.charCodeAt(0);
  return (c === 0x2a || c === 0x3e) && (subject.length === 1 || subject.charCodeAt(1) === DOT);
}

/** One distinct (account, subject) the owner has subscriptions on. */
interface LocalEntry {
  count: number;
  /** Slot hash in its table (literal: subject hash; wildcard: first-token or account hash). */
  hash: number;
  wildcard: boolean;
}

export interface InterestTableOptions {
  /** Distinct entries per slot that triggers growth; default DEFAULT_MAX_LOAD. */
  maxLoad?: number;
}

/**
 * One worker's view of every region: writer of its own (index `self`), reader of the peers'.
 * The own region is cleared on construction, so a respawned worker can take over its
 * predecessor's region without leaving stale interest behind.
 */
export class InterestTable {
  readonly self: number;
  readonly workers: number;
  private readonly maxLoad: number;

  // Reader state, indexed by worker; refreshed by adoptRegion.
  private readonly views: Int32Array[] = [];
  private readonly literalMask: Int32Array;
  private readonly wildcardBase: Int32Array;
  private readonly wildcardMask: Int32Array;
  private readonly generation: Int32Array;

  // Writer state.
  private readonly local = new Map<string, LocalEntry>();
  private literalEntries = 0;
  private wildcardEntries = 0;
  /** Own regions a peer may still read, oldest first; every update goes to all of them. */
  private liveRegions: Int32Array[];
  private readonly hash = new SubjectHash();

  constructor(self: number, regions: readonly SharedArrayBuffer[], options: InterestTableOptions = {}) {
    if (self < 0 || self >= regions.length) throw new RangeError('self is not a worker index');
    this.self = self;
    this.workers = regions.length;
    this.maxLoad = options.maxLoad ?? DEFAULT_MAX_LOAD;
    this.literalMask = new Int32Array(this.workers);
    this.wildcardBase = new Int32Array(this.workers);
    this.wildcardMask = new Int32Array(this.workers);
    this.generation = new Int32Array(this.workers);
    for (let w = 0; w < this.workers; w++) this.setRegion(w, regions[w]);
    const own = this.views[self];
    own.fill(0, HEADER_INTS);
    this.liveRegions = [own];
  }

  // ---- reader side (publish path) ----

  /**
   * Writes into `out` the workers other than self that may have interest in the hashed subject and
   * returns how many. At most three Atomics.load per peer.
   */
  collectPeers(h: SubjectHash, out: Int32Array): number {
    let n = 0;
    for (let w = 0; w < this.workers; w++) {
      if (w !== this.self && this.mayHaveInterest(w, h)) out[n++] = w;
    }
    return n;
  }

  mayHaveInterest(worker: number, h: SubjectHash): boolean {
    const v = this.views[worker];
    if (Atomics.load(v, HEADER_INTS + (h.subject & this.literalMask[worker])) > 0) return true;
    const base = this.wildcardBase[worker];
    const mask = this.wildcardMask[worker];
    return Atomics.load(v, base + (h.firstToken & mask)) > 0 || Atomics.load(v, base + (h.account & mask)) > 0;
  }

  /**
   * Switches reads of `worker` to a region it published after growing. Returns false (and changes
   * nothing) for a region not newer than the current one, so late or repeated deliveries are safe.
   */
  adoptRegion(worker: number, region: SharedArrayBuffer): boolean {
    if (worker === this.self) throw new RangeError('a worker does not adopt its own region');
    const header = new Int32Array(region, 0, HEADER_INTS);
    if (header[GENERATION] <= this.generation[worker]) return false;
    this.setRegion(worker, region);
    // Counted only after the switch: from now on this worker never reads the older region.
    Atomics.add(header, ADOPTERS, 1);
    return true;
  }

  // ---- writer side (SUB / UNSUB path) ----

  /**
   * Records one more local subscription on `subject` (a literal subject or a wildcard pattern).
   * Returns a new, larger region when the table grew: post it to every peer (adoptRegion).
   */
  addSubscription(account: number, subject: string): SharedArrayBuffer | null {
    const key = entryKey(account, subject);
    const entry = this.local.get(key);
    if (entry !== undefined) {
      entry.count++;
      return null;
    }
    const wildcard = isWildcardSubject(subject);
    const h = this.hash.hashString(account, subject);
    const added: LocalEntry = {
      count: 1,
      hash: !wildcard ? h.subject : startsWithWildcard(subject) ? h.account : h.firstToken,
      wildcard,
    };
    this.local.set(key, added);
    if (wildcard) this.wildcardEntries++;
    else this.literalEntries++;
    this.addToRegions(added, 1);
    return this.growIfNeeded();
  }

  /** Records one local subscription fewer; the subject must have been added. */
  removeSubscription(account: number, subject: string): void {
    const key = entryKey(account, subject);
    const entry = this.local.get(key);
    if (entry === undefined) throw new Error(`no local subscription on ${subject}`);
    if (--entry.count > 0) return;
    this.local.delete(key);
    if (entry.wildcard) this.wildcardEntries--;
    else this.literalEntries--;
    this.addToRegions(entry, -1);
  }

  /** The newest own region (what peers should read); for tests and monitoring. */
  get ownRegion(): SharedArrayBuffer {
    return this.liveRegions[this.liveRegions.length - 1].buffer as SharedArrayBuffer;
  }

  /** Own regions still being updated (1 unless a growth is not yet adopted by every peer). */
  get liveRegionCount(): number {
    return this.liveRegions.length;
  }

  private addToRegions(entry: LocalEntry, delta: number): void {
    this.retireAdoptedRegions();
    const regions = this.liveRegions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i];
      Atomics.add(r, slotIndex(r, entry), delta);
    }
  }

  private retireAdoptedRegions(): void {
    const regions = this.liveRegions;
    if (regions.length === 1) return;
    for (let i = regions.length - 1; i > 0; i--) {
      if (Atomics.load(regions[i], ADOPTERS) >= this.workers - 1) {
        this.liveRegions = regions.slice(i);
        return;
      }
    }
  }

  private growIfNeeded(): SharedArrayBuffer | null {
    const newest = this.liveRegions[this.liveRegions.length - 1];
    let literalSlots = newest[LITERAL_SLOTS];
    let wildcardSlots = newest[WILDCARD_SLOTS];
    if (this.literalEntries <= literalSlots * this.maxLoad && this.wildcardEntries <= wildcardSlots * this.maxLoad) {
      return null;
    }
    while (this.literalEntries > literalSlots * this.maxLoad) literalSlots *= GROWTH_FACTOR;
    while (this.wildcardEntries > wildcardSlots * this.maxLoad) wildcardSlots *= GROWTH_FACTOR;
    const sab = createInterestRegion(literalSlots, wildcardSlots, newest[GENERATION] + 1);
    const grown = new Int32Array(sab);
    // Filled before anyone can see it; the owner's thread is the only writer, so no update is missed.
    for (const entry of this.local.values()) grown[slotIndex(grown, entry)]++;
    if (this.workers === 1) {
      this.liveRegions = [grown];
    } else {
      this.liveRegions.push(grown);
    }
    this.views[this.self] = grown;
    this.generation[this.self] = grown[GENERATION];
    return sab;
  }

  private setRegion(worker: number, region: SharedArrayBuffer): void {
    const v = new Int32Array(region);
    const literalSlots = v[LITERAL_SLOTS];
    this.views[worker] = v;
    this.literalMask[worker] = literalSlots - 1;
    this.wildcardBase[worker] = HEADER_INTS + literalSlots;
    this.wildcardMask[worker] = v[WILDCARD_SLOTS] - 1;
    this.generation[worker] = v[GENERATION];
  }
}

function slotIndex(region: Int32Array, entry: LocalEntry): number {
  const literalSlots = region[LITERAL_SLOTS];
  return entry.wildcard
    ? HEADER_INTS + literalSlots + (entry.hash & (region[WILDCARD_SLOTS] - 1))
    : HEADER_INTS + (entry.hash & (literalSlots - 1));
}

function entryKey(account: number, subject: string): string {
  return `${account} ${subject}`;
}
