/**
 * Faults (issue 8): clients reset in the middle of a frame, clients sending garbage at full speed,
 * and a worker killed mid-traffic. Each runs while a publisher streams numbered messages to
 * subscribers on other workers, which must get every one, in order. Brokers have 4 workers (and the
 * matrix's parser); clients are placed on known workers as in cross-worker.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { type Msg, type NatsConnection } from 'nats';
import type { RunningServer } from '../../src/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { client, signal, within } from './broker.js';
import { GUARD_MS, type Json, perWorker, Placement, same, until, withWorkers, workerz, WORKERS } from './workers.js';

const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

const total = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Numbered messages on `subject` until one on `${subject}.end` (sent last by the same publisher);
 * `reached(n)` resolves once n messages arrived.
 */
function numbered(nc: NatsConnection, subject: string, queue?: string) {
  const numbers: number[] = [];
  const done = signal<void>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  nc.subscribe(subject, {
    queue,
    callback: (_err, msg: Msg) => {
      numbers.push(Number(untext.decode(msg.data)));
      for (const w of waiters) if (numbers.length === w.count) w.resolve();
    },
  });
  nc.subscribe(`${subject}.end`, { callback: () => done.resolve() });
  const reached = (count: number) => {
    if (numbers.length >= count) return Promise.resolve();
    const waiter = signal<void>();
    waiters.push({ count, resolve: waiter.resolve });
    return waiter.promise;
  };
  return { numbers, done: done.promise, reached };
}

/** Publishes numbered messages on `subject` in flushed batches while `running()` holds. */
async function stream(nc: NatsConnection, subject: string, running: () => boolean, minimum: number): Promise<number> {
  let sent = 0;
  while (running() || sent < minimum) {
    for (let i = 0; i < 50; i++) nc.publish(subject, text.encode(String(sent++)));
    await nc.flush();
  }
  nc.publish(`${subject}.end`);
  await nc.flush();
  return sent;
}

function assertAll(numbers: number[], sent: number, who: string): void {
  assert.equal(numbers.length, sent, `${who} got every message`);
  const wrong = numbers.findIndex((n, k) => n !== k);
  assert.equal(wrong, -1, `${who}: message ${wrong} is ${numbers[wrong]}`);
}

/**
 * Connects a plain socket, sends CONNECT, PING and `partial` in one write (so the server reads the
 * partial frame with the PING), waits for the PONG, then resets the connection (RST) or just
 * destroys it (FIN) with the frame unfinished.
 */
function dropMidFrame(port: number, partial: Buffer, reset: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('error', () => {});
    socket.on('close', () => (received.includes('PONG\r\n') ? resolve() : reject(new Error(`closed before PONG: ${JSON.stringify(received)}`))));
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from('CONNECT {"verbose":false,"headers":true}\r\nPING\r\n'), partial])));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (!received.includes('PONG\r\n')) return;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    });
  });
}

/**
 * A publisher and, on each other worker, a subscriber to its numbered messages on "shared", all
 * subscribed; what a fault must not disturb.
 */
async function streamAcrossWorkers(server: RunningServer) {
  const place = new Placement(server);
  const pub = await place.open(() => client(server));
  const subscribers: NatsConnection[] = [];
  for (let i = 1; i < WORKERS; i++) subscribers.push(await place.open(() => client(server)));
  place.assertSpread();
  const received = subscribers.map((nc) => numbered(nc, 'shared'));
  await Promise.all(subscribers.map((nc) => nc.flush()));
  return {
    pub,
    /** Every subscriber got the `sent` messages, in order, up to the end of the stream. */
    async assertDelivered(sent: number): Promise<void> {
      await within(Promise.all(received.map((r) => r.done)), GUARD_MS, 'the end of the stream at every subscriber');
      received.forEach((r, i) => assertAll(r.numbers, sent, `subscriber on worker ${place.workers[i + 1]}`));
    },
    /** Once the faulty clients are gone, only these clients and their subscriptions are left; closes them. */
    async assertOnlyItsClientsLeft(): Promise<void> {
      await until(() => perWorker(server, 'connections'), (c) => total(c) === WORKERS, 'only the stream clients connected');
      await until(() => perWorker(server, 'subscriptions'), (s) => total(s) === 2 * subscribers.length, 'only the stream subscriptions left');
      await Promise.all([pub, ...subscribers].map((nc) => nc.close()));
    },
  };
}

