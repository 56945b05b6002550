/**
 * Shared interest table: hashing, counting semantics, growth, and the no-false-negative guarantee
 * under real concurrency (an owner worker subscribing, growing and unsubscribing while reader
 * workers look subjects up and adopt grown regions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  createInterestRegion, InterestTable, isWildcardSubject, SubjectHash,
} from '../../src/sublist/shared-interest.js';

const encoder = new TextEncoder();

/** Shards keep subjects as binary strings: one char per byte of the UTF-8 wire form. */
function binary(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

function hashOf(account: number, subject: string): SubjectHash {
  const bytes = encoder.encode(`xx${subject}yy`);
  return new SubjectHash().hashBytes(account, bytes, 2, bytes.length - 4);
}

/** Two workers' tables over the same regions, in one thread: 0 writes, 1 reads. */
function pair(literalSlots = 4096, wildcardSlots = 1024, maxLoad?: number): [InterestTable, InterestTable] {
  const regions = [createInterestRegion(literalSlots, wildcardSlots), createInterestRegion(literalSlots, wildcardSlots)];
  return [new InterestTable(0, regions, { maxLoad }), new InterestTable(1, regions, { maxLoad })];
}

// Subjects of the concurrency test: literal ASCII, literal non-ASCII, and wildcard patterns.
function patternFor(i: number): string {
  if (i % 10 === 0) return `w${i}.*`;
  if (i % 7 === 0) return binary(`ü€𝄞.${i}`);
  return `s.${i}.tail`;
}
function publishSubjectFor(i: number): string {
  return i % 10 === 0 ? `w${i}.x` : patternFor(i);
}

const SUBSCRIBED = 0; // every i below this has a completed SUB
const LOW = 16; // every i below this may have been unsubscribed

interface OwnerJob { role: 'owner'; regions: SharedArrayBuffer[]; progress: SharedArrayBuffer; subjects: number; account: number }
interface ReaderJob { role: 'reader'; self: number; regions: SharedArrayBuffer[]; progress: SharedArrayBuffer; subjects: number; account: number }

if (isMainThread) {
  test('hashString over a binary (latin1) subject string equals hashBytes over the bytes', () => {
    const subjects = ['foo', 'foo.bar.baz', 'ü.x', '€uro.1', '𝄞.music', '', '.', 'x.'];
    for (const subject of subjects) {
      for (const account of [0, 1, 0x7fffffff, 12345]) {
        const fromString = new SubjectHash().hashString(account, binary(subject));
        const fromBytes = hashOf(account, subject);
        assert.deepEqual({ ...fromString }, { ...fromBytes }, subject);
      }
    }
    const h = new SubjectHash().hashString(3, 'orders.eu.new');
    assert.equal(h.firstToken, new SubjectHash().hashString(3, 'orders').subject);
    assert.notEqual(h.account, new SubjectHash().hashString(4, 'orders.eu.new').account);
    assert.equal(new SubjectHash().hashString(3, 'single').firstToken, new SubjectHash().hashString(3, 'single').subject);
  });

  test('wildcards are whole tokens only', () => {
    for (const s of ['*', '>', 'a.*', 'a.>', '*.b', 'a.*.c', '>.x']) assert.equal(isWildcardSubject(s), true, s);
    for (const s of ['a', 'a*', '*a', 'a.b*', 'a.>b', 'foo.bar', 'a>.b']) assert.equal(isWildcardSubject(s), false, s);
  });

  test('literal interest follows 0->1 and 1->0 of the local count, per account', () => {
    const [owner, reader] = pair();
    assert.equal(reader.mayHaveInterest(0, hashOf(1, 'foo.bar')), false);
    owner.addSubscription(1, 'foo.bar');
    owner.addSubscription(1, 'foo.bar');
    assert.equal(reader.mayHaveInterest(0, hashOf(1, 'foo.bar')), true);
    assert.equal(reader.mayHaveInterest(0, hashOf(2, 'foo.bar')), false);
    assert.equal(reader.mayHaveInterest(0, hashOf(1, 'foo.baz')), false);
    owner.removeSubscription(1, 'foo.bar');
    assert.equal(reader.mayHaveInterest(0, hashOf(1, 'foo.bar')), true);
    owner.removeSubscription(1, 'foo.bar');
    assert.equal(reader.mayHaveInterest(0, hashOf(1, 'foo.bar')), false);
    assert.throws(() => owner.removeSubscription(1, 'foo.bar'));
    const out = new Int32Array(2);
    owner.addSubscription(1, 'x');
    assert.equal(reader.collectPeers(hashOf(1, 'x'), out), 1);
    assert.equal(out[0], 0);
    assert.equal(owner.collectPeers(hashOf(1, 'x'), out), 0, 'a worker never lists itself');
  });

  test('subjects colliding in one slot keep it set until the last one leaves', () => {
    // One slot each and no growth: every subject collides.
    const [owner, reader] = pair(1, 1, 1e9);
    owner.addSubscription(0, 'a');
    owner.addSubscription(0, 'b');
    owner.removeSubscription(0, 'a');
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'b')), true);
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'a')), true, 'spurious positive is allowed');
    owner.removeSubscription(0, 'b');
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'a')), false);
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'b')), false);
  });

  test('wildcard summary: by first token, and account-wide for leading * or >', () => {
    const [owner, reader] = pair();
    owner.addSubscription(5, 'orders.*.new');
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'orders.eu.new')), true);
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'orders')), true, 'spurious: same first token');
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'invoices.eu.new')), false);
    assert.equal(reader.mayHaveInterest(0, hashOf(6, 'orders.eu.new')), false);
    owner.addSubscription(5, '>');
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'invoices.eu.new')), true);
    assert.equal(reader.mayHaveInterest(0, hashOf(6, 'invoices.eu.new')), false);
    owner.removeSubscription(5, '>');
    owner.addSubscription(5, '*.eu');
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'anything.eu')), true);
    owner.removeSubscription(5, '*.eu');
    owner.removeSubscription(5, 'orders.*.new');
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'orders.eu.new')), false);
    assert.equal(reader.mayHaveInterest(0, hashOf(5, 'anything.eu')), false);
  });

  test('growth: the owner returns a bigger region, keeps both updated until the peer adopts', () => {
    const [owner, reader] = pair(16, 16);
    let grown: SharedArrayBuffer | null = null;
    let i = 0;
    while (grown === null) grown = owner.addSubscription(0, `s.${i++}`);
    assert.ok(grown.byteLength > owner.ownRegion.byteLength / 2);
    assert.equal(owner.ownRegion, grown);
    assert.equal(owner.liveRegionCount, 2);
    // Not adopted yet: the reader's old region must still see new subscriptions.
    owner.addSubscription(0, 'late.one');
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'late.one')), true);
    assert.equal(reader.adoptRegion(0, grown), true);
    assert.equal(reader.adoptRegion(0, grown), false, 'not newer: ignored');
    for (let j = 0; j < i; j++) assert.equal(reader.mayHaveInterest(0, hashOf(0, `s.${j}`)), true);
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'late.one')), true);
    owner.removeSubscription(0, 'late.one');
    assert.equal(owner.liveRegionCount, 1, 'old region retired once every peer adopted');
    assert.equal(reader.mayHaveInterest(0, hashOf(0, 'late.one')), false);
  });

  test('no false negatives while the owner subscribes, grows and unsubscribes under concurrent lookups', { timeout: 60_000 }, async () => {
    const workers = 3;
    const subjects = 30_000;
    const regions = Array.from({ length: workers }, () => createInterestRegion(16, 16));
    const progress = new SharedArrayBuffer(128);
    const spawn = (job: OwnerJob | ReaderJob): Worker => new Worker(new URL(import.meta.url), { workerData: job });
    const readers = [1, 2].map((self) => spawn({ role: 'reader', self, regions, progress, subjects, account: 9 }));
    const owner = spawn({ role: 'owner', regions, progress, subjects, account: 9 });
    const failures = new Promise<never>((_, reject) => {
      for (const w of [owner, ...readers]) w.on('error', reject);
    });
    let growths = 0;
    const ownerDone = new Promise<any>((resolve) => owner.on('message', (m) => {
      if (m.region) {
        growths++;
        for (const r of readers) r.postMessage({ region: m.region });
      } else if (m.growths !== undefined) {
        for (const r of readers) r.postMessage({ expectGrowths: m.growths });
      } else {
        resolve(m);
      }
    }));
    try {
      const readerResults = await Promise.race([
        Promise.all(readers.map((r) => new Promise<any>((resolve) => r.once('message', resolve)))),
        failures,
      ]);
      owner.postMessage('finish');
      const final = await Promise.race([ownerDone, failures]);
      for (const r of readerResults) {
        assert.equal(r.falseNegatives, 0);
        assert.ok(r.checks > 10_000, `only ${r.checks} lookups`);
        assert.equal(r.adopted, growths);
        assert.equal(r.interestAfterAllLeft, 0);
      }
      assert.ok(growths >= 5, `grew ${growths} times`);
      assert.equal(final.liveRegions, 1);
      assert.equal(final.nonZeroCounters, 0, 'no interest left behind');
    } finally {
      await Promise.all([owner, ...readers].map((w) => w.terminate()));
    }
  });
} else {
  const job = workerData as OwnerJob | ReaderJob;
  if (job.role === 'owner') void runOwner(job);
  else void runReader(job);
}

