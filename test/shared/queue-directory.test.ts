/**
 * Queue-group directory: ids, member counts, weighted picks, explicit capacity errors, and under
 * real concurrency: workers defining the same groups at once agree on one id per group, and
 * queue messages routed through rings are delivered exactly once while a member leaves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createQueueDirectory, QueueDirectory, QueueDirectoryFullError } from '../../src/sublist/queue-directory.js';
import { Doorbell, RingMesh, WriteResult, createRingMesh, type RingMeshBuffers, type RingRecord } from '../../src/worker/ring.js';

interface DefineJob { role: 'define'; directory: SharedArrayBuffer; self: number; shared: number; unique: number }
interface DeliverJob {
  role: 'deliver';
  directory: SharedArrayBuffer;
  mesh: RingMeshBuffers;
  self: number;
  /** Members this worker starts with. */
  members: number;
  /** Remove every member after this many local deliveries (-1: never). */
  leaveAfter: number;
  messages: number;
  delivered: SharedArrayBuffer;
  /** Int32 [0]: workers that registered their members; publishing starts when all have. */
  barrier: SharedArrayBuffer;
}
type Job = DefineJob | DeliverJob;

function spawn(job: Job): { worker: Worker; result: Promise<any> } {
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  const result = new Promise<any>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { worker, result };
}

