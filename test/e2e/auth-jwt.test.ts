/**
 * End to end: operator mode (`operator`, `resolver: MEMORY`, `resolver_preload`). JWTs are made
 * here with the nkeys library; the same config file runs nats-server and Natrium, and every case
 * (right, wrong, missing, expired, revoked credentials, signing keys, bearer tokens, permissions,
 * user and account limits, `src`, `times`, connection types) must get the same answer from both.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, jwtAuthenticator, nkeys } from 'nats';
import { confReader } from '../helpers/conf.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { loadConfigFile } from '../../src/config/config-file.js';
import { onBothBrokers, startReferenceWithConf, type ConfiguredBroker } from './auth-reference.js';
import { perWorker, Placement, until, WORKERS } from './workers.js';

const TEST_TIMEOUT_MS = 90_000;
type KeyPair = ReturnType<typeof nkeys.createUser>;

function encodeJwt(claims: Record<string, unknown>, signer: KeyPair): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
  const body = Buffer.from(JSON.stringify({ jti: randomBytes(16).toString('hex').toUpperCase(), ...claims })).toString('base64url');
  const signature = Buffer.from(signer.sign(Buffer.from(`${header}.${body}`))).toString('base64url');
  return `${header}.${body}.${signature}`;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const now = nowSeconds();
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const operator = nkeys.createOperator();
const operatorSigner = nkeys.createOperator();
const account = nkeys.createAccount();
const accountSigner = nkeys.createAccount();
const stranger = nkeys.createAccount();
const revoked = nkeys.createUser();
/** Each connection of this account: at most 3 subscriptions and 10 payload bytes; `data` is not enforced. */
const limitedAccount = nkeys.createAccount();
const bearerlessAccount = nkeys.createAccount();
const expiredAccount = nkeys.createAccount();
/** No `limits` at all: nats-server reads `conn` as 0, so no user of it may connect. */
const limitlessAccount = nkeys.createAccount();

const operatorJwt = encodeJwt(
  { iat: now, iss: operator.getPublicKey(), sub: operator.getPublicKey(), name: 'op', nats: { type: 'operator', version: 2, signing_keys: [operatorSigner.getPublicKey()] } },
  operator,
);
const accountJwt = encodeJwt(
  {
    iat: now, iss: operatorSigner.getPublicKey(), sub: account.getPublicKey(), name: 'acc',
    nats: { type: 'account', version: 2, limits: UNLIMITED, signing_keys: [accountSigner.getPublicKey()], revocations: { [revoked.getPublicKey()]: now } },
  },
  operatorSigner,
);

function accountJwtOf(key: KeyPair, nats: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return encodeJwt({ iat: now, iss: operator.getPublicKey(), sub: key.getPublicKey(), name: 'acc', ...extra, nats: { type: 'account', version: 2, ...nats } }, operator);
}

/** resolver_preload lines for the account key pairs and their JWTs. */
function operatorConf(operatorRef: string, accounts: [KeyPair, string][]): string {
  const preload = accounts.map(([key, jwt]) => `  ${key.getPublicKey()}: "${jwt}"`).join('\n');
  return `operator: "${operatorRef}"\nresolver: MEMORY\nresolver_preload: {\n${preload}\n}\n`;
}

const preloaded: [KeyPair, string][] = [
  [account, accountJwt],
  [limitedAccount, accountJwtOf(limitedAccount, { limits: { ...UNLIMITED, subs: 3, payload: 10, data: 2 } })],
  [bearerlessAccount, accountJwtOf(bearerlessAccount, { limits: { ...UNLIMITED, disallow_bearer: true } })],
  [expiredAccount, accountJwtOf(expiredAccount, { limits: UNLIMITED }, { exp: now - 1 })],
  [limitlessAccount, accountJwtOf(limitlessAccount, {})],
];

/**
 * A `times_location` whose wall clock is near noon now, so that windows of an hour or two around
 * now never cross midnight (a window that does follows nats-server's rule, tested apart).
 */
