/**
 * End to end with the real NATS client (nats.js v2): what applications see. Each test starts its own
 * broker and closes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ErrorCode, headers, type Msg, type NatsError } from 'nats';
import { RawClient } from '../helpers/raw-client.js';
import { client, closeAll, collectUntil, signal, within, withBroker } from './broker.js';

const GUARD_MS = 10_000;
/** A hang anywhere (a close that never completes) fails the test instead of stalling the run. */
const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

test('publish/subscribe between two connections', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const { received, done } = collectUntil(sub, 'greet.*', 'greet.end');
    await sub.flush();
    pub.publish('greet.world', text.encode('hello'));
    pub.publish('greet.reply', text.encode('with reply'), { reply: 'back.here' });
    pub.publish('greet.end');
    await within(done, GUARD_MS, 'sentinel');
    assert.deepEqual(
      received.map((m) => [m.subject, untext.decode(m.data), m.reply ?? '']),
      [['greet.world', 'hello', ''], ['greet.reply', 'with reply', 'back.here'], ['greet.end', '', '']],
    );
    await closeAll(sub, pub);
  });
});

test('wildcards: * matches one token, > one or more', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const star = collectUntil(sub, 'a.*', 'a.end');
    const tail = collectUntil(sub, 'a.>', 'a.end');
    const middle = collectUntil(sub, 'a.*.c', 'a.end');
    await sub.flush();
    for (const subject of ['a', 'a.b', 'a.b.c', 'a.x.c', 'a.b.c.d', 'b.a', 'a.b.d']) pub.publish(subject);
    pub.publish('a.end');
    await within(Promise.all([star.done, tail.done, middle.done]), GUARD_MS, 'sentinels');
    const subjects = (msgs: Msg[]) => msgs.map((m) => m.subject).filter((s) => s !== 'a.end');
    assert.deepEqual(subjects(star.received), ['a.b']);
    assert.deepEqual(subjects(tail.received), ['a.b', 'a.b.c', 'a.x.c', 'a.b.c.d', 'a.b.d']);
    assert.deepEqual(subjects(middle.received), ['a.b.c', 'a.x.c']);
    await closeAll(sub, pub);
  });
});

test('queue group: each message to exactly one member, spread across members', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const members = await Promise.all([client(broker), client(broker), client(broker)]);
    const pub = await client(broker);
    const collected = members.map((nc) => collectUntil(nc, 'jobs', 'jobs.end', 'workers'));
    await Promise.all(members.map((nc) => nc.flush()));
    const total = 300;
    for (let i = 0; i < total; i++) pub.publish('jobs', text.encode(String(i)));
    pub.publish('jobs.end');
    await within(Promise.all(collected.map((c) => c.done)), GUARD_MS, 'sentinel at every member');
    const seen = collected.flatMap((c) => c.received.map((m) => Number(untext.decode(m.data))));
    assert.equal(seen.length, total, `messages delivered across the group (${collected.map((c) => c.received.length)})`);
    assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
    for (const [i, c] of collected.entries()) {
      assert.ok(c.received.length >= total / 10, `member ${i} got ${c.received.length} of ${total}`);
      const order = c.received.map((m) => Number(untext.decode(m.data)));
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `member ${i} sees the publisher's order`);
    }
    await closeAll(...members, pub);
  });
});

test('queue group: members that left do not swallow messages', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    // Each short-lived connection joins the same group, publishes once and leaves. Its own member is
    // the only live one, so it must receive its message; a stale member of an earlier connection
    // (on this or another worker) must not take it.
    const rounds = 300;
    const lost: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const raw = await RawClient.connect(broker.port);
      await raw.send(`CONNECT {"verbose":false}\r\nSUB reused workers 1\r\nPUB reused ${String(i).length}\r\n${i}\r\nPING\r\n`);
      const reply = (await raw.readUntil('PONG\r\n')).toString();
      if (reply !== `MSG reused 1 ${String(i).length}\r\n${i}\r\nPONG\r\n`) lost.push(i);
      await raw.close();
    }
    assert.deepEqual(lost, [], `rounds whose message never reached the only live member (${lost.length} of ${rounds})`);
  });
});

