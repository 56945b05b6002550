/**
 * The subject index of one shard: a token trie of subscriptions with a bounded match cache,
 * following nats-server's Sublist (server/sublist.go). Single-threaded: no locks.
 *
 * Each trie level holds literal children by token text plus at most one "*" child and one ">"
 * child. A published subject is matched by walking its tokens: at each level the ">" child
 * matches the rest, the "*" child matches this token, the literal child must equal it. A "*" or
 * ">" token in a published subject therefore only matches wildcard subscriptions, as in
 * nats-server.
 *
 * Results are cached per published subject and kept exact on insert/remove (entries gaining a
 * subscription get a fresh copy, entries losing one are dropped), so a result handed out is never
 * modified. The cache is reachable by string (match) and by bytes (matchBytes, which needs no
 * string on a hit). Subjects are compared byte for byte like nats-server when subscription
 * subjects are the latin1 decoding of their wire bytes (one char per byte).
 */
import { hasEmptyToken, hashSubjectBytes, isValidSubscribeSubject, matchLiteral, subjectIsLiteral } from './subject.js';

export interface Subscription {
  readonly subject: string;
  /** Queue group name; null for a plain subscription. */
  readonly queue: string | null;
}

/** What a published subject matched. Shared and reused: callers must not modify it. */
export interface SublistResult<S> {
  /** Plain subscriptions: each one gets the message. */
  readonly plain: readonly S[];
  /**
   * One non-empty array per queue group name: one member of each gets the message. Members of a
   * group that came from different subjects ("foo.*" and "foo.bar", same name) are one group.
   */
  readonly queues: readonly (readonly S[])[];
}

export interface SublistOptions {
  /** Cached results kept before a sweep; 0 disables the cache. Default 1024 (nats-server slCacheMax). */
  readonly cacheMax?: number;
  /** Entries left after a sweep, oldest dropped first. Default 512 (nats-server slCacheSweep). */
  readonly cacheSweep?: number;
}

/** nats-server SublistStats, with its JSON names (used by /subsz). */
export interface SublistStats {
  num_subscriptions: number;
  num_cache: number;
  num_inserts: number;
  num_removes: number;
  num_matches: number;
  cache_hit_rate: number;
  max_fanout: number;
  avg_fanout: number;
}

const DEFAULT_CACHE_MAX = 1024;
const DEFAULT_CACHE_SWEEP = 512;

const EMPTY_RESULT: SublistResult<never> = Object.freeze({
  plain: Object.freeze([]),
  queues: Object.freeze([]),
});

interface ResultBuilder<S> {
  plain: S[];
  queues: S[][];
}

class TrieNode<S extends Subscription> {
  next: TrieLevel<S> | null = null;
  readonly plain = new Set<S>();
  queues: Map<string, Set<S>> | null = null;

  hasSubscriptions(): boolean {
    return this.plain.size > 0 || (this.queues !== null && this.queues.size > 0);
  }

  isEmpty(): boolean {
    return !this.hasSubscriptions() && (this.next === null || this.next.isEmpty());
  }
}

class TrieLevel<S extends Subscription> {
  readonly literals = new Map<string, TrieNode<S>>();
  star: TrieNode<S> | null = null;
  full: TrieNode<S> | null = null;

  isEmpty(): boolean {
    return this.literals.size === 0 && this.star === null && this.full === null;
  }

  find(token: string): TrieNode<S> | undefined {
    if (token === '*') return this.star ?? undefined;
    if (token === '>') return this.full ?? undefined;
    return this.literals.get(token);
  }

  findOrCreate(token: string): TrieNode<S> {
    if (token === '*') return (this.star ??= new TrieNode<S>());
    if (token === '>') return (this.full ??= new TrieNode<S>());
    let node = this.literals.get(token);
    if (node === undefined) {
      node = new TrieNode<S>();
      this.literals.set(token, node);
    }
    return node;
  }

  removeChild(token: string): void {
    if (token === '*') this.star = null;
    else if (token === '>') this.full = null;
    else this.literals.delete(token);
  }
}

