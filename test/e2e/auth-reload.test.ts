/**
 * End to end: reloading users, permissions and tokens (SIGHUP re-reads the file and calls the same
 * server.reload). New logins use the new settings, and connected clients are checked again as
 * nats-server 2.9 checks them: each scenario runs the same config texts and clients on nats-server
 * (config file + SIGHUP) and on Natrium, and every client's bytes after the reload must match.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { nkeys } from 'nats';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, TEST_PARSER, TEST_WORKERS } from '../helpers/server.js';
import { exchange, onBothBrokers, startNatriumWithConf, startReferenceWithConf, type ConfiguredBroker } from './auth-reference.js';
import { reloadChanges } from '../../src/server/signals.js';
import { loadConfigFile } from '../../src/config/config-file.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const TEST_TIMEOUT_MS = 90_000;
const VIOLATION = "-ERR 'Authorization Violation'\r\n";

/** A connection of a scenario: its CONNECT (given the INFO nonce) and the ops sent with it. */
interface ScenarioClient {
  connect: (nonce: string) => Record<string, unknown>;
  ops?: string;
  /** Sent after the reload, before the PING that ends the transcript. */
  probe?: string;
}

interface Scenario {
  before: string;
  after: string;
  clients: ScenarioClient[];
  /** Sent after the reload by a client of user `pub` (no permissions), before the probes. */
  publish?: string;
}

const user = (name: string, pass: string, extra: Record<string, unknown> = {}) => (): Record<string, unknown> => ({ user: name, pass, ...extra });

async function login(port: number, client: ScenarioClient): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  const connect = { verbose: false, pedantic: false, ...client.connect(String(raw.info.nonce ?? '')) };
  await raw.send(`CONNECT ${JSON.stringify(connect)}\r\n${client.ops ?? ''}PING\r\n`);
  const reply = (await raw.readUntil('PONG\r\n')).toString();
  if (reply !== 'PONG\r\n') throw new Error(`login of ${JSON.stringify(connect)} answered ${JSON.stringify(reply)}`);
  return raw;
}

/**
 * What each client saw after the reload: its bytes up to the PONG of a probe, or to its close.
 * Subscriptions a reload removes are reported in nats-server's map order (random): those lines are
 * sorted.
 */
async function transcripts(broker: ConfiguredBroker, scenario: Scenario): Promise<string[]> {
  const raws = [];
  for (const client of scenario.clients) raws.push(await login(broker.port, client));
  await broker.reload(scenario.after);
  if (scenario.publish !== undefined) {
    const publisher = await login(broker.port, { connect: user('pub', 'pub') });
    await exchange(publisher, scenario.publish);
    await publisher.close();
  }
  const seen: string[] = [];
  for (const [i, raw] of raws.entries()) {
    await raw.send(`${scenario.clients[i].probe ?? ''}PING\r\n`);
    const { data, closed } = await raw.readUntilOrClose('PONG\r\n');
    const lines = data.toString().split(/(?<=\r\n)/);
    const revoked = lines.filter((line) => line.includes(' (sid "')).sort();
    seen.push(`client ${i}: ${[...revoked, ...lines.filter((line) => !line.includes(' (sid "'))].join('')}${closed ? '<closed>' : ''}`);
    await raw.close();
  }
  return seen;
}

/** Runs the scenario on nats-server and on Natrium; returns Natrium's transcripts after checking they match. */
async function compareWithReference(scenario: Scenario): Promise<string[]> {
  const { expected, actual } = await onBothBrokers(scenario.before, (broker) => transcripts(broker, scenario));
  assert.deepEqual(actual, expected);
  return actual;
}

const PUBLISHER = '{user: pub, password: pub}';