test('queue group and plain subscribers on the same subject both receive', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [member, plain, pub] = await Promise.all([client(broker), client(broker), client(broker)]);
    const queued = collectUntil(member, 'orders', 'orders.end', 'q');
    const all = collectUntil(plain, 'orders', 'orders.end');
    await Promise.all([member.flush(), plain.flush()]);
    for (let i = 0; i < 20; i++) pub.publish('orders', text.encode(String(i)));
    pub.publish('orders.end');
    await within(Promise.all([queued.done, all.done]), GUARD_MS, 'sentinels');
    assert.equal(queued.received.length, 20);
    assert.equal(all.received.length, 20);
    await closeAll(member, plain, pub);
  });
});

test('request/reply, many in flight', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [responder, requester] = await Promise.all([client(broker), client(broker)]);
    responder.subscribe('upper', { callback: (_err, msg) => msg.respond(text.encode(untext.decode(msg.data).toUpperCase())) });
    await responder.flush();
    const words = Array.from({ length: 100 }, (_, i) => `word-${i}`);
    const replies = await within(
      Promise.all(words.map((w) => requester.request('upper', text.encode(w), { timeout: GUARD_MS }))),
      GUARD_MS,
      'replies',
    );
    assert.deepEqual(replies.map((r) => untext.decode(r.data)), words.map((w) => w.toUpperCase()));
    await closeAll(responder, requester);
  });
});

test('no responders: a request with nobody listening rejects with 503', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const nc = await client(broker);
    await assert.rejects(
      nc.request('nobody.home', text.encode('?'), { timeout: GUARD_MS }),
      (err: NatsError) => err.code === ErrorCode.NoResponders,
    );
    await closeAll(nc);
  });
});

test('headers are preserved: nats client to nats client', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const got = signal<Msg>();
    sub.subscribe('h', { callback: (_err, msg) => got.resolve(msg) });
    await sub.flush();
    const h = headers();
    h.append('X-Multi', 'one');
    h.append('X-Multi', 'two');
    h.set('Content-Type', 'application/json; charset=utf-8');
    h.set('Spaced', 'a  b  c');
    pub.publish('h', text.encode('{"x":1}'), { headers: h });
    const msg = await within(got.promise, GUARD_MS, 'message with headers');
    assert.ok(msg.headers, 'headers arrived');
    assert.deepEqual(msg.headers.values('X-Multi'), ['one', 'two']);
    assert.equal(msg.headers.get('Content-Type'), 'application/json; charset=utf-8');
    assert.equal(msg.headers.get('Spaced'), 'a  b  c');
    assert.equal(untext.decode(msg.data), '{"x":1}');
    await closeAll(sub, pub);
  });
});

test('headers are preserved: the header block arrives byte for byte', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const sub = await RawClient.connect(broker.port);
    await sub.send('CONNECT {"verbose":false,"headers":true}\r\nSUB raw.h 7\r\nPING\r\n');
    await sub.readUntil('PONG\r\n');
    const block = 'NATS/1.0\r\nkey: Value With  Spaces\r\nKEY: upper\r\nkey: again\r\nEmpty:\r\n\r\n';
    const payload = 'body\r\nwith CRLF';
    const pub = await RawClient.connect(broker.port);
    await pub.send(
      `CONNECT {"verbose":false,"headers":true}\r\nHPUB raw.h ${block.length} ${block.length + payload.length}\r\n${block}${payload}\r\nPING\r\n`,
    );
    await pub.readUntil('PONG\r\n');
    const expected = `HMSG raw.h 7 ${block.length} ${block.length + payload.length}\r\n${block}${payload}\r\n`;
    assert.equal((await sub.readUntil(expected)).toString('latin1'), expected);
    await Promise.all([sub.close(), pub.close()]);
  });
});

test('echo false: own messages are not delivered, others are', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [quiet, other] = await Promise.all([client(broker, { noEcho: true }), client(broker)]);
    const received: string[] = [];
    const fromOther = signal<void>();
    quiet.subscribe('chat', {
      callback: (_err, msg) => {
        received.push(untext.decode(msg.data));
        if (untext.decode(msg.data) === 'from other') fromOther.resolve();
      },
    });
    quiet.publish('chat', text.encode('from me'));
    await quiet.flush();
    other.publish('chat', text.encode('from other'));
    await within(fromOther.promise, GUARD_MS, "the other connection's message");
    assert.deepEqual(received, ['from other']);
    await closeAll(quiet, other);
  });
});