const PARTIAL_FRAMES: Buffer[] = [
  Buffer.from(`PUB shared 1000\r\n${'x'.repeat(500)}`),
  Buffer.from(`PUB shared reply.to 1000\r\n${'x'.repeat(999)}\r`),
  Buffer.from(`HPUB shared 12 1000\r\nNATS/1.0\r\n\r\n${'y'.repeat(100)}`),
  Buffer.from('HPUB shared 40 50\r\nNATS/1.0\r\nKey: va'),
  Buffer.from('PUB shar'),
  Buffer.from('PUB shared 5'),
  Buffer.concat([Buffer.from('PUB shared 60000\r\n'), randomBytes(40_000)]),
  Buffer.from('SUB shared 1\r\nSUB shared.> 2\r\nSUB shared q 3\r\nPUB shared 10\r\n01234'),
  Buffer.from('UNSUB'),
];

test('clients reset mid-frame do not disturb delivery to others', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const shared = await streamAcrossWorkers(server);
    const totalsBefore = await perWorker(server, 'total_connections');

    let dropping = true;
    let dropped = 0;
    const droppers = (async () => {
      // Four at a time, so that they land on every worker, until the stream is done.
      while (dropping || dropped < 200) {
        await within(
          Promise.all(Array.from({ length: 4 }, (_, k) => dropMidFrame(server.port, PARTIAL_FRAMES[(dropped + k) % PARTIAL_FRAMES.length]!, k % 2 === 0))),
          GUARD_MS,
          'droppers',
        );
        dropped += 4;
      }
    })();
    const sent = await stream(shared.pub, 'shared', () => dropped < 200, 3000);
    dropping = false;
    await droppers;
    await shared.assertDelivered(sent);

    const totalsAfter = await perWorker(server, 'total_connections');
    assert.equal(total(totalsAfter) - total(totalsBefore), dropped, 'every dropper reached a worker');
    assert.ok(totalsAfter.every((n, w) => n > totalsBefore[w]!), `droppers on every worker (${totalsBefore} -> ${totalsAfter})`);
    // Their subscriptions went with them.
    await shared.assertOnlyItsClientsLeft();
  });
});

/** Garbage of one kind: what a client sends before (and between) its random bytes. */
const GARBAGE_PREFIXES = [
  '',
  'CONNECT {"verbose":false}\r\n',
  'CONNECT {"verbose":false}\r\nSUB shared 1\r\nPUB shared 5\r\nhelloXX',
  'CONNECT {"verbose":false}\r\nSUB shared 1\r\nPING\r\nMSG shared 1 5\r\nhello\r\n',
];

/** Random chunks generated once: the garbage clients share the test process's CPU with the broker. */
const RANDOM_CHUNKS = Array.from({ length: 8 }, () => randomBytes(16 * 1024));

/**
 * A client sending garbage as fast as the socket takes it, reconnecting each time the server closes
 * it, until `running()` is false. Returns how many connections the server closed on it.
 */
async function garbageLoop(port: number, prefix: string, running: () => boolean): Promise<number> {
  let closedByServer = 0;
  while (running()) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.on('data', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()).once('close', () => resolve()));
    let open = !socket.destroyed;
    socket.once('close', () => (open = false));
    if (open) socket.write(prefix);
    for (let chunk = 0; open && running(); chunk++) {
      if (!socket.write(RANDOM_CHUNKS[chunk % RANDOM_CHUNKS.length]!)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
    if (open) socket.destroy();
    else closedByServer++;
    await closed;
  }
  return closedByServer;
}

