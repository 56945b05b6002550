import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sublist, type SublistResult } from '../../src/sublist/sublist.js';
import { hashSubjectBytes } from '../../src/sublist/subject.js';

interface TestSub {
  readonly subject: string;
  readonly queue: string | null;
  readonly id: string;
}

let nextId = 0;
function sub(subject: string, queue: string | null = null): TestSub {
  return { subject, queue, id: `${subject}${queue === null ? '' : ` [${queue}]`} #${nextId++}` };
}

function plainIds(result: SublistResult<TestSub>): string[] {
  return result.plain.map((s) => s.id).sort();
}

function subjects(result: SublistResult<TestSub>): string[] {
  return [...result.plain, ...result.queues.flat()].map((s) => s.subject).sort();
}

/** Queue groups as "name: member subjects", sorted, to compare regardless of order. */
function groups(result: SublistResult<TestSub>): string[] {
  return result.queues.map((group) => `${group[0]!.queue}: ${group.map((s) => s.subject).sort().join(' ')}`).sort();
}

function withSubs(subjectList: string[], options?: { cacheMax?: number; cacheSweep?: number }): Sublist<TestSub> {
  const sublist = new Sublist<TestSub>(options);
  for (const subject of subjectList) assert.equal(sublist.insert(sub(subject)), true, subject);
  return sublist;
}

test('literal subscriptions match only the identical subject', () => {
  const sublist = withSubs(['foo', 'foo.bar', 'foo.bar.baz', 'foo*', 'bar']);
  assert.deepEqual(subjects(sublist.match('foo')), ['foo']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.bar']);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['foo.bar.baz']);
  assert.deepEqual(subjects(sublist.match('foo*')), ['foo*']);
  assert.deepEqual(subjects(sublist.match('fo')), []);
  assert.deepEqual(subjects(sublist.match('foo.ba')), []);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz.qux')), []);
  assert.deepEqual(subjects(sublist.match('baz')), []);
});

test('"*" matches exactly one token, in any position', () => {
  const sublist = withSubs(['*', 'foo.*', '*.bar', 'foo.*.baz', '*.*.*']);
  assert.deepEqual(subjects(sublist.match('foo')), ['*']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['*.bar', 'foo.*']);
  assert.deepEqual(subjects(sublist.match('foo.qux')), ['foo.*']);
  assert.deepEqual(subjects(sublist.match('qux.bar')), ['*.bar']);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['*.*.*', 'foo.*.baz']);
  assert.deepEqual(subjects(sublist.match('foo.bar.qux')), ['*.*.*']);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz.qux')), []);
});

test('">" matches one or more trailing tokens, never zero', () => {
  const sublist = withSubs(['>', 'foo.>', 'foo.bar.>', '*.>', 'foo.*.>']);
  assert.deepEqual(subjects(sublist.match('foo')), ['>']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['*.>', '>', 'foo.>']);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['*.>', '>', 'foo.*.>', 'foo.>', 'foo.bar.>']);
  assert.deepEqual(subjects(sublist.match('qux.bar.baz.x.y')), ['*.>', '>']);
});

test('mixed literal and wildcard subscriptions on one subject each match once', () => {
  const sublist = withSubs(['a.b.c', 'a.*.c', 'a.b.*', 'a.>', '*.b.c', '*.*.*', 'a.*.>', '>', 'a.b', 'a.b.c.d']);
  assert.deepEqual(subjects(sublist.match('a.b.c')), ['*.*.*', '*.b.c', '>', 'a.*.>', 'a.*.c', 'a.>', 'a.b.*', 'a.b.c']);
  assert.equal(sublist.match('a.b.c').plain.length, 8);
});

test('a wildcard token in a published subject only matches wildcard subscriptions (as nats-server)', () => {
  // Delivery recorded from nats-server 2.9.10 (non-pedantic PUB; pedantic delivers the same after
  // its -ERR 'Invalid Publish Subject').
  const sublist = withSubs(['>', 'foo.*', 'foo.bar', 'foo.*.baz', '*.>']);
  assert.deepEqual(subjects(sublist.match('foo.*')), ['*.>', '>', 'foo.*']);
  assert.deepEqual(subjects(sublist.match('foo.>')), ['*.>', '>', 'foo.*']);
  assert.deepEqual(subjects(sublist.match('foo.*.baz')), ['*.>', '>', 'foo.*.baz']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['*.>', '>', 'foo.*', 'foo.bar']);
  assert.deepEqual(subjects(sublist.match('>')), ['>']);
  assert.deepEqual(subjects(sublist.match('foo*.>x')), ['*.>', '>']);
});

