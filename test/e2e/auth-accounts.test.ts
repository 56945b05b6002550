/**
 * End to end: accounts are separate subject spaces — plain and queue subscriptions, no-responders —
 * with publishers and subscribers spread over the workers (the interest table, the queue-group
 * directory and the rings carry the account). The same config file runs nats-server, and the
 * replies are compared byte for byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confReader } from '../helpers/conf.js';
import { exchange, onBothBrokers, rawLogin, startNatriumWithConf, type ConfiguredBroker } from './auth-reference.js';

const TEST_TIMEOUT_MS = 60_000;
const { problems } = confReader('a.conf');

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
  const { expected, actual } = await onBothBrokers(CONF, isolation);
  assert.deepEqual(actual, expected);
  assert.equal(actual.a1, 'MSG x 1 1\r\nA\r\nMSG x.y 2 1\r\nA\r\n' + [0, 1, 2, 3, 4].map((i) => `MSG q.x 3 1\r\n${i}\r\n`).join('') + 'PONG\r\n');
  assert.doesNotMatch(actual.b1, /\r\n[AG]\r\n/);
  assert.match(actual.request, /^HMSG _INBOX\.r 9 16 16\r\nNATS\/1\.0 503\r\n\r\n\r\nPONG\r\n$/);
});

test('accounts: mistakes in the block are refused with their place', async () => {
  assert.deepEqual(problems('accounts { A { users = [ {user: a, password: p} ], jetstream: enabled } }'), [
    'a.conf:1:52: "jetstream" is not supported by natrium yet',
  ]);
  assert.deepEqual(problems('accounts { A { users = [ {user: a, password: p} ] }, B { users = [ {user: a, password: q} ] } }'), [
    'a.conf:1:54: Duplicate user "a" detected',
  ]);
  assert.deepEqual(problems('accounts { A { foo: 1 } }'), ['a.conf:1:16: unknown field "foo"']);
});

test('accounts: $G is reserved; a user in both authorization and an account is refused at startup', async () => {
  assert.deepEqual(problems('accounts { $G { users = [ {user: a, password: p} ] } }'), ['a.conf:1:12: "$G" is a Reserved Account']);
  const both = 'accounts { A { users = [ {user: a, password: p} ] } }\nauthorization { users = [ {user: a, password: p} ] }';
  await assert.rejects(startNatriumWithConf(both), /Duplicate user "a" detected/);
});

const IMPORTS_CONF = `
accounts {
  A { users = [{user: a, password: p}], exports = [ {stream: "news.>"}, {stream: "priv.>", accounts: [C]} ] }
  B { users = [{user: b, password: p}, {user: b2, password: p}], imports = [ {stream: {account: A, subject: "news.>"}, prefix: "a"}, {stream: {account: A, subject: "news.sport"}, to: "sport"} ] }
  C { users = [{user: c, password: p}], imports = [ {stream: {account: A, subject: "news.x"}}, {stream: {account: A, subject: "priv.>"}} ] }
}
`;

async function streamImports(broker: ConfiguredBroker): Promise<Record<string, string>> {
  const names = ['b', 'b2', 'c', 'a'];
  const clients = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await login(broker.port, name)] as const)));
  await exchange(clients.b, 'SUB > 1\r\n');
  await exchange(clients.b2, 'SUB a.news.* q 1\r\nSUB a.news.* q 2\r\n');
  await exchange(clients.c, 'SUB > 1\r\n');
  const seen: Record<string, string> = {};
  seen.a = await exchange(clients.a, 'SUB > 1\r\nPUB news.x r.1 1\r\nX\r\nPUB news.sport 1\r\nS\r\nPUB priv.1 1\r\nP\r\nPUB other 1\r\nO\r\n');
  // B publishing on the imported names stays in B: nothing flows back to A.
  seen.bPublish = await exchange(clients.b, 'PUB news.x 1\r\nB\r\n');
  seen.a += await exchange(clients.a, '');
  seen.b = await exchange(clients.b, '');
  // Queue members of the importing account share the imported messages: exactly one gets each.
  const queue = await exchange(clients.b2, '');
  seen.queueDeliveries = String((queue.match(/MSG a\.news\.\S+ [12] /g) ?? []).length);
  seen.c = await exchange(clients.c, '');
  await Promise.all(Object.values(clients).map((client) => client.close()));
  return seen;
}

test('stream exports and imports: prefix, to, export restricted to an account, queue groups in the importer, as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { expected, actual } = await onBothBrokers(IMPORTS_CONF, streamImports);
  assert.deepEqual(actual, expected);
  assert.equal(actual.c, 'MSG news.x 1 r.1 1\r\nX\r\nMSG priv.1 1 1\r\nP\r\nPONG\r\n');
  assert.equal(actual.queueDeliveries, '2');
});

test('stream imports that nats-server refuses are refused', async () => {
  const base = 'A { users = [{user: a, password: p}], exports = [ {stream: "news.>"}, {stream: "priv.>", accounts: [C]} ] }';
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {stream: {account: A, subject: "secret.>"}} ] } }`), [
    'a.conf:1:1: Error adding stream import "secret.>": stream import not authorized',
  ]);
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {stream: {account: A, subject: "priv.x"}} ] } }`), [
    'a.conf:1:1: Error adding stream import "priv.x": stream import not authorized',
  ]);
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {stream: {account: Z, subject: "news.>"}} ] } }`), [
    'a.conf:1:1: "Z" account not defined for stream import',
  ]);
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {service: {account: A, subject: "news.x"}} ] } }`), [
    'a.conf:1:1: Error adding service import "news.x": service import not authorized',
  ]);
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {service: {account: Z, subject: "h"}} ] } }`), [
    'a.conf:1:1: "Z" account not defined for service import',
  ]);
  // nats-server maps wildcards through `to` (news.* to sport.$1); natrium does not, and says so.
  assert.deepEqual(problems(`accounts { ${base}, D { imports = [ {stream: {account: A, subject: "news.*"}, to: "sport.*"} ] } }`), [
    'a.conf:1:125: natrium supports "to" on a stream import only with a literal subject and no prefix',
  ]);
});

const SERVICE_CONF = `
accounts {
  A { users = [{user: a, password: p}], exports = [ {service: "help.>"}, {service: "feed.>", response_type: stream, threshold: "1m"} ] }
  B { users = [{user: b, password: p}], imports = [ {service: {account: A, subject: "help.>"}}, {service: {account: A, subject: "help.x"}, to: "ask"}, {service: {account: A, subject: "feed.>"}, share: false} ] }
}
`;

/**
 * B asks A's services (directly, renamed by `to`, a streamed one); A answers each request twice and
 * forges a response. With several workers, a and b are on different ones: a singleton's first
 * response is let through by b's worker, which routed the request.
 */
