/**
 * End to end: operator mode (`operator`, `resolver: MEMORY`, `resolver_preload`). JWTs are made
 * here with the nkeys library; the same config file runs nats-server and Natrium, and every case
 * (right, wrong, missing, expired, revoked credentials, signing keys, bearer tokens, permissions)
 * must get the same answer from both.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, jwtAuthenticator, nkeys } from 'nats';
import { RawClient } from '../helpers/raw-client.js';
import { startNatriumWithConf, startReferenceWithConf, type ConfiguredBroker } from './auth-reference.js';

const TEST_TIMEOUT_MS = 90_000;
type KeyPair = ReturnType<typeof nkeys.createUser>;

function encodeJwt(claims: Record<string, unknown>, signer: KeyPair): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
  const body = Buffer.from(JSON.stringify({ jti: randomBytes(16).toString('hex').toUpperCase(), ...claims })).toString('base64url');
  const signature = Buffer.from(signer.sign(Buffer.from(`${header}.${body}`))).toString('base64url');
  return `${header}.${body}.${signature}`;
}

const now = Math.floor(Date.now() / 1000);
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const operator = nkeys.createOperator();
const operatorSigner = nkeys.createOperator();
const account = nkeys.createAccount();
const accountSigner = nkeys.createAccount();
const stranger = nkeys.createAccount();
const revoked = nkeys.createUser();

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
}

function cases(): Case[] {
  const alice = nkeys.createUser();
  const bob = nkeys.createUser();
  const carol = nkeys.createUser();
  const bearer = nkeys.createUser();
  const limited = nkeys.createUser();
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
  ];
}

async function run(broker: ConfiguredBroker, list: Case[]): Promise<Record<string, string>> {
  const replies: Record<string, string> = {};
  for (const c of list) {
    const raw = await RawClient.connect(broker.port);
    const nonce = raw.info.nonce as string;
    const connect: Record<string, unknown> = { verbose: false, pedantic: false, jwt: c.jwt };
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
    const conf = `operator: "${operatorFile}"\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n}\n`;
    const list = cases();
    const reference = await startReferenceWithConf(conf);
    let expected: Record<string, string>;
    try {
      expected = await run(reference, list);
    } finally {
      await reference.close();
    }
    const natrium = await startNatriumWithConf(conf);
    try {
      const actual = await run(natrium, list);
      assert.deepEqual(actual, expected);
      assert.equal(actual['user issued by the account'], 'PONG\r\n');
      assert.equal(actual['expired user'], "-ERR 'Authorization Violation'\r\n[closed]");
      assert.equal(actual['bearer token without signature'], 'PONG\r\n');
      // The real client signs the nonce with the user's seed and sends the JWT.
      const alice = nkeys.createUser();
      const nc = await connect({ servers: natrium.url, reconnect: false, authenticator: jwtAuthenticator(userJwt(alice, account), alice.getSeed()) });
      await nc.flush();
      await nc.close();
    } finally {
      await natrium.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('operator mode: untrusted account JWTs and other resolvers are refused at startup', async () => {
  const { startTestServer } = await import('../helpers/server.js');
  const foreignOperator = nkeys.createOperator();
  const foreignAccount = encodeJwt({ iat: now, iss: foreignOperator.getPublicKey(), sub: account.getPublicKey(), nats: { type: 'account', version: 2 } }, foreignOperator);
  await assert.rejects(
    startTestServer({ operator: { jwts: [operatorJwt], preload: { [account.getPublicKey()]: foreignAccount } } }),
    /resolver_preload: account A\w+ is not issued by a trusted operator/,
  );
  const { ConfigFileError, optionsFromConf } = await import('../../src/config/config-file.js');
  const { parseConf } = await import('../../src/config/conf-parser.js');
  assert.throws(() => optionsFromConf(parseConf('resolver: URL("http://x")', 'a.conf', {})), (error: unknown) => {
    assert.ok(error instanceof ConfigFileError);
    assert.deepEqual(error.problems, ['a.conf:1:1: only "resolver: MEMORY" is supported by natrium yet']);
    return true;
  });
});

/** Connects with a user JWT that expires in about two seconds; returns what arrives until the close. */
async function expiring(broker: ConfiguredBroker): Promise<string> {
  const user = nkeys.createUser();
  const jwt = userJwt(user, account, {}, { exp: Math.floor(Date.now() / 1000) + 2 });
  const raw = await RawClient.connect(broker.port);
  const sig = Buffer.from(user.sign(Buffer.from(raw.info.nonce as string))).toString('base64url');
  await raw.send(`CONNECT ${JSON.stringify({ verbose: false, jwt, sig })}\r\nPING\r\n`);
  const pong = (await raw.readUntil('PONG\r\n')).toString();
  // Server PINGs may come meanwhile; they are not what this test is about.
  const rest = (await raw.expectClosed(10_000)).toString().replace(/PING\r\n/g, '');
  return pong + rest;
}

test('operator mode: a connection ends when its user JWT expires, as nats-server ends it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-jwt-'));
  try {
    const operatorFile = path.join(dir, 'op.jwt');
    writeFileSync(operatorFile, operatorJwt);
    const conf = `operator: "${operatorFile}"\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n}\n`;
    const reference = await startReferenceWithConf(conf);
    let expected: string;
    try {
      expected = await expiring(reference);
    } finally {
      await reference.close();
    }
    const natrium = await startNatriumWithConf(conf);
    try {
      assert.equal(await expiring(natrium), expected);
      assert.equal(expected, "PONG\r\n-ERR 'User Authentication Expired'\r\n");
    } finally {
      await natrium.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