test('subjects with an empty token match nothing, even ">"', () => {
  const sublist = withSubs(['>', '*', '*.*', 'foo.*', '*.foo', 'foo.*.bar']);
  for (const subject of ['', '.', 'foo.', '.foo', 'foo..bar', '..']) {
    assert.deepEqual(subjects(sublist.match(subject)), [], JSON.stringify(subject));
    assert.equal(sublist.hasInterest(subject), false, JSON.stringify(subject));
  }
});

test('queue subscriptions are grouped by name across subjects', () => {
  const sublist = new Sublist<TestSub>();
  const plainFooBar = sub('foo.bar');
  for (const s of [
    plainFooBar,
    sub('foo.bar', 'workers'),
    sub('foo.*', 'workers'),
    sub('foo.>', 'workers'),
    sub('foo.bar', 'others'),
    sub('*.bar', 'others'),
    sub('foo.baz', 'workers'),
  ]) {
    sublist.insert(s);
  }
  const result = sublist.match('foo.bar');
  assert.deepEqual(plainIds(result), [plainFooBar.id]);
  assert.equal(result.queues.length, 2);
  assert.deepEqual(groups(result), ['others: *.bar foo.bar', 'workers: foo.* foo.> foo.bar']);
  for (const group of result.queues) assert.ok(group.length > 0);

  assert.deepEqual(groups(sublist.match('foo.baz')), ['workers: foo.* foo.> foo.baz']);
  assert.deepEqual(plainIds(sublist.match('foo.baz')), []);
});

test('queue group members on the same subject accumulate; removing one keeps the rest', () => {
  const sublist = new Sublist<TestSub>();
  const members = [sub('jobs', 'q'), sub('jobs', 'q'), sub('jobs', 'q')];
  for (const member of members) sublist.insert(member);
  assert.equal(sublist.count, 3);
  assert.equal(sublist.match('jobs').queues[0]!.length, 3);

  assert.equal(sublist.remove(members[1]!), true);
  const after = sublist.match('jobs');
  assert.deepEqual(after.queues[0]!.map((s) => s.id).sort(), [members[0]!.id, members[2]!.id].sort());
  assert.equal(sublist.remove(members[0]!), true);
  assert.equal(sublist.remove(members[2]!), true);
  assert.equal(sublist.match('jobs').queues.length, 0);
  assert.equal(sublist.hasInterest('jobs'), false);
});