test('clients sending garbage at full speed do not disturb delivery to others', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const shared = await streamAcrossWorkers(server);

    let garbage = true;
    const spammers = Promise.all(GARBAGE_PREFIXES.map((prefix) => garbageLoop(server.port, prefix, () => garbage)));
    const sent = await stream(shared.pub, 'shared', () => false, 3000);
    garbage = false;
    const closedBy = await within(spammers, GUARD_MS, 'the garbage clients to stop');
    await shared.assertDelivered(sent);
    assert.ok(closedBy.every((n) => n > 0), `the server closed every kind of garbage client (${closedBy})`);
    await shared.assertOnlyItsClientsLeft();
  });
});

test('a worker killed mid-traffic: others keep serving, no interest or ring memory left behind', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const pub = await place.open(() => client(server));
    const sub = await place.open(() => client(server));
    const victimPublisher = await place.open(() => client(server));
    const otherSub = await place.open(() => client(server));
    // A second round of connections: the raw one lands on the victim's worker too.
    const survivors: RawClient[] = [];
    for (let i = 0; i < 2; i++) survivors.push(await place.open(() => RawClient.connect(server.port)));
    const victimRaw = await place.open(() => RawClient.connect(server.port));
    survivors.push(await place.open(() => RawClient.connect(server.port)));
    place.assertSpread();
    const victim = place.workers[2]!;
    assert.equal(place.workers[6], victim, `the raw victim shares the victim worker (${place.workers})`);

    const live = [sub, otherSub].map((nc) => numbered(nc, 'live'));
    const fromVictim = numbered(sub, 'victim.stream');
    const work = numbered(sub, 'work', 'g');
    victimPublisher.subscribe('live');
    for (const rc of survivors) {
      await rc.send('CONNECT {"verbose":false}\r\nSUB survivor.* 1\r\nPING\r\n');
      await rc.readUntil('PONG\r\n');
    }
    await victimRaw.send('CONNECT {"verbose":false}\r\nSUB victim.only 1\r\nSUB victim.*.x 2\r\nSUB victim.> 3\r\nSUB work g 4\r\nPING\r\n');
    await victimRaw.readUntil('PONG\r\n');
    await Promise.all([sub.flush(), otherSub.flush(), victimPublisher.flush()]);
    const subsBefore = await perWorker(server, 'subscriptions');
    assert.equal(subsBefore[victim], 5, `subscriptions on the victim worker (${subsBefore})`);
    const expectedSubs = subsBefore.map((n, w) => (w === victim ? 0 : n));

    // Traffic both ways through the victim: it publishes to a survivor and receives the live stream.
    let killed = false;
    let victimSent = 0;
    // Its pending flush never settles once the connection is gone: the close is what to await.
    void (async () => {
      while (!victimPublisher.isClosed()) {
        for (let i = 0; i < 50; i++) victimPublisher.publish('victim.stream', text.encode(String(victimSent++)));
        await victimPublisher.flush();
      }
    })().catch(() => {});
    const liveStream = stream(pub, 'live', () => !killed, 2000);
    // Killed once traffic flows through it in both directions.
    await within(Promise.all([fromVictim.reached(500), live[0]!.reached(500)]), GUARD_MS, 'traffic through the victim worker');
    await within(server.killWorker(victim), GUARD_MS, 'the worker to be respawned');
    killed = true;
    const sent = await liveStream;
    await within(victimPublisher.closed(), GUARD_MS, "the victim's publisher to see its connection close");
    await within(Promise.all(live.map((r) => r.done)), GUARD_MS, 'the end of the live stream');
    live.forEach((r, i) => assertAll(r.numbers, sent, `live subscriber ${i}`));
    // What the victim published before dying arrives without gap or duplicate; its tail may be lost.
    const prefix = fromVictim.numbers;
    assert.ok(prefix.length >= 500 && prefix.length <= victimSent && prefix.every((n, k) => n === k), `victim's messages: ${prefix.length} of ${victimSent}, in order, no gap`);

    // No interest left: the counts are the survivors', and nothing goes to the respawned worker.
    assert.deepEqual(await until(() => perWorker(server, 'subscriptions'), same(expectedSubs), 'the survivors\' subscriptions only'), expectedSubs);
    const subsz = (await (await fetch(`${server.monitorUrl}/subsz`)).json()) as Json;
    assert.equal(subsz.num_subscriptions, total(expectedSubs), '/subsz counts the survivors\' subscriptions');
    assert.equal((await perWorker(server, 'connections'))[victim], 0);
    const rings = await until(
      () => workerz(server),
      (workers) => workers.every((w) => w.interconnect.ring_in_bytes === 0 && w.interconnect.ring_out_bytes === 0 && w.interconnect.overflow_bytes === 0),
      'rings and overflow drained',
    );
    const receivedBefore = rings[victim]!.interconnect.received as number;
    for (const subject of ['victim.only', 'victim.a.x', 'victim.deep.er', 'live']) for (let i = 0; i < 50; i++) pub.publish(subject);
    // The queue group's only live member gets every message: the dead member's count is gone.
    for (let i = 0; i < 1000; i++) pub.publish('work', text.encode(String(i)));
    pub.publish('work.end');
    await pub.flush();
    await within(work.done, GUARD_MS, 'the queue messages');
    assertAll(work.numbers, 1000, 'the surviving queue member');
    assert.equal((await workerz(server))[victim]!.interconnect.received, receivedBefore, 'nothing forwarded to the respawned worker');

    // The respawned worker serves new connections, in both directions.
    const newcomer = await place.open(() => client(server));
    assert.equal(place.workers[8], victim, `a new connection lands on the respawned worker (${place.workers})`);
    const toNewcomer = numbered(newcomer, 'after');
    const fromNewcomer = numbered(otherSub, 'back');
    await Promise.all([newcomer.flush(), otherSub.flush()]);
    pub.publish('after', text.encode('0'));
    pub.publish('after.end');
    newcomer.publish('back', text.encode('0'));
    newcomer.publish('back.end');
    await within(Promise.all([toNewcomer.done, fromNewcomer.done]), GUARD_MS, 'messages to and from the respawned worker');
    assert.deepEqual([toNewcomer.numbers, fromNewcomer.numbers], [[0], [0]]);

    await Promise.all([pub, sub, otherSub, newcomer, victimPublisher].map((nc) => (nc.isClosed() ? undefined : nc.close())));
    await Promise.all([...survivors, victimRaw].map((rc) => rc.close()));
  });
});

test('connections arriving while a worker dies are all served', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const held: NatsConnection[] = [];
    for (let i = 1; i < WORKERS; i++) held.push(await place.open(() => client(server)));
    // The one worker without a connection is the least loaded: new connections go there first.
    const victim = [0, 1, 2, 3].find((w) => !place.workers.includes(w))!;
    let dying = true;
    let served = 0;
    const unserved: string[] = [];
    const arrivals = (async () => {
      while (dying || served < 200) {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            try {
              const rc = await RawClient.connect(server.port, { timeoutMs: 3000 });
              await rc.send('CONNECT {"verbose":false}\r\nPING\r\n');
              await rc.readUntil('PONG\r\n', 3000);
              await rc.close();
              served++;
            } catch (error) {
              unserved.push((error as Error).message);
            }
          }),
        );
      }
    })();
    await within(server.killWorker(victim), GUARD_MS, 'the worker to be respawned');
    dying = false;
    await arrivals;
    assert.deepEqual(unserved, [], `connections lost while worker ${victim} died (${served} served)`);
    await Promise.all(held.map((nc) => nc.close()));
  });
});