function noonZone(): { zone: string; clock: (offsetSeconds: number) => string } {
  const hoursAhead = Math.max(-12, Math.min(14, 12 - new Date().getUTCHours()));
  const zone = hoursAhead === 0 ? 'UTC' : `Etc/GMT${hoursAhead > 0 ? '-' : '+'}${Math.abs(hoursAhead)}`;
  const clock = (offsetSeconds: number): string => new Date(Date.now() + (hoursAhead * 3600 + offsetSeconds) * 1000).toISOString().slice(11, 19);
  return { zone, clock };
}

function userJwt(user: KeyPair, signer: KeyPair, nats: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return encodeJwt(
    { iat: now - 5, iss: signer.getPublicKey(), sub: user.getPublicKey(), name: 'u', ...extra, nats: { type: 'user', version: 2, subs: -1, data: -1, payload: -1, ...nats } },
    signer,
  );
}

interface Case {
  name: string;
  jwt: string;
  /** Key pair that signs the nonce; null: no signature. */
  signer: KeyPair | null;
  ops?: string;
  /** CONNECT announces headers (for HPUB). */
  headers?: boolean;
}

function cases(): Case[] {
  const alice = nkeys.createUser();
  const bob = nkeys.createUser();
  const carol = nkeys.createUser();
  const bearer = nkeys.createUser();
  const limited = nkeys.createUser();
  const dave = nkeys.createUser();
  const { zone, clock } = noonZone();
  const window = (start: number, end: number): Record<string, unknown> => ({ times_location: zone, times: [{ start: clock(start), end: clock(end) }] });
  return [
    { name: 'user issued by the account', jwt: userJwt(alice, account), signer: alice },
    { name: 'user issued by an account signing key', jwt: userJwt(bob, accountSigner, { issuer_account: account.getPublicKey() }), signer: bob },
    { name: 'expired user', jwt: userJwt(carol, account, {}, { exp: now - 1 }), signer: carol },
    { name: 'not yet valid user', jwt: userJwt(carol, account, {}, { nbf: now + 3600 }), signer: carol },
    { name: 'user of an account not preloaded', jwt: userJwt(carol, stranger), signer: carol },
    { name: 'revoked user', jwt: userJwt(revoked, account), signer: revoked },
    { name: 'bearer token without signature', jwt: userJwt(bearer, account, { bearer_token: true }), signer: null },
    { name: 'no signature', jwt: userJwt(alice, account), signer: null },
    { name: 'nonce signed by another key', jwt: userJwt(alice, account), signer: bob },
    { name: 'JWT signed by a key that is not the account', jwt: userJwt(alice, stranger).replace(/^[^.]+\.[^.]+/, userJwt(alice, account).split('.').slice(0, 2).join('.')), signer: alice },
    { name: 'garbage JWT', jwt: 'eyJ0eXAi.x.y', signer: alice },
    {
      name: 'permissions from the user JWT',
      jwt: userJwt(limited, account, { pub: { allow: ['ok.>'] }, sub: { deny: ['secret'] } }),
      signer: limited,
      ops: 'PUB ok.1 1\r\nx\r\nPUB no.1 1\r\nx\r\nSUB secret 1\r\nSUB fine 2\r\n',
    },
    // Limits: at the limit even a SUB repeating a sid is refused; data is not enforced by nats-server.
    { name: 'user subs limit', jwt: userJwt(dave, account, { subs: 2 }), signer: dave, ops: 'SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB a 1\r\n' },
    { name: 'user payload limit', jwt: userJwt(dave, account, { payload: 5 }), signer: dave, ops: 'PUB a 5\r\nabcde\r\nPUB a 6\r\nabcdef\r\n' },
    { name: 'user payload limit counts headers', jwt: userJwt(dave, account, { payload: 8 }), signer: dave, ops: 'HPUB a 12 14\r\nNATS/1.0\r\n\r\nab\r\n', headers: true },
    { name: 'user payload limit before the payload arrives', jwt: userJwt(dave, account, { payload: 2 }), signer: dave, ops: 'PUB a 5\r\n' },
    { name: 'user data limit', jwt: userJwt(dave, account, { data: 2 }), signer: dave, ops: 'SUB a 1\r\nPUB a 5\r\nabcde\r\n' },
    { name: 'account subs limit', jwt: userJwt(dave, limitedAccount), signer: dave, ops: 'SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB d 4\r\n' },
    { name: 'user subs limit above the account', jwt: userJwt(dave, limitedAccount, { subs: 5 }), signer: dave, ops: 'SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB d 4\r\n' },
    { name: 'account payload limit', jwt: userJwt(dave, limitedAccount), signer: dave, ops: 'PUB a 10\r\n0123456789\r\nPUB a 11\r\n0123456789a\r\n' },
    { name: 'user payload limit under the account', jwt: userJwt(dave, limitedAccount, { payload: 4 }), signer: dave, ops: 'PUB a 5\r\nabcde\r\n' },
    { name: 'account data limit', jwt: userJwt(dave, limitedAccount), signer: dave, ops: 'SUB a 1\r\nPUB a 5\r\nabcde\r\n' },
    { name: 'account without limits', jwt: userJwt(dave, limitlessAccount), signer: dave },
    { name: 'expired account', jwt: userJwt(dave, expiredAccount), signer: dave },
    { name: 'bearer token of an account that disallows them', jwt: userJwt(bearer, bearerlessAccount, { bearer_token: true }), signer: null },
    { name: 'signed user of an account that disallows bearer tokens', jwt: userJwt(dave, bearerlessAccount), signer: dave },
    // src: the client connects from 127.0.0.1.
    { name: 'src without the client', jwt: userJwt(dave, account, { src: ['10.0.0.0/8'] }), signer: dave },
    { name: 'src with the client', jwt: userJwt(dave, account, { src: ['10.0.0.0/8', '127.0.0.0/8'] }), signer: dave },
    { name: 'src as a comma-separated string', jwt: userJwt(dave, account, { src: '10.0.0.0/8, 127.0.0.1/32' }), signer: dave },
    { name: 'src with a bare IP', jwt: userJwt(dave, account, { src: ['127.0.0.1'] }), signer: dave },
    { name: 'src with an invalid entry', jwt: userJwt(dave, account, { src: ['127.0.0.0/8', 'nowhere'] }), signer: dave },
    // times: in the zone of times_location, else the server's.
    { name: 'inside a times window', jwt: userJwt(dave, account, window(-3600, 3600)), signer: dave },
    { name: 'before a times window', jwt: userJwt(dave, account, window(60, 3600)), signer: dave },
    { name: 'after a times window', jwt: userJwt(dave, account, window(-3600, -60)), signer: dave },
    { name: 'second times window', jwt: userJwt(dave, account, { times_location: zone, times: [{ start: clock(60), end: clock(120) }, { start: clock(-60), end: clock(60) }] }), signer: dave },
    // nats-server starts an overnight window today: its tail from yesterday does not count.
    { name: 'overnight times window that began yesterday', jwt: userJwt(dave, account, window(3600, 1800)), signer: dave },
    { name: 'overnight times window that begins today', jwt: userJwt(dave, account, window(-1800, -3600)), signer: dave },
    { name: 'times in the server zone', jwt: userJwt(dave, account, { times: [{ start: '0:00:00', end: '23:59:59.999' }] }), signer: dave },
    { name: 'times window of another zone', jwt: userJwt(dave, account, { times_location: zone === 'UTC' ? 'Etc/GMT-12' : 'UTC', times: window(-1800, 1800).times }), signer: dave },
    { name: 'unknown times_location', jwt: userJwt(dave, account, { times_location: 'Mars/Olympus', times: [{ start: '00:00:00', end: '23:59:59' }] }), signer: dave },
    { name: 'times_location alone', jwt: userJwt(dave, account, { times_location: 'Europe/Paris' }), signer: dave },
    { name: 'malformed times', jwt: userJwt(dave, account, { times: [{ start: '0:00', end: '23:59:59' }] }), signer: dave },
    { name: 'times up to 24:00:00', jwt: userJwt(dave, account, { times: [{ start: '00:00:00', end: '24:00:00' }] }), signer: dave },
    // allowed_connection_types: these clients connect over plain TCP (STANDARD).
    { name: 'connection type allowed', jwt: userJwt(dave, account, { allowed_connection_types: ['standard', 'MQTT'] }), signer: dave },
    { name: 'connection type not allowed', jwt: userJwt(dave, account, { allowed_connection_types: ['WEBSOCKET'] }), signer: dave },
    { name: 'only unknown connection types', jwt: userJwt(dave, account, { allowed_connection_types: ['CARRIER_PIGEON'] }), signer: dave },
  ];
}

