/**
 * Across worker threads (issue 4): every test starts a broker with 4 workers (and the matrix's
 * parser), places its clients on known workers — least-connections assignment puts consecutive
 * connections on different workers, and /workerz confirms where each one landed — and checks that
 * NATS semantics survive the worker boundary: wildcards, headers byte for byte, request/reply and
 * no_responders, queue groups exactly once, UNSUB confirmed by PONG, auto-unsubscribe, per-publisher
 * order, no interest left behind, a killed worker respawned, no fd leak over connection cycles.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { ErrorCode, Events, type Msg, type NatsConnection, type NatsError } from 'nats';
import type { RunningServer } from '../../src/index.js';
import { DEFAULT_LITERAL_SLOTS, SubjectHash } from '../../src/sublist/shared-interest.js';
import { quote, RawClient } from '../helpers/raw-client.js';
import { client, closeAll, collectUntil, signal, within } from './broker.js';
import { GUARD_MS, type Json, monitor, perWorker, Placement, same, until, withWorkers, WORKERS } from './workers.js';

/** A hang anywhere fails the test instead of stalling the run. */
const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

async function forwardsOf(server: RunningServer, worker: number): Promise<number> {
  const body = await monitor(server, '/workerz');
  return (body.workers as Json[])[worker]!.interconnect.forwards as number;
}

/** A raw client past the handshake (headers on unless told otherwise). */
async function raw(server: RunningServer, connectOptions = '"headers":true,"no_responders":true'): Promise<RawClient> {
  const rc = await RawClient.connect(server.port);
  await rc.send(`CONNECT {"verbose":false${connectOptions === '' ? '' : `,${connectOptions}`}}\r\nPING\r\n`);
  assert.equal((await rc.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
  return rc;
}

/** A plain socket past the handshake and `ops`, for a test to reset (RST) rather than close. */
async function resettable(server: RunningServer, ops: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  socket.on('error', () => {});
  let received = '';
  await within(
    new Promise<void>((resolve) => {
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
        if (received.includes('PONG\r\n')) resolve();
      });
      socket.write(`CONNECT {"verbose":false}\r\n${ops}PING\r\n`);
    }),
    GUARD_MS,
    'PONG on a plain socket',
  );
  return socket;
}

/** A subject other than `subject` that shares its slot in a default-sized shared interest table. */
function collidingSubject(subject: string): string {
  const mask = DEFAULT_LITERAL_SLOTS - 1;
  const hash = new SubjectHash();
  const slot = hash.hashString(0, subject).subject & mask;
  for (let i = 0; ; i++) {
    const candidate = `svc.other${i}`;
    if ((hash.hashString(0, candidate).subject & mask) === slot) return candidate;
  }
}

/** Sends `ops` then PING and returns what arrived before the PONG (the ops were processed). */
async function roundTrip(rc: RawClient, ops: string): Promise<string> {
  await rc.send(`${ops}PING\r\n`);
  const data = (await rc.readUntil('PONG\r\n')).toString('latin1');
  return data.slice(0, -'PONG\r\n'.length);
}

interface RawMsg {
  subject: string;
  sid: string;
  payload: string;
}

/** Complete MSG frames at the start of `bytes`, and where the last one ends. */
function parseMsgs(bytes: Buffer): { msgs: RawMsg[]; end: number } {
  const msgs: RawMsg[] = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at, 'latin1');
    if (eol < 0) break;
    const [op, subject, sid, ...rest] = bytes.toString('latin1', at, eol).split(' ');
    if (op !== 'MSG') throw new Error(`unexpected frame: ${quote(bytes.subarray(at))}`);
    const size = Number(rest[rest.length - 1]);
    if (bytes.length < eol + 2 + size + 2) break;
    msgs.push({ subject: subject!, sid: sid!, payload: bytes.toString('latin1', eol + 2, eol + 2 + size) });
    at = eol + 2 + size + 2;
  }
  return { msgs, end: at };
}

