/**
 * Reload on a running server (what SIGHUP applies): limits and log level change live, new
 * connections get them, existing connections stay; options that cannot change live are refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

test('reload: new limits for new connections, old connections kept, /varz up to date', async () => {
  const server = await startTestServer({ httpPort: -1, maxPayload: 1024 });
  try {
    const before = await RawClient.connect(server.port);
    assert.equal(before.info.max_payload, 1024);
    const loadedAt = (await (await fetch(`${server.monitorUrl}/varz`)).json()).config_load_time;

    await server.reload({ maxPayload: 4096, maxSubscriptions: 1 });
    const after = await RawClient.connect(server.port);
    assert.equal(after.info.max_payload, 4096);
    // The new limits hold for the new connection: a second subscription is refused.
    await after.send('CONNECT {"verbose":false}\r\nSUB a 1\r\nSUB b 2\r\nPING\r\n');
    assert.match((await after.readUntil('PONG\r\n')).toString(), /-ERR 'Maximum Subscriptions Exceeded'/i);
    // The connection from before the reload is still served.
    await before.send('CONNECT {"verbose":false}\r\nPING\r\n');
    await before.readUntil('PONG\r\n');

    const varz = await (await fetch(`${server.monitorUrl}/varz`)).json();
    assert.equal(varz.max_payload, 4096);
    assert.equal(varz.connections, 2);
    assert.ok(Date.parse(varz.config_load_time) >= Date.parse(loadedAt));
    await assert.rejects(server.reload({ port: 1 }), /config reload not supported for port/);
    await assert.rejects(server.reload({ workers: 3, maxPayload: 1 }), /config reload not supported for workers/);
    assert.equal((await (await fetch(`${server.monitorUrl}/varz`)).json()).max_payload, 4096, 'a refused reload changes nothing');
    await Promise.all([before.close(), after.close()]);
  } finally {
    await server.close();
  }
});