async function run(broker: ConfiguredBroker, list: Case[]): Promise<Record<string, string>> {
  const replies: Record<string, string> = {};
  for (const c of list) {
    const raw = await RawClient.connect(broker.port);
    const nonce = raw.info.nonce as string;
    const connect: Record<string, unknown> = { verbose: false, pedantic: false, jwt: c.jwt, headers: c.headers ?? false };
    if (c.signer !== null) connect.sig = Buffer.from(c.signer.sign(Buffer.from(nonce))).toString('base64url');
    await raw.send(`CONNECT ${JSON.stringify(connect)}\r\n${c.ops ?? ''}PING\r\n`);
    const result = await raw.readUntilOrClose('PONG\r\n');
    replies[c.name] = result.data.toString() + (result.closed ? '[closed]' : '');
    await raw.close();
  }
  return replies;
}

test('operator mode: the same verdict as nats-server for every case', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-jwt-'));
  try {
    const operatorFile = path.join(dir, 'op.jwt');
    writeFileSync(operatorFile, operatorJwt);
    const list = cases();
    const { expected, actual } = await onBothBrokers(operatorConf(operatorFile, preloaded), async (broker) => {
      const replies = await run(broker, list);
      // The real client signs the nonce with the user's seed and sends the JWT.
      const alice = nkeys.createUser();
      const nc = await connect({ servers: broker.url, reconnect: false, authenticator: jwtAuthenticator(userJwt(alice, account), alice.getSeed()) });
      await nc.flush();
      await nc.close();
      return replies;
    });
    assert.deepEqual(actual, expected);
    const refused = "-ERR 'Authorization Violation'\r\n[closed]";
    assert.equal(actual['user issued by the account'], 'PONG\r\n');
    assert.equal(actual['expired user'], refused);
    assert.equal(actual['bearer token without signature'], 'PONG\r\n');
    assert.equal(actual['user subs limit'], "-ERR 'maximum subscriptions exceeded'\r\n-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
    assert.equal(actual['account payload limit'], "-ERR 'Maximum Payload Violation'\r\n[closed]");
    assert.equal(actual['account without limits'], "-ERR 'maximum account active connections exceeded'\r\n[closed]");
    assert.equal(actual['src without the client'], refused);
    assert.equal(actual['src with the client'], 'PONG\r\n');
    assert.equal(actual['inside a times window'], 'PONG\r\n');
    assert.equal(actual['before a times window'], refused);
    assert.equal(actual['overnight times window that began yesterday'], refused);
    assert.equal(actual['connection type not allowed'], refused);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('operator mode: untrusted account JWTs, unsupported account claims and other resolvers are refused at startup', async () => {
  const foreignOperator = nkeys.createOperator();
  const foreignAccount = encodeJwt({ iat: now, iss: foreignOperator.getPublicKey(), sub: account.getPublicKey(), nats: { type: 'account', version: 2 } }, foreignOperator);
  await assert.rejects(
    startTestServer({ operator: { jwts: [operatorJwt], preload: { [account.getPublicKey()]: foreignAccount } } }),
    /resolver_preload: account A\w+ is not issued by a trusted operator/,
  );
  // Account claims nats-server applies to clients and natrium does not implement.
  const scopedKey = { kind: 'user_scope', key: accountSigner.getPublicKey(), role: 'r', template: { pub: { allow: ['x'] } } };
  const unsupported: [Record<string, unknown>, RegExp][] = [
    [{ limits: UNLIMITED, mappings: { a: [{ subject: 'b', weight: 100 }] } }, /resolver_preload: account A\w+: JWT mappings are not supported by natrium yet$/],
    [{ limits: UNLIMITED, default_permissions: { pub: { deny: ['x'] }, sub: {} } }, /resolver_preload: account A\w+: JWT default_permissions are not supported by natrium yet$/],
    [{ limits: UNLIMITED, signing_keys: [scopedKey] }, /resolver_preload: account A\w+: scoped signing keys are not supported by natrium yet$/],
    [{ limits: { ...UNLIMITED, conn: 'many' } }, /resolver_preload: account A\w+: limits.conn is not an integer$/],
  ];
  for (const [nats, message] of unsupported) {
    await assert.rejects(startTestServer({ operator: { jwts: [operatorJwt], preload: { [account.getPublicKey()]: accountJwtOf(account, nats) } } }), message);
  }
  // What nsc writes by default (empty default permissions, unlimited JetStream) is accepted.
  const plain = accountJwtOf(account, { limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 }, default_permissions: { pub: {}, sub: {} } });
  await (await startTestServer({ operator: { jwts: [operatorJwt], preload: { [account.getPublicKey()]: plain } } })).close();
  assert.deepEqual(confReader('a.conf').problems('resolver: URL("http://x")'), ['a.conf:1:1: only "resolver: MEMORY" is supported by natrium yet']);
});

/** Signs in with `jwt` (signed by `user`) and returns what arrives until the server closes the connection. */
async function untilClosed(broker: ConfiguredBroker, user: KeyPair, jwt: string): Promise<string> {
  const raw = await RawClient.connect(broker.port);
  const sig = Buffer.from(user.sign(Buffer.from(raw.info.nonce as string))).toString('base64url');
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, jwt, sig })}\r\nPING\r\n`);
  const pong = (await raw.readUntil('PONG\r\n')).toString();
  // Server PINGs may come meanwhile; they are not what this test is about.
  const rest = (await raw.expectClosed(10_000)).toString().replace(/PING\r\n/g, '');
  return pong + rest;
}

test('operator mode: a connection ends when its user JWT expires, its times window closes or its account JWT expires, as in nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const user = nkeys.createUser();
  const shortLived = nkeys.createAccount();
  // The account JWT expires a few seconds after each server starts.
  const conf = (): string => operatorConf(operatorJwt, [[account, accountJwt], [shortLived, accountJwtOf(shortLived, { limits: UNLIMITED }, { exp: nowSeconds() + 4 })]]);
  const { expected, actual } = await onBothBrokers(conf, (broker) => {
    const { zone, clock } = noonZone();
    return Promise.all([
      untilClosed(broker, user, userJwt(user, account, {}, { exp: nowSeconds() + 2 })),
      untilClosed(broker, user, userJwt(user, account, { times_location: zone, times: [{ start: clock(-60), end: clock(2) }] })),
      untilClosed(broker, user, userJwt(user, shortLived)),
    ]);
  });
  assert.deepEqual(actual, expected);
  const userExpired = "PONG\r\n-ERR 'User Authentication Expired'\r\n";
  assert.deepEqual(expected, [userExpired, userExpired, "PONG\r\n-ERR 'Account Authentication Expired'\r\n"]);
});

/**
 * A protocol 1 client whose JWTs lower max_payload gets, after its first PONG, an INFO with its own
 * max_payload (reduced here to that field and whether a nonce is in it).
 */
async function limitedSession(broker: ConfiguredBroker, user: KeyPair, jwt: string, protocol: number): Promise<string> {
  const raw = await RawClient.connect(broker.port);
  const sig = Buffer.from(user.sign(Buffer.from(raw.info.nonce as string))).toString('base64url');
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, protocol, jwt, sig })}\r\nPING\r\nPING\r\n`);
  const twoPongs = (unread: Buffer): number | false => {
    const second = unread.indexOf('PONG\r\n', unread.indexOf('PONG\r\n') + 1);
    return unread.indexOf('PONG\r\n') >= 0 && second >= 0 ? second + 6 : false;
  };
  const text = (await raw.readUntil(twoPongs)).toString();
  await raw.close();
  return text.replace(/INFO (\{.*\}) \r\n/g, (_, json: string) => {
    const info = JSON.parse(json) as Record<string, unknown>;
    return `INFO max_payload=${String(info.max_payload)} nonce=${'nonce' in info}\r\n`;
  });
}

