/**
 * WebSocket clients end to end: raw frames (binary out, ops spanning frames in), the nats.ws client
 * from Node (the `ws` package as its global WebSocket) talking with TCP clients of the nats client,
 * wss:// with the websocket's own TLS block, permessage-deflate, and bad handshakes that leave
 * the other clients alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { connect as connectTcp, type NatsConnection } from 'nats';
import { WebSocket } from 'ws';
import type { WebSocketConfig } from '../../src/transport/config.js';
import { createTestPki, type TestPki } from '../helpers/certs.js';
import { startTestServer, TEST_WORKERS } from '../helpers/server.js';
import { signal, within } from './broker.js';

const GUARD_MS = 10_000;
const TEST_TIMEOUT_MS = 60_000;
const text = new TextEncoder();
const untext = new TextDecoder();

let pki: TestPki;
let natsWs: typeof import('nats.ws');
before(async () => {
  pki = createTestPki();
  // nats.ws uses the platform's WebSocket; Node 20 has none, the `ws` package stands in.
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
  natsWs = await import('nats.ws');
});
after(() => pki.remove());

function plainWebSocket(overrides: Partial<WebSocketConfig> = {}): WebSocketConfig {
  return { host: '127.0.0.1', port: -1, noTls: true, tls: null, compression: false, handshakeTimeout: 2000, ...overrides };
}

/** A raw WebSocket client that records every message and whether it was binary. */
class RawWs {
  received = '';
  allBinary = true;
  private readonly waiters = new Set<() => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.allBinary &&= isBinary;
      this.received += data.toString('latin1');
      for (const wake of this.waiters) wake();
    });
    ws.on('close', () => {
      for (const wake of this.waiters) wake();
    });
  }

  static async open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<RawWs> {
    const ws = new WebSocket(url, options);
    const raw = new RawWs(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return raw;
  }

  until(needle: string): Promise<string> {
    return within(
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          if (this.received.includes(needle)) {
            this.waiters.delete(check);
            resolve(this.received);
          } else if (this.ws.readyState === WebSocket.CLOSED) {
            this.waiters.delete(check);
            reject(new Error(`closed before ${JSON.stringify(needle)}; got ${JSON.stringify(this.received)}`));
          }
        };
        this.waiters.add(check);
        check();
      }),
      GUARD_MS,
      `${JSON.stringify(needle)} over WebSocket (got ${JSON.stringify(this.received)})`,
    );
  }
}

test('raw frames: INFO as a binary message, protocol ops split across frames, replies binary', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ websocket: plainWebSocket() });
  try {
    assert.match(server.websocketUrl ?? '', /^ws:\/\/127\.0\.0\.1:\d+$/);
    const raw = await RawWs.open(server.websocketUrl!);
    const infoText = await raw.until('\r\n');
    const info = JSON.parse(infoText.slice(5, infoText.indexOf('\r\n') - 1)) as Record<string, unknown>;
    assert.equal(info.port, server.port, 'INFO names the client port, as nats-server');
    assert.equal(info.headers, true);
    raw.received = '';
    for (const frame of ['CONNECT {"verbose":false}\r\nSUB ws.a 1\r\nPU', 'B ws.a 5\r\nhel', 'lo\r\nPI', 'NG\r\n']) raw.ws.send(Buffer.from(frame));
    assert.equal(await raw.until('PONG\r\n'), 'MSG ws.a 1 5\r\nhello\r\nPONG\r\n');
    // A text frame carries protocol bytes as well.
    raw.ws.send('PING\r\n');
    await raw.until('PONG\r\nPONG\r\n');
    assert.ok(raw.allBinary, 'every server message is a binary frame');
    raw.ws.close();
  } finally {
    await server.close();
  }
});