test('insert refuses the subjects SUB refuses and ignores a repeated insert', () => {
  const sublist = new Sublist<TestSub>();
  for (const subject of ['', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.>']) {
    assert.equal(sublist.insert(sub(subject)), false, JSON.stringify(subject));
  }
  assert.equal(sublist.count, 0);
  assert.equal(sublist.stats().num_inserts, 0);

  const once = sub('foo');
  assert.equal(sublist.insert(once), true);
  assert.equal(sublist.insert(once), true);
  assert.equal(sublist.count, 1);
  assert.equal(sublist.match('foo').plain.length, 1);
  const queued = sub('foo', 'q');
  sublist.insert(queued);
  sublist.insert(queued);
  assert.equal(sublist.count, 2);
  assert.equal(sublist.match('foo').queues[0]!.length, 1);
});

test('remove: by identity, reports whether it was present, keeps unrelated subscriptions', () => {
  const sublist = new Sublist<TestSub>();
  const fooBar = sub('foo.bar');
  const fooBarBaz = sub('foo.bar.baz');
  const fooStar = sub('foo.*');
  const fooFull = sub('foo.>');
  for (const s of [fooBar, fooBarBaz, fooStar, fooFull]) sublist.insert(s);

  assert.equal(sublist.remove(sub('foo.bar')), false, 'an equal but different object is not removed');
  assert.equal(sublist.remove(sub('nothing.here')), false);
  assert.equal(sublist.remove(sub('foo.bar', 'q')), false);
  assert.equal(sublist.remove(sub('foo..bar')), false);
  assert.equal(sublist.count, 4);

  assert.equal(sublist.remove(fooBar), true);
  assert.equal(sublist.remove(fooBar), false);
  assert.equal(sublist.count, 3);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.*', 'foo.>']);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['foo.>', 'foo.bar.baz']);

  assert.equal(sublist.remove(fooStar), true);
  assert.equal(sublist.remove(fooFull), true);
  assert.deepEqual(subjects(sublist.match('foo.bar')), []);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['foo.bar.baz']);
  assert.equal(sublist.remove(fooBarBaz), true);
  assert.equal(sublist.count, 0);
  assert.deepEqual([...sublist], []);
  assert.equal(sublist.stats().num_removes, 4);

  // The pruned trie accepts the same subjects again.
  sublist.insert(fooBarBaz);
  sublist.insert(fooStar);
  assert.deepEqual(subjects(sublist.match('foo.bar.baz')), ['foo.bar.baz']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.*']);
});

test('remove prunes the trie branches it empties', () => {
  const sublist = new Sublist<TestSub>();
  const deep = sub('a.b.c.d');
  const short = sub('a.b');
  const wild = sub('a.*.c.>');
  sublist.insert(deep);
  assert.equal(sublist.numLevels(), 4);
  sublist.remove(deep);
  assert.equal(sublist.numLevels(), 0);

  for (const s of [deep, short, wild]) sublist.insert(s);
  sublist.remove(deep);
  assert.equal(sublist.numLevels(), 4);
  sublist.remove(wild);
  assert.equal(sublist.numLevels(), 2);
  sublist.remove(short);
  assert.equal(sublist.numLevels(), 0);

  // Churn of unique subjects (inbox-style) leaves nothing behind.
  for (let i = 0; i < 1000; i++) {
    const inbox = sub(`_INBOX.${i}.reply`);
    sublist.insert(inbox);
    sublist.match(inbox.subject);
    sublist.remove(inbox);
  }
  assert.equal(sublist.numLevels(), 0);
  assert.equal(sublist.count, 0);
});

test('a cache hit returns the same result object; no match shares one empty result', () => {
  const sublist = withSubs(['foo.bar', 'foo.*']);
  const first = sublist.match('foo.bar');
  assert.equal(sublist.match('foo.bar'), first);
  assert.equal(sublist.match('nothing'), sublist.match('other.nothing'));
  const stats = sublist.stats();
  assert.equal(stats.num_matches, 4);
  assert.equal(stats.cache_hit_rate, 0.25);
  assert.equal(stats.num_cache, 3);
});

test('insert updates cached results without changing results already handed out', () => {
  const sublist = withSubs(['foo.bar']);
  const before = sublist.match('foo.bar');
  const emptyBefore = sublist.match('foo.baz');
  const generation = sublist.generation;

  sublist.insert(sub('foo.bar'));
  assert.ok(sublist.generation > generation);
  assert.equal(before.plain.length, 1, 'a handed-out result is never modified');
  assert.equal(sublist.match('foo.bar').plain.length, 2);

  sublist.insert(sub('foo.*', 'q'));
  assert.equal(emptyBefore.queues.length, 0);
  assert.deepEqual(groups(sublist.match('foo.baz')), ['q: foo.*']);
  assert.deepEqual(groups(sublist.match('foo.bar')), ['q: foo.*']);
  sublist.insert(sub('foo.bar', 'q'));
  assert.deepEqual(groups(sublist.match('foo.bar')), ['q: foo.* foo.bar']);
  sublist.insert(sub('>'));
  assert.deepEqual(subjects(sublist.match('foo.baz')), ['>', 'foo.*']);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['>', 'foo.*', 'foo.bar', 'foo.bar', 'foo.bar']);
  // Cache hits all along after the first match of each subject.
  assert.equal(sublist.stats().num_cache, 2);
});

