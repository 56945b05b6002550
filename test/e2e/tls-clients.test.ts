/**
 * TLS on the client port, end to end: INFO in plaintext with tls_required (and tls_verify), then
 * the handshake, as nats-server 2.9 does it (checked against the real nats-server); the nats.js
 * client over TLS with and without client certificates; rejections (no certificate, a certificate
 * from another CA, plaintext, a silent client past the timeout) close only the offending connection.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import type { TlsConfig } from '../../src/transport/config.js';
import { createTestPki, type TestPki } from '../helpers/certs.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, TEST_WORKERS } from '../helpers/server.js';
import { signal, within } from './broker.js';

const GUARD_MS = 10_000;
const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

function tlsConfig(overrides: Partial<TlsConfig> = {}): TlsConfig {
  return { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, verify: false, verifyAndMap: false, timeout: 2000, ...overrides };
}

function tlsClient(url: string, withCert: 'alice' | 'stranger' | 'none'): Promise<NatsConnection> {
  const files =
    withCert === 'alice'
      ? { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile }
      : withCert === 'stranger'
        ? { certFile: pki.strangerCertFile, keyFile: pki.strangerKeyFile }
        : {};
  return connect({ servers: url, reconnect: false, timeout: 3000, tls: { caFile: pki.caFile, ...files } });
}

/** Plaintext INFO, then `tls.connect` on the same socket, as NATS clients upgrade. */
async function rawTlsSession(port: number, cert: boolean): Promise<{ info: Record<string, unknown>; reply: string }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const infoLine = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (!seen.includes('\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      resolve(seen);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  assert.ok(infoLine.endsWith(' \r\n'), 'nothing but INFO before the handshake');
  const options = { socket, ca: readFileSync(pki.caFile), servername: 'localhost' };
  const secure = tls.connect(cert ? { ...options, cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile) } : options);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  secure.write('CONNECT {"verbose":true}\r\nPING\r\n');
  let reply = '';
  await within(
    new Promise<void>((resolve) =>
      secure.on('data', (chunk: Buffer) => {
        reply += chunk.toString('latin1');
        if (reply.includes('PONG\r\n')) resolve();
      }),
    ),
    GUARD_MS,
    'PONG over TLS',
  );
  secure.destroy();
  return { info: JSON.parse(infoLine.slice(5, -3)) as Record<string, unknown>, reply };
}

test('INFO in plaintext with tls_required and tls_verify where nats-server puts them, then the handshake', { timeout: TEST_TIMEOUT_MS }, async () => {
  const config = tlsConfig({ verify: true });
  const ours = await startTestServer({ tls: config });
  const reference = await startNatsServer({ tls: config });
  try {
    const mine = await rawTlsSession(ours.port, true);
    const theirs = await rawTlsSession(reference.port, true);
    assert.deepEqual(Object.keys(mine.info), Object.keys(theirs.info));
    assert.equal(mine.info.tls_required, true);
    assert.equal(mine.info.tls_verify, true);
    assert.equal(mine.reply, '+OK\r\nPONG\r\n');
    assert.equal(theirs.reply, mine.reply);
  } finally {
    await Promise.all([ours.close(), reference.close()]);
  }
});

test('without verify: no tls_verify, clients need no certificate; TLS clients on every worker exchange messages', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ tls: tlsConfig({ timeout: 1500 }), httpPort: -1 });
  const clients: NatsConnection[] = [];
  try {
    const raw = await RawClient.connect(server.port);
    assert.equal(raw.info.tls_required, true);
    assert.equal(raw.info.tls_verify, undefined);
    await raw.close();
    const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as Record<string, unknown>;
    assert.deepEqual([varz.tls_required, varz.tls_verify, varz.tls_timeout], [true, undefined, 1.5], '/varz as nats-server shows TLS');
    // Consecutive connections go to the least loaded worker: one per worker at least.
    for (let i = 0; i < TEST_WORKERS + 1; i++) clients.push(await tlsClient(server.url, 'none'));
    const got = clients.map(() => signal<string>());
    clients.forEach((nc, i) => nc.subscribe('tls.all', { callback: (_err, msg) => got[i].resolve(untext.decode(msg.data)) }));
    await Promise.all(clients.map((nc) => nc.flush()));
    clients[0].publish('tls.all', text.encode('secret'));
    assert.deepEqual(await within(Promise.all(got.map((g) => g.promise)), GUARD_MS, 'every TLS client gets it'), clients.map(() => 'secret'));
    const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as { connections: Record<string, unknown>[] };
    assert.equal(connz.connections.length, clients.length);
    for (const c of connz.connections) {
      assert.equal(c.tls_version, '1.3', '/connz shows TLS as nats-server does');
      assert.match(String(c.tls_cipher_suite), /^TLS_[A-Z0-9_]+$/);
    }
    const reply = await clients[clients.length - 1].request('tls.echo.none', undefined, { timeout: 1000 }).catch((error: Error) => error.message);
    assert.match(String(reply), /503|no responders/i);
  } finally {
    await Promise.all(clients.map((nc) => nc.close()));
    await server.close();
  }
});