if (isMainThread) {
  test('ids follow definition order, are shared by equal definitions, and every group reaches the listener once', () => {
    const sab = createQueueDirectory(2, 8);
    const seen0: string[] = [];
    const seen1: string[] = [];
    const d0 = new QueueDirectory(sab, 0, (id, account, pattern, queue) => seen0.push(`${id}:${account}:${pattern}:${queue}`));
    const d1 = new QueueDirectory(sab, 1, (id, account, pattern, queue) => seen1.push(`${id}:${account}:${pattern}:${queue}`));
    assert.equal(d0.addMember(1, 'orders.*', 'workers'), 0);
    assert.equal(d0.addMember(1, 'orders.*', 'workers'), 0);
    assert.equal(d0.addMember(2, 'orders.*', 'workers'), 1, 'another account is another group');
    assert.equal(d1.sync(), 2);
    assert.equal(d1.sync(), 0);
    assert.equal(d1.addMember(1, 'orders.*', 'workers'), 0);
    assert.equal(d1.addMember(1, 'orders.*', 'audit'), 2);
    assert.equal(d0.groupId(1, 'orders.*', 'audit'), -1, 'not synced yet');
    d0.sync();
    assert.equal(d0.groupId(1, 'orders.*', 'audit'), 2);
    assert.deepEqual(seen0, ['0:1:orders.*:workers', '1:2:orders.*:workers', '2:1:orders.*:audit']);
    assert.deepEqual(seen1, seen0);
    assert.equal(d0.memberCount(0, 0), 2);
    assert.equal(d0.memberCount(0, 1), 1);
    d0.removeMember(0);
    d0.removeMember(0);
    assert.equal(d1.memberCount(0, 0), 0);
    assert.throws(() => d0.removeMember(0), /no local member/);
  });

  test('pickWorker is weighted by member counts, honours exclude, and is -1 without members', () => {
    const sab = createQueueDirectory(3, 4);
    const d = [0, 1, 2].map((w) => new QueueDirectory(sab, w));
    const g = d[0].addMember(0, 'q', 'g');
    d[2].sync();
    for (let i = 0; i < 3; i++) d[2].addMember(0, 'q', 'g');
    // Weights 1 (worker 0), 0 (worker 1), 3 (worker 2): [0, 0.25) -> 0, [0.25, 1) -> 2.
    assert.equal(d[1].pickWorker(g, 0), 0);
    assert.equal(d[1].pickWorker(g, 0.2499), 0);
    assert.equal(d[1].pickWorker(g, 0.25), 2);
    assert.equal(d[1].pickWorker(g, 0.9999), 2);
    assert.equal(d[1].pickWorker(g, 0.1, 0), 2);
    assert.equal(d[1].pickWorker(g, 0.9, 2), 0);
    d[0].removeMember(g);
    assert.equal(d[1].pickWorker(g, 0.1, 2), -1);
    for (let i = 0; i < 3; i++) d[2].removeMember(g);
    assert.equal(d[1].pickWorker(g, 0.5), -1);
  });

  test('a full directory is an explicit error and leaves the lock free', () => {
    const byGroups = createQueueDirectory(1, 2);
    const d = new QueueDirectory(byGroups, 0);
    d.addMember(0, 'a', 'q');
    d.addMember(0, 'b', 'q');
    assert.throws(() => d.addMember(0, 'c', 'q'), QueueDirectoryFullError);
    assert.equal(new Int32Array(byGroups)[0], 0, 'lock released');
    assert.equal(d.addMember(0, 'a', 'q'), 0, 'known groups still work');

    const byBytes = createQueueDirectory(1, 100, 32);
    const e = new QueueDirectory(byBytes, 0);
    e.addMember(0, 'short', 'q');
    assert.throws(() => e.addMember(0, 'a.much.longer.subject.than.fits', 'queue'), /log bytes/);
    assert.equal(new Int32Array(byBytes)[0], 0, 'lock released');
  });

  test('workers defining the same groups at the same time agree on one id per group', { timeout: 60_000 }, async () => {
    const workers = 4;
    const shared = 6000;
    const unique = 200;
    const directory = createQueueDirectory(workers, shared + workers * unique);
    const jobs = Array.from({ length: workers }, (_, self) => spawn({ role: 'define', directory, self, shared, unique }));
    try {
      const defined = await Promise.all(jobs.map((j) => j.result));
      // Every worker has finished: sync them all and compare what they learned.
      const dumps = await Promise.all(jobs.map((j) => new Promise<any>((resolve) => {
        j.worker.once('message', resolve);
        j.worker.postMessage('dump');
      })));
      for (const d of dumps) assert.deepEqual(d.groups, dumps[0].groups);
      const groups: string[] = dumps[0].groups;
      assert.equal(groups.length, shared + workers * unique);
      assert.equal(new Set(groups).size, groups.length, 'one definition per group');
      for (let w = 0; w < workers; w++) {
        // The id each worker got back from addMember is the id everyone else knows the group by.
        for (const [key, id] of defined[w].ids as [string, number][]) assert.equal(groups[id], key);
      }
      assert.deepEqual(dumps[0].sharedCounts, new Array(workers).fill(shared));
    } finally {
      await Promise.all(jobs.map((j) => j.worker.terminate()));
    }
  });

  test('queue messages routed through rings are delivered exactly once while a member leaves', { timeout: 60_000 }, async () => {
    const workers = 3;
    const messages = 20_000;
    const directory = createQueueDirectory(workers, 4);
    const setup = new QueueDirectory(directory, 0);
    assert.equal(setup.addMember(0, 'jobs.>', 'pool'), 0); // defines group 0 ...
    setup.removeMember(0); // ... with no member: the workers add theirs
    const mesh = createRingMesh(workers, 64 * 1024);
    // delivered[publisher * messages + seq]: deliveries of that message; [last]: total deliveries.
    const delivered = new SharedArrayBuffer((workers * messages + 1) * 4);
    const barrier = new SharedArrayBuffer(8); // [workers ready, workers done publishing]
    const members = [1, 2, 1];
    const jobs = members.map((count, self) => spawn({
      role: 'deliver', directory, mesh, self, members: count, leaveAfter: self === 2 ? 500 : -1, messages, delivered, barrier,
    }));
    try {
      const results = await Promise.all(jobs.map((j) => j.result));
      const counts = new Int32Array(delivered);
      for (let i = 0; i < workers * messages; i++) {
        if (counts[i] !== 1) assert.fail(`message ${i} delivered ${counts[i]} times`);
      }
      assert.ok(results[2].reforwarded > 0, 'the leaving worker re-forwarded messages that arrived after it left');
      const ratio = results[1].local / results[0].local;
      assert.ok(ratio > 1.7 && ratio < 2.3, `worker 1 (2 members) vs worker 0 (1 member): ${ratio}`);
    } finally {
      await Promise.all(jobs.map((j) => j.worker.terminate()));
    }
  });
} else {
  const job = workerData as Job;
  // A pending Atomics.waitAsync does not keep a worker alive; this timer does, until the job ends.
  const keepAlive = setInterval(() => {}, 1 << 30);
  if (job.role === 'define') runDefine(job);
  else void runDeliver(job).then((result) => {
    clearInterval(keepAlive);
    parentPort!.postMessage(result);
  });
  if (job.role === 'define') parentPort!.once('message', () => clearInterval(keepAlive));
}

function runDefine(job: DefineJob): void {
  const learned: string[] = [];
  const d = new QueueDirectory(job.directory, job.self, (id, account, pattern, queue) => {
    learned[id] = `${account}|${pattern}|${queue}`;
  });
  // Even workers go in one order, odd ones in the reverse: both orders race on the same definitions.
  const order = Array.from({ length: job.shared }, (_, i) => (job.self % 2 === 0 ? i : job.shared - 1 - i));
  const ids: [string, number][] = [];
  const uniqueEvery = Math.floor(job.shared / job.unique);
  let uniqueDone = 0;
  order.forEach((n, k) => {
    const id = d.addMember(n % 5, `svc.${n}.>`, `q${n % 7}`);
    ids.push([`${n % 5}|svc.${n}.>|q${n % 7}`, id]);
    if (k % uniqueEvery === 0 && uniqueDone < job.unique) {
      const u = uniqueDone++;
      ids.push([`0|own.${job.self}.${u}|q`, d.addMember(0, `own.${job.self}.${u}`, 'q')]);
    }
  });
  parentPort!.postMessage({ ids });
  parentPort!.once('message', () => {
    d.sync();
    const sharedCounts = new Array(d.workers).fill(0);
    for (let id = 0; id < learned.length; id++) {
      if (learned[id].includes('|svc.')) for (let w = 0; w < d.workers; w++) sharedCounts[w] += d.memberCount(id, w);
    }
    parentPort!.postMessage({ groups: learned, sharedCounts });
  });
}

