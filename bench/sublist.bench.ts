/**
 * Sublist micro-benchmark: match and hasInterest over 10k subscriptions, on a cache hit and on a
 * miss (trie walk); matchBytes against decoding the subject first and calling match; and the
 * byte-level pedantic check. Prints ns per operation. Runs in a few seconds:
 *   npx tsc -p tsconfig.json && node dist/bench/sublist.bench.js
 */
import { Bench } from 'tinybench';
import { Sublist, type Subscription } from '../src/sublist/sublist.js';
import { isValidPublishSubjectBytes } from '../src/sublist/subject.js';

/** Each task call runs this many operations, so timer overhead does not swamp ~10 ns operations. */
const BATCH = 1024;
const SUBSCRIPTIONS = 10_000;
const SERVICES = 100;

function buildSublist(cacheMax: number): Sublist<Subscription> {
  const sublist = new Sublist<Subscription>({ cacheMax });
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const service = i % SERVICES;
    let subject: string;
    let queue: string | null = null;
    switch (i % 10) {
      case 0:
        subject = `svc.${service}.*.events`;
        break;
      case 1:
        subject = `svc.${service}.>`;
        break;
      case 2:
        subject = `svc.${service}.${i}.events`;
        queue = `workers.${service}`;
        break;
      default:
        subject = `svc.${service}.${i}.events`;
    }
    sublist.insert({ subject, queue });
  }
  return sublist;
}

/** BATCH distinct published subjects, each matching some subscriptions; fits the default cache. */
const published: string[] = [];
const publishedBytes: Buffer[] = [];
for (let i = 0; i < BATCH; i++) {
  // Decoded from bytes, as a shard makes them (flat strings, not template-literal cons strings).
  const bytes = Buffer.from(`svc.${i % SERVICES}.${(i * 7919) % SUBSCRIPTIONS}.events`, 'latin1');
  publishedBytes.push(bytes);
  published.push(bytes.toString('latin1'));
}

const cached = buildSublist(1024);
const uncached = buildSublist(0);
for (const subject of published) cached.match(subject);

let sink = 0;
const bench = new Bench({ time: 300, warmupTime: 100 });
bench
  .add('match, cache hit', () => {
    for (let i = 0; i < BATCH; i++) sink += cached.match(published[i]!).plain.length;
  })
  .add('match, cache miss (trie walk + result)', () => {
    for (let i = 0; i < BATCH; i++) sink += uncached.match(published[i]!).plain.length;
  })
  .add('hasInterest, cache hit', () => {
    for (let i = 0; i < BATCH; i++) if (cached.hasInterest(published[i]!)) sink++;
  })
  .add('hasInterest, cache miss (trie walk)', () => {
    for (let i = 0; i < BATCH; i++) if (uncached.hasInterest(published[i]!)) sink++;
  })
  .add('matchBytes, cache hit', () => {
    for (let i = 0; i < BATCH; i++) {
      const bytes = publishedBytes[i]!;
      sink += cached.matchBytes(bytes, 0, bytes.length).plain.length;
    }
  })
  .add('bytes.toString(latin1) + match, cache hit', () => {
    for (let i = 0; i < BATCH; i++) {
      const bytes = publishedBytes[i]!;
      sink += cached.match(bytes.toString('latin1', 0, bytes.length)).plain.length;
    }
  })
  .add('isValidPublishSubjectBytes', () => {
    for (let i = 0; i < BATCH; i++) {
      const bytes = publishedBytes[i]!;
      if (isValidPublishSubjectBytes(bytes, 0, bytes.length)) sink++;
    }
  });

await bench.run();

console.log(`Sublist with ${SUBSCRIPTIONS} subscriptions, ${BATCH} distinct published subjects`);
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== 'completed') {
    console.log(`${task.name}: ${result.state}`);
    continue;
  }
  const nsPerOp = (result.latency.mean * 1e6) / BATCH;
  console.log(`${task.name.padEnd(44)} ${nsPerOp.toFixed(1).padStart(8)} ns/op  ±${result.latency.rme.toFixed(1)}%`);
}
console.log(`(checksum ${sink > 0 ? 'ok' : 'zero'})`);
