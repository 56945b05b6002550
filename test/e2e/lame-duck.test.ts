/**
 * Lame-duck mode (nats-server SIGUSR2 / --signal ldm): clients are told with INFO ldm:true, no new
 * connection is accepted, and after the grace period the clients are closed one after another over
 * the lame-duck duration; then the server stops.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

const GRACE_MS = 300;
const DURATION_MS = 1500;
const CLIENTS = 8;

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

test('lame duck: INFO ldm to every client, no new connections, gradual close, then shutdown', async () => {
  const server = await startTestServer({ lameDuckGracePeriod: GRACE_MS, lameDuckDuration: DURATION_MS });
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => RawClient.connect(server.port)));
  for (const client of clients) {
    await client.send('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n');
    await client.readUntil('PONG\r\n');
  }
  const started = performance.now();
  const stopped = server.lameDuck();

  const closedAt: number[] = [];
  await Promise.all(
    clients.map(async (client) => {
      const line = (await client.readUntil('\r\n')).toString();
      assert.match(line, /^INFO \{.*\} \r\n$/);
      const info = JSON.parse(line.slice(5, -3));
      assert.equal(info.ldm, true);
      assert.equal(info.client_id, client.info.client_id);
      assert.equal(info.server_id, server.serverId);
      await client.expectClosed(DURATION_MS + 5000);
      closedAt.push(performance.now() - started);
    }),
  );
  assert.notEqual(await connectError(server.port), 'connected', 'no new connection during lame duck');
  await stopped;
  closedAt.sort((a, b) => a - b);
  assert.ok(closedAt[0] >= GRACE_MS - 20, `first close after the grace period (${closedAt[0]} ms)`);
  const spread = DURATION_MS - GRACE_MS;
  // Each worker spreads its own clients over the duration, so at least half of it separates first and last.
  assert.ok(closedAt[CLIENTS - 1] - closedAt[0] >= spread / 2 - 50, `closes spread out: ${closedAt.map(Math.round).join(', ')}`);
  assert.ok(closedAt[CLIENTS - 1] <= DURATION_MS + 1000, `all closed within the duration: ${closedAt.map(Math.round).join(', ')}`);
  assert.equal(await connectError(server.port), 'ECONNREFUSED');
});

test('lame duck with no clients stops at once', async () => {
  const server = await startTestServer({ lameDuckGracePeriod: 60_000, lameDuckDuration: 120_000 });
  const started = performance.now();
  await server.lameDuck();
  assert.ok(performance.now() - started < 5000);
  assert.equal(await connectError(server.port), 'ECONNREFUSED');
});