/** Reads MSG frames until `count` of them are on `subject`; returns every frame read. */
async function readUntilMsgs(rc: RawClient, subject: string, count: number): Promise<RawMsg[]> {
  const data = await rc.readUntil((unread) => {
    const { msgs, end } = parseMsgs(unread);
    return msgs.filter((m) => m.subject === subject).length >= count ? end : false;
  }, GUARD_MS);
  return parseMsgs(data).msgs;
}

test('consecutive connections land on different workers, as /workerz and /connz show', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const connections: NatsConnection[] = [];
    for (let i = 0; i < 2 * WORKERS; i++) connections.push(await place.open(() => client(server)));
    place.assertSpread();
    assert.deepEqual(await perWorker(server, 'connections'), [2, 2, 2, 2]);
    const connz = await monitor(server, '/connz');
    const numeric = (a: number, b: number) => a - b;
    assert.equal(connz.total, 2 * WORKERS);
    assert.deepEqual(
      (connz.connections as Json[]).map((c) => c.cid as number).sort(numeric),
      connections.map((nc) => nc.info!.client_id).sort(numeric),
    );
    await closeAll(...connections);
  });
});

test('literal, * and > subscribers on other workers get exactly their messages', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const pub = await place.open(() => client(server));
    const literalSub = await place.open(() => client(server));
    const starSub = await place.open(() => client(server));
    const tailSub = await place.open(() => client(server));
    place.assertSpread();
    const literal = collectUntil(literalSub, 'orders.new', 'end');
    const leadingStar = collectUntil(literalSub, '*.new', 'end.other');
    const star = collectUntil(starSub, 'orders.*', 'end');
    const tail = collectUntil(tailSub, 'orders.>', 'end');
    await Promise.all([literalSub.flush(), starSub.flush(), tailSub.flush()]);
    const published = ['orders.new', 'orders.old', 'orders.new.eu', 'orders', 'other.new', 'ordersx.new', 'orders.new'];
    published.forEach((subject, i) => pub.publish(subject, text.encode(`m${i}`), i === 1 ? { reply: 'back.here' } : {}));
    pub.publish('end');
    pub.publish('end.other');
    await within(Promise.all([literal.done, leadingStar.done, star.done, tail.done]), GUARD_MS, 'sentinels');
    const seen = (msgs: Msg[]) => msgs.map((m) => `${m.subject} ${untext.decode(m.data)} ${m.reply ?? ''}`.trim());
    assert.deepEqual(seen(literal.received), ['orders.new m0', 'orders.new m6']);
    assert.deepEqual(seen(leadingStar.received), ['orders.new m0', 'other.new m4', 'ordersx.new m5', 'orders.new m6']);
    assert.deepEqual(seen(star.received), ['orders.new m0', 'orders.old m1 back.here', 'orders.new m6']);
    assert.deepEqual(seen(tail.received), ['orders.new m0', 'orders.old m1 back.here', 'orders.new.eu m2', 'orders.new m6']);
    await closeAll(pub, literalSub, starSub, tailSub);
  });
});

test('headers cross workers byte for byte; a subscriber without headers gets the payload alone', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const pub = await place.open(() => raw(server));
    const withHeaders = await place.open(() => raw(server));
    const withoutHeaders = await place.open(() => raw(server, ''));
    const wildcard = await place.open(() => raw(server));
    place.assertSpread();
    await roundTrip(withHeaders, 'SUB raw.h 7\r\n');
    await roundTrip(withoutHeaders, 'SUB raw.h 8\r\n');
    await roundTrip(wildcard, 'SUB raw.> 9\r\n');
    const block = 'NATS/1.0\r\nkey: Value With  Spaces\r\nKEY: upper\r\nkey: again\r\nEmpty:\r\n\r\n';
    const payload = 'body\r\nwith CRLF';
    const total = block.length + payload.length;
    assert.equal(await roundTrip(pub, `HPUB raw.h ${block.length} ${total}\r\n${block}${payload}\r\nHPUB raw.h reply.to ${block.length} ${total}\r\n${block}${payload}\r\n`), '');
    const expectHeaders = (sid: number) =>
      `HMSG raw.h ${sid} ${block.length} ${total}\r\n${block}${payload}\r\n` +
      `HMSG raw.h ${sid} reply.to ${block.length} ${total}\r\n${block}${payload}\r\n`;
    assert.equal((await withHeaders.readUntil(expectHeaders(7))).toString('latin1'), expectHeaders(7));
    assert.equal((await wildcard.readUntil(expectHeaders(9))).toString('latin1'), expectHeaders(9));
    const plain = `MSG raw.h 8 ${payload.length}\r\n${payload}\r\nMSG raw.h 8 reply.to ${payload.length}\r\n${payload}\r\n`;
    assert.equal((await withoutHeaders.readUntil(plain)).toString('latin1'), plain);
    for (const rc of [withHeaders, withoutHeaders, wildcard]) assert.equal(await roundTrip(rc, ''), '', 'nothing more arrived');
    await Promise.all([pub, withHeaders, withoutHeaders, wildcard].map((rc) => rc.close()));
  });
});

