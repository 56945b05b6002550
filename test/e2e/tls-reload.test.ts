/**
 * End to end: reloading `tls {}` (and the websocket's TLS block), as nats-server 2.9 reloads it:
 * new certificates, CA, verify and timeout apply to connections accepted afterwards (verify_and_map
 * cannot change, as in nats-server); TLS
 * connections already made keep theirs; INFO follows TLS being turned on and off. The same config
 * texts run on nats-server (file + SIGHUP) and on Natrium, and must give the same outcomes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import type { TlsConfig, WebSocketConfig } from '../../src/transport/config.js';
import { createTestPki, type TestPki } from '../helpers/certs.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';
import { onBothBrokers, startNatriumWithConf, startReferenceWithConf } from './auth-reference.js';
import { signal, within } from './broker.js';

const GUARD_MS = 10_000;
const TEST_TIMEOUT_MS = 90_000;

let first: TestPki;
let second: TestPki;
before(() => {
  first = createTestPki();
  second = createTestPki();
});
after(() => {
  first.remove();
  second.remove();
});

function tlsBlock(pki: TestPki, extra = ''): string {
  return `tls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}", ca_file: "${pki.caFile}"${extra} }\n`;
}

/** A nats.js TLS client trusting `pki`'s CA, with its client certificate when `withCert`. */
function tlsClient(port: number, pki: TestPki, withCert: boolean): Promise<NatsConnection> {
  const cert = withCert ? { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } : {};
  return connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false, timeout: 3000, tls: { caFile: pki.caFile, ...cert } });
}

const outcome = (attempt: Promise<NatsConnection>): Promise<string> =>
  attempt.then(
    async (nc) => {
      await nc.close();
      return 'connected';
    },
    () => 'refused',
  );

/** The INFO a new connection gets, without the fields that differ between brokers anyway. */
async function infoKeys(port: number): Promise<string[]> {
  const raw = await RawClient.connect(port);
  await raw.close();
  return Object.keys(raw.info);
}

test('reload: new certificates, CA and verify apply to new connections; connected TLS clients keep theirs', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { actual: ours, expected: theirs } = await onBothBrokers(tlsBlock(first), async (broker) => {
    const old = await tlsClient(broker.port, first, false);
    const got = signal<string>();
    old.subscribe('kept', { callback: (_err, msg) => got.resolve(msg.string()) });
    await old.flush();
    await broker.reload(tlsBlock(second, ', verify: true'));
    const seen = {
      info: await infoKeys(broker.port),
      oldCa: await outcome(tlsClient(broker.port, first, false)),
      newCaNoCert: await outcome(tlsClient(broker.port, second, false)),
      newCaAndCert: 'refused',
      oldConnection: '',
    };
    const fresh = await tlsClient(broker.port, second, true);
    seen.newCaAndCert = 'connected';
    fresh.publish('kept', 'over the old connection');
    seen.oldConnection = await within(got.promise, GUARD_MS, 'the message to the client connected before the reload');
    await Promise.all([old.close(), fresh.close()]);
    return seen;
  });
  assert.deepEqual(ours, theirs);
  assert.deepEqual({ ...ours, info: ours.info.filter((key) => key.startsWith('tls_')) }, {
    info: ['tls_required', 'tls_verify'],
    oldCa: 'refused',
    newCaNoCert: 'refused',
    newCaAndCert: 'connected',
    oldConnection: 'over the old connection',
  });
});

test('reload: with verify_and_map, a client whose certificate user is removed is closed (without a word, as in nats-server); the mapping itself does not reload', { timeout: TEST_TIMEOUT_MS }, async () => {
  const users = (...names: string[]): string => `authorization { users = [ ${names.map((name) => `{user: "${name}"}`).join(', ')} ] }\n`;
  const mapped = (...names: string[]): string => tlsBlock(first, ', verify_and_map: true') + users(...names);
  const { actual: ours, expected: theirs } = await onBothBrokers(mapped('alice@example.com', 'bob'), async (broker) => {
    const alice = await tlsClient(broker.port, first, true);
    const closed = alice.closed();
    const unmapping = await broker.reload(tlsBlock(first, ', verify: true') + users('alice@example.com', 'bob')).then(
      () => 'reloaded',
      (error: Error) => error.message.replace(/TLSMap/, 'tls verify_and_map'),
    );
    await alice.flush();
    await broker.reload(mapped('bob'));
    return [unmapping, String(await within(closed, GUARD_MS, 'the client whose user is gone to be closed'))];
  });
  assert.deepEqual(ours, theirs);
  assert.equal(ours[0], 'config reload not supported for tls verify_and_map: old=true, new=false');
  assert.equal(ours[1], 'undefined', 'closed without an error');
});