test('reload: a removed user is closed, a changed password refused, new permissions apply and take away subscriptions', { timeout: TEST_TIMEOUT_MS }, async () => {
  const hash = (password: string): string => bcrypt.hashSync(password, 4);
  const seen = await compareWithReference({
    before: `authorization { users = [ ${PUBLISHER},
      {user: a, password: one, permissions: { publish: "x", subscribe: ["x.>", "y", "q.* grp"] }},
      {user: b, password: b},
      {user: c, password: c},
      {user: e, password: "${hash('pw')}"},
      {user: f, password: "${hash('pw')}", permissions: { publish: "x" }} ] }\n`,
    // e's hash is new but for the same password (checked again in the pool); f's password changed.
    after: `authorization { users = [ ${PUBLISHER},
      {user: a, password: one, permissions: { publish: "y", subscribe: ["y"] }},
      {user: c, password: c2},
      {user: e, password: "${hash('pw')}", permissions: { publish: "y" }},
      {user: f, password: "${hash('other')}"} ] }\n`,
    clients: [
      { connect: user('a', 'one'), ops: 'SUB x.1 1\r\nSUB y 2\r\nSUB q.1 grp 3\r\nSUB x.> 4\r\n', probe: 'PUB x 1\r\n1\r\nPUB y 1\r\n2\r\nSUB x.2 9\r\n' },
      { connect: user('b', 'b'), ops: 'SUB x.1 1\r\n' },
      { connect: user('c', 'c') },
      { connect: user('e', 'pw'), probe: 'PUB x 1\r\n1\r\n' },
      { connect: user('f', 'pw') },
    ],
    // Reaches a's kept subscription only, on whichever worker a is.
    publish: 'PUB x.1 1\r\n3\r\nPUB y 1\r\n4\r\n',
  });
  assert.deepEqual(seen, [
    'client 0: ' +
      `-ERR 'Permissions Violation for Subscription to "q.1" (sid "3")'\r\n` +
      `-ERR 'Permissions Violation for Subscription to "x.1" (sid "1")'\r\n` +
      `-ERR 'Permissions Violation for Subscription to "x.>" (sid "4")'\r\n` +
      'MSG y 2 1\r\n4\r\n' +
      `-ERR 'Permissions Violation for Publish to "x"'\r\nMSG y 2 1\r\n2\r\n` +
      `-ERR 'Permissions Violation for Subscription to "x.2"'\r\nPONG\r\n`,
    'client 1: <closed>',
    `client 2: ${VIOLATION}<closed>`,
    `client 3: -ERR 'Permissions Violation for Publish to "x"'\r\nPONG\r\n`,
    `client 4: ${VIOLATION}<closed>`,
  ]);
});

test('reload: tokens, single users, turning authentication on and off', { timeout: TEST_TIMEOUT_MS }, async () => {
  // A token client that also named a user is closed as a user that is gone, as in nats-server.
  assert.deepEqual(
    await compareWithReference({
      before: 'authorization { token: t1 }\n',
      after: 'authorization { token: t2 }\n',
      clients: [{ connect: () => ({ auth_token: 't1' }) }, { connect: () => ({ auth_token: 't1', user: 'zz' }) }],
    }),
    [`client 0: ${VIOLATION}<closed>`, 'client 1: <closed>'],
  );
  assert.deepEqual(
    await compareWithReference({
      before: 'authorization { user: u, password: p }\n',
      after: 'authorization { user: u, password: p2 }\n',
      clients: [{ connect: user('u', 'p') }],
    }),
    ['client 0: <closed>'],
  );
  assert.deepEqual(
    await compareWithReference({
      before: 'debug: false\n',
      after: `authorization { users = [ ${PUBLISHER}, {user: a, password: a, permissions: { subscribe: "y" }} ] }\n`,
      clients: [{ connect: () => ({}) }, { connect: user('a', 'a'), ops: 'SUB x 1\r\n' }, { connect: user('a', 'b') }],
    }),
    [`client 0: ${VIOLATION}<closed>`, `client 1: -ERR 'Permissions Violation for Subscription to "x" (sid "1")'\r\nPONG\r\n`, `client 2: ${VIOLATION}<closed>`],
  );
  // Authentication off: clients that named a user are closed (their user is gone), others stay unrestricted.
  assert.deepEqual(
    await compareWithReference({
      before: 'authorization { users = [ {user: a, password: a, permissions: { publish: "x" }} ] }\n',
      after: 'debug: false\n',
      clients: [{ connect: user('a', 'a') }],
    }),
    ['client 0: <closed>'],
  );
  assert.deepEqual(
    await compareWithReference({
      before: 'authorization { token: t }\n',
      after: 'debug: false\n',
      clients: [{ connect: () => ({ auth_token: 't' }), ops: 'SUB x 1\r\n', probe: 'PUB x 1\r\n1\r\n' }],
    }),
    ['client 0: MSG x 1 1\r\n1\r\nPONG\r\n'],
  );
});

