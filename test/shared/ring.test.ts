/**
 * Rings under real concurrency: every multi-party test runs its roles in worker_threads spawned
 * from this same file (the worker branch at the bottom). Records carry (producer, sequence) so a
 * consumer checks per-producer FIFO order, and their bytes are a function of the sequence so any
 * torn or misplaced copy is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  createRing, createRingMesh, Doorbell, RingConsumer, RingMesh, RingProducer, readRingStats, recordBytes,
  WriteResult, type RingMeshBuffers, type RingRecord,
} from '../../src/worker/ring.js';

const SUBJECT = new TextEncoder().encode('orders.eu.new.with.a.longer.subject.name');
const REPLY = new TextEncoder().encode('_INBOX.abcdefghijklmnop.1234');

/** Deterministic record shape for sequence `seq`: lengths, flags, header length and payload bytes. */
function subjectLength(seq: number): number {
  return 1 + (seq % SUBJECT.length);
}
function replyLength(seq: number): number {
  return seq % 3 === 0 ? 0 : 1 + (seq % REPLY.length);
}
function payloadByte(seq: number, i: number): number {
  return (seq * 31 + i * 7) & 0xff;
}

/** A source buffer holding subject, reply and payload for one record, like a client read buffer. */
class SourceBuffer {
  readonly bytes: Uint8Array;
  constructor(maxPayload: number) {
    this.bytes = new Uint8Array(SUBJECT.length + REPLY.length + maxPayload);
    this.bytes.set(SUBJECT, 0);
    this.bytes.set(REPLY, SUBJECT.length);
  }
  fillPayload(seq: number, length: number): void {
    const base = SUBJECT.length + REPLY.length;
    for (let i = 0; i < length; i++) this.bytes[base + i] = payloadByte(seq, i);
  }
}

const groupScratch = new Int32Array(4);

function writeRecord(producer: RingProducer, src: SourceBuffer, account: number, seq: number, payloadLength: number): WriteResult {
  src.fillPayload(seq, payloadLength);
  const groupCount = seq % 5 === 0 ? 3 : 0;
  for (let i = 0; i < groupCount; i++) groupScratch[i] = seq + i;
  const headerLength = seq % 2 === 0 ? -1 : Math.min(payloadLength, seq % 13);
  return producer.write(src.bytes, account, seq & 0xffff, 0, subjectLength(seq), SUBJECT.length, replyLength(seq),
    headerLength, SUBJECT.length + REPLY.length, payloadLength, groupScratch, groupCount);
}

/** Checks one received record against what writeRecord wrote; returns its sequence. */
function checkRecord(r: RingRecord, seq: number, payloadLength: number, verifyAllBytes: boolean): void {
  const fail = (what: string): never => assert.fail(`record ${seq} from ${r.account}: bad ${what}`);
  if (r.flags !== (seq & 0xffff)) fail('flags');
  if (r.subjectLength !== subjectLength(seq) || r.replyLength !== replyLength(seq)) fail('lengths');
  if (r.payloadLength !== payloadLength) fail('payload length');
  const headerLength = seq % 2 === 0 ? -1 : Math.min(payloadLength, seq % 13);
  if (r.headerLength !== headerLength) fail('header length');
  const groupCount = seq % 5 === 0 ? 3 : 0;
  if (r.groupCount !== groupCount) fail('group count');
  for (let i = 0; i < groupCount; i++) if (r.group(i) !== seq + i) fail('group id');
  const b = r.bytes;
  for (let i = 0; i < r.subjectLength; i++) if (b[r.subjectOffset + i] !== SUBJECT[i]) fail('subject');
  for (let i = 0; i < r.replyLength; i++) if (b[r.replyOffset + i] !== REPLY[i]) fail('reply');
  const n = verifyAllBytes ? payloadLength : Math.min(payloadLength, 8);
  for (let i = 0; i < n; i++) if (b[r.payloadOffset + i] !== payloadByte(seq, i)) fail('payload');
  if (!verifyAllBytes && payloadLength > 8 && b[r.payloadOffset + payloadLength - 1] !== payloadByte(seq, payloadLength - 1)) {
    fail('payload end');
  }
}