function addNodeToResult<S extends Subscription>(node: TrieNode<S>, result: ResultBuilder<S>): void {
  for (const sub of node.plain) result.plain.push(sub);
  if (node.queues === null) return;
  for (const [name, members] of node.queues) {
    const group = findQueueGroup(result.queues, name);
    if (group === undefined) result.queues.push([...members]);
    else for (const sub of members) group.push(sub);
  }
}

/** Linear on purpose: results rarely hold more than a few groups, and it keeps results plain arrays. */
function findQueueGroup<S extends Subscription>(groups: S[][], name: string): S[] | undefined {
  for (const group of groups) {
    if (group[0]!.queue === name) return group;
  }
  return undefined;
}

/** Collects the subscriptions matching tokens[index..] starting at `level` (nats-server matchLevel). */
function matchLevel<S extends Subscription>(
  start: TrieLevel<S>,
  tokens: readonly string[],
  index: number,
  result: ResultBuilder<S>,
): void {
  let level: TrieLevel<S> | null = start;
  let literal: TrieNode<S> | undefined;
  let star: TrieNode<S> | null = null;
  for (let i = index; i < tokens.length; i++) {
    if (level === null) return;
    if (level.full !== null) addNodeToResult(level.full, result);
    star = level.star;
    if (star !== null && star.next !== null && i + 1 < tokens.length) matchLevel(star.next, tokens, i + 1, result);
    literal = level.literals.get(tokens[i]!);
    level = literal === undefined ? null : literal.next;
  }
  if (literal !== undefined) addNodeToResult(literal, result);
  if (star !== null) addNodeToResult(star, result);
}

/** hasInterest's walk: like matchLevel, without collecting, stopping at the first subscription. */
function levelHasInterest<S extends Subscription>(start: TrieLevel<S>, subject: string, tokenStart: number): boolean {
  let level = start;
  for (;;) {
    // A ">" node has no children, so it only exists while it holds subscriptions.
    if (level.full !== null) return true;
    const dot = subject.indexOf('.', tokenStart);
    const isLast = dot < 0;
    const tokenEnd = isLast ? subject.length : dot;
    const star = level.star;
    if (star !== null) {
      if (isLast ? star.hasSubscriptions() : star.next !== null && levelHasInterest(star.next, subject, tokenEnd + 1)) {
        return true;
      }
    }
    const literal = level.literals.get(subject.slice(tokenStart, tokenEnd));
    if (literal === undefined) return false;
    if (isLast) return literal.hasSubscriptions();
    if (literal.next === null) return false;
    level = literal.next;
    tokenStart = tokenEnd + 1;
  }
}

function resultWith<S extends Subscription>(result: SublistResult<S>, sub: S): SublistResult<S> {
  const queues = result.queues.map((group) => [...group]);
  const plain = [...result.plain];
  if (sub.queue === null) plain.push(sub);
  else {
    const group = findQueueGroup(queues, sub.queue);
    if (group === undefined) queues.push([sub]);
    else group.push(sub);
  }
  return { plain, queues };
}

/** The latin1 bytes of a subject, or null when a char is above 0xff (no byte string decodes to it). */
function latin1Bytes(subject: string): Uint8Array | null {
  for (let i = 0; i < subject.length; i++) {
    if (subject.charCodeAt(i) > 0xff) return null;
  }
  return Buffer.from(subject, 'latin1');
}

function bytesEqual(bytes: Uint8Array, buf: Uint8Array, off: number, len: number): boolean {
  if (bytes.length !== len) return false;
  for (let i = 0; i < len; i++) {
    if (bytes[i] !== buf[off + i]) return false;
  }
  return true;
}

/** A cached match. The entry outlives result updates, so the byte index never needs relinking. */
class CacheEntry<S> {
  nextSameHash: CacheEntry<S> | null = null;

  constructor(
    readonly subject: string,
    public result: SublistResult<S>,
    /** The subject's latin1 bytes, compared on byte lookups; null keeps it out of the byte index. */
    readonly bytes: Uint8Array | null,
    readonly hash: number,
  ) {}
}