test('reload: no_auth_user clients are that user with its password; NKey users; queue and deny rules', { timeout: TEST_TIMEOUT_MS }, async () => {
  const noAuth = (perms: string, password = 'a'): string => `authorization { users = [ ${PUBLISHER}, {user: a, password: ${password}, permissions: ${perms}} ] }\nno_auth_user: a\n`;
  assert.deepEqual(
    await compareWithReference({
      before: noAuth('{ publish: "x", subscribe: ["x", "y"] }'),
      after: noAuth('{ publish: "y", subscribe: "y" }'),
      clients: [{ connect: () => ({}), ops: 'SUB x 1\r\nSUB y 2\r\n', probe: 'PUB x 1\r\n1\r\nPUB y 1\r\n1\r\n' }],
    }),
    [`client 0: -ERR 'Permissions Violation for Subscription to "x" (sid "1")'\r\n-ERR 'Permissions Violation for Publish to "x"'\r\nMSG y 2 1\r\n1\r\nPONG\r\n`],
  );
  assert.deepEqual(
    await compareWithReference({
      before: noAuth('{ publish: "x" }'),
      after: noAuth('{ publish: "x" }', 'changed'),
      clients: [{ connect: () => ({}) }, { connect: user('a', 'a') }],
    }),
    [`client 0: ${VIOLATION}<closed>`, `client 1: ${VIOLATION}<closed>`],
  );

  const kept = nkeys.createUser();
  const gone = nkeys.createUser();
  const signed = (pair: typeof kept) => (nonce: string) => ({ nkey: pair.getPublicKey(), sig: Buffer.from(pair.sign(Buffer.from(nonce))).toString('base64url') });
  assert.deepEqual(
    await compareWithReference({
      before: `authorization { users = [ {nkey: ${kept.getPublicKey()}, permissions: { publish: "x" }}, {nkey: ${gone.getPublicKey()}} ] }\n`,
      after: `authorization { users = [ {nkey: ${kept.getPublicKey()}, permissions: { publish: "y" }} ] }\n`,
      clients: [{ connect: signed(kept), probe: 'PUB x 1\r\n1\r\nPUB y 1\r\n1\r\n' }, { connect: signed(gone) }],
    }),
    [`client 0: -ERR 'Permissions Violation for Publish to "x"'\r\nPONG\r\n`, 'client 1: <closed>'],
  );

  // Queue rules: a queue subscription stays when its subject alone is allowed (nats-server's rule).
  assert.deepEqual(
    await compareWithReference({
      before: `authorization { users = [ ${PUBLISHER}, {user: a, password: a, permissions: { subscribe: ["q.> g1", "q.> g2", "p.>", "s.*"] }} ] }\n`,
      after: `authorization { users = [ ${PUBLISHER}, {user: a, password: a, permissions: { subscribe: { allow: ["q.> g1", "p.> g3", "s.*", "r.>"], deny: ["r.1 g5", "s.secret"] } }} ] }\n`,
      clients: [{ connect: user('a', 'a'), ops: 'SUB q.1 g1 1\r\nSUB q.1 g2 2\r\nSUB p.1 3\r\nSUB p.1 g3 4\r\nSUB p.1 g4 5\r\nSUB s.* 6\r\n' }],
      // The deny rule now filters what the wildcard subscription kept receives.
      publish: 'PUB s.secret 1\r\n1\r\nPUB s.ok 1\r\n2\r\n',
    }),
    [
      'client 0: ' +
        `-ERR 'Permissions Violation for Subscription to "p.1" (sid "3")'\r\n` +
        `-ERR 'Permissions Violation for Subscription to "p.1" (sid "5")'\r\n` +
        `-ERR 'Permissions Violation for Subscription to "q.1" (sid "2")'\r\n` +
        'MSG s.ok 6 1\r\n2\r\nPONG\r\n',
    ],
  );
});

test('reload: refused changes of no_auth_user leave every client as it was', { timeout: TEST_TIMEOUT_MS }, async () => {
  const conf = (noAuthUser: string): string => `authorization { users = [ {user: a, password: a, permissions: { publish: "x" }}, {user: b, password: b} ] }\n${noAuthUser}`;
  for (const [before, after] of [
    [conf('no_auth_user: a\n'), conf('no_auth_user: b\n')],
    [conf(''), conf('no_auth_user: a\n')],
    [conf('no_auth_user: a\n'), conf('')],
  ]) {
    for (const start of [startReferenceWithConf, startNatriumWithConf]) {
      const broker = await start(before);
      try {
        const client = await login(broker.port, { connect: user('a', 'a') });
        await assert.rejects(broker.reload(after), /config reload not supported for (NoAuthUser|no_auth_user): old=a?, new=[ab]?$/);
        assert.equal(await exchange(client, 'PUB y 1\r\n1\r\n'), `-ERR 'Permissions Violation for Publish to "y"'\r\nPONG\r\n`);
        await client.close();
      } finally {
        await broker.close();
      }
    }
  }
});