/** Payload length of record `seq` in a given size mix. */
function mixedLength(mix: string, seq: number, ringBytes: number): number {
  if (mix === 'fixed16') return 16;
  // 'mixed': mostly small, some medium, and every 97th just over half the ring.
  if (seq % 97 === 0) return (ringBytes >> 1) + 100;
  if (seq % 7 === 0) return 500 + (seq % 400);
  return seq % 60;
}

interface ProducerJob {
  role: 'producer';
  mesh: RingMeshBuffers;
  self: number;
  to: number;
  records: number;
  mix: string;
  ringBytes: number;
  /** Commit every `batch` records, then wait while the overflow is over half its limit. */
  batch: number;
  overflowLimitBytes: number;
  /** Report the overflow size once everything is written, before waiting for it to drain. */
  reportFilled: boolean;
}

interface ConsumerJob {
  role: 'consumer';
  mesh: RingMeshBuffers;
  self: number;
  producers: number[];
  recordsPerProducer: number;
  mix: string;
  ringBytes: number;
  verifyAllBytes: boolean;
  /** Wait for a 'start' message before draining (lets producers fill the ring and overflow first). */
  waitForStart: boolean;
}

interface PingPongJob {
  role: 'pinger' | 'ponger';
  mesh: RingMeshBuffers;
  self: number;
  peers: number[];
  rounds: number;
}

type Job = ProducerJob | ConsumerJob | PingPongJob;