test('reload: TLS turned off then on again; INFO follows and connected clients stay', { timeout: TEST_TIMEOUT_MS }, async () => {
  const broker = await startNatriumWithConf(tlsBlock(first, ', verify: true'));
  try {
    const secure = await tlsClient(broker.port, first, true);
    await broker.reload('debug: false\n');
    const plain = await RawClient.connect(broker.port);
    // nats-server 2.9 leaves a stale tls_verify here; Natrium drops both fields.
    assert.deepEqual([plain.info.tls_required, plain.info.tls_verify], [undefined, undefined]);
    const got = signal<string>();
    secure.subscribe('mixed', { callback: (_err, msg) => got.resolve(msg.string()) });
    await secure.flush();
    await plain.send('CONNECT {"verbose":false}\r\nPUB mixed 5\r\nplain\r\nPING\r\n');
    await plain.readUntil('PONG\r\n');
    assert.equal(await within(got.promise, GUARD_MS, 'plaintext to TLS'), 'plain');

    await broker.reload(tlsBlock(first));
    const reference = await startReferenceWithConf(tlsBlock(first));
    try {
      assert.deepEqual(await infoKeys(broker.port), await infoKeys(reference.port), 'INFO fields where nats-server has them');
    } finally {
      await reference.close();
    }
    const refused = await RawClient.connect(broker.port);
    await refused.send('CONNECT {}\r\nPING\r\n');
    assert.equal((await refused.expectClosed()).length, 0, 'a plaintext client gets nothing after INFO');
    await exchangeOver(plain, secure);
    await Promise.all([plain.close(), secure.close()]);
  } finally {
    await broker.close();
  }
});

/** The connections from before the reloads still talk to each other. */
async function exchangeOver(plain: RawClient, secure: NatsConnection): Promise<void> {
  await plain.send('SUB back 1\r\nPING\r\n');
  await plain.readUntil('PONG\r\n');
  secure.publish('back', 'tls');
  await secure.flush();
  assert.match((await plain.readUntil('tls\r\n')).toString(), /^MSG back 1 3\r\ntls\r\n$/);
}

test('reload: unusable certificate files are refused with nats-server\'s message and change nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const config: TlsConfig = { certFile: first.certFile, keyFile: first.keyFile, caFile: first.caFile, verify: false, verifyAndMap: false, timeout: 2000 };
  const server = await startTestServer({ tls: config });
  try {
    await assert.rejects(server.reload({ tls: { ...config, certFile: `${first.dir}/missing.pem` } }), /error parsing X509 certificate\/key pair: open .*missing\.pem: no such file or directory/);
    assert.equal(await outcome(tlsClient(server.port, first, false)), 'connected');
  } finally {
    await server.close();
  }
});

/** Whether a TLS handshake on `port`, trusting `pki`'s CA, succeeds (the websocket port starts with TLS). */
function handshake(port: number, pki: TestPki): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.caFile), servername: 'localhost' });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('secure');
    });
    socket.once('error', () => resolve('refused'));
  });
}

test('reload: the websocket TLS block changes for new connections; turning it off is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
  const tlsOf = (pki: TestPki): TlsConfig => ({ certFile: pki.certFile, keyFile: pki.keyFile, caFile: null, verify: false, verifyAndMap: false, timeout: 2000 });
  const websocket: WebSocketConfig = { host: '127.0.0.1', port: -1, noTls: false, tls: tlsOf(first), compression: false, handshakeTimeout: 2000 };
  const server = await startTestServer({ websocket });
  try {
    const port = Number(new URL(server.websocketUrl!).port);
    const open = await new Promise<net.Socket>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(first.caFile), servername: 'localhost' }, () => resolve(socket));
    });
    await server.reload({ websocket: { ...websocket, tls: tlsOf(second) } });
    assert.deepEqual([await handshake(port, first), await handshake(port, second)], ['refused', 'secure']);
    assert.equal(open.destroyed, false, 'the connection made before the reload is kept');
    open.destroy();
    await assert.rejects(server.reload({ websocket: { ...websocket, noTls: true, tls: null } }), /config reload not supported for websocket/);
  } finally {
    await server.close();
  }
});