test('nats.ws and TCP clients see each other: publish both ways, request/reply across transports', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ websocket: plainWebSocket() });
  const wsClients = await Promise.all(Array.from({ length: TEST_WORKERS }, () => natsWs.connect({ servers: server.websocketUrl!, reconnect: false })));
  const tcp: NatsConnection = await connectTcp({ servers: server.url, reconnect: false });
  try {
    const fromTcp = wsClients.map(() => signal<string>());
    wsClients.forEach((nc, i) => nc.subscribe('mixed.to-ws', { callback: (_err, msg) => fromTcp[i].resolve(untext.decode(msg.data)) }));
    const fromWs = signal<string>();
    tcp.subscribe('mixed.to-tcp', { callback: (_err, msg) => fromWs.resolve(untext.decode(msg.data)) });
    tcp.subscribe('mixed.service', { callback: (_err, msg) => msg.respond(text.encode(`tcp answers ${untext.decode(msg.data)}`)) });
    await Promise.all([...wsClients.map((nc) => nc.flush()), tcp.flush()]);
    tcp.publish('mixed.to-ws', text.encode('from tcp'));
    wsClients[0].publish('mixed.to-tcp', text.encode('from ws'));
    assert.deepEqual(await within(Promise.all(fromTcp.map((s) => s.promise)), GUARD_MS, 'ws subscribers'), wsClients.map(() => 'from tcp'));
    assert.equal(await within(fromWs.promise, GUARD_MS, 'tcp subscriber'), 'from ws');
    const reply = await wsClients[wsClients.length - 1].request('mixed.service', text.encode('ping'), { timeout: GUARD_MS });
    assert.equal(untext.decode(reply.data), 'tcp answers ping');
    // A payload larger than any single read: one message, many frames and TCP segments.
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const gotBig = signal<Uint8Array>();
    tcp.subscribe('mixed.big', { callback: (_err, msg) => gotBig.resolve(msg.data) });
    await tcp.flush();
    wsClients[0].publish('mixed.big', big);
    assert.deepEqual(await within(gotBig.promise, GUARD_MS, 'big message'), big);
  } finally {
    await Promise.all([...wsClients.map((nc) => nc.close()), tcp.close()]);
    await server.close();
  }
});

test('wss:// with the websocket tls block; the client port stays plain', { timeout: TEST_TIMEOUT_MS }, async () => {
  const tlsConfig = { certFile: pki.certFile, keyFile: pki.keyFile, caFile: null, verify: false, verifyAndMap: false, timeout: 2000 };
  const server = await startTestServer({ websocket: plainWebSocket({ noTls: false, tls: tlsConfig }) });
  const ca = readFileSync(pki.caFile);
  const previous = (globalThis as { WebSocket?: unknown }).WebSocket;
  // nats.ws constructs `new WebSocket(url)`: this one trusts the test CA.
  (globalThis as { WebSocket?: unknown }).WebSocket = class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  };
  try {
    assert.match(server.websocketUrl ?? '', /^wss:\/\//);
    const nc = await natsWs.connect({ servers: server.websocketUrl!, reconnect: false });
    const tcp = await connectTcp({ servers: server.url, reconnect: false });
    const got = signal<string>();
    nc.subscribe('secure.ws', { callback: (_err, msg) => got.resolve(untext.decode(msg.data)) });
    await nc.flush();
    tcp.publish('secure.ws', text.encode('over wss'));
    assert.equal(await within(got.promise, GUARD_MS, 'message over wss'), 'over wss');
    await Promise.all([nc.close(), tcp.close()]);
    // A plain ws:// client cannot talk to the wss:// port.
    await assert.rejects(RawWs.open(server.websocketUrl!.replace('wss:', 'ws:')));
  } finally {
    (globalThis as { WebSocket?: unknown }).WebSocket = previous;
    await server.close();
  }
});

