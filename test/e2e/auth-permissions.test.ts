/**
 * End to end: the permission matrix. The same config file runs nats-server and Natrium; the same
 * transcripts go to both and the replies must match byte for byte (violations keep the connection
 * open, +OK/-ERR order, queue rules, default permissions, the deny filter on wildcard deliveries,
 * allow_responses). Connections land on different workers when the matrix runs with several.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchange, onBothBrokers, rawLogin, type ConfiguredBroker } from './auth-reference.js';

const TEST_TIMEOUT_MS = 60_000;

const CONF = `
authorization {
  default_permissions { publish: "public.>", subscribe: "public.>" }
  users = [
    { user: pubsub, password: p, permissions: {
        publish: { allow: ["foo.>", "_INBOX.>"], deny: ["foo.secret", "foo.*.hidden"] }
        subscribe: { allow: ["foo.*", "bar.* q1", "baz.> q.*"], deny: ["foo.x", "bar.b q1"] } } }
    { user: denyonly, password: p, permissions: { publish: { deny: ">" }, subscribe: { deny: ["secret.>", "w.* grp"] } } }
    { user: listonly, password: p, permissions: { publish: ["a", "b.*"], subscribe: [] } }
    { user: dflt, password: p }
    { user: rsp, password: p, permissions: { allow_responses: true, subscribe: "req.>" } }
    { user: rsp2, password: p, permissions: { allow_responses: { max: 2, expires: "1m" }, subscribe: "req.>" } }
    { user: watcher, password: p, permissions: { subscribe: { allow: ">", deny: ["foo.x", "foo.*.hidden"] } } }
    { user: admin, password: p, permissions: { publish: ">", subscribe: ">" } }
  ]
}
`;

const PUBLISHES = ['foo.a', 'foo.secret', 'foo.b.hidden', 'public.x', 'a', 'b.c', 'b.c.d', '_INBOX.x', 'zzz'];
const SUBSCRIBES = [
  'foo.a', 'foo.x', 'foo.*', 'foo.>', 'bar.a q1', 'bar.a q2', 'bar.a', 'bar.b q1', 'baz.x q.1', 'baz.x q2',
  'secret.a', 'w.x grp', 'w.x other', 'public.y', 'req.1', '>', 'foo..bar',
];
const USERS = ['pubsub', 'denyonly', 'listonly', 'dflt', 'rsp', 'rsp2', 'watcher', 'admin'];

function login(port: number, user: string) {
  return rawLogin(port, { verbose: true, pedantic: false, user, pass: 'p' });
}

/** Every user tries every publish and every subscribe; returns the replies, user by user. */
async function matrix(broker: ConfiguredBroker): Promise<Record<string, string>> {
  const replies: Record<string, string> = {};
  for (const user of USERS) {
    const raw = await login(broker.port, user);
    const ops = PUBLISHES.map((subject) => `PUB ${subject} 1\r\nx\r\n`).join('') + SUBSCRIBES.map((sub, i) => `SUB ${sub} ${i + 1}\r\n`).join('');
    replies[user] = await exchange(raw, ops);
    await raw.close();
  }
  return replies;
}

/** watcher subscribes broadly; admin publishes denied and allowed subjects. */
async function denyFilter(broker: ConfiguredBroker): Promise<string> {
  const watcher = await login(broker.port, 'watcher');
  const pubsub = await login(broker.port, 'pubsub');
  const admin = await login(broker.port, 'admin');
  await exchange(watcher, 'SUB > 1\r\nSUB foo.* 2\r\n');
  await exchange(pubsub, 'SUB foo.a 1\r\n');
  await exchange(admin, 'PUB foo.x 1\r\n1\r\nPUB foo.y 1\r\n2\r\nPUB foo.a.hidden 1\r\n3\r\nPUB foo.a 1\r\n4\r\nPUB bar 1\r\n5\r\n');
  const seen = (await exchange(watcher, '')) + (await exchange(pubsub, ''));
  await Promise.all([watcher.close(), pubsub.close(), admin.close()]);
  return seen;
}

/**
 * A queue group whose members mostly deny what is published: three watcher connections (deny
 * foo.x) and one admin share group g; watchers alone form group d. Connections land on different
 * workers, so a message a watcher's worker cannot deliver must walk on to the admin's.
 */
async function queueDenyFilter(broker: ConfiguredBroker): Promise<Record<string, string>> {
  const members = ['watcher', 'watcher', 'watcher', 'admin'];
  const clients = await Promise.all(members.map((user) => login(broker.port, user)));
  for (const client of clients) await exchange(client, 'SUB foo.* g 1\r\n');
  for (const client of clients.slice(0, 3)) await exchange(client, 'SUB foo.* d 2\r\n');
  const publisher = await login(broker.port, 'admin');
  let ops = '';
  for (let i = 0; i < 40; i++) ops += `PUB foo.x 2\r\n${String(i).padStart(2, '0')}\r\n`;
  await exchange(publisher, ops);
  const seen: Record<string, string> = {};
  // A detour through another worker may reorder: what each member got, in payload order.
  for (let i = 0; i < clients.length; i++) {
    const messages = (await exchange(clients[i], '')).replace(/PONG\r\n$/, '').split(/(?=MSG )/).filter((part) => part.startsWith('MSG '));
    seen[`${members[i]}${i}`] = messages.sort().join('');
  }
  await Promise.all([...clients, publisher].map((client) => client.close()));
  return seen;
}

