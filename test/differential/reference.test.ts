/**
 * The reference runner itself: a missing nats-server is a failure that says how to install it, and
 * the options given to it reach the reference broker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { natsServerConfig, startNatsServer } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';

test('a missing nats-server binary fails with install instructions', async () => {
  await assert.rejects(startNatsServer({}, '/nonexistent/nats-server'), /apt-get install -y nats-server/);
});

test('options become nats-server configuration keys', () => {
  assert.equal(
    natsServerConfig({ maxPayload: 16, maxControlLine: 64, pingInterval: 250, maxPingsOut: 3, writeDeadline: 2000 }),
    'max_payload: 16\nmax_control_line: 64\nwrite_deadline: "2000ms"\nping_interval: "250ms"\nping_max: 3\n',
  );
});

test('the reference broker runs with the given options and stops', async () => {
  const server = await startNatsServer({ maxPayload: 16 });
  const raw = await RawClient.connect(server.port);
  assert.equal(raw.info['max_payload'], 16);
  assert.equal(raw.info['port'], server.port);
  await raw.send('PUB foo 17\r\n');
  assert.equal((await raw.expectClosed()).toString(), "-ERR 'Maximum Payload Violation'\r\n");
  await server.close();
  assert.notEqual(server.process.exitCode ?? server.process.signalCode, null, 'nats-server exited');
});
