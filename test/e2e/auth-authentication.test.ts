/**
 * End to end: authentication as nats-server does it — every method with right, wrong and missing
 * credentials, the nonce, auth_timeout, no_auth_user, ops before CONNECT — with raw sockets where
 * bytes matter (expected bytes checked against nats-server 2.9) and the nats.js client otherwise.
 * A rejected login never disturbs an authenticated client's traffic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { connect, nkeyAuthenticator, nkeys, type ConnectionOptions, type NatsConnection } from 'nats';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { onBothBrokers } from './auth-reference.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { AuthorizationOptions, UserConfig } from '../../src/auth/options.js';
import type { RunningServer } from '../../src/index.js';

const TEST_TIMEOUT_MS = 60_000;
const VIOLATION = "-ERR 'Authorization Violation'\r\n";

function authorization(partial: Partial<AuthorizationOptions>): AuthorizationOptions {
  return { token: '', user: '', password: '', users: [], ...partial };
}

function user(partial: Partial<UserConfig>): UserConfig {
  return { user: '', password: '', nkey: '', permissions: null, ...partial };
}

async function withServer(options: Partial<ServerOptions>, body: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Sends `connect` (a CONNECT's JSON) and PING; returns what came back and whether the server closed. */
async function login(server: RunningServer, connectJson: object): Promise<{ reply: string; closed: boolean; info: Record<string, unknown> }> {
  const raw = await RawClient.connect(server.port);
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, ...connectJson })}\r\nPING\r\n`);
  const result = await raw.readUntilOrClose('PONG\r\n');
  if (!result.closed) await raw.close();
  return { reply: result.data.toString(), closed: result.closed, info: raw.info };
}

async function expectAccepted(server: RunningServer, connectJson: object): Promise<void> {
  const { reply, closed } = await login(server, connectJson);
  assert.equal(reply, 'PONG\r\n', `accepted: ${JSON.stringify(connectJson)}`);
  assert.equal(closed, false);
}

async function expectRejected(server: RunningServer, connectJson: object): Promise<void> {
  const { reply, closed } = await login(server, connectJson);
  assert.equal(reply, VIOLATION, `rejected: ${JSON.stringify(connectJson)}`);
  assert.equal(closed, true);
}

function natsClient(server: RunningServer, options: ConnectionOptions = {}): Promise<NatsConnection> {
  return connect({ servers: server.url, reconnect: false, ...options });
}

test('INFO: auth_required (before max_payload, as nats-server orders it) only when auth is on; no nonce without NKey users', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({}, async (server) => {
    const raw = await RawClient.connect(server.port);
    assert.equal(raw.info.auth_required, undefined);
    await raw.close();
  });
  await withServer({ authorization: authorization({ token: 't' }) }, async (server) => {
    const raw = await RawClient.connect(server.port);
    assert.equal(raw.info.auth_required, true);
    assert.match(raw.infoLine, /"headers":true,"auth_required":true,"max_payload":/);
    assert.equal(raw.info.nonce, undefined);
    await raw.close();
  });
});

test('token: right, wrong, missing', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({ authorization: authorization({ token: 's3cr3t' }) }, async (server) => {
    await expectAccepted(server, { auth_token: 's3cr3t' });
    await expectRejected(server, { auth_token: 'wrong' });
    await expectRejected(server, {});
    await expectRejected(server, { user: 's3cr3t', pass: 's3cr3t' });
    const nc = await natsClient(server, { token: 's3cr3t' });
    await nc.flush();
    await nc.close();
  });
});

test('bcrypt token', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({ authorization: authorization({ token: bcrypt.hashSync('tok', 4) }) }, async (server) => {
    await expectAccepted(server, { auth_token: 'tok' });
    await expectRejected(server, { auth_token: 'tok2' });
  });
});

test('single user/password: right, wrong password, wrong user, missing', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({ authorization: authorization({ user: 'derek', password: 'T0pS3cr3t' }) }, async (server) => {
    await expectAccepted(server, { user: 'derek', pass: 'T0pS3cr3t' });
    await expectRejected(server, { user: 'derek', pass: 'nope' });
    await expectRejected(server, { user: 'other', pass: 'T0pS3cr3t' });
    await expectRejected(server, { user: 'derek' });
    await expectRejected(server, {});
  });
});

test('users: plain and bcrypt ($2a$ and $2b$) passwords, right, wrong, missing, unknown user', { timeout: TEST_TIMEOUT_MS }, async () => {
  const hash2b = bcrypt.hashSync('b-pass', 4);
  const hash2a = hash2b.replace(/^\$2b\$/, '$2a$');
  const users = [user({ user: 'plain', password: 'p-pass' }), user({ user: 'hashed', password: hash2a }), user({ user: 'hashed2b', password: hash2b })];
  await withServer({ authorization: authorization({ users }) }, async (server) => {
    await expectAccepted(server, { user: 'plain', pass: 'p-pass' });
    await expectAccepted(server, { user: 'hashed', pass: 'b-pass' });
    await expectAccepted(server, { user: 'hashed2b', pass: 'b-pass' });
    await expectRejected(server, { user: 'plain', pass: 'x' });
    await expectRejected(server, { user: 'hashed', pass: 'x' });
    await expectRejected(server, { user: 'hashed', pass: hash2a });
    await expectRejected(server, { user: 'hashed' });
    await expectRejected(server, { user: 'nobody', pass: 'p-pass' });
    await expectRejected(server, {});
    const nc = await natsClient(server, { user: 'hashed', pass: 'b-pass' });
    await nc.flush();
    await nc.close();
  });
});

test('NKey users: nonce in INFO, signed nonce accepted; wrong key, wrong signature, missing signature rejected', { timeout: TEST_TIMEOUT_MS }, async () => {
  const kp = nkeys.createUser();
  const stranger = nkeys.createUser();
  const seed = kp.getSeed();
  await withServer({ authorization: authorization({ users: [user({ nkey: kp.getPublicKey() }), user({ user: 'u', password: 'p' })] }) }, async (server) => {
    // The real client signs the nonce.
    const nc = await natsClient(server, { authenticator: nkeyAuthenticator(seed) });
    await nc.flush();
    await nc.close();
    await assert.rejects(natsClient(server, { authenticator: nkeyAuthenticator(stranger.getSeed()) }), /Authorization Violation/);

    const raw = await RawClient.connect(server.port);
    const nonce = raw.info.nonce as string;
    assert.match(nonce, /^[A-Za-z0-9_-]{15}$/);
    const sig = Buffer.from(kp.sign(new TextEncoder().encode(nonce))).toString('base64url');
    await raw.send(`CONNECT {"verbose":false,"nkey":"${kp.getPublicKey()}","sig":"${sig}"}\r\nPING\r\n`);
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
    await raw.close();

    const other = await RawClient.connect(server.port);
    assert.notEqual(other.info.nonce, nonce, 'every connection gets its own nonce');
    // A signature of another connection's nonce is a replay.
    await other.send(`CONNECT {"verbose":false,"nkey":"${kp.getPublicKey()}","sig":"${sig}"}\r\nPING\r\n`);
    assert.equal((await other.expectClosed()).toString(), VIOLATION);

    await expectRejected(server, { nkey: kp.getPublicKey() });
    await expectRejected(server, { nkey: kp.getPublicKey(), sig: 'AAAA' });
    await expectRejected(server, { nkey: stranger.getPublicKey(), sig });
    // Password users still work next to NKey users.
    await expectAccepted(server, { user: 'u', pass: 'p' });
  });
});

test('ops before CONNECT while authentication is pending: violation, except an unknown op that starts with C', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({ authorization: authorization({ token: 't' }) }, async (server) => {
    for (const [input, expected] of [
      ['PING\r\n', VIOLATION],
      ['SUB foo 1\r\n', VIOLATION],
      ['PUB foo 65\r\n', VIOLATION],
      ['pub foo 1\r\nx\r\n', VIOLATION],
      ['CXYZ\r\n', "-ERR 'Unknown Protocol Operation'\r\n"],
      ['CONNECT {bad\r\n', ''],
    ] as const) {
      const raw = await RawClient.connect(server.port);
      await raw.send(input);
      assert.equal((await raw.expectClosed()).toString(), expected, JSON.stringify(input));
    }
  });
});

test('auth_timeout: no CONNECT in time gets -ERR \'Authentication Timeout\' and a close; a CONNECT in time does not', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withServer({ authorization: authorization({ token: 't' }), authTimeout: 300 }, async (server) => {
    const silent = await RawClient.connect(server.port);
    const started = Date.now();
    assert.equal((await silent.expectClosed()).toString(), "-ERR 'Authentication Timeout'\r\n");
    assert.ok(Date.now() - started >= 250, 'not before the timeout');
    // Half a CONNECT line is still no CONNECT.
    const slow = await RawClient.connect(server.port);
    await slow.send('CONNECT {"auth_tok');
    assert.equal((await slow.expectClosed()).toString(), "-ERR 'Authentication Timeout'\r\n");
    const prompt = await RawClient.connect(server.port);
    await prompt.send('CONNECT {"verbose":false,"auth_token":"t"}\r\n');
    await new Promise((resolve) => setTimeout(resolve, 600));
    await prompt.send('PING\r\n');
    assert.equal((await prompt.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
    await prompt.close();
  });
});

test('no_auth_user: a client without credentials is that user (with its permissions); wrong credentials still fail', { timeout: TEST_TIMEOUT_MS }, async () => {
  const users = [
    user({ user: 'guest', password: 'unused', permissions: { publish: { allow: ['public.>'], deny: null }, subscribe: null, response: null } }),
    user({ user: 'admin', password: 'a' }),
  ];
  await withServer({ authorization: authorization({ users }), noAuthUser: 'guest' }, async (server) => {
    await expectAccepted(server, {});
    await expectRejected(server, { user: 'admin', pass: 'wrong' });
    await expectAccepted(server, { user: 'admin', pass: 'a' });
    const raw = await RawClient.connect(server.port);
    await raw.send('CONNECT {"verbose":false}\r\nPUB private.x 1\r\nx\r\nPUB public.x 1\r\nx\r\nPING\r\n');
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), `-ERR 'Permissions Violation for Publish to "private.x"'\r\nPONG\r\n`);
    await raw.close();
    // Like nats-server, the no_auth_user may skip CONNECT altogether.
    const telnet = await RawClient.connect(server.port);
    await telnet.send('PING\r\n');
    assert.equal((await telnet.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
    await telnet.close();
  });
});

/** Logins without credentials (none, an empty CONNECT, empty fields, a password alone) as `port` answers them. */
async function noAuthUserLogins(port: number): Promise<string[]> {
  const replies: string[] = [];
  for (const connectJson of [null, {}, { user: '', pass: '' }, { pass: 'x' }, { auth_token: 'x' }]) {
    const raw = await RawClient.connect(port);
    await raw.send(connectJson === null ? 'PING\r\n' : `CONNECT ${JSON.stringify({ verbose: false, ...connectJson })}\r\nPING\r\n`);
    const result = await raw.readUntilOrClose('PONG\r\n');
    replies.push(`${JSON.stringify(connectJson)} ${result.data.toString()}${result.closed ? 'closed' : ''}`);
    await raw.close();
  }
  return replies;
}

test('no_auth_user with a plain or a bcrypt password: an empty CONNECT is compared with that password, as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  for (const password of ['plain', bcrypt.hashSync('pw', 4)]) {
    const conf = `authorization { users = [ {user: guest, password: "${password}"}, {user: admin, password: a} ] }\nno_auth_user: guest\n`;
    const { expected, actual } = await onBothBrokers(conf, (broker) => noAuthUserLogins(broker.port));
    assert.deepEqual(actual, expected, password);
    // A client that skips CONNECT is the no_auth_user either way; an empty CONNECT only with a plain password.
    assert.equal(expected[0], 'null PONG\r\n');
    assert.equal(expected[1], password === 'plain' ? '{} PONG\r\n' : `{} ${VIOLATION}closed`);
  }
});

test('pipelined ops after a CONNECT checked in the pool run in order once it passed (verbose +OK first)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const users = [user({ user: 'h', password: bcrypt.hashSync('pw', 6) })];
  await withServer({ authorization: authorization({ users }) }, async (server) => {
    const raw = await RawClient.connect(server.port);
    await raw.send('CONNECT {"verbose":true,"user":"h","pass":"pw"}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n');
    assert.equal((await raw.readUntil('PONG\r\n')).toString(), '+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\nPONG\r\n');
    await raw.close();
  });
});

test('rejected logins do not disturb an authenticated client', { timeout: TEST_TIMEOUT_MS }, async () => {
  const users = [user({ user: 'ok', password: 'pw' }), user({ user: 'h', password: bcrypt.hashSync('pw', 6) })];
  await withServer({ authorization: authorization({ users }) }, async (server) => {
    const nc = await natsClient(server, { user: 'ok', pass: 'pw' });
    const got: number[] = [];
    const sub = nc.subscribe('steady', { callback: (_err, msg) => got.push(Number(new TextDecoder().decode(msg.data))) });
    await nc.flush();
    for (let i = 0; i < 20; i++) {
      nc.publish('steady', new TextEncoder().encode(String(i)));
      await expectRejected(server, i % 2 === 0 ? { user: 'h', pass: 'bad' } : { user: 'ok', pass: 'bad' });
    }
    await nc.flush();
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
    sub.unsubscribe();
    await nc.close();
  });
});
