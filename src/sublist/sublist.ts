/**
 * The subject index of one shard: a token trie of subscriptions with a bounded match cache,
 * following nats-server's Sublist (server/sublist.go). Single-threaded: no locks.
 *
 * Each trie level holds literal children by token text plus at most one "*" child and one ">"
 * child. A published subject is matched by walking its tokens: at each level the ">" child
 * matches the rest, the "*" child matches this token, the literal child must equal it. A "*" or
 * ">" token in a published subject therefore only matches wildcard subscriptions, as in
 * nats-server.
 */
import { hasEmptyToken, isValidSubscribeSubject, matchLiteral, subjectIsLiteral } from './subject.js';

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

export class Sublist<S extends Subscription> {
  private readonly root = new TrieLevel<S>();
  /** Keyed by published subject; Map order is insertion order, so a sweep drops the oldest. */
  private readonly cache: Map<string, SublistResult<S>> | null;
  private readonly cacheMax: number;
  private readonly cacheSweep: number;
  private subscriptionCount = 0;
  private generationCounter = 0;
  private inserts = 0;
  private removes = 0;
  private matches = 0;
  private cacheHits = 0;

  constructor(options: SublistOptions = {}) {
    this.cacheMax = options.cacheMax ?? DEFAULT_CACHE_MAX;
    this.cacheSweep = Math.min(options.cacheSweep ?? DEFAULT_CACHE_SWEEP, this.cacheMax);
    this.cache = this.cacheMax > 0 ? new Map() : null;
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
    if (cache !== null) {
      const cached = cache.get(subject);
      if (cached !== undefined) {
        this.cacheHits++;
        return cached;
      }
    }
    // Empty subjects and empty tokens match nothing, as in nats-server's Sublist.match.
    if (hasEmptyToken(subject)) return EMPTY_RESULT;
    const builder: ResultBuilder<S> = { plain: [], queues: [] };
    matchLevel(this.root, subject.split('.'), 0, builder);
    const result = builder.plain.length === 0 && builder.queues.length === 0 ? EMPTY_RESULT : builder;
    if (cache !== null) {
      cache.set(subject, result);
      if (cache.size > this.cacheMax) this.sweepCache(cache);
    }
    return result;
  }

  /**
   * Whether any subscription matches the published subject. Builds no result; on a cache miss
   * the only allocations are the token strings used as map keys.
   */
  hasInterest(subject: string): boolean {
    const cached = this.cache?.get(subject);
    if (cached !== undefined) return cached.plain.length > 0 || cached.queues.length > 0;
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
      for (const result of this.cache.values()) {
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

  /** Cached results are shared, so entries that gain the subscription are replaced by copies. */
  private addToCache(sub: S): void {
    const cache = this.cache;
    if (cache === null) return;
    const subject = sub.subject;
    if (subjectIsLiteral(subject)) {
      const cached = cache.get(subject);
      if (cached !== undefined) cache.set(subject, resultWith(cached, sub));
      return;
    }
    for (const [key, cached] of cache) {
      if (matchLiteral(key, subject)) cache.set(key, resultWith(cached, sub));
    }
  }

  private removeFromCache(subject: string): void {
    const cache = this.cache;
    if (cache === null) return;
    if (subjectIsLiteral(subject)) {
      cache.delete(subject);
      return;
    }
    for (const key of cache.keys()) {
      if (matchLiteral(key, subject)) cache.delete(key);
    }
  }

  private sweepCache(cache: Map<string, SublistResult<S>>): void {
    for (const key of cache.keys()) {
      if (cache.size <= this.cacheSweep) return;
      cache.delete(key);
    }
  }
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