test('reload: a login checked in the pool while a reload replaces the settings gets the new verdict', { timeout: TEST_TIMEOUT_MS }, async () => {
  // Cost 12: the comparison takes hundreds of milliseconds in the pool; the reload lands meanwhile.
  const hash = bcrypt.hashSync('pw', 12);
  const before = `authorization { users = [ {user: a, password: "${hash}"} ] }\n`;
  const broker = await startNatriumWithConf(before);
  try {
    const raw = await RawClient.connect(broker.port);
    await raw.send('CONNECT {"verbose":false,"user":"a","pass":"pw"}\r\nPING\r\n');
    await broker.reload('authorization { users = [ {user: b, password: b} ] }\n');
    assert.equal((await raw.readUntilOrClose('PONG\r\n')).data.toString(), VIOLATION);
    await raw.close();
  } finally {
    await broker.close();
  }
});

test('reload through server.reload: new logins get the new settings; a reload breaking no_auth_user is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-auth-reload-'));
  const confOptions = (text: string) => {
    const file = path.join(dir, 'n.conf');
    writeFileSync(file, text);
    return loadConfigFile(file, {}).options;
  };
  try {
    const before = confOptions('authorization { users = [ {user: a, password: one} ] }');
    const after = confOptions('authorization { users = [ {user: a, password: two}, {user: b, password: b} ] }');
    const server = await startTestServer(before);
    try {
      assert.equal(await loginReply(server.port, 'b', 'b'), VIOLATION);
      await server.reload(reloadChanges(before, after));
      assert.equal(await loginReply(server.port, 'a', 'one'), VIOLATION);
      assert.equal(await loginReply(server.port, 'a', 'two'), 'PONG\r\n');
      assert.equal(await loginReply(server.port, 'b', 'b'), 'PONG\r\n');
      // Turning authentication off: new clients need no credentials and INFO stops asking.
      await server.reload(reloadChanges(after, {}));
      const open = await RawClient.connect(server.port);
      assert.equal(open.info.auth_required, undefined);
      await open.send('CONNECT {"verbose":false}\r\nPING\r\n');
      assert.equal((await open.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
      await open.close();
      await assert.rejects(server.reload({ authorization: after.authorization, noAuthUser: 'ghost' }), /config reload not supported for no_auth_user: old=, new=ghost/);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function loginReply(port: number, name: string, pass: string): Promise<string> {
  const raw = await RawClient.connect(port);
  await raw.send(`CONNECT {"verbose":false,"user":"${name}","pass":"${pass}"}\r\nPING\r\n`);
  const result = await raw.readUntilOrClose('PONG\r\n');
  await raw.close();
  return result.data.toString();
}

test('SIGHUP: the CLI re-reads the file; a changed password closes the client and applies to the next login', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-auth-sighup-'));
  const file = path.join(dir, 'n.conf');
  writeFileSync(file, 'listen: 127.0.0.1:-1\nauthorization { users = [ {user: a, password: one} ] }\n');
  const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [cli, '-c', file, '--workers', String(TEST_WORKERS), '--parser', TEST_PARSER], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waitFor = (pattern: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(stderr);
        if (match !== null) {
          child.stderr!.off('data', check);
          resolve(match);
        }
      };
      child.stderr!.on('data', check);
      child.once('exit', (code) => reject(new Error(`natrium exited with ${code}: ${stderr}`)));
      check();
    });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  try {
    const port = Number((await waitFor(/Listening for client connections on [^\s"]*:(\d+)/))[1]);
    await waitFor(/Server is ready/);
    const connected = await login(port, { connect: user('a', 'one') });
    writeFileSync(file, 'listen: 127.0.0.1:-1\nauthorization { users = [ {user: a, password: two} ] }\n');
    const reloaded = waitFor(/Reloaded server configuration/);
    process.kill(child.pid!, 'SIGHUP');
    await reloaded;
    assert.equal((await connected.expectClosed()).toString(), VIOLATION);
    assert.doesNotMatch(stderr, /"two"/, 'the log names what changed, not the secrets');
    assert.equal(await loginReply(port, 'a', 'one'), VIOLATION);
    assert.equal(await loginReply(port, 'a', 'two'), 'PONG\r\n');
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