test('request/reply across workers; no_responders (503) only when no worker has interest', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const requester = await place.open(() => client(server));
    const plainResponder = await place.open(() => client(server));
    const queueResponder = await place.open(() => client(server));
    const wildcardResponder = await place.open(() => client(server));
    const rawRequester = await place.open(() => raw(server));
    place.assertSpread();
    const upper = plainResponder.subscribe('svc.upper', { callback: (_err, msg) => msg.respond(text.encode(untext.decode(msg.data).toUpperCase())) });
    queueResponder.subscribe('svc.queue', { queue: 'g', callback: (_err, msg) => msg.respond(text.encode(`q:${untext.decode(msg.data)}`)) });
    wildcardResponder.subscribe('wild.*', { callback: (_err, msg) => msg.respond(text.encode(msg.subject)) });
    await Promise.all([plainResponder.flush(), queueResponder.flush(), wildcardResponder.flush()]);

    const words = Array.from({ length: 100 }, (_, i) => `word-${i}`);
    const replies = await within(Promise.all(words.map((w) => requester.request('svc.upper', text.encode(w), { timeout: GUARD_MS }))), GUARD_MS, 'replies');
    assert.deepEqual(replies.map((r) => untext.decode(r.data)), words.map((w) => w.toUpperCase()));
    const queued = await within(Promise.all(words.map((w) => requester.request('svc.queue', text.encode(w), { timeout: GUARD_MS }))), GUARD_MS, 'queue replies');
    assert.deepEqual(queued.map((r) => untext.decode(r.data)), words.map((w) => `q:${w}`));
    assert.equal(untext.decode((await requester.request('wild.card', undefined, { timeout: GUARD_MS })).data), 'wild.card');

    const noResponders = (err: NatsError) => err.code === ErrorCode.NoResponders;
    await assert.rejects(requester.request('svc.nobody', undefined, { timeout: GUARD_MS }), noResponders);
    // The exact bytes: a 503 status to the requester's own reply subscription.
    assert.equal(
      await roundTrip(rawRequester, 'SUB inbox.x 1\r\nPUB svc.nobody inbox.x 2\r\nhi\r\n'),
      'HMSG inbox.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n',
    );
    assert.equal(await roundTrip(rawRequester, 'PUB svc.upper inbox.x 2\r\nhi\r\n'), '');
    assert.deepEqual(await readUntilMsgs(rawRequester, 'inbox.x', 1), [{ subject: 'inbox.x', sid: '1', payload: 'HI' }]);

    // Interest removed on another worker is seen by the requester's worker once the UNSUB is confirmed.
    upper.unsubscribe();
    await plainResponder.flush();
    await assert.rejects(requester.request('svc.upper', undefined, { timeout: GUARD_MS }), noResponders);
    await closeAll(requester, plainResponder, queueResponder, wildcardResponder);
    await rawRequester.close();
  });
});