test('verify: a certificate from ca_file is accepted; none, or one from another CA, is refused without disturbing others', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ tls: tlsConfig({ verify: true }) });
  const [sub, pub] = [await tlsClient(server.url, 'alice'), await tlsClient(server.url, 'alice')];
  let publishing = true;
  let received = 0;
  let traffic: Promise<void> = Promise.resolve();
  try {
    const last = signal<void>();
    sub.subscribe('steady', {
      callback: (_err, msg) => {
        received++;
        if (msg.data.length === 1) last.resolve();
      },
    });
    await sub.flush();
    traffic = (async () => {
      while (publishing) {
        for (let i = 0; i < 50; i++) pub.publish('steady', text.encode('tick'));
        await pub.flush();
      }
    })();
    await assert.rejects(tlsClient(server.url, 'none'), 'a client without a certificate is refused');
    await assert.rejects(tlsClient(server.url, 'stranger'), 'a certificate from another CA is refused');
    publishing = false;
    await traffic;
    pub.publish('steady', text.encode('.'));
    await within(last.promise, GUARD_MS, 'the steady traffic to finish');
    assert.ok(received > 1, 'messages kept flowing during the rejections');
    assert.equal(sub.isClosed() || pub.isClosed(), false);
  } finally {
    publishing = false;
    await traffic;
    await Promise.all([sub.close(), pub.close()]);
    await server.close();
  }
});

test('a plaintext client gets INFO and is closed, with nothing more, as by nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ours = await startTestServer({ tls: tlsConfig() });
  const reference = await startNatsServer({ tls: tlsConfig() });
  try {
    for (const port of [ours.port, reference.port]) {
      const raw = await RawClient.connect(port);
      const infoLength = raw.received.length;
      await raw.send('CONNECT {}\r\nPING\r\n');
      await raw.expectClosed();
      assert.equal(raw.received.length, infoLength, `port ${port}: only the INFO line was sent`);
    }
  } finally {
    await Promise.all([ours.close(), reference.close()]);
  }
});

test('a client that never starts the handshake is closed after tls.timeout', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ tls: tlsConfig({ timeout: 300 }) });
  try {
    const raw = await RawClient.connect(server.port);
    const infoLength = raw.received.length;
    const started = Date.now();
    await raw.expectClosed();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 5000, `closed after ${elapsed} ms`);
    assert.equal(raw.received.length, infoLength);
  } finally {
    await server.close();
  }
});