/**
 * Match results by published subject, reachable by string and by bytes (a hash index with
 * chained collisions). Bounded like nats-server's cache: past `max` entries it drops the oldest
 * (Map order is insertion order) down to `sweepTo`.
 */
class MatchCache<S> {
  private readonly bySubject = new Map<string, CacheEntry<S>>();
  private readonly byHash = new Map<number, CacheEntry<S>>();

  constructor(
    private readonly max: number,
    private readonly sweepTo: number,
  ) {}

  get size(): number {
    return this.bySubject.size;
  }

  get(subject: string): CacheEntry<S> | undefined {
    return this.bySubject.get(subject);
  }

  getBytes(buf: Uint8Array, off: number, len: number, hash: number): CacheEntry<S> | undefined {
    for (let entry = this.byHash.get(hash) ?? null; entry !== null; entry = entry.nextSameHash) {
      if (bytesEqual(entry.bytes!, buf, off, len)) return entry;
    }
    return undefined;
  }

  /** Adds a result found by subject string. */
  add(subject: string, result: SublistResult<S>): void {
    const bytes = latin1Bytes(subject);
    this.addEntry(new CacheEntry(subject, result, bytes, bytes === null ? 0 : hashSubjectBytes(bytes, 0, bytes.length)));
  }

  /** Adds a result found by bytes, whose copy and hash are known already. */
  addWithBytes(subject: string, result: SublistResult<S>, bytes: Uint8Array, hash: number): void {
    this.addEntry(new CacheEntry(subject, result, bytes, hash));
  }

  delete(entry: CacheEntry<S>): void {
    this.bySubject.delete(entry.subject);
    if (entry.bytes === null) return;
    const head = this.byHash.get(entry.hash);
    if (head === entry) {
      if (entry.nextSameHash === null) this.byHash.delete(entry.hash);
      else this.byHash.set(entry.hash, entry.nextSameHash);
      return;
    }
    for (let previous = head ?? null; previous !== null; previous = previous.nextSameHash) {
      if (previous.nextSameHash === entry) {
        previous.nextSameHash = entry.nextSameHash;
        return;
      }
    }
  }

  entries(): IterableIterator<CacheEntry<S>> {
    return this.bySubject.values();
  }

  private addEntry(entry: CacheEntry<S>): void {
    this.bySubject.set(entry.subject, entry);
    if (entry.bytes !== null) {
      entry.nextSameHash = this.byHash.get(entry.hash) ?? null;
      this.byHash.set(entry.hash, entry);
    }
    if (this.bySubject.size > this.max) this.sweep();
  }

  private sweep(): void {
    for (const entry of this.bySubject.values()) {
      if (this.bySubject.size <= this.sweepTo) return;
      this.delete(entry);
    }
  }
}

export class Sublist<S extends Subscription> {
  private readonly root = new TrieLevel<S>();
  private readonly cache: MatchCache<S> | null;
  private subscriptionCount = 0;
  private generationCounter = 0;
  private inserts = 0;
  private removes = 0;
  private matches = 0;
  private cacheHits = 0;

  constructor(options: SublistOptions = {}) {
    const cacheMax = options.cacheMax ?? DEFAULT_CACHE_MAX;
    const cacheSweep = Math.min(options.cacheSweep ?? DEFAULT_CACHE_SWEEP, cacheMax);
    this.cache = cacheMax > 0 ? new MatchCache<S>(cacheMax, cacheSweep) : null;
  }

  /** Number of subscriptions held. */
  get count(): number {
    return this.subscriptionCount;
  }

  /** Bumped by every insert and remove that changed the index: lets callers validate derived caches. */
  get generation(): number {
    return this.generationCounter;
  }