test('operator mode: JWT limits on max payload and subscriptions reach the client as nats-server tells it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const user = nkeys.createUser();
  const { expected, actual } = await onBothBrokers(operatorConf(operatorJwt, preloaded), async (broker) => ({
    userLimit: await limitedSession(broker, user, userJwt(user, account, { payload: 10 }), 1),
    accountLimit: await limitedSession(broker, user, userJwt(user, limitedAccount), 1),
    serverLimit: await limitedSession(broker, user, userJwt(user, account, { payload: 1024 * 1024 }), 1),
    protocolZero: await limitedSession(broker, user, userJwt(user, account, { payload: 10 }), 0),
    // No subscription allowed at all: told at once, closed shortly after.
    noSubscriptions: await (async () => {
      const raw = await RawClient.connect(broker.port);
      const sig = Buffer.from(user.sign(Buffer.from(raw.info.nonce as string))).toString('base64url');
      await raw.send(`CONNECT ${JSON.stringify({ verbose: false, jwt: userJwt(user, account, { subs: 0 }), sig })}\r\n`);
      return (await raw.expectClosed()).toString();
    })(),
  }));
  assert.deepEqual(actual, expected);
  assert.deepEqual(expected, {
    userLimit: 'PONG\r\nINFO max_payload=10 nonce=false\r\nPONG\r\n',
    accountLimit: 'PONG\r\nINFO max_payload=10 nonce=false\r\nPONG\r\n',
    serverLimit: 'PONG\r\nPONG\r\n',
    protocolZero: 'PONG\r\nPONG\r\n',
    noSubscriptions: "-ERR 'maximum subscriptions exceeded'\r\n",
  });
});