test('compression: permessage-deflate negotiated only when configured; messages round-trip', { timeout: TEST_TIMEOUT_MS }, async () => {
  for (const compression of [true, false]) {
    const server = await startTestServer({ websocket: plainWebSocket({ compression }), httpPort: -1 });
    try {
      const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { websocket: Record<string, unknown> };
      const port = Number(new URL(server.websocketUrl!).port);
      assert.deepEqual(varz.websocket, compression ? { host: '127.0.0.1', port, no_tls: true, compression: true } : { host: '127.0.0.1', port, no_tls: true });
      const raw = await RawWs.open(server.websocketUrl!, { perMessageDeflate: true });
      assert.equal(raw.ws.extensions.includes('permessage-deflate'), compression, `extensions ${JSON.stringify(raw.ws.extensions)}`);
      await raw.until('\r\n');
      raw.received = '';
      const payload = 'z'.repeat(20_000);
      raw.ws.send(Buffer.from(`CONNECT {"verbose":false}\r\nSUB zip 1\r\nPUB zip ${payload.length}\r\n${payload}\r\nPING\r\n`));
      assert.equal(await raw.until('PONG\r\n'), `MSG zip 1 ${payload.length}\r\n${payload}\r\nPONG\r\n`);
      const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as { connections: Record<string, unknown>[] };
      assert.deepEqual(connz.connections.map((c) => [c.type, c.tls_version]), [['websocket', undefined]], 'the connection type nats-server shows');
      raw.ws.close();
    } finally {
      await server.close();
    }
  }
});

test('a plain HTTP request gets 400, a silent connection is closed after handshake_timeout; others unaffected', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startTestServer({ websocket: plainWebSocket({ handshakeTimeout: 300 }) });
  const nc = await natsWs.connect({ servers: server.websocketUrl!, reconnect: false });
  try {
    const port = Number(new URL(server.websocketUrl!).port);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('sec-websocket-version'), '13', 'as nats-server answers');
    assert.equal(await response.text(), 'Bad Request\n');
    const silent = net.connect({ host: '127.0.0.1', port });
    const started = Date.now();
    await within(new Promise((resolve) => silent.once('close', resolve)), GUARD_MS, 'the silent connection to be closed');
    assert.ok(Date.now() - started >= 250, 'closed by the handshake timeout');
    const echo = signal<string>();
    nc.subscribe('still.here', { callback: (_err, msg) => echo.resolve(untext.decode(msg.data)) });
    nc.publish('still.here', text.encode('yes'));
    assert.equal(await within(echo.promise, GUARD_MS, 'the established client'), 'yes');
  } finally {
    await nc.close();
    await server.close();
  }
});

test('the same authentication as TCP: nats.ws with the right password in, a wrong one refused with -ERR', { timeout: TEST_TIMEOUT_MS }, async () => {
  const authorization = { token: '', user: '', password: '', users: [{ user: 'web', password: 's3cret', nkey: '', permissions: null }] };
  const server = await startTestServer({ websocket: plainWebSocket(), authorization });
  try {
    const nc = await natsWs.connect({ servers: server.websocketUrl!, reconnect: false, user: 'web', pass: 's3cret' });
    assert.equal(nc.info?.auth_required, true);
    const tcp = await connectTcp({ servers: server.url, reconnect: false, user: 'web', pass: 's3cret' });
    const got = signal<string>();
    tcp.subscribe('auth.ws', { callback: (_err, msg) => got.resolve(untext.decode(msg.data)) });
    await tcp.flush();
    nc.publish('auth.ws', text.encode('authenticated over ws'));
    assert.equal(await within(got.promise, GUARD_MS, 'the authenticated ws message'), 'authenticated over ws');
    await assert.rejects(natsWs.connect({ servers: server.websocketUrl!, reconnect: false, user: 'web', pass: 'wrong' }), /Authorization Violation/);
    const raw = await RawWs.open(server.websocketUrl!);
    await raw.until('\r\n');
    raw.ws.send(Buffer.from('CONNECT {"verbose":false,"user":"web","pass":"nope"}\r\nPING\r\n'));
    assert.match(await raw.until("-ERR 'Authorization Violation'\r\n"), /-ERR 'Authorization Violation'\r\n$/);
    await Promise.all([nc.close(), tcp.close()]);
  } finally {
    await server.close();
  }
});