test('remove invalidates every cached result that held the subscription', () => {
  const sublist = new Sublist<TestSub>();
  const literal = sub('foo.bar');
  const wildcard = sub('foo.*', 'q');
  const full = sub('>');
  for (const s of [literal, wildcard, full]) sublist.insert(s);
  for (const subject of ['foo.bar', 'foo.baz', 'other']) sublist.match(subject);

  const generation = sublist.generation;
  sublist.remove(literal);
  assert.ok(sublist.generation > generation);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['>', 'foo.*']);
  sublist.remove(wildcard);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['>']);
  assert.deepEqual(subjects(sublist.match('foo.baz')), ['>']);
  sublist.remove(full);
  for (const subject of ['foo.bar', 'foo.baz', 'other']) {
    assert.deepEqual(subjects(sublist.match(subject)), [], subject);
  }
});

test('the cache is bounded: past cacheMax it sweeps down to cacheSweep, oldest first', () => {
  const sublist = withSubs(['>'], { cacheMax: 8, cacheSweep: 4 });
  for (let i = 0; i < 8; i++) sublist.match(`s.${i}`);
  assert.equal(sublist.stats().num_cache, 8);
  const newest = sublist.match('s.8');
  assert.equal(sublist.stats().num_cache, 4);
  assert.equal(sublist.match('s.8'), newest, 'the newest entry survives the sweep');
  const hitsBefore = sublist.stats().cache_hit_rate * sublist.stats().num_matches;
  sublist.match('s.0');
  const hitsAfter = sublist.stats().cache_hit_rate * sublist.stats().num_matches;
  assert.equal(Math.round(hitsAfter), Math.round(hitsBefore), 'the oldest entry was swept');

  const defaults = withSubs(['>']);
  for (let i = 0; i < 5000; i++) defaults.match(`t.${i}`);
  assert.ok(defaults.stats().num_cache <= 1024);
  assert.ok(defaults.stats().num_cache >= 512);
});

test('cacheMax 0 disables the cache and matching stays correct', () => {
  const sublist = withSubs(['foo.*', 'foo.bar'], { cacheMax: 0 });
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.*', 'foo.bar']);
  const extra = sub('foo.>');
  sublist.insert(extra);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.*', 'foo.>', 'foo.bar']);
  sublist.remove(extra);
  assert.deepEqual(subjects(sublist.match('foo.bar')), ['foo.*', 'foo.bar']);
  assert.equal(sublist.stats().num_cache, 0);
  assert.equal(sublist.stats().cache_hit_rate, 0);
});

test('the iterator yields every subscription once', () => {
  const sublist = new Sublist<TestSub>();
  const all = [sub('a'), sub('a.b'), sub('a.*'), sub('a.>'), sub('>'), sub('*'), sub('a.b', 'q'), sub('a.b', 'q'), sub('*.b', 'r')];
  for (const s of all) sublist.insert(s);
  assert.deepEqual([...sublist].map((s) => s.id).sort(), all.map((s) => s.id).sort());
  assert.deepEqual([...sublist.subscriptions()].length, all.length);
});

test('stats: nats-server /subsz fields', () => {
  const sublist = withSubs(['foo.bar', 'foo.*', '>']);
  sublist.insert(sub('foo.bar', 'q'));
  sublist.insert(sub('foo.bar', 'q'));
  sublist.match('foo.bar'); // fanout 3 plain + 1 group = 4
  sublist.match('foo.bar');
  sublist.match('x'); // fanout 1
  assert.deepEqual(sublist.stats(), {
    num_subscriptions: 5,
    num_cache: 2,
    num_inserts: 5,
    num_removes: 0,
    num_matches: 3,
    cache_hit_rate: 1 / 3,
    max_fanout: 4,
    avg_fanout: 2.5,
  });
});

function cacheHits(sublist: Sublist<TestSub>): number {
  const stats = sublist.stats();
  return Math.round(stats.cache_hit_rate * stats.num_matches);
}

/** Places the subject inside a larger buffer, as a read buffer holds it; returns [buf, off, len]. */
function inBuffer(subject: string): [Buffer, number, number] {
  const bytes = Buffer.from(subject, 'latin1');
  const buf = Buffer.alloc(bytes.length + 20, 0x2e);
  bytes.copy(buf, 7);
  return [buf, 7, bytes.length];
}