function runWorker(job: Job): { worker: Worker; result: Promise<any> } {
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  const result = new Promise<any>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker ${job.role} exited with ${code} before reporting`)));
  });
  return { worker, result };
}

if (isMainThread) {
  test('two producers, one consumer: 2 x 1M records arrive complete and in per-producer order', { timeout: 120_000 }, async () => {
    const ringBytes = 256 * 1024;
    const mesh = createRingMesh(3, ringBytes);
    const records = 1_000_000;
    const consumer = runWorker({ role: 'consumer', mesh, self: 0, producers: [1, 2], recordsPerProducer: records,
      mix: 'fixed16', ringBytes, verifyAllBytes: false, waitForStart: false });
    const producers = [1, 2].map((self) => runWorker({ role: 'producer', mesh, self, to: 0, records, mix: 'fixed16',
      ringBytes, batch: 64, overflowLimitBytes: 64 * 1024, reportFilled: false }));
    const [received, ...sent] = await Promise.all([consumer.result, ...producers.map((p) => p.result)]);
    assert.deepEqual(received.counts, [records, records]);
    for (const s of sent) assert.equal(s.dropped, 0);
    const stats = readRingStats(mesh.rings[1 * 3 + 0]!);
    assert.equal(stats.recordsWritten, records);
    assert.equal(stats.recordsRead, records);
    assert.equal(stats.usedBytes, 0);
  });

  test('wrap-around with mixed sizes, including records over half the ring, in a small ring', { timeout: 30_000 }, async () => {
    const ringBytes = 8192;
    const mesh = createRingMesh(2, ringBytes);
    const records = 50_000;
    const consumer = runWorker({ role: 'consumer', mesh, self: 0, producers: [1], recordsPerProducer: records,
      mix: 'mixed', ringBytes, verifyAllBytes: true, waitForStart: false });
    const producer = runWorker({ role: 'producer', mesh, self: 1, to: 0, records, mix: 'mixed', ringBytes, batch: 16,
      overflowLimitBytes: 64 * 1024, reportFilled: false });
    const [received, sent] = await Promise.all([consumer.result, producer.result]);
    assert.deepEqual(received.counts, [records]);
    assert.equal(sent.dropped, 0);
    assert.ok(received.wraps > 100, `expected many wraps, saw ${received.wraps}`);
  });

  test('full ring spills to overflow; the consumer drains later and everything arrives in order', { timeout: 30_000 }, async () => {
    const ringBytes = 4096;
    const mesh = createRingMesh(2, ringBytes);
    const records = 20_000;
    const consumer = runWorker({ role: 'consumer', mesh, self: 0, producers: [1], recordsPerProducer: records,
      mix: 'mixed', ringBytes, verifyAllBytes: true, waitForStart: true });
    // The producer writes everything without waiting: nearly all of it lands in the overflow.
    const producer = runWorker({ role: 'producer', mesh, self: 1, to: 0, records, mix: 'mixed', ringBytes, batch: records + 1,
      overflowLimitBytes: 64 * 1024 * 1024, reportFilled: true });
    const filled = await new Promise<any>((resolve) => producer.worker.once('message', resolve));
    assert.ok(filled.overflowBytes > 100 * ringBytes, `overflow holds ${filled.overflowBytes} bytes`);
    assert.equal(readRingStats(mesh.rings[1 * 2 + 0]!).overflowBytes, filled.overflowBytes);
    consumer.worker.postMessage('start');
    // Now only the consumer's wake-ups (space freed) let the producer empty its overflow.
    const [received, sent] = await Promise.all([consumer.result, new Promise<any>((resolve) => producer.worker.once('message', resolve))]);
    assert.deepEqual(received.counts, [records]);
    assert.equal(sent.dropped, 0);
    assert.equal(sent.overflowBytes, 0);
  });

  test('no lost wake-ups: 20k ping-pong rounds with both sides parking, two pingers on one doorbell', { timeout: 30_000 }, async () => {
    const mesh = createRingMesh(3, 4096);
    const rounds = 20_000;
    const ponger = runWorker({ role: 'ponger', mesh, self: 0, peers: [1, 2], rounds });
    const pingers = [1, 2].map((self) => runWorker({ role: 'pinger', mesh, self, peers: [0], rounds }));
    const [pong, ...pings] = await Promise.all([ponger.result, ...pingers.map((p) => p.result)]);
    assert.equal(pong.received, 2 * rounds * 3);
    for (const p of pings) assert.equal(p.received, rounds);
    assert.ok(pong.parks > rounds, `ponger parked ${pong.parks} times`);
  });

  test('overflow limit: extra records are dropped and counted, the kept ones stay in order', () => {
    const ringBytes = 4096;
    const ring = createRing(ringBytes);
    const bell = new Doorbell(Doorbell.create());
    const producer = new RingProducer(ring, bell, { overflowLimitBytes: 2048 });
    const consumer = new RingConsumer(ring, bell);
    const src = new SourceBuffer(64);
    const sizeOf = (seq: number): number => recordBytes(subjectLength(seq), replyLength(seq), 40, seq % 5 === 0 ? 3 : 0);
    const results = [0, 0, 0, 0];
    let ringUsed = 0;
    let overflowUsed = 0;
    for (let seq = 0; seq < 1000; seq++) {
      const result = writeRecord(producer, src, 7, seq, 40);
      results[result]++;
      if (result === WriteResult.RING) ringUsed += sizeOf(seq);
      if (result === WriteResult.OVERFLOW) overflowUsed += sizeOf(seq);
    }
    producer.commit();
    const kept = results[WriteResult.RING] + results[WriteResult.OVERFLOW];
    // The ring is full (the next record did not fit), the overflow is full up to its limit.
    assert.ok(ringUsed <= ringBytes && ringUsed + sizeOf(results[WriteResult.RING]) > ringBytes);
    // usedBytes also counts the tail end skipped by a wrap marker.
    const used = readRingStats(ring).usedBytes;
    assert.ok(used >= ringUsed && used <= ringBytes);
    assert.ok(overflowUsed <= 2048 && overflowUsed + sizeOf(kept) > 2048);
    assert.equal(producer.overflowBytes, overflowUsed);
    assert.equal(results[WriteResult.DROPPED], 1000 - kept);
    assert.equal(producer.recordsDropped, 1000 - kept);
    assert.equal(readRingStats(ring).recordsDropped, 1000 - kept);

    // Drain twice (the overflow moves in after the first), then keep writing: order is unchanged.
    let expected = 0;
    const handler = (r: RingRecord): void => {
      checkRecord(r, expected, 40, true);
      expected++;
    };
    consumer.drain(handler);
    producer.commit();
    consumer.drain(handler);
    assert.equal(expected, kept);
    assert.equal(producer.overflowBytes, 0);
    const next = 5000;
    assert.equal(writeRecord(producer, src, 7, next, 40), WriteResult.RING);
    producer.commit();
    consumer.drain((r) => checkRecord(r, next, 40, true));
    assert.equal(readRingStats(ring).recordsWritten, kept + 1);
  });

  test('head and tail counters wrap past 2^31 and 2^32 without losing or reordering records', () => {
    const ringBytes = 4096;
    for (const start of [0x7fffff00, -0x100]) {
      const ring = createRing(ringBytes);
      const control = new Int32Array(ring, 0, 32);
      control[0] = start; // head
      control[16] = start; // tail
      const bell = new Doorbell(Doorbell.create());
      const producer = new RingProducer(ring, bell);
      const consumer = new RingConsumer(ring, bell);
      const src = new SourceBuffer(ringBytes);
      let next = 0;
      const handler = (r: RingRecord): void => {
        checkRecord(r, next, mixedLength('mixed', next, ringBytes), true);
        next++;
      };
      for (let seq = 0; seq < 3000; seq++) {
        assert.equal(writeRecord(producer, src, 1, seq, mixedLength('mixed', seq, ringBytes)) === WriteResult.DROPPED, false);
        producer.commit();
        consumer.drain(handler);
      }
      producer.commit();
      consumer.drain(handler);
      assert.equal(next, 3000);
      assert.notEqual(Math.sign(Atomics.load(control, 16)), Math.sign(start), 'the tail counter crossed the boundary');
    }
  });

  test('a record larger than the ring is refused and counted, not written', () => {
    const ring = createRing(1024);
    const bell = new Doorbell(Doorbell.create());
    const producer = new RingProducer(ring, bell);
    const src = new SourceBuffer(2048);
    assert.equal(writeRecord(producer, src, 1, 0, 1024), WriteResult.TOO_LARGE);
    assert.equal(producer.recordsTooLarge, 1);
    producer.commit();
    assert.equal(readRingStats(ring).recordsTooLarge, 1);
    assert.equal(readRingStats(ring).usedBytes, 0);
  });

  test('a park() that returns at once does not strand another pending park() on the same bell', async () => {
    const sab = Doorbell.create();
    const owner = new Doorbell(sab);
    let firstWoken = false;
    const first = owner.park(() => false).then(() => { firstWoken = true; });
    await owner.park(() => true); // work was already there: returns without waiting
    new Doorbell(sab).ring(); // a producer's commit
    let timer: NodeJS.Timeout | undefined;
    const stranded = new Promise((resolve) => { timer = setTimeout(resolve, 2000); });
    await Promise.race([first, stranded]);
    clearTimeout(timer);
    assert.equal(firstWoken, true);
  });

  test('a drain handler that throws consumes its record and the next drain resumes after it', () => {
    const ring = createRing(4096);
    const bell = new Doorbell(Doorbell.create());
    const producer = new RingProducer(ring, bell);
    const consumer = new RingConsumer(ring, bell);
    const src = new SourceBuffer(64);
    for (let seq = 0; seq < 5; seq++) writeRecord(producer, src, 1, seq, 10);
    producer.commit();
    let seen = 0;
    assert.throws(() => consumer.drain(() => {
      if (seen++ === 2) throw new Error('handler failure');
    }), /handler failure/);
    const rest: number[] = [];
    consumer.drain((r) => rest.push(r.flags));
    assert.deepEqual(rest, [3, 4]);
  });
} else {
  const job = workerData as Job;
  // A pending Atomics.waitAsync does not keep a worker alive; this timer does, until the job ends.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const done = (result: unknown): void => {
    clearInterval(keepAlive);
    parentPort!.postMessage(result);
  };
  if (job.role === 'producer') void runProducer(job).then(done);
  else if (job.role === 'consumer') void runConsumer(job).then(done);
  else void runPingPong(job).then(done);
}

async function runProducer(job: ProducerJob): Promise<unknown> {
  const mesh = new RingMesh(job.mesh, job.self, { overflowLimitBytes: job.overflowLimitBytes });
  const producer = mesh.producers[job.to]!;
  const src = new SourceBuffer(job.ringBytes);
  let dropped = 0;
  for (let seq = 0; seq < job.records; seq++) {
    const result = writeRecord(producer, src, job.self, seq, mixedLength(job.mix, seq, job.ringBytes));
    if (result === WriteResult.DROPPED || result === WriteResult.TOO_LARGE) dropped++;
    if ((seq + 1) % job.batch === 0) {
      mesh.commit();
      // Back-pressure: wait for the consumer to free space rather than let the overflow grow.
      while (producer.overflowBytes > job.overflowLimitBytes / 2) {
        await mesh.park();
        mesh.drain(() => {});
      }
    }
  }
  mesh.commit();
  if (job.reportFilled) parentPort!.postMessage({ overflowBytes: producer.overflowBytes });
  while (producer.overflowBytes > 0) {
    await mesh.park();
    mesh.drain(() => {});
  }
  return { dropped, overflowBytes: producer.overflowBytes };
}

async function runConsumer(job: ConsumerJob): Promise<unknown> {
  if (job.waitForStart) await new Promise((resolve) => parentPort!.once('message', resolve));
  const mesh = new RingMesh(job.mesh, job.self);
  const next = new Array<number>(job.mesh.workers).fill(0);
  const total = job.producers.length * job.recordsPerProducer;
  let received = 0;
  let wraps = 0;
  let lastOffset = 0;
  const handler = (r: RingRecord): void => {
    const seq = next[r.account];
    if (r.subjectOffset < lastOffset) wraps++;
    lastOffset = r.subjectOffset;
    checkRecord(r, seq, mixedLength(job.mix, seq, job.ringBytes), job.verifyAllBytes);
    next[r.account] = seq + 1;
    received++;
  };
  while (received < total) {
    mesh.drain(handler);
    if (received < total) await mesh.park();
  }
  return { counts: job.producers.map((p) => next[p]), wraps };
}

/**
 * Busy-waits a random 0..~2 µs between finding the rings empty and parking: it widens the window in
 * which a producer commits just before the parked flag is set, which the re-check must cover.
 */
function jitter(): void {
  const spins = Math.floor(Math.random() * 400);
  let x = 0;
  for (let i = 0; i < spins; i++) x += i;
  if (x < 0) throw new Error('unreachable');
}

/**
 * Pinger: sends a burst of 3 records, parks until the ponger's single reply arrives, repeats.
 * Ponger: replies once per complete burst from each pinger. Every round makes both sides park,
 * so a lost wake-up would stall the test.
 */
async function runPingPong(job: PingPongJob): Promise<unknown> {
  const mesh = new RingMesh(job.mesh, job.self);
  const src = new SourceBuffer(16);
  let received = 0;
  let parks = 0;
  if (job.role === 'pinger') {
    const producer = mesh.producers[job.peers[0]]!;
    for (let round = 0; round < job.rounds; round++) {
      for (let i = 0; i < 3; i++) writeRecord(producer, src, job.self, round * 3 + i, 16);
      mesh.commit();
      const before = received;
      while (received === before) {
        mesh.drain(() => received++);
        if (received === before) {
          parks++;
          jitter();
          await mesh.park();
        }
      }
    }
    return { received, parks };
  }
  const next = new Array<number>(job.mesh.workers).fill(0);
  const total = job.peers.length * job.rounds * 3;
  const handler = (r: RingRecord): void => {
    const seq = next[r.account];
    checkRecord(r, seq, 16, true);
    next[r.account] = seq + 1;
    received++;
    if (next[r.account] % 3 === 0) writeRecord(mesh.producers[r.account]!, src, job.self, seq, 16);
  };
  while (received < total) {
    mesh.drain(handler);
    if (received < total) {
      parks++;
      jitter();
      await mesh.park();
    }
  }
  return { received, parks };
}