test('UNSUB with max: auto-unsubscribes after max messages, also on the broker', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const subscription = sub.subscribe('limited', { max: 3 });
    await sub.flush();
    for (let i = 0; i < 5; i++) pub.publish('limited', text.encode(String(i)));
    const got: string[] = [];
    await within(
      (async () => {
        for await (const msg of subscription) got.push(untext.decode(msg.data));
      })(),
      GUARD_MS,
      'the subscription to end after 3 messages',
    );
    assert.deepEqual(got, ['0', '1', '2']);
    // The broker dropped the interest too: a request there now finds no responders.
    await assert.rejects(
      pub.request('limited', text.encode('?'), { timeout: GUARD_MS }),
      (err: NatsError) => err.code === ErrorCode.NoResponders,
    );
    await closeAll(sub, pub);
  });
});

test('a 1 MiB payload (the default max_payload) with CRLF inside arrives intact', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const got = signal<Msg>();
    sub.subscribe('big', { callback: (_err, msg) => got.resolve(msg) });
    await sub.flush();
    const payload = randomBytes(1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload.set([13, 10], i);
    pub.publish('big', payload);
    const msg = await within(got.promise, GUARD_MS, '1 MiB message');
    assert.equal(msg.data.length, payload.length);
    assert.ok(Buffer.from(msg.data).equals(payload), '1 MiB payload differs');
    await closeAll(sub, pub);
  });
});

test('binary payloads with every byte value and protocol text inside', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const payloads = [
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from('\r\nMSG foo 1 2\r\nhi\r\nPING\r\n-ERR x\r\n', 'latin1'),
      Buffer.from('\r\n'),
      Buffer.alloc(0),
      Buffer.from([0, 0, 13, 13, 10, 10]),
    ];
    const received: Buffer[] = [];
    const all = signal<void>();
    sub.subscribe('bin', {
      callback: (_err, msg) => {
        received.push(Buffer.from(msg.data));
        if (received.length === payloads.length) all.resolve();
      },
    });
    await sub.flush();
    for (const p of payloads) pub.publish('bin', p);
    await within(all.promise, GUARD_MS, 'binary payloads');
    assert.deepEqual(received.map((b) => b.toString('hex')), payloads.map((b) => b.toString('hex')));
    await closeAll(sub, pub);
  });
});

test('10 000 messages arrive complete and in order', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const total = 10_000;
    const seen: number[] = [];
    const done = signal<void>();
    sub.subscribe('seq', {
      callback: (_err, msg) => {
        seen.push(Number(untext.decode(msg.data)));
        if (seen.length === total) done.resolve();
      },
    });
    await sub.flush();
    for (let i = 0; i < total; i++) pub.publish('seq', text.encode(String(i)));
    await pub.flush();
    await within(done.promise, 20_000, `${total} messages (got ${seen.length})`);
    const firstOutOfOrder = seen.findIndex((n, i) => n !== i);
    assert.equal(firstOutOfOrder, -1, `message ${firstOutOfOrder} is ${seen[firstOutOfOrder]}`);
    await closeAll(sub, pub);
  });
});

test('200 concurrent connections exchange messages', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const count = 200;
    const connections = await within(
      Promise.all(Array.from({ length: count }, () => client(broker))),
      20_000,
      `${count} connections`,
    );
    // Each connection i listens on ring.i and on the broadcast subject, then sends to its neighbour.
    const fromNeighbour = connections.map(() => signal<string>());
    const broadcast = connections.map(() => signal<string>());
    connections.forEach((nc, i) => {
      nc.subscribe(`ring.${i}`, { max: 1, callback: (_err, msg) => fromNeighbour[i]!.resolve(untext.decode(msg.data)) });
      nc.subscribe('everyone', { max: 1, callback: (_err, msg) => broadcast[i]!.resolve(untext.decode(msg.data)) });
    });
    await Promise.all(connections.map((nc) => nc.flush()));
    connections.forEach((nc, i) => nc.publish(`ring.${(i + 1) % count}`, text.encode(`from ${i}`)));
    connections[0]!.publish('everyone', text.encode('hello all'));
    const neighbours = await within(Promise.all(fromNeighbour.map((s) => s.promise)), 20_000, 'ring messages');
    assert.deepEqual(neighbours, connections.map((_, i) => `from ${(i + count - 1) % count}`));
    const heard = await within(Promise.all(broadcast.map((s) => s.promise)), 20_000, 'broadcast');
    assert.ok(heard.every((m) => m === 'hello all'));
    await closeAll(...connections);
  });
});