test('matchBytes: same results as match, sharing one cache', () => {
  const sublist = withSubs(['foo.bar', 'foo.*', '>']);
  sublist.insert(sub('foo.bar', 'q'));
  const byString = sublist.match('foo.bar');
  assert.equal(sublist.matchBytes(...inBuffer('foo.bar')), byString, 'a string match is a byte cache hit');
  const byBytes = sublist.matchBytes(...inBuffer('foo.baz'));
  assert.deepEqual(subjects(byBytes), ['>', 'foo.*']);
  assert.equal(sublist.match('foo.baz'), byBytes, 'a byte match is a string cache hit');
  assert.equal(sublist.matchBytes(...inBuffer('foo.baz')), byBytes);
  assert.deepEqual(subjects(sublist.matchBytes(...inBuffer('foo'))), ['>']);
  assert.deepEqual(subjects(sublist.matchBytes(...inBuffer('foo.bar.baz'))), ['>']);
  for (const subject of ['foo.', '.foo', 'foo..bar']) {
    assert.deepEqual(subjects(sublist.matchBytes(...inBuffer(subject))), [], subject);
  }
  assert.deepEqual(subjects(sublist.matchBytes(Buffer.alloc(4), 2, 0)), []);
  const stats = sublist.stats();
  assert.equal(stats.num_matches, 11);
  assert.equal(stats.cache_hit_rate, 3 / 11);
});

test('matchBytes: non-UTF-8 bytes are matched byte for byte (latin1-decoded subscriptions)', () => {
  const sublist = new Sublist<TestSub>();
  const raw = Buffer.from([0x66, 0xff, 0x2e, 0xc3, 0x28]);
  const exact = sub(raw.toString('latin1'));
  sublist.insert(exact);
  sublist.insert(sub(Buffer.from([0x66, 0xfe, 0x2e, 0xc3, 0x28]).toString('latin1')));
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(sublist.matchBytes(raw, 0, raw.length).plain, [exact]);
  }
});

test('matchBytes: a cached entry does not alias the caller\'s buffer', () => {
  const sublist = withSubs(['aaa.bbb', 'ccc.ddd']);
  const buf = Buffer.from('aaa.bbb');
  assert.deepEqual(subjects(sublist.matchBytes(buf, 0, buf.length)), ['aaa.bbb']);
  buf.write('ccc.ddd');
  assert.deepEqual(subjects(sublist.matchBytes(buf, 0, buf.length)), ['ccc.ddd']);
  const before = cacheHits(sublist);
  assert.deepEqual(subjects(sublist.matchBytes(...inBuffer('aaa.bbb'))), ['aaa.bbb']);
  assert.equal(cacheHits(sublist), before + 1, 'the entry kept its own copy of the subject');
});

test('matchBytes: subjects whose hashes collide stay distinct through inserts, removes and sweeps', () => {
  const byHash = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const subject = `c.${i}`;
    const bytes = Buffer.from(subject);
    const hash = hashSubjectBytes(bytes, 0, bytes.length);
    const other = byHash.get(hash);
    if (other !== undefined) pair = [other, subject];
    else byHash.set(hash, subject);
  }
  const [first, second] = pair;
  const third = [...byHash.values()].find((s) => s !== first)!;
  const sublist = new Sublist<TestSub>({ cacheMax: 4, cacheSweep: 2 });
  const firstSub = sub(first);
  const secondSub = sub(second);
  sublist.insert(firstSub);
  sublist.insert(secondSub);
  const check = (expectFirst: boolean, expectSecond: boolean, expectedHits: number): void => {
    const before = cacheHits(sublist);
    assert.deepEqual(subjects(sublist.matchBytes(...inBuffer(first))), expectFirst ? [first] : []);
    assert.deepEqual(subjects(sublist.matchBytes(...inBuffer(second))), expectSecond ? [second] : []);
    assert.equal(cacheHits(sublist) - before, expectedHits, 'cache hits');
  };
  check(true, true, 0);
  check(true, true, 2);
  sublist.remove(firstSub); // drops the entry at the tail of the chain
  check(false, true, 1);
  sublist.insert(firstSub);
  check(true, true, 2);
  sublist.remove(firstSub); // drops the entry at the head of the chain
  check(false, true, 1);
  sublist.insert(firstSub);
  sublist.remove(secondSub);
  check(true, false, 1);
  // Sweeps drop entries of either position in a chain.
  for (let round = 0; round < 3; round++) {
    sublist.matchBytes(...inBuffer(third));
    sublist.matchBytes(...inBuffer(`x.${round}.a`));
    sublist.matchBytes(...inBuffer(`x.${round}.b`));
    assert.deepEqual(subjects(sublist.matchBytes(...inBuffer(first))), [first]);
    assert.deepEqual(subjects(sublist.matchBytes(...inBuffer(second))), []);
  }
  sublist.insert(secondSub); // updates the cached (empty) result in place
  check(true, true, 2);
});