async function runOwner(job: OwnerJob): Promise<void> {
  const table = new InterestTable(0, job.regions);
  const progress = new Int32Array(job.progress);
  let growths = 0;
  for (let i = 0; i < job.subjects; i++) {
    const grown = table.addSubscription(job.account, patternFor(i));
    if (grown !== null) {
      growths++;
      parentPort!.postMessage({ region: grown });
    }
    Atomics.store(progress, SUBSCRIBED, i + 1);
    if (i % 512 === 0) await nextTurn();
  }
  for (let i = 0; i < job.subjects; i++) {
    // Announced before the removal, so a reader that sees LOW <= i after its lookup knows i was live.
    Atomics.store(progress, LOW, i + 1);
    table.removeSubscription(job.account, patternFor(i));
    if (i % 512 === 0) await nextTurn();
  }
  parentPort!.postMessage({ growths });
  parentPort!.once('message', () => {
    // Readers adopted every region by now: the next update retires the old ones.
    table.addSubscription(job.account, 'one.more');
    table.removeSubscription(job.account, 'one.more');
    const counters = new Int32Array(table.ownRegion);
    let nonZeroCounters = 0;
    for (let k = 16; k < counters.length; k++) if (counters[k] !== 0) nonZeroCounters++;
    parentPort!.postMessage({ liveRegions: table.liveRegionCount, nonZeroCounters });
  });
}