test('no_responders (503) across workers when the only remote interest does not match the subject', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const requester = await place.open(() => client(server));
    const responder = await place.open(() => client(server));
    place.assertSpread();
    // The shared interest table is approximate: a wildcard with the same first token, or a literal
    // subject in the same hash slot, makes a peer look interested. The peer re-checks and has no
    // match, so nobody answers: nats-server answers 503 at once, and so must we.
    const subscribed = 'svc.real';
    const colliding = collidingSubject(subscribed);
    responder.subscribe('wild.*', { callback: (_err, msg) => msg.respond() });
    responder.subscribe(subscribed, { callback: (_err, msg) => msg.respond() });
    await responder.flush();
    await requester.request('wild.card', undefined, { timeout: GUARD_MS });
    await requester.request(subscribed, undefined, { timeout: GUARD_MS });
    const noResponders = (err: NatsError) => err.code === ErrorCode.NoResponders;
    await assert.rejects(requester.request('wild.card.deeper', undefined, { timeout: 2000 }), noResponders, 'wild.card.deeper against wild.*');
    await assert.rejects(requester.request(colliding, undefined, { timeout: 2000 }), noResponders, `${colliding}, in the slot of ${subscribed}`);
    await closeAll(requester, responder);
  });
});

test('queue group over 4 workers: 4000 messages, each delivered exactly once, load spread', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const members: NatsConnection[] = [];
    for (let i = 0; i < WORKERS; i++) members.push(await place.open(() => client(server)));
    const pub = await place.open(() => client(server));
    place.assertSpread();
    const collected = members.map((nc) => collectUntil(nc, 'jobs', 'jobs.end', 'workers'));
    await Promise.all(members.map((nc) => nc.flush()));
    const total = 4000;
    for (let i = 0; i < total; i++) pub.publish('jobs', text.encode(String(i)));
    pub.publish('jobs.end');
    await within(Promise.all(collected.map((c) => c.done)), GUARD_MS, 'sentinel at every member');
    const counts = collected.map((c) => c.received.length);
    const seen = collected.flatMap((c) => c.received.map((m) => Number(untext.decode(m.data))));
    assert.equal(seen.length, total, `messages delivered over the group (per member ${counts})`);
    assert.equal(new Set(seen).size, total, 'no message delivered twice');
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
    for (const [i, c] of collected.entries()) {
      // A fair share is 1000; 500 leaves no room for a worker that is skipped or starved.
      assert.ok(c.received.length >= total / WORKERS / 2, `member ${i} (worker ${place.workers[i]}) got ${c.received.length} of ${total}`);
      const order = c.received.map((m) => Number(untext.decode(m.data)));
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `member ${i} sees the publisher's order`);
    }
    await closeAll(...members, pub);
  });
});

test('no delivery after an UNSUB confirmed by PONG, from publishers on every other worker', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const sub = await place.open(() => raw(server));
    const publishers: RawClient[] = [];
    for (let i = 1; i < WORKERS; i++) publishers.push(await place.open(() => raw(server)));
    place.assertSpread();
    await roundTrip(sub, 'SUB marker 1\r\n');
    const rounds = 40;
    for (let round = 0; round < rounds; round++) {
      const sid = 100 + round;
      // Subscribed and confirmed: every publisher's message arrives, before its marker.
      await roundTrip(sub, `SUB topic ${sid}\r\n`);
      await Promise.all(publishers.map((p, i) => roundTrip(p, `PUB topic 6\r\nbefore\r\nPUB marker 1\r\n${i}\r\n`)));
      const subscribed = await readUntilMsgs(sub, 'marker', publishers.length);
      assert.equal(subscribed.filter((m) => m.subject === 'topic' && m.sid === String(sid)).length, publishers.length, `round ${round}: delivery while subscribed`);
      // Unsubscribed and confirmed: nothing arrives, though each marker after it does.
      assert.equal(await roundTrip(sub, `UNSUB ${sid}\r\n`), '');
      await Promise.all(publishers.map((p, i) => roundTrip(p, `PUB topic 5\r\nafter\r\nPUB marker 1\r\n${i}\r\n`)));
      const unsubscribed = await readUntilMsgs(sub, 'marker', publishers.length);
      assert.deepEqual(unsubscribed.filter((m) => m.subject !== 'marker'), [], `round ${round}: delivery after UNSUB + PONG`);
    }
    await Promise.all([sub, ...publishers].map((rc) => rc.close()));
  });
});