test('fan-out: 20 subscribers on separate connections each get 500 messages in order', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const subscribers = await Promise.all(Array.from({ length: 20 }, () => client(broker)));
    const pub = await client(broker);
    const total = 500;
    const seen = subscribers.map(() => [] as number[]);
    const done = subscribers.map(() => signal<void>());
    subscribers.forEach((nc, i) =>
      nc.subscribe('fan', {
        callback: (_err, msg) => {
          if (seen[i]!.push(Number(untext.decode(msg.data))) === total) done[i]!.resolve();
        },
      }),
    );
    await Promise.all(subscribers.map((nc) => nc.flush()));
    for (let n = 0; n < total; n++) pub.publish('fan', text.encode(String(n)));
    await within(Promise.all(done.map((d) => d.promise)), 20_000, `fan-out (counts ${seen.map((s) => s.length)})`);
    const expected = Array.from({ length: total }, (_, n) => n);
    seen.forEach((s, i) => assert.deepEqual(s, expected, `subscriber ${i}`));
    await closeAll(...subscribers, pub);
  });
});

test('1000 subscriptions on one connection each get their message', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const count = 1000;
    const got = new Set<string>();
    const all = signal<void>();
    for (let i = 0; i < count; i++) {
      sub.subscribe(`many.${i}.x`, {
        callback: (_err, msg) => {
          got.add(msg.subject);
          if (got.size === count) all.resolve();
        },
      });
    }
    await sub.flush();
    for (let i = count - 1; i >= 0; i--) pub.publish(`many.${i}.x`);
    await within(all.promise, GUARD_MS, `messages on ${count} subjects (got ${got.size})`);
    await closeAll(sub, pub);
  });
});

test('unsubscribe and drain with the nats client', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const stopped = sub.subscribe('stop');
    await sub.flush();
    stopped.unsubscribe();
    await sub.flush();
    await assert.rejects(
      pub.request('stop', text.encode('?'), { timeout: GUARD_MS }),
      (err: NatsError) => err.code === ErrorCode.NoResponders,
      'no interest left after unsubscribe',
    );

    const drained: string[] = [];
    sub.subscribe('drain', { callback: (_err, msg) => drained.push(untext.decode(msg.data)) });
    await sub.flush();
    for (let i = 0; i < 100; i++) pub.publish('drain', text.encode(String(i)));
    await pub.flush();
    await within(sub.drain(), GUARD_MS, 'drain');
    assert.equal(drained.length, 100, 'messages published before the drain are delivered');
    assert.ok(sub.isClosed());
    await closeAll(pub);
  });
});

test('a client dropping mid-message affects nobody else', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const got: string[] = [];
    const last = signal<void>();
    sub.subscribe('shared', {
      callback: (_err, msg) => {
        got.push(untext.decode(msg.data));
        if (untext.decode(msg.data) === 'last') last.resolve();
      },
    });
    await sub.flush();
    for (const partial of ['PUB shared 100\r\nabc', 'PUB shar', 'CONNECT {"verb', 'HPUB shared 12 20\r\nNATS/1.0\r\n']) {
      const dropper = await RawClient.connect(broker.port);
      await dropper.send(`CONNECT {"verbose":false,"headers":true}\r\n${partial}`);
      await dropper.close();
    }
    pub.publish('shared', text.encode('last'));
    await within(last.promise, GUARD_MS, 'the message after the dropped clients');
    assert.deepEqual(got, ['last']);
    await closeAll(sub, pub);
  });
});