async function runReader(job: ReaderJob): Promise<void> {
  const table = new InterestTable(job.self, job.regions);
  let adopted = 0;
  let allAdopted: () => void;
  const adoptedEverything = new Promise<void>((resolve) => { allAdopted = resolve; });
  let expected = -1;
  parentPort!.on('message', (m: { region?: SharedArrayBuffer; expectGrowths?: number }) => {
    if (m.region !== undefined && table.adoptRegion(0, m.region)) adopted++;
    if (m.expectGrowths !== undefined) expected = m.expectGrowths;
    if (adopted === expected) allAdopted();
  });
  // All publish subjects as bytes in one buffer, like a read buffer.
  const offsets: number[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < job.subjects; i++) {
    const b = Buffer.from(publishSubjectFor(i), 'latin1');
    parts.push(b);
    offsets.push(total);
    total += b.length;
  }
  const buffer = new Uint8Array(total);
  parts.forEach((p, i) => buffer.set(p, offsets[i]));
  const h = new SubjectHash();
  const progress = new Int32Array(job.progress);
  let checks = 0;
  let falseNegatives = 0;
  while (Atomics.load(progress, LOW) < job.subjects) {
    for (let k = 0; k < 1000; k++) {
      const subscribed = Atomics.load(progress, SUBSCRIBED);
      if (subscribed === 0) continue;
      // Half the lookups hit the most recent SUB, where a missing update would show first.
      const i = k % 2 === 0 ? subscribed - 1 : Math.floor(Math.random() * subscribed);
      h.hashBytes(job.account, buffer, offsets[i], parts[i].length);
      const seen = table.mayHaveInterest(0, h);
      checks++;
      if (!seen && i >= Atomics.load(progress, LOW)) falseNegatives++;
    }
    await nextTurn(); // lets adoptRegion messages in
  }
  // Everything was unsubscribed: after adopting the last region, nothing may remain.
  await adoptedEverything;
  let interestAfterAllLeft = 0;
  for (let i = 0; i < job.subjects; i++) {
    h.hashBytes(job.account, buffer, offsets[i], parts[i].length);
    if (table.mayHaveInterest(0, h)) interestAfterAllLeft++;
  }
  parentPort!.postMessage({ checks, falseNegatives, adopted, interestAfterAllLeft });
}