test('auto-unsubscribe (UNSUB sid max) is exact across workers, for plain and queue subscriptions', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const subscribers: RawClient[] = [];
    for (let i = 0; i < WORKERS; i++) subscribers.push(await place.open(() => raw(server)));
    const publishers: RawClient[] = [];
    for (let i = 0; i < WORKERS; i++) publishers.push(await place.open(() => raw(server)));
    place.assertSpread();
    // subscribers[0] holds a plain subscription limited to 5; every subscriber a queue member limited to 3.
    await roundTrip(subscribers[0]!, 'SUB auto 2\r\nUNSUB 2 5\r\n');
    for (const s of subscribers) await roundTrip(s, 'SUB marker 1\r\nSUB qauto g 3\r\nUNSUB 3 3\r\n');
    const burst = (subject: string, n: number) => Array.from({ length: n }, (_, i) => `PUB ${subject} ${String(i).length}\r\n${i}\r\n`).join('');
    // Publishers on every worker at once, the subscriber's own included.
    await Promise.all(publishers.map((p) => roundTrip(p, `${burst('auto', 10)}${burst('qauto', 10)}PUB marker 0\r\n\r\n`)));
    // A queue message whose member reached its limit meanwhile is passed on to another worker, so
    // it may arrive after the markers: every limit reached (subscription removed) is the end.
    await until(() => perWorker(server, 'subscriptions'), same([1, 1, 1, 1]), 'every limit reached, only the marker subscriptions left');
    const received = await Promise.all(
      subscribers.map(async (s) => {
        const frames = await readUntilMsgs(s, 'marker', publishers.length);
        return frames.concat(parseMsgs(Buffer.from(await roundTrip(s, ''), 'latin1')).msgs);
      }),
    );
    assert.equal(received[0]!.filter((m) => m.subject === 'auto').length, 5, 'plain subscription limited to 5');
    const queueCounts = received.map((msgs) => msgs.filter((m) => m.subject === 'qauto').length);
    assert.deepEqual(queueCounts, [3, 3, 3, 3], 'each queue member limited to 3, none of the 40 messages lost while one had room');
    // The limits removed the interest everywhere: requests find no responders.
    assert.equal(await roundTrip(publishers[1]!, 'SUB inbox 9\r\nPUB auto inbox 0\r\n\r\nPUB qauto inbox 0\r\n\r\n'),
      'HMSG inbox 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\nHMSG inbox 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n');
    for (const s of subscribers) assert.equal(await roundTrip(s, ''), '', 'nothing more arrived');
    await Promise.all([...subscribers, ...publishers].map((rc) => rc.close()));
  });
});

test('per-publisher order across workers: two publishers, 10 000 numbered messages each', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const connections: NatsConnection[] = [];
    for (let i = 0; i < WORKERS; i++) connections.push(await place.open(() => client(server)));
    place.assertSpread();
    const [first, second] = connections as [NatsConnection, NatsConnection];
    const total = 10_000;
    // Every connection subscribes, publishers included: local and cross-worker delivery side by side.
    const seen = connections.map(() => [[], []] as [number[], number[]]);
    const done = connections.map(() => signal<void>());
    connections.forEach((nc, i) =>
      nc.subscribe('seq', {
        callback: (_err, msg) => {
          const data = msg.data;
          const publisher = data[0]! - 0x30;
          seen[i]![publisher]!.push(Number(untext.decode(data.subarray(2))));
          if (seen[i]![0].length + seen[i]![1].length === 2 * total) done[i]!.resolve();
        },
      }),
    );
    await Promise.all(connections.map((nc) => nc.flush()));
    for (let n = 0; n < total; n++) {
      first.publish('seq', text.encode(`0:${n}`));
      second.publish('seq', text.encode(`1:${n}`));
    }
    await Promise.all([first.flush(), second.flush()]);
    await within(Promise.all(done.map((d) => d.promise)), 30_000, `all messages (got ${seen.map(([a, b]) => a.length + b.length)})`);
    for (const [i, perPublisher] of seen.entries()) {
      for (const [p, sequence] of perPublisher.entries()) {
        const wrong = sequence.findIndex((n, k) => n !== k);
        assert.equal(wrong, -1, `subscriber on worker ${place.workers[i]}: publisher ${p}'s message ${wrong} is ${sequence[wrong]}`);
      }
    }
    await closeAll(...connections);
  });
});