  /**
   * Adds a subscription. Returns false, adding nothing, when its subject is not one SUB accepts
   * (the caller answers -ERR 'Invalid Subject'). Inserting the same object twice changes nothing.
   */
  insert(sub: S): boolean {
    const subject = sub.subject;
    if (!isValidSubscribeSubject(subject)) return false;
    const tokens = subject.split('.');
    let level = this.root;
    let node = level.findOrCreate(tokens[0]!);
    for (let i = 1; i < tokens.length; i++) {
      level = node.next ??= new TrieLevel<S>();
      node = level.findOrCreate(tokens[i]!);
    }
    if (sub.queue === null) {
      if (node.plain.has(sub)) return true;
      node.plain.add(sub);
    } else {
      const queues = (node.queues ??= new Map());
      let members = queues.get(sub.queue);
      if (members === undefined) {
        members = new Set();
        queues.set(sub.queue, members);
      } else if (members.has(sub)) {
        return true;
      }
      members.add(sub);
    }
    this.subscriptionCount++;
    this.inserts++;
    this.generationCounter++;
    this.addToCache(sub);
    return true;
  }

  /** Removes a subscription (by identity). Returns false when it was not in the index. */
  remove(sub: S): boolean {
    const subject = sub.subject;
    if (!isValidSubscribeSubject(subject)) return false;
    const tokens = subject.split('.');
    const levels: TrieLevel<S>[] = [];
    const nodes: TrieNode<S>[] = [];
    let level: TrieLevel<S> | null = this.root;
    for (const token of tokens) {
      if (level === null) return false;
      const node = level.find(token);
      if (node === undefined) return false;
      levels.push(level);
      nodes.push(node);
      level = node.next;
    }
    const node = nodes[nodes.length - 1]!;
    if (sub.queue === null) {
      if (!node.plain.delete(sub)) return false;
    } else {
      const members = node.queues?.get(sub.queue);
      if (members === undefined || !members.delete(sub)) return false;
      if (members.size === 0) node.queues!.delete(sub.queue);
    }
    for (let i = nodes.length - 1; i >= 0; i--) {
      const current = nodes[i]!;
      if (!current.isEmpty()) break;
      levels[i]!.removeChild(tokens[i]!);
      if (i > 0) {
        const parent = nodes[i - 1]!;
        if (parent.next !== null && parent.next.isEmpty()) parent.next = null;
      }
    }
    this.subscriptionCount--;
    this.removes++;
    this.generationCounter++;
    this.removeFromCache(subject);
    return true;
  }

  /**
   * All subscriptions matching the published subject. The result is cached and shared until the
   * index changes: read it, never modify it. No allocation on a cache hit.
   */
  match(subject: string): SublistResult<S> {
    this.matches++;
    const cache = this.cache;
    if (cache === null) return hasEmptyToken(subject) ? EMPTY_RESULT : this.collect(subject);
    const cached = cache.get(subject);
    if (cached !== undefined) {
      this.cacheHits++;
      return cached.result;
    }
    // Empty subjects and empty tokens match nothing, as in nats-server, and are not cached.
    if (hasEmptyToken(subject)) return EMPTY_RESULT;
    const result = this.collect(subject);
    cache.add(subject, result);
    return result;
  }

  /**
   * match() for the published subject in buf[off, off + len), read as latin1 (one char per byte):
   * subscription subjects must be latin1-decoded wire bytes (Buffer#toString('latin1')) for this
   * to be byte-exact like nats-server. A cache hit makes no string and allocates nothing; a miss
   * decodes the subject once.
   */
  matchBytes(buf: Uint8Array, off: number, len: number): SublistResult<S> {
    const cache = this.cache;
    if (cache === null) return this.match(decodeLatin1(buf, off, len));
    this.matches++;
    const hash = hashSubjectBytes(buf, off, len);
    const cached = cache.getBytes(buf, off, len, hash);
    if (cached !== undefined) {
      this.cacheHits++;
      return cached.result;
    }
    const subject = decodeLatin1(buf, off, len);
    if (hasEmptyToken(subject)) return EMPTY_RESULT;
    const result = this.collect(subject);
    // A copy: buf is a read buffer that will be overwritten.
    cache.addWithBytes(subject, result, new Uint8Array(buf.subarray(off, off + len)), hash);
    return result;
  }

