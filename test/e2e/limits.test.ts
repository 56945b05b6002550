/**
 * End to end: limits and liveness. A client breaking a limit is dealt with as nats-server does
 * (exact -ERR text, close or not) and no other client notices. Raw sockets where bytes matter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Msg, type NatsConnection } from 'nats';
import { countOccurrences, RawClient } from '../helpers/raw-client.js';
import { client, signal, within, withBroker, type Broker } from './broker.js';

const GUARD_MS = 10_000;
/** A hang anywhere (a close that never completes) fails the test instead of stalling the run. */
const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

/** A raw client past the handshake, with `subjects` subscribed as sids 1, 2, ... */
async function rawSubscriber(broker: Broker, ...subjects: string[]): Promise<RawClient> {
  const raw = await RawClient.connect(broker.port);
  const subs = subjects.map((s, i) => `SUB ${s} ${i + 1}\r\n`).join('');
  await raw.send(`CONNECT {"verbose":false}\r\n${subs}PING\r\n`);
  assert.equal((await raw.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
  return raw;
}

test('max_payload: a violation closes only the offender', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ maxPayload: 1024 }, async (broker) => {
    const [sub, pub] = await Promise.all([client(broker), client(broker)]);
    const got: string[] = [];
    const second = signal<void>();
    sub.subscribe('p', { callback: (_err, msg) => got.push(untext.decode(msg.data)) === 2 && second.resolve() });
    await sub.flush();
    pub.publish('p', text.encode('before'));
    await pub.flush();

    const offender = await RawClient.connect(broker.port);
    assert.equal(offender.info['max_payload'], 1024);
    await offender.send('CONNECT {"verbose":false}\r\nPUB p 1025\r\n');
    assert.equal((await offender.expectClosed()).toString(), "-ERR 'Maximum Payload Violation'\r\n");

    pub.publish('p', text.encode('after'));
    await within(second.promise, GUARD_MS, 'the message after the violation');
    assert.deepEqual(got, ['before', 'after']);
    assert.ok(!sub.isClosed() && !pub.isClosed());
    await Promise.all([sub.close(), pub.close()]);
  });
});

test('max_payload: a payload of exactly max_payload is accepted', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ maxPayload: 1024 }, async (broker) => {
    const raw = await rawSubscriber(broker, 'p');
    const payload = 'x'.repeat(1024);
    await raw.send(`PUB p ${payload.length}\r\n${payload}\r\nPING\r\n`);
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), `MSG p 1 1024\r\n${payload}\r\nPONG\r\n`);
    await raw.close();
  });
});

/** 32 KiB messages numbered in their first 4 bytes; an empty message ends a run. */
const CHUNK = 32 * 1024;

function numbered(i: number): Buffer {
  // A fresh buffer each time: the client may still hold the previous one in its outbound queue.
  const payload = Buffer.alloc(CHUNK, 0x61);
  payload.writeUInt32BE(i, 0);
  return payload;
}

/** Subscribes with the nats client and records the numbers of the messages until an empty one. */
function numberedSubscriber(nc: NatsConnection, subject: string) {
  const sequence: number[] = [];
  const progress: Array<() => void> = [];
  const end = signal<void>();
  nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      if (msg.data.length === 0) end.resolve();
      else sequence.push(Buffer.from(msg.data).readUInt32BE(0));
      for (const wake of progress.splice(0)) wake();
    },
  });
  /** Resolves once `count` messages arrived. */
  const reached = async (count: number) => {
    while (sequence.length < count) await new Promise<void>((resolve) => progress.push(resolve));
  };
  return { sequence, end: end.promise, reached };
}

test('slow consumer: a subscriber that stops reading is closed, the others get everything', { timeout: TEST_TIMEOUT_MS }, async () => {
  const total = 1024; // 32 MiB: well past the kernel's socket buffers plus maxPending
  const batch = 32;
  await withBroker({ maxPending: 256 * 1024, maxPayload: 64 * 1024, writeDeadline: 2_000 }, async (broker) => {
    const slow = await rawSubscriber(broker, 'firehose');
    slow.pauseReading();
    const [healthy, pub] = await Promise.all([client(broker), client(broker)]);
    const received = numberedSubscriber(healthy, 'firehose');
    await healthy.flush();
    // Paced: each batch goes out once the healthy subscriber has the previous one, so only the
    // subscriber that stopped reading falls behind.
    for (let i = 0; i < total; i++) {
      if (i % batch === 0) await within(received.reached(i), GUARD_MS, `message ${i} at the healthy subscriber`);
      pub.publish('firehose', numbered(i));
    }
    pub.publish('firehose');
    await within(received.end, GUARD_MS, `the healthy subscriber's messages (got ${received.sequence.length})`);
    assert.equal(received.sequence.length, total);
    assert.equal(received.sequence.findIndex((n, i) => n !== i), -1, 'the healthy subscriber sees the publisher order');

    slow.resumeReading();
    const rest = await slow.expectClosed(GUARD_MS);
    const delivered = countOccurrences(rest, 'MSG firehose 1 ');
    assert.ok(delivered < total, `the slow consumer was cut off (it got ${delivered} of ${total})`);
    assert.ok(!healthy.isClosed() && !pub.isClosed());
    await Promise.all([healthy.close(), pub.close()]);
  });
});