/** A user of `account` signs in; returns its socket and what it got (up to PONG, or until closed). */
async function accountLogin(port: number, accountKey: KeyPair): Promise<{ raw: RawClient; reply: string }> {
  const user = nkeys.createUser();
  const raw = await RawClient.connect(port);
  const sig = Buffer.from(user.sign(Buffer.from(raw.info.nonce as string))).toString('base64url');
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, jwt: userJwt(user, accountKey), sig })}\r\nPING\r\n`);
  const result = await raw.readUntilOrClose('PONG\r\n');
  return { raw, reply: result.data.toString() + (result.closed ? '[closed]' : '') };
}

test('operator mode: an account JWT conn limit holds over connections spread across all workers', { timeout: TEST_TIMEOUT_MS }, async () => {
  const crowded = nkeys.createAccount();
  const conf = operatorConf(operatorJwt, [[crowded, accountJwtOf(crowded, { limits: { ...UNLIMITED, conn: WORKERS } })]]);
  /** WORKERS logins through `open`, then one more (which closes at once when refused). */
  const verdicts = async (port: number, open: (login: () => Promise<{ raw: RawClient; reply: string }>) => Promise<{ raw: RawClient; reply: string }>) => {
    const logins: RawClient[] = [];
    const replies: string[] = [];
    for (let i = 0; i <= WORKERS; i++) {
      const login = i < WORKERS ? await open(() => accountLogin(port, crowded)) : await accountLogin(port, crowded);
      logins.push(login.raw);
      replies.push(login.reply);
    }
    return { logins, replies };
  };
  const reference = await startReferenceWithConf(conf);
  let expected: string[];
  try {
    const { logins, replies } = await verdicts(reference.port, (login) => login());
    expected = replies;
    await Promise.all(logins.map((raw) => raw.close()));
  } finally {
    await reference.close();
  }
  assert.deepEqual(expected, [...Array<string>(WORKERS).fill('PONG\r\n'), "-ERR 'maximum account active connections exceeded'\r\n[closed]"]);

  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-jwt-'));
  const file = path.join(dir, 'crowded.conf');
  writeFileSync(file, conf);
  const server = await startTestServer({ ...loadConfigFile(file, {}).options, workers: WORKERS, httpPort: -1 });
  rmSync(dir, { recursive: true, force: true });
  try {
    const placement = new Placement(server);
    const { logins, replies } = await verdicts(server.port, (login) => placement.open(login));
    assert.deepEqual(replies, expected);
    placement.assertSpread();
    // A place freed on one worker can be taken through another.
    await logins[0]!.close();
    await until(() => perWorker(server, 'connections'), (counts) => counts.reduce((a, b) => a + b, 0) === WORKERS - 1, 'the closed connection to leave');
    const again = await accountLogin(server.port, crowded);
    assert.equal(again.reply, 'PONG\r\n');
    await Promise.all([...logins, again.raw].map((raw) => raw.close()));
  } finally {
    await server.close();
  }
});

test('operator mode: /connz auth=1 shows the user JWT, its issuer, name and tags, and /accountz the account JWT, as nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const tagged = nkeys.createAccount();
  const taggedJwt = accountJwtOf(tagged, { limits: UNLIMITED, tags: ['env:test'], signing_keys: [accountSigner.getPublicKey()], revocations: { [revoked.getPublicKey()]: now } }, { name: 'tagged' });
  const conf = `http_port: -1\n${operatorConf(operatorJwt, [[tagged, taggedJwt]])}`;
  const [alice, bob] = [nkeys.createUser(), nkeys.createUser()];
  const users = {
    alice: { jwt: userJwt(alice, tagged, { tags: ['team:a'] }, { name: 'Alice' }), key: alice },
    bob: { jwt: userJwt(bob, accountSigner, { issuer_account: tagged.getPublicKey() }), key: bob },
  };
  const { expected, actual } = await onBothBrokers(conf, async (broker) => {
    const get = async (path: string) => (await fetch(`${broker.monitorUrl}${path}`)).json() as Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const clients = await Promise.all(
      Object.entries(users).map(([name, { jwt, key }]) => connect({ servers: broker.url, name, reconnect: false, authenticator: jwtAuthenticator(jwt, key.getSeed()) })),
    );
    try {
      const connz = await get('/connz?auth=1');
      const shown = connz.connections
        .map((c: Record<string, unknown>) => ({ name: c.name, user: c.authorized_user, account: c.account, jwt: c.jwt, issuer: c.issuer_key, nameTag: c.name_tag, tags: c.tags }))
        .sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name));
      const detail = (await get(`/accountz?acc=${tagged.getPublicKey()}`)).account_detail;
      const accounts = (await get('/accountz')).accounts.filter((name: string) => name !== '$SYS').sort();
      const { jwt, issuer_key, name_tag, tags, revoked_user, client_connections } = detail;
      return { shown, account: { jwt, issuer_key, name_tag, tags, revoked_user, client_connections }, accounts };
    } finally {
      await Promise.all(clients.map((nc) => nc.close()));
    }
  });
  assert.deepEqual(actual, expected);
  assert.deepEqual(actual.shown[0], {
    name: 'alice', user: alice.getPublicKey(), account: tagged.getPublicKey(), jwt: users.alice.jwt, issuer: tagged.getPublicKey(), nameTag: 'Alice', tags: ['team:a'],
  });
  assert.equal(actual.shown[1].issuer, accountSigner.getPublicKey(), 'a signing key is the issuer');
  assert.deepEqual(actual.account.revoked_user, { [revoked.getPublicKey()]: new Date(now * 1000).toISOString().replace('.000Z', 'Z') });
});