test('matchBytes without a cache decodes and walks the trie', () => {
  const sublist = withSubs(['foo.*'], { cacheMax: 0 });
  assert.deepEqual(subjects(sublist.matchBytes(...inBuffer('foo.bar'))), ['foo.*']);
  assert.deepEqual(subjects(sublist.matchBytes(...inBuffer('foo..bar'))), []);
  assert.equal(sublist.stats().num_matches, 2);
});

/** Reference matcher over token arrays, written independently of the implementation. */
function referenceMatches(subject: string, pattern: string): boolean {
  const s = subject.split('.');
  if (s.some((t) => t === '')) return false;
  const p = pattern.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return s.length === p.length;
}

test('randomized: match and hasInterest agree with a reference matcher through inserts and removes', () => {
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const tokens = ['a', 'b', 'c', '*', '>'];
  const literalTokens = ['a', 'b', 'c', 'd'];
  const randomPattern = (): string => {
    const length = 1 + random(4);
    const parts: string[] = [];
    for (let i = 0; i < length; i++) parts.push(tokens[random(i === length - 1 ? 5 : 4)]!);
    return parts.join('.');
  };
  const randomSubject = (): string => {
    const length = 1 + random(5);
    const parts: string[] = [];
    for (let i = 0; i < length; i++) parts.push(literalTokens[random(4)]!);
    return parts.join('.');
  };

  // The small cache sweeps often; the uncached list exercises the trie walks alone.
  const cached = new Sublist<TestSub>({ cacheMax: 64, cacheSweep: 32 });
  const uncached = new Sublist<TestSub>({ cacheMax: 0 });
  const live: TestSub[] = [];
  for (let step = 0; step < 4000; step++) {
    const action = random(10);
    if (action < 3 || live.length === 0) {
      const s = sub(randomPattern(), random(3) === 0 ? `q${random(2)}` : null);
      cached.insert(s);
      uncached.insert(s);
      live.push(s);
    } else if (action < 5) {
      const [removed] = live.splice(random(live.length), 1);
      assert.equal(cached.remove(removed!), true);
      assert.equal(uncached.remove(removed!), true);
    } else {
      const subject = randomSubject();
      const expected = live.filter((s) => referenceMatches(subject, s.subject));
      for (const sublist of [cached, uncached]) {
        assert.equal(sublist.hasInterest(subject), expected.length > 0, `step ${step}: ${subject}`);
        const result = random(2) === 0 ? sublist.match(subject) : sublist.matchBytes(...inBuffer(subject));
        assert.deepEqual(
          [...result.plain, ...result.queues.flat()].map((s) => s.id).sort(),
          expected.map((s) => s.id).sort(),
          `step ${step}: ${subject}`,
        );
        assert.ok(result.plain.every((s) => s.queue === null));
        for (const group of result.queues) {
          assert.ok(group.length > 0 && group.every((s) => s.queue === group[0]!.queue));
        }
        assert.equal(new Set(result.queues.map((g) => g[0]!.queue)).size, result.queues.length, 'one array per group');
        assert.equal(sublist.hasInterest(subject), expected.length > 0, `step ${step}: ${subject} after match`);
      }
    }
    assert.equal(cached.count, live.length);
    assert.equal(uncached.count, live.length);
  }
  assert.ok(cached.stats().cache_hit_rate > 0.3, 'the random walk did hit the cache');
  assert.deepEqual([...cached].map((s) => s.id).sort(), live.map((s) => s.id).sort());
});