test('no interest left behind after disconnects: nothing is forwarded for departed subscribers', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const pub = await place.open(() => client(server));
    const graceful = await place.open(() => client(server));
    const reset = await place.open(() => resettable(server, 'SUB left.two 1\r\nSUB left.> 2\r\nSUB left.queue g 3\r\n'));
    const rawGraceful = await place.open(() => raw(server));
    place.assertSpread();
    const pubWorker = place.workers[0]!;
    graceful.subscribe('left.one');
    graceful.subscribe('left.*.wild');
    graceful.subscribe('left.queue', { queue: 'g' });
    await graceful.flush();
    await roundTrip(rawGraceful, 'SUB left.three 1\r\nSUB *.three 2\r\nSUB left.queue g 3\r\n');
    const subsz = () => monitor(server, '/subsz').then((s) => s.num_subscriptions as number);
    assert.equal(await subsz(), 9);

    // While they are there, a publish is forwarded to each worker with interest.
    const before = await forwardsOf(server, pubWorker);
    pub.publish('left.one');
    await pub.flush();
    assert.ok((await forwardsOf(server, pubWorker)) > before, 'a publish with remote interest is forwarded');

    await graceful.close();
    await rawGraceful.close();
    reset.resetAndDestroy();
    await until(() => perWorker(server, 'subscriptions'), same([0, 0, 0, 0]), 'every subscription removed');
    await until(() => perWorker(server, 'connections'), (c) => c.reduce((a, b) => a + b) === 1, 'only the publisher connected');
    assert.equal(await subsz(), 0);

    const quiet = await forwardsOf(server, pubWorker);
    for (const subject of ['left.one', 'left.x.wild', 'left.two', 'left.three', 'x.three', 'left.queue', 'left.a.b.c']) {
      for (let i = 0; i < 50; i++) pub.publish(subject);
    }
    await pub.flush();
    assert.equal(await forwardsOf(server, pubWorker), quiet, 'nothing forwarded to workers whose subscribers left');
    for (const subject of ['left.one', 'left.queue', 'left.two']) {
      await assert.rejects(pub.request(subject, undefined, { timeout: GUARD_MS }), (err: NatsError) => err.code === ErrorCode.NoResponders, subject);
    }
    await closeAll(pub);
  });
});