async function serviceImports(broker: ConfiguredBroker): Promise<{ a: string; b: string }> {
  const a = await login(broker.port, 'a');
  const b = await login(broker.port, 'b');
  await exchange(a, 'SUB help.> 1\r\nSUB feed.> 2\r\n');
  await exchange(b, 'SUB _INBOX.> 1\r\nSUB help.> 2\r\nPUB help.q _INBOX.1 1\r\nQ\r\nPUB ask _INBOX.2 1\r\nR\r\nPUB help.noreply 1\r\nN\r\nPUB feed.f _INBOX.3 1\r\nF\r\n');
  const requests = await exchange(a, '');
  const replies = [...requests.matchAll(/MSG \S+ [12] (_R_\.\S+) /g)].map((match) => match[1]);
  let answers = '';
  for (const reply of replies) answers += `PUB ${reply} 3\r\nans\r\nPUB ${reply} 4\r\nans2\r\n`;
  await exchange(a, `${answers}PUB _R_.forged.x 1\r\nF\r\nPUB _R_.AAAAAAAAAAAA.zzzzzz.2._INBOX.1 1\r\nF\r\n`);
  // The last response is the streamed second one: b has everything once it arrived.
  const got = (await b.readUntil('MSG _INBOX.3 1 4\r\nans2\r\n')).toString() + (await exchange(b, ''));
  await Promise.all([a.close(), b.close()]);
  // The _R_ subjects are each server's own tokens; rtt is each requester's round trip as each server timed it.
  const normalized = requests
    .replace(/_R_\.\S+/g, '_R_')
    .replace(/"rtt":\d+/g, '"rtt":0')
    .replace(/^(HMSG \S+ \d+ (?:_R_ )?)\d+ \d+/gm, '$1<sizes>');
  return { a: normalized, b: got };
}

test('service imports: requests reach the exporter with a _R_ reply, one response per singleton request and all of a streamed one come back, forged ones do not', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { expected, actual } = await onBothBrokers(SERVICE_CONF, serviceImports);
  assert.deepEqual(actual, expected);
  assert.match(actual.a, /^HMSG help\.q 1 _R_ <sizes>\r\nNATS\/1\.0\r\nNats-Request-Info: \{"acc":"B","rtt":0\}\r\n\r\nQ\r\n/);
  assert.equal(actual.b, 'MSG _INBOX.1 1 3\r\nans\r\nMSG _INBOX.2 1 3\r\nans\r\nMSG _INBOX.3 1 3\r\nans\r\nMSG _INBOX.3 1 4\r\nans2\r\nPONG\r\n');
});

test('service imports: a request with no responder in the exporting account gets no no-responders status, as nats-server 2.9', { timeout: TEST_TIMEOUT_MS }, async () => {
  const silent = async (broker: ConfiguredBroker): Promise<string> => {
    const b = await login(broker.port, 'b');
    const seen = await exchange(b, 'SUB _INBOX.> 1\r\nPUB help.q _INBOX.1 0\r\n\r\n');
    await b.close();
    return seen;
  };
  const { expected, actual } = await onBothBrokers(SERVICE_CONF, silent);
  assert.equal(expected, 'PONG\r\n');
  assert.equal(actual, 'PONG\r\n');
});

test('service exports: response_type and threshold are read with nats-server\'s texts; latency and share: true are refused', async () => {
  const exportProblems = (exported: string, imported = ''): string[] => problems(`accounts { A { exports = [ ${exported} ] }, B { imports = [ ${imported} ] } }`);
  assert.deepEqual(exportProblems('{service: "h.>", response_type: chunked, response_threshold: "90s"}'), []);
  assert.deepEqual(exportProblems('{service: "h.>", response_type: bogus}'), ['a.conf:1:45: Unknown response type: "bogus"']);
  assert.deepEqual(exportProblems('{stream: "h.>", response_type: stream}'), ['a.conf:1:44: Detected response directive on non-service']);
  assert.deepEqual(exportProblems('{service: "h.>", threshold: "5"}'), ['a.conf:1:45: Expected response threshold to be a parseable time duration, got "5"']);
  assert.deepEqual(exportProblems('{service: "h.>", threshold: 5}'), ['a.conf:1:45: Expected response threshold to be a parseable time duration, got int64']);
  assert.deepEqual(exportProblems('{service: "h.>", latency: {sampling: 100, subject: lat}}'), ['a.conf:1:45: "latency" is not supported by natrium yet']);
  assert.deepEqual(exportProblems('{service: "h.>"}', '{service: {account: A, subject: "h.x"}, share: true}'), ['a.conf:1:106: "share: true" is not supported by natrium yet']);
});