/** Requests on a subject that every subscriber's deny filter drops: a queue group of watchers, then also a plain one. */
async function deniedRequests(broker: ConfiguredBroker): Promise<Record<string, string>> {
  const watchers = await Promise.all([0, 1, 2].map(() => login(broker.port, 'watcher')));
  for (const watcher of watchers) await exchange(watcher, 'SUB foo.* d 1\r\n');
  const requester = await rawLogin(broker.port, { verbose: false, pedantic: false, headers: true, no_responders: true, user: 'admin', pass: 'p' });
  await exchange(requester, 'SUB _INBOX.> 1\r\n');
  const seen: Record<string, string> = {};
  // Across workers the status comes once every worker said it had no one: after the PONG of a PING.
  const noResponders = async (reply: string): Promise<string> => {
    await requester.send(`PUB foo.x ${reply} 0\r\n\r\n`);
    return (await requester.readUntil('NATS/1.0 503\r\n\r\n')).toString();
  };
  seen.queue = await noResponders('_INBOX.1');
  await exchange(watchers[0], 'SUB foo.* 2\r\n');
  seen.plainAndQueue = await noResponders('_INBOX.2');
  await Promise.all([...watchers, requester].map((client) => client.close()));
  return seen;
}

/** A responder with allow_responses answers requests; `user` decides how many answers pass. */
async function responses(broker: ConfiguredBroker, user: string): Promise<string> {
  const responder = await login(broker.port, user);
  const admin = await login(broker.port, 'admin');
  await exchange(responder, 'SUB req.> 1\r\n');
  await exchange(admin, 'SUB _INBOX.r 1\r\nPUB req.1 _INBOX.r 2\r\nhi\r\n');
  let seen = await exchange(responder, '');
  seen += await exchange(responder, 'PUB _INBOX.r 3\r\nok1\r\nPUB _INBOX.r 3\r\nok2\r\nPUB _INBOX.r 3\r\nok3\r\nPUB _INBOX.other 1\r\nx\r\n');
  seen += '|' + (await exchange(admin, ''));
  await Promise.all([responder.close(), admin.close()]);
  return seen;
}

test('permission matrix: every user × every publish and subscribe, byte for byte as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { actual: natrium, expected: reference } = await onBothBrokers(CONF, matrix);
  assert.deepEqual(natrium, reference);
  // The matrix has teeth: violations happened and the connection went on to its PONG.
  assert.match(natrium.pubsub, /Permissions Violation for Publish to "foo.secret"/);
  assert.match(natrium.pubsub, /Permissions Violation for Subscription to "bar.a" using queue "q2"/);
  assert.match(natrium.dflt, /Permissions Violation for Publish to "foo.a"/);
  assert.doesNotMatch(natrium.admin, /Violation for Publish/);
  for (const user of USERS) assert.ok(natrium[user].endsWith('PONG\r\n'));
});

test('deny rules filter what wildcard subscriptions receive', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { actual: natrium, expected: reference } = await onBothBrokers(CONF, denyFilter);
  assert.equal(natrium, reference);
  assert.doesNotMatch(natrium, /MSG foo\.x /);
  assert.match(natrium, /MSG foo\.y 1 1\r\n2\r\n/);
});

test('allow_responses: the default allows one reply per request; max: 2 allows two', { timeout: TEST_TIMEOUT_MS }, async () => {
  for (const user of ['rsp', 'rsp2']) {
    const { actual: natrium, expected: reference } = await onBothBrokers(CONF, (broker) => responses(broker, user));
    assert.equal(natrium, reference, user);
    assert.match(natrium, /Permissions Violation for Publish to "_INBOX.other"/);
  }
});

test('queue group: a member whose deny filter drops the message passes it on to another member, across workers', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { actual: natrium, expected: reference } = await onBothBrokers(CONF, queueDenyFilter);
  assert.deepEqual(natrium, reference);
  // Every message reached the group exactly once, through its only member that may take foo.x.
  assert.equal(natrium.admin3, Array.from({ length: 40 }, (_, i) => `MSG foo.x 1 2\r\n${String(i).padStart(2, '0')}\r\n`).join(''));
  for (const watcher of ['watcher0', 'watcher1', 'watcher2']) assert.equal(natrium[watcher], '');
});

test('a request every subscriber\'s deny filter drops gets a no-responders status, across workers', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { actual: natrium, expected: reference } = await onBothBrokers(CONF, deniedRequests);
  assert.deepEqual(natrium, reference);
  assert.equal(natrium.queue, 'HMSG _INBOX.1 1 16 16\r\nNATS/1.0 503\r\n\r\n');
});
