/**
 * End to end: accounts are separate subject spaces — plain and queue subscriptions, no-responders —
 * with publishers and subscribers spread over the workers (the interest table, the queue-group
 * directory and the rings carry the account). The same config file runs nats-server, and the
 * replies are compared byte for byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchange, rawLogin, startNatriumWithConf, startReferenceWithConf, type ConfiguredBroker } from './auth-reference.js';

const TEST_TIMEOUT_MS = 60_000;

const CONF = `
accounts {
  A { users = [ {user: a1, password: p}, {user: a2, password: p} ] }
  B { users = [ {user: b1, password: p}, {user: b2, password: p} ] }
}
authorization { users = [ {user: g1, password: p}, {user: g2, password: p} ] }
`;

function login(port: number, user: string) {
  return rawLogin(port, { verbose: false, pedantic: false, headers: true, no_responders: true, user, pass: 'p' });
}

async function isolation(broker: ConfiguredBroker): Promise<Record<string, string>> {
  const names = ['a1', 'b1', 'g1', 'a2', 'b2', 'g2'];
  const clients = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await login(broker.port, name)] as const)));
  for (const subscriber of ['a1', 'b1', 'g1']) {
    await exchange(clients[subscriber], 'SUB x 1\r\nSUB x.* 2\r\nSUB q.x w 3\r\nSUB svc 4\r\n');
  }
  const seen: Record<string, string> = {};
  for (const publisher of ['a2', 'b2', 'g2']) {
    const tag = publisher[0].toUpperCase();
    let ops = `PUB x 1\r\n${tag}\r\nPUB x.y 1\r\n${tag}\r\n`;
    for (let i = 0; i < 5; i++) ops += `PUB q.x 1\r\n${i}\r\n`;
    seen[publisher] = await exchange(clients[publisher], ops);
  }
  // A request to a subject only another account serves: no responders here.
  await exchange(clients.a2, 'SUB _INBOX.r 9\r\n');
  seen.request = await exchange(clients.a2, 'PUB nobody.here _INBOX.r 0\r\n\r\n');
  for (const subscriber of ['a1', 'b1', 'g1']) seen[subscriber] = await exchange(clients[subscriber], '');
  await Promise.all(Object.values(clients).map((client) => client.close()));
  return seen;
}

test('accounts: each account sees only its own messages and queue groups, across workers, as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const reference = await startReferenceWithConf(CONF);
  let expected: Record<string, string>;
  try {
    expected = await isolation(reference);
  } finally {
    await reference.close();
  }
  const natrium = await startNatriumWithConf(CONF);
  try {
    const actual = await isolation(natrium);
    assert.deepEqual(actual, expected);
    assert.equal(actual.a1, 'MSG x 1 1\r\nA\r\nMSG x.y 2 1\r\nA\r\n' + [0, 1, 2, 3, 4].map((i) => `MSG q.x 3 1\r\n${i}\r\n`).join('') + 'PONG\r\n');
    assert.doesNotMatch(actual.b1, /\r\n[AG]\r\n/);
    assert.match(actual.request, /^HMSG _INBOX\.r 9 16 16\r\nNATS\/1\.0 503\r\n\r\n\r\nPONG\r\n$/);
  } finally {
    await natrium.close();
  }
});

test('accounts: mistakes in the block are refused with their place', async () => {
  const { ConfigFileError, optionsFromConf } = await import('../../src/config/config-file.js');
  const { parseConf } = await import('../../src/config/conf-parser.js');
  const problems = (text: string): string[] => {
    try {
      optionsFromConf(parseConf(text, 'a.conf', {}));
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      return error.problems;
    }
  };
  assert.deepEqual(problems('accounts { A { users = [ {user: a, password: p} ], exports = [ {stream: "x"} ] } }'), [
    'a.conf:1:52: "exports" is not supported by natrium yet',
  ]);
  assert.deepEqual(problems('accounts { A { users = [ {user: a, password: p} ] }, B { users = [ {user: a, password: q} ] } }'), [
    'a.conf:1:54: Duplicate user "a" detected',
  ]);
  assert.deepEqual(problems('accounts { A { foo: 1 } }'), ['a.conf:1:16: unknown field "foo"']);
});

test('accounts: $G is reserved; a user in both authorization and an account is refused at startup', async () => {
  const { ConfigFileError, optionsFromConf } = await import('../../src/config/config-file.js');
  const { parseConf } = await import('../../src/config/conf-parser.js');
  assert.throws(() => optionsFromConf(parseConf('accounts { $G { users = [ {user: a, password: p} ] } }', 'a.conf', {})), (error: unknown) => {
    assert.ok(error instanceof ConfigFileError);
    assert.deepEqual(error.problems, ['a.conf:1:12: "$G" is a Reserved Account']);
    return true;
  });
  const both = 'accounts { A { users = [ {user: a, password: p} ] } }\nauthorization { users = [ {user: a, password: p} ] }';
  await assert.rejects(startNatriumWithConf(both), /Duplicate user "a" detected/);
});