test('a killed worker is respawned; the others keep exchanging messages; its clients reconnect and resume', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const place = new Placement(server);
    const reconnecting = { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 50, reconnectJitter: 0 };
    const pub = await place.open(() => client(server));
    const sub = await place.open(() => client(server));
    const victim = await place.open(() => client(server, reconnecting));
    const otherSub = await place.open(() => client(server));
    place.assertSpread();
    const victimWorker = place.workers[2]!;

    const streams = [sub, otherSub].map((nc) => collectUntil(nc, 'stream', 'stream.end'));
    victim.subscribe('to.victim', { callback: (_err, msg) => msg.respond(text.encode(`victim:${untext.decode(msg.data)}`)) });
    await Promise.all([sub.flush(), otherSub.flush(), victim.flush()]);
    const reconnected = (async () => {
      for await (const status of victim.status()) if (status.type === Events.Reconnect) return;
    })();

    // The publisher keeps streaming while the worker dies and comes back.
    let sent = 0;
    let streaming = true;
    const pump = (async () => {
      while (streaming) {
        for (let i = 0; i < 100; i++) pub.publish('stream', text.encode(String(sent++)));
        await pub.flush();
      }
    })();
    await within(server.killWorker(victimWorker), GUARD_MS, 'the worker to be respawned');
    await within(reconnected, GUARD_MS, "the killed worker's client to reconnect");
    streaming = false;
    await pump;
    pub.publish('stream.end');
    await within(Promise.all(streams.map((s) => s.done)), GUARD_MS, 'the stream to end at both subscribers');
    for (const [i, stream] of streams.entries()) {
      const numbers = stream.received.map((m) => Number(untext.decode(m.data)));
      assert.equal(numbers.length, sent, `subscriber ${i} got every message`);
      assert.equal(numbers.findIndex((n, k) => n !== k), -1, `subscriber ${i} got them in order`);
    }

    // The respawned worker serves: a new connection placed on it talks to the others. (The
    // reconnected client is wherever the least loaded worker was when it came back.)
    await until(() => perWorker(server, 'connections'), (c) => c.reduce((a, b) => a + b) === WORKERS, 'the reconnected client counted');
    const fresh: NatsConnection[] = [];
    while (place.workers.at(-1) !== victimWorker && fresh.length < WORKERS) fresh.push(await place.open(() => client(server)));
    assert.equal(place.workers.at(-1), victimWorker, `a new connection lands on the respawned worker (${place.workers})`);
    const onRespawned = fresh.at(-1)!;
    const reply = await pub.request('to.victim', text.encode('hi'), { timeout: GUARD_MS });
    assert.equal(untext.decode(reply.data), 'victim:hi');
    const fromVictim = collectUntil(sub, 'from.victim', 'from.victim.end');
    await sub.flush();
    onRespawned.publish('from.victim', text.encode('back'));
    onRespawned.publish('from.victim.end');
    await within(fromVictim.done, GUARD_MS, 'a message from the respawned worker');
    assert.deepEqual(fromVictim.received.map((m) => untext.decode(m.data)), ['back']);
    const toRespawned = collectUntil(onRespawned, 'to.respawned', 'to.respawned.end');
    await onRespawned.flush();
    pub.publish('to.respawned', text.encode('there'));
    pub.publish('to.respawned.end');
    await within(toRespawned.done, GUARD_MS, 'a message to the respawned worker');
    assert.deepEqual(toRespawned.received.map((m) => untext.decode(m.data)), ['there']);
    await closeAll(pub, sub, victim, otherSub, ...fresh);
  });
});

/** Open file descriptors of this process (the broker runs in it, workers share the table). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** One connection's life: handshake until PONG, then a clean close or a reset. */
function cycle(port: number, resetAtEnd: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('error', () => {});
    socket.on('close', () => (received.includes('PONG\r\n') ? resolve() : reject(new Error(`closed before PONG: ${JSON.stringify(received)}`))));
    socket.on('connect', () => socket.write('CONNECT {"verbose":false}\r\nSUB cycle 1\r\nPING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (!received.includes('PONG\r\n')) return;
      if (resetAtEnd) socket.resetAndDestroy();
      else socket.end();
    });
  });
}

test('1 000 connect/disconnect cycles leave no fd, connection or subscription behind', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withWorkers(async (server) => {
    const settled = async () => {
      await until(() => perWorker(server, 'connections'), same([0, 0, 0, 0]), 'every connection closed');
      await until(() => perWorker(server, 'subscriptions'), same([0, 0, 0, 0]), 'every subscription removed');
    };
    // Warm up: the monitor's HTTP connection and whatever the first connections allocate once.
    await Promise.all(Array.from({ length: 20 }, (_, i) => cycle(server.port, i % 2 === 0)));
    await settled();
    const totalBefore = (await perWorker(server, 'total_connections')).reduce((a, b) => a + b);
    const fdsBefore = openFds();
    const cycles = 1000;
    const inFlight = 10;
    for (let i = 0; i < cycles; i += inFlight) {
      await within(Promise.all(Array.from({ length: inFlight }, (_, k) => cycle(server.port, (i + k) % 3 === 0))), GUARD_MS, `cycles ${i}..${i + inFlight}`);
    }
    await settled();
    const totals = await perWorker(server, 'total_connections');
    assert.equal(totals.reduce((a, b) => a + b) - totalBefore, cycles, 'every cycle reached a worker');
    assert.ok(totals.every((n) => n >= cycles / WORKERS / 2), `cycles spread over the workers (${totals})`);
    const fdsAfter = openFds();
    assert.ok(fdsAfter <= fdsBefore + 4, `open fds before ${fdsBefore}, after ${cycles} cycles ${fdsAfter}`);
  });
});