test('flow control: a burst larger than maxPending does not cut off a subscriber that keeps reading', { timeout: TEST_TIMEOUT_MS }, async () => {
  const total = 1024; // 32 MiB in one burst against a 256 KiB maxPending
  await withBroker({ maxPending: 256 * 1024, maxPayload: 64 * 1024 }, async (broker) => {
    const [healthy, pub] = await Promise.all([client(broker), client(broker)]);
    const received = numberedSubscriber(healthy, 'burst');
    await healthy.flush();
    for (let i = 0; i < total; i++) pub.publish('burst', numbered(i));
    pub.publish('burst');
    await within(received.end, 15_000, `the burst (got ${received.sequence.length}; subscriber closed: ${healthy.isClosed()})`);
    assert.equal(received.sequence.length, total);
    assert.equal(received.sequence.findIndex((n, i) => n !== i), -1, 'the subscriber sees the publisher order');
    assert.ok(!healthy.isClosed() && !pub.isClosed());
    await Promise.all([healthy.close(), pub.close()]);
  });
});

test("ping interval: unanswered PINGs end in -ERR 'Stale Connection'", { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ pingInterval: 100, maxPingsOut: 2 }, async (broker) => {
    const raw = await RawClient.connect(broker.port);
    await raw.send('CONNECT {"verbose":false}\r\n');
    const received = await raw.expectClosed(GUARD_MS);
    assert.equal(received.toString(), "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
  });
});

test('ping interval: a client answering PINGs stays connected', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ pingInterval: 100, maxPingsOut: 2 }, async (broker) => {
    const raw = await RawClient.connect(broker.port);
    await raw.send('CONNECT {"verbose":false}\r\n');
    for (let i = 0; i < 5; i++) {
      assert.equal((await raw.readUntil('\r\n', GUARD_MS)).toString(), 'PING\r\n');
      await raw.send('PONG\r\n');
    }
    await raw.send('PING\r\n');
    assert.match((await raw.readUntil('PONG\r\n')).toString(), /^(PING\r\n)*PONG\r\n$/);
    await raw.close();
    // The nats client answers PINGs by itself.
    const nc = await client(broker);
    const reply = signal<void>();
    nc.subscribe('alive', { callback: () => reply.resolve() });
    for (let pings = 0; pings < 5; pings++) await nc.flush();
    nc.publish('alive');
    await within(reply.promise, GUARD_MS, 'a message on a long-lived connection');
    await nc.close();
  });
});

test('first PING: the server pings a new client about 2 s after it connected, whatever the interval', { timeout: TEST_TIMEOUT_MS }, async () => {
  // nats-server shortens the first client PING to 2 s (+ up to 20% jitter) so it learns the RTT
  // early; later PINGs follow ping_interval (2 minutes by default).
  await withBroker({}, async (broker) => {
    const raw = await RawClient.connect(broker.port);
    await raw.send('CONNECT {"verbose":false}\r\n');
    const connectedAt = Date.now();
    assert.equal((await raw.readUntil('\r\n', 4_000)).toString(), 'PING\r\n');
    const elapsed = Date.now() - connectedAt;
    assert.ok(elapsed >= 1_500 && elapsed <= 3_500, `first PING after ${elapsed} ms`);
    await raw.send('PONG\r\nPING\r\n');
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
    await raw.close();
  });
});

test("max_connections: the connection over the limit gets -ERR 'maximum connections exceeded'", { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ maxConnections: 2 }, async (broker) => {
    const first = await rawSubscriber(broker);
    const second = await rawSubscriber(broker);
    const third = await RawClient.connect(broker.port, { readInfo: false });
    const refused = (await third.expectClosed()).toString();
    assert.match(refused, /^INFO \{.*\} \r\n-ERR 'maximum connections exceeded'\r\n$/);
    // The nats client fails to connect (with the -ERR text, or EPIPE when the close wins the race).
    await assert.rejects(client(broker));

    for (const raw of [first, second]) {
      await raw.send('PING\r\n');
      assert.equal((await raw.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
    }
    // A freed slot can be taken again (the broker forgets a closed connection asynchronously).
    await first.close();
    const deadline = Date.now() + GUARD_MS;
    for (;;) {
      const again = await RawClient.connect(broker.port, { readInfo: false });
      await again.send('PING\r\n');
      const result = await again.readUntilOrClose('PONG\r\n');
      await again.close();
      if (!result.closed) break;
      assert.ok(Date.now() < deadline, 'a connection slot was never freed after a client left');
    }
    await second.close();
  });
});

test("max_subscriptions: the subscription over the limit gets -ERR 'maximum subscriptions exceeded'", { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({ maxSubscriptions: 3 }, async (broker) => {
    const raw = await rawSubscriber(broker, 'a', 'b', 'c');
    await raw.send('SUB d 4\r\nPUB d 1\r\nx\r\nPING\r\n');
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
    // Still open, and an UNSUB makes room again.
    await raw.send('UNSUB 1\r\nSUB d 4\r\nPUB d 1\r\ny\r\nPING\r\n');
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), 'MSG d 4 1\r\ny\r\nPONG\r\n');
    // The limit is per connection.
    const other = await rawSubscriber(broker, 'a', 'b', 'c');
    await Promise.all([raw.close(), other.close()]);
  });
});

test('verbose: +OK after every op (raw) and the nats client works in verbose mode', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withBroker({}, async (broker) => {
    const raw = await RawClient.connect(broker.port);
    await raw.send('CONNECT {"verbose":true}\r\nSUB v 1\r\nPUB v 2\r\nhi\r\nUNSUB 1\r\nPUB v 2\r\nno\r\nPING\r\n');
    assert.equal(
      (await raw.readUntil('PONG\r\n')).toString(),
      '+OK\r\n+OK\r\n+OK\r\nMSG v 1 2\r\nhi\r\n+OK\r\n+OK\r\nPONG\r\n',
    );
    await raw.close();

    const nc = await client(broker, { verbose: true });
    nc.subscribe('echo', { callback: (_err, msg) => msg.respond(msg.data) });
    const reply = await nc.request('echo', text.encode('verbose'), { timeout: GUARD_MS });
    assert.equal(untext.decode(reply.data), 'verbose');
    await nc.close();
  });
});