/**
 * Publishes `messages` queue messages to group 0: picks a worker weighted by members; delivers
 * locally or forwards one ring record carrying the group id. A receiver without members (it left)
 * re-picks excluding itself and forwards again, as a shard does.
 */
async function runDeliver(job: DeliverJob): Promise<unknown> {
  const GROUP = 0;
  const PUBLISHERS_DONE = 1;
  const directory = new QueueDirectory(job.directory, job.self);
  directory.sync();
  for (let i = 0; i < job.members; i++) directory.addMember(0, 'jobs.>', 'pool');
  let members = job.members;
  // Start together, or the first worker up would deliver everything to itself for a while.
  const barrier = new Int32Array(job.barrier);
  Atomics.add(barrier, 0, 1);
  Atomics.notify(barrier, 0);
  for (let ready = Atomics.load(barrier, 0); ready < job.mesh.workers; ready = Atomics.load(barrier, 0)) {
    Atomics.wait(barrier, 0, ready);
  }
  const mesh = new RingMesh(job.mesh, job.self, { overflowLimitBytes: 256 * 1024 * 1024 });
  const bells = job.mesh.doorbells.map((b) => new Doorbell(b));
  const counts = new Int32Array(job.delivered);
  const totalIndex = counts.length - 1;
  const total = counts.length - 1;
  const payload = new Uint8Array(8 + 4);
  const payloadView = new DataView(payload.buffer);
  payload.set([0x6a, 0x6f, 0x62, 0x73], 8); // subject "jobs"
  const groups = new Int32Array([GROUP]);
  let local = 0;
  let reforwarded = 0;
  let leaving = false;

  const int32At = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
  const messageIndex = (b: Uint8Array, o: number): number => int32At(b, o) * job.messages + int32At(b, o + 4);
  const deliver = (index: number): void => {
    Atomics.add(counts, index, 1);
    local++;
    if (Atomics.add(counts, totalIndex, 1) + 1 === total) for (const b of bells) b.ring();
    if (local === job.leaveAfter) leaving = true;
  };
  // Leave while records for us are in the ring, so some surely arrive after we left (re-forwarded).
  const leaveWhenRecordsWait = async (): Promise<void> => {
    while (!mesh.hasIncoming() && Atomics.load(barrier, PUBLISHERS_DONE) < job.mesh.workers - 1) await new Promise(setImmediate);
    while (members > 0) {
      directory.removeMember(GROUP);
      members--;
    }
    leaving = false;
  };
  const route = (src: Uint8Array, payloadOffset: number, hops: number, exclude: number): void => {
    const target = directory.pickWorker(GROUP, Math.random(), exclude);
    if (target === -1) throw new Error('no member left anywhere');
    if (target === job.self) {
      deliver(messageIndex(src, payloadOffset));
      return;
    }
    const result = mesh.producers[target]!.write(src, 0, hops, payloadOffset + 8, 4, 0, 0, -1, payloadOffset, 8, groups, 1);
    if (result !== WriteResult.RING && result !== WriteResult.OVERFLOW) throw new Error('record dropped');
  };
  const onRecord = (r: RingRecord): void => {
    if (r.groupCount !== 1 || r.group(0) !== GROUP) throw new Error('record without its queue group');
    if (members > 0) {
      deliver(messageIndex(r.bytes, r.payloadOffset));
    } else {
      reforwarded++;
      route(r.bytes, r.payloadOffset, r.flags + 1, job.self);
    }
  };

  for (let seq = 0; seq < job.messages; seq++) {
    payloadView.setInt32(0, job.self, true);
    payloadView.setInt32(4, seq, true);
    route(payload, 0, 0, -1);
    if (seq % 100 === 99) {
      if (leaving) await leaveWhenRecordsWait();
      mesh.commit();
      mesh.drain(onRecord);
      await new Promise(setImmediate);
    }
  }
  mesh.commit();
  Atomics.add(barrier, PUBLISHERS_DONE, 1);
  const allDelivered = (): boolean => Atomics.load(counts, totalIndex) >= total;
  // The last delivery rings every bell; parking re-checks the total after raising the parked flag,
  // or a bell rung between our check and the flag would be lost (mesh.park() looks at rings only).
  const workOrDone = (): boolean => mesh.hasWork() || allDelivered();
  while (!allDelivered()) {
    if (leaving) await leaveWhenRecordsWait();
    mesh.drain(onRecord);
    if (!allDelivered()) await bells[job.self].park(workOrDone);
  }
  return { local, reforwarded };
}
