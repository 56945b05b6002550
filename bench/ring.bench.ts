/**
 * Ring throughput between two worker threads: `node dist/bench/ring.bench.js [--time MS] [--batch N]`.
 *
 * One producer worker writes records (13-byte subject, no reply, 16 B / 128 B / 1 KiB payload) in
 * batches of N (one commit per batch, as a shard commits once per read buffer) and waits on its
 * doorbell whenever the ring is full; one consumer worker drains and parks. Reports records/s and
 * MB/s of payload measured by the consumer, and writes them to bench/results/ring-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RingMesh, WriteResult, createRingMesh, type RingMeshBuffers, type RingRecord } from '../src/worker/ring.js';

const SIZES = [16, 128, 1024];
const RING_BYTES = 1024 * 1024;
const SUBJECT = new TextEncoder().encode('bench.subject');
const END = 1;

interface Job {
  role: 'producer' | 'consumer';
  mesh: RingMeshBuffers;
  payload: number;
  batch: number;
  /** Int32 [0]: stop flag set by the main thread. The producer then sends an end record (flags 1). */
  control: SharedArrayBuffer;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const timeMs = option('--time', 1000);
  const batch = option('--batch', 64);
  const rows: { payload: number; recordsPerSecond: number; payloadMBps: number; parks: number }[] = [];
  for (const payload of SIZES) {
    const mesh = createRingMesh(2, RING_BYTES);
    const control = new SharedArrayBuffer(4);
    const spawn = (role: Job['role']): Promise<any> => new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { role, mesh, payload, batch, control } satisfies Job });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const consumer = spawn('consumer');
    const producer = spawn('producer');
    await new Promise((resolve) => setTimeout(resolve, timeMs));
    Atomics.store(new Int32Array(control), 0, 1);
    const [received] = await Promise.all([consumer, producer]);
    const recordsPerSecond = received.records / (received.elapsedMs / 1000);
    rows.push({
      payload,
      recordsPerSecond: Math.round(recordsPerSecond),
      payloadMBps: Math.round((recordsPerSecond * payload) / 1e6),
      parks: received.parks,
    });
  }
  console.log(`ring ${RING_BYTES / 1024} KiB, batch ${batch}, ${os.availableParallelism()} cores, ${timeMs} ms per size`);
  console.log('payload   msgs/s        MB/s   consumer parks');
  for (const r of rows) {
    console.log(`${String(r.payload).padStart(5)} B  ${(r.recordsPerSecond / 1e6).toFixed(2).padStart(6)} M  ${String(r.payloadMBps).padStart(8)}   ${r.parks}`);
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/ring-${new Date().toISOString().slice(0, 10)}.json`;
  writeFileSync(file, JSON.stringify({ ringBytes: RING_BYTES, batch, timeMs, cores: os.availableParallelism(), rows }, null, 2));
  console.log(`written ${file}`);
}

async function producer(job: Job): Promise<unknown> {
  const mesh = new RingMesh(job.mesh, 1);
  const ring = mesh.producers[0]!;
  const control = new Int32Array(job.control);
  const src = new Uint8Array(SUBJECT.length + job.payload);
  src.set(SUBJECT);
  src.fill(0x61, SUBJECT.length);
  let written = 0;
  while (Atomics.load(control, 0) === 0) {
    for (let i = 0; i < job.batch; i++) {
      const result = ring.write(src, 0, 0, 0, SUBJECT.length, 0, 0, -1, SUBJECT.length, job.payload, null, 0);
      if (result === WriteResult.DROPPED || result === WriteResult.TOO_LARGE) throw new Error('dropped');
      written++;
    }
    mesh.commit();
    // Flow control as a shard would do it: stop producing while records wait in the overflow.
    while (ring.overflowBytes > 0) {
      await mesh.park();
      mesh.commit();
    }
  }
  ring.write(src, 0, END, 0, SUBJECT.length, 0, 0, -1, SUBJECT.length, 0, null, 0);
  mesh.commit();
  while (ring.overflowBytes > 0) {
    await mesh.park();
    mesh.commit();
  }
  return { written };
}

async function consumer(job: Job): Promise<unknown> {
  const mesh = new RingMesh(job.mesh, 0);
  let records = 0;
  let ended = false;
  let checksum = 0;
  let parks = 0;
  let start = 0;
  const handler = (r: RingRecord): void => {
    if (r.flags === END) {
      ended = true;
      return;
    }
    checksum += r.bytes[r.payloadOffset + r.payloadLength - 1];
    records++;
  };
  for (;;) {
    if (mesh.drain(handler) > 0 && start === 0) start = performance.now();
    if (ended) break;
    parks++;
    await mesh.park();
  }
  const elapsedMs = performance.now() - start;
  if (checksum !== records * 0x61) throw new Error('corrupt payload');
  return { records, elapsedMs, parks };
}

if (isMainThread) {
  await main();
} else {
  const job = workerData as Job;
  // A pending Atomics.waitAsync does not keep a worker alive; this timer does, until the job ends.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const result = await (job.role === 'producer' ? producer(job) : consumer(job));
  clearInterval(keepAlive);
  parentPort!.postMessage(result);
}
