/**
 * End to end: the permission matrix. The same config file runs nats-server and Natrium; the same
 * transcripts go to both and the replies must match byte for byte (violations keep the connection
 * open, +OK/-ERR order, queue rules, default permissions, the deny filter on wildcard deliveries,
 * allow_responses). Connections land on different workers when the matrix runs with several.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchange, rawLogin, startNatriumWithConf, startReferenceWithConf, type ConfiguredBroker } from './auth-reference.js';

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

async function bothBrokers<T>(run: (broker: ConfiguredBroker) => Promise<T>): Promise<{ natrium: T; reference: T }> {
  const reference = await startReferenceWithConf(CONF);
  let referenceResult: T;
  try {
    referenceResult = await run(reference);
  } finally {
    await reference.close();
  }
  const natrium = await startNatriumWithConf(CONF);
  try {
    return { natrium: await run(natrium), reference: referenceResult };
  } finally {
    await natrium.close();
  }
}

test('permission matrix: every user × every publish and subscribe, byte for byte as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { natrium, reference } = await bothBrokers(matrix);
  assert.deepEqual(natrium, reference);
  // The matrix has teeth: violations happened and the connection went on to its PONG.
  assert.match(natrium.pubsub, /Permissions Violation for Publish to "foo.secret"/);
  assert.match(natrium.pubsub, /Permissions Violation for Subscription to "bar.a" using queue "q2"/);
  assert.match(natrium.dflt, /Permissions Violation for Publish to "foo.a"/);
  assert.doesNotMatch(natrium.admin, /Violation for Publish/);
  for (const user of USERS) assert.ok(natrium[user].endsWith('PONG\r\n'));
});

test('deny rules filter what wildcard subscriptions receive', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { natrium, reference } = await bothBrokers(denyFilter);
  assert.equal(natrium, reference);
  assert.doesNotMatch(natrium, /MSG foo\.x /);
  assert.match(natrium, /MSG foo\.y 1 1\r\n2\r\n/);
});

test('allow_responses: the default allows one reply per request; max: 2 allows two', { timeout: TEST_TIMEOUT_MS }, async () => {
  for (const user of ['rsp', 'rsp2']) {
    const { natrium, reference } = await bothBrokers((broker) => responses(broker, user));
    assert.equal(natrium, reference, user);
    assert.match(natrium, /Permissions Violation for Publish to "_INBOX.other"/);
  }
});