test('verify_and_map: the certificate names the user (alternative names, then the subject as a DN in any RDN order), as nats-server maps it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const carol = pki.issueClient('carol', '/DC=org/DC=example/O=Acme+OU=Dev/CN=carol', 'DNS:carol.example,URI:spiffe://acme/carol');
  const alice = { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile };
  const cases: { user: string; password?: string; cert: typeof alice; connect?: { user?: string; pass?: string }; accepted: boolean; why: string }[] = [
    { user: 'alice@example.com', cert: alice, accepted: true, why: 'email SAN' },
    { user: 'carol.example', cert: carol, accepted: true, why: 'DNS SAN' },
    { user: 'spiffe://acme/carol', cert: carol, accepted: true, why: 'URI SAN' },
    { user: 'CN=alice,OU=Test,O=Natrium,C=US', cert: alice, accepted: true, why: 'the subject' },
    { user: 'C=US,O=Natrium,OU=Test,CN=alice', cert: alice, accepted: true, why: 'the subject with its RDNs in another order' },
    { user: 'cn=alice, ou=Test,o=Natrium,c=US', cert: alice, accepted: true, why: 'attribute types in lower case, spaces after commas' },
    { user: 'CN=alice,OU=Test,O=Natrium', cert: alice, accepted: false, why: 'an RDN missing' },
    { user: 'CN=Alice,OU=Test,O=Natrium,C=US', cert: alice, accepted: false, why: 'values are compared exactly' },
    { user: 'DC=org,DC=example,OU=Dev+O=Acme,CN=carol', cert: carol, accepted: true, why: 'a multi-valued RDN, any order' },
    { user: 'CN=carol,O=Acme,OU=Dev,DC=example,DC=org', cert: carol, accepted: false, why: 'a multi-valued RDN is not two RDNs' },
    { user: 'CN=carol,OU=Dev,O=Acme,DC=org,DC=example', cert: carol, accepted: true, why: "Go's subject string with the domain components appended" },
    { user: 'CN=carol,OU=Dev,O=Acme', cert: carol, accepted: true, why: "Go's subject string (without domain components)" },
    { user: 'bob', cert: alice, accepted: false, why: 'no user for this certificate' },
    { user: 'bob', cert: alice, connect: { user: 'bob' }, accepted: false, why: 'the CONNECT user does not replace the certificate' },
    { user: 'alice@example.com', password: 'x', cert: alice, accepted: false, why: 'the mapped user has a password' },
    { user: 'alice@example.com', password: 'x', cert: alice, connect: { user: 'bob', pass: 'x' }, accepted: true, why: "the password is checked against the mapped user's" },
  ];
  const verdict = (url: string, { cert, connect: credentials }: (typeof cases)[number]): Promise<string> =>
    connect({ servers: url, reconnect: false, timeout: 3000, ...credentials, tls: { caFile: pki.caFile, ...cert } }).then(
      async (nc) => {
        const info = [nc.info?.tls_verify, nc.info?.auth_required];
        await nc.close();
        return `accepted ${info.join()}`;
      },
      (error: Error) => error.message,
    );
  for (const entry of cases) {
    const authorization = { token: '', user: '', password: '', users: [{ user: entry.user, password: entry.password ?? '', nkey: '', permissions: null }] };
    // With verify_and_map alone, nats-server 2.9.10 now and then finds no peer certificate
    // ("User required in cert, no peer certificates found"); with verify too it never does.
    const config = tlsConfig({ verify: true, verifyAndMap: true });
    const [ours, reference] = await Promise.all([startTestServer({ tls: config, authorization }), startNatsServer({ tls: config, authorization })]);
    try {
      const mine = await verdict(ours.url, entry);
      assert.equal(mine, entry.accepted ? 'accepted true,true' : "'Authorization Violation'", entry.why);
      assert.equal(await verdict(reference.url, entry), mine, `${entry.why}: nats-server agrees`);
      // A client without a certificate never gets as far as authentication.
      await assert.rejects(tlsClient(ours.url, 'none'), entry.why);
    } finally {
      await Promise.all([ours.close(), reference.close()]);
    }
  }
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function monitor(url: string | undefined, path: string): Promise<Json> {
  return (await fetch(`${url}${path}`)).json() as Promise<Json>;
}

/** Re-reads a monitoring endpoint until `accept` holds (the broker learns of closes asynchronously). */
async function monitorUntil(url: string | undefined, path: string, accept: (body: Json) => boolean): Promise<Json> {
  return within(
    (async () => {
      for (;;) {
        const body = await monitor(url, path);
        if (accept(body)) return body;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    GUARD_MS,
    `${path} to reach the expected state`,
  );
}

/**
 * Where a broker's counts stand once it has no connection (nats-server's readiness probe, a
 * plaintext connection, ends as a failed handshake), and the closed connections that came after.
 */
async function since(url: string | undefined): Promise<{ total: number; closed: number; newClosed(connz: Json): Json[] }> {
  const varz = await monitorUntil(url, '/varz', (v) => v.connections === 0);
  const closed = await monitor(url, '/connz?state=closed');
  const old = new Set(closed.connections.map((c: Json) => c.cid));
  return { total: varz.total_connections, closed: closed.total, newClosed: (connz) => connz.connections.filter((c: Json) => !old.has(c.cid)) };
}

test('a TLS client is a connection from its INFO on, and a failed handshake is kept as TLS Handshake Failure on every worker, as by nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const config = tlsConfig({ verify: true, timeout: 1000 });
  const ours = await startTestServer({ tls: config, httpPort: -1 });
  const reference = await startNatsServer({ tls: config, httpPort: -1 });
  const silentCount = TEST_WORKERS + 1;
  const failures = silentCount + 2;
  try {
    const seen: Json[] = [];
    for (const broker of [{ port: ours.port, monitorUrl: ours.monitorUrl }, reference]) {
      // The reference's readiness probe is a failed handshake already: count from here.
      const before = await since(broker.monitorUrl);
      // Clients that never start the handshake: open until the timeout, one per worker at least.
      const silent: RawClient[] = [];
      for (let i = 0; i < silentCount; i++) silent.push(await RawClient.connect(broker.port));
      const handshaking = await monitor(broker.monitorUrl, '/connz');
      const varzDuring = await monitor(broker.monitorUrl, '/varz');
      const plaintext = await RawClient.connect(broker.port);
      await plaintext.send('CONNECT {}\r\nPING\r\n');
      await plaintext.expectClosed();
      await assert.rejects(tlsClient(`nats://127.0.0.1:${broker.port}`, 'none'), 'no client certificate');
      await Promise.all(silent.map((raw) => raw.expectClosed(GUARD_MS)));
      const closed = before.newClosed(await monitorUntil(broker.monitorUrl, '/connz?state=closed', (c) => c.total === before.closed + failures));
      const varz = await monitor(broker.monitorUrl, '/varz');
      varzDuring.total_connections -= before.total;
      varz.total_connections -= before.total;
      seen.push({ handshaking, varzDuring, closed, varz });
    }
    const [mine, theirs] = seen;
    for (const view of seen) {
      assert.equal(view.handshaking.total, silentCount, 'listed during the handshake');
      assert.deepEqual([view.varzDuring.connections, view.varzDuring.total_connections], [silentCount, silentCount]);
      assert.deepEqual(view.closed.map((c: Json) => c.reason), Array(failures).fill('TLS Handshake Failure'));
      assert.deepEqual([view.varz.connections, view.varz.total_connections], [0, failures]);
    }
    const keys = (connections: Json[]): string[][] => connections.map((c: Json) => Object.keys(c));
    assert.deepEqual(keys(mine.handshaking.connections), keys(theirs.handshaking.connections), 'the same fields while handshaking');
    assert.deepEqual(keys(mine.closed), keys(theirs.closed), 'the same fields once failed');
    // Not pending_bytes: nats-server's entry for the plaintext client counts the -ERR it queued and
    // never sent ('Secure Connection - TLS Required'); nothing is queued for Natrium's.
    const figures = (c: Json) => [c.kind, c.type, c.ip, c.rtt, c.in_msgs, c.out_msgs, c.in_bytes, c.out_bytes, c.subscriptions, c.start === c.last_activity];
    assert.deepEqual(mine.closed.map(figures), theirs.closed.map(figures));
    assert.ok(mine.closed.every((c: Json) => c.pending_bytes === 0));
    const workerz = await monitor(ours.monitorUrl, '/workerz');
    assert.ok(workerz.workers.every((w: Json) => w.total_connections >= 1), 'failures on every worker');
  } finally {
    await Promise.all([ours.close(), reference.close()]);
  }
});

test('/connz auth=1 lists the client certificates (tls_peer_certs) as nats-server does', { timeout: TEST_TIMEOUT_MS }, async () => {
  const config = tlsConfig({ verify: true });
  const ours = await startTestServer({ tls: config, httpPort: -1 });
  const reference = await startNatsServer({ tls: config, httpPort: -1 });
  try {
    const seen: Json[] = [];
    for (const broker of [ours, reference]) {
      const before = await since(broker.monitorUrl);
      const nc = await tlsClient(`nats://127.0.0.1:${broker.port}`, 'alice');
      const withAuth = (await monitor(broker.monitorUrl, '/connz?auth=1')).connections[0];
      const without = (await monitor(broker.monitorUrl, '/connz')).connections[0];
      await nc.close();
      const [closed] = before.newClosed(await monitorUntil(broker.monitorUrl, '/connz?state=closed&auth=1', (c) => c.total === before.closed + 1));
      seen.push({ certs: withAuth.tls_peer_certs, keys: Object.keys(withAuth), without: without.tls_peer_certs, closed: closed.tls_peer_certs });
    }
    assert.deepEqual(seen[0], seen[1]);
    // nats.js sends its certificate and the CA it was given.
    assert.deepEqual(seen[0].certs.map((c: Json) => c.subject), ['CN=alice,OU=Test,O=Natrium,C=US', 'CN=ca']);
    assert.equal(seen[0].without, undefined);
    assert.equal(seen[0].closed, undefined);
  } finally {
    await Promise.all([ours.close(), reference.close()]);
  }
});

test('over max_connections the -ERR comes in plaintext after INFO, before any handshake, as by nats-server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ours = await startTestServer({ tls: tlsConfig(), maxConnections: 1 });
  const reference = await startNatsServer({ tls: tlsConfig(), maxConnections: 1 });
  const holders: NatsConnection[] = [];
  try {
    const replies: string[] = [];
    for (const broker of [ours, reference]) {
      holders.push(await tlsClient(`nats://127.0.0.1:${broker.port}`, 'none'));
      const raw = await RawClient.connect(broker.port);
      await raw.expectClosed();
      replies.push(raw.received.subarray(raw.infoLine.length + 2).toString('latin1'));
    }
    assert.deepEqual(replies, ["-ERR 'maximum connections exceeded'\r\n", "-ERR 'maximum connections exceeded'\r\n"]);
  } finally {
    await Promise.all(holders.map((nc) => nc.close()));
    await Promise.all([ours.close(), reference.close()]);
  }
});