  /**
   * Whether any subscription matches the published subject. Builds no result; on a cache miss
   * the only allocations are the token strings used as map keys.
   */
  hasInterest(subject: string): boolean {
    const cached = this.cache?.get(subject);
    if (cached !== undefined) return cached.result.plain.length > 0 || cached.result.queues.length > 0;
    if (hasEmptyToken(subject)) return false;
    return levelHasInterest(this.root, subject, 0);
  }

  /** Every subscription, each once (for monitoring). */
  *subscriptions(): IterableIterator<S> {
    const pending: TrieLevel<S>[] = [this.root];
    for (let level = pending.pop(); level !== undefined; level = pending.pop()) {
      for (const node of level.literals.values()) yield* visitNode(node, pending);
      if (level.star !== null) yield* visitNode(level.star, pending);
      if (level.full !== null) yield* visitNode(level.full, pending);
    }
  }

  [Symbol.iterator](): IterableIterator<S> {
    return this.subscriptions();
  }

  /** Depth of the deepest trie branch (nats-server numLevels); 0 when empty. Shows that removal prunes. */
  numLevels(): number {
    return levelDepth(this.root);
  }

  /** nats-server Sublist.Stats: fanout figures are computed over the cached results. */
  stats(): SublistStats {
    let totalFanout = 0;
    let maxFanout = 0;
    let cached = 0;
    if (this.cache !== null) {
      for (const { result } of this.cache.entries()) {
        const fanout = result.plain.length + result.queues.length;
        totalFanout += fanout;
        if (fanout > maxFanout) maxFanout = fanout;
        cached++;
      }
    }
    return {
      num_subscriptions: this.subscriptionCount,
      num_cache: cached,
      num_inserts: this.inserts,
      num_removes: this.removes,
      num_matches: this.matches,
      cache_hit_rate: this.matches > 0 ? this.cacheHits / this.matches : 0,
      max_fanout: maxFanout,
      avg_fanout: cached > 0 ? totalFanout / cached : 0,
    };
  }

  /** Walks the trie for a subject without empty tokens. */
  private collect(subject: string): SublistResult<S> {
    const builder: ResultBuilder<S> = { plain: [], queues: [] };
    matchLevel(this.root, subject.split('.'), 0, builder);
    return builder.plain.length === 0 && builder.queues.length === 0 ? EMPTY_RESULT : builder;
  }

  /** Cached results are shared, so entries that gain the subscription get a fresh copy. */
  private addToCache(sub: S): void {
    const cache = this.cache;
    if (cache === null) return;
    const subject = sub.subject;
    if (subjectIsLiteral(subject)) {
      const entry = cache.get(subject);
      if (entry !== undefined) entry.result = resultWith(entry.result, sub);
      return;
    }
    for (const entry of cache.entries()) {
      if (matchLiteral(entry.subject, subject)) entry.result = resultWith(entry.result, sub);
    }
  }

  private removeFromCache(subject: string): void {
    const cache = this.cache;
    if (cache === null) return;
    if (subjectIsLiteral(subject)) {
      const entry = cache.get(subject);
      if (entry !== undefined) cache.delete(entry);
      return;
    }
    for (const entry of cache.entries()) {
      if (matchLiteral(entry.subject, subject)) cache.delete(entry);
    }
  }
}

function decodeLatin1(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('latin1');
}

function levelDepth<S extends Subscription>(level: TrieLevel<S> | null): number {
  if (level === null || level.isEmpty()) return 0;
  let deepest = 0;
  for (const node of level.literals.values()) deepest = Math.max(deepest, levelDepth(node.next));
  if (level.star !== null) deepest = Math.max(deepest, levelDepth(level.star.next));
  if (level.full !== null) deepest = Math.max(deepest, levelDepth(level.full.next));
  return deepest + 1;
}

function* visitNode<S extends Subscription>(node: TrieNode<S>, pending: TrieLevel<S>[]): IterableIterator<S> {
  yield* node.plain;
  if (node.queues !== null) for (const members of node.queues.values()) yield* members;
  if (node.next !== null) pending.push(node.next);
}
