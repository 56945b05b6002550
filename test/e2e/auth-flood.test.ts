/**
 * End to end: a flood of bad bcrypt logins does not stall message traffic. The password checks run
 * in the shards' piscina pools; were they run on a shard's event loop, each one would hold every
 * connection of that shard for a whole bcrypt comparison, which this test measures and uses as the
 * bar: request/reply latency of an authenticated pair stays far below one comparison.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { connect } from 'nats';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

const TEST_TIMEOUT_MS = 120_000;
const FLOOD_MS = 3_000;
const FLOODERS = 8;
/** Cost 12: one comparison takes hundreds of milliseconds in JavaScript. */
const BCRYPT_COST = 12;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

test('a flood of bad bcrypt logins leaves an authenticated pub/sub pair flowing', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const hash = bcrypt.hashSync('right', BCRYPT_COST);
  const compareStart = performance.now();
  bcrypt.compareSync('wrong', hash);
  const compareMs = performance.now() - compareStart;

  const users = [
    { user: 'app', password: 'app-pass', nkey: '', permissions: null },
    { user: 'slow', password: hash, nkey: '', permissions: null },
  ];
  const server = await startTestServer({ authorization: { token: '', user: '', password: '', users } });
  try {
    const responder = await connect({ servers: server.url, user: 'app', pass: 'app-pass', reconnect: false });
    const requester = await connect({ servers: server.url, user: 'app', pass: 'app-pass', reconnect: false });
    responder.subscribe('echo', { callback: (_err, msg) => msg.respond(msg.data) });
    await responder.flush();

    const payload = new Uint8Array(64);
    const roundTrips = async (ms: number): Promise<number[]> => {
      const latencies: number[] = [];
      const end = performance.now() + ms;
      while (performance.now() < end) {
        const start = performance.now();
        await requester.request('echo', payload, { timeout: 5_000 });
        latencies.push(performance.now() - start);
      }
      return latencies.sort((a, b) => a - b);
    };

    const quiet = await roundTrips(1_000);

    let flooding = true;
    let rejected = 0;
    const unexpected: string[] = [];
    const flooder = async (): Promise<void> => {
      while (flooding) {
        const raw = await RawClient.connect(server.port);
        await raw.send('CONNECT {"verbose":false,"user":"slow","pass":"wrong"}\r\n');
        const reply = (await raw.expectClosed(30_000)).toString();
        // Past auth_timeout in the pool's queue, a bad login times out instead: rejected either way.
        if (reply === "-ERR 'Authorization Violation'\r\n" || reply === "-ERR 'Authentication Timeout'\r\n") rejected++;
        else unexpected.push(reply);
      }
    };
    const flood = Array.from({ length: FLOODERS }, flooder);
    // Let the pools fill up before measuring.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const loaded = await roundTrips(FLOOD_MS);
    flooding = false;
    await Promise.all(flood);

    const quietP99 = percentile(quiet, 99);
    const loadedP99 = percentile(loaded, 99);
    t.diagnostic(
      `bcrypt compare ${compareMs.toFixed(0)} ms; quiet: ${quiet.length} round trips/s, p99 ${quietP99.toFixed(2)} ms; ` +
        `flood: ${rejected} bad logins, ${(loaded.length / (FLOOD_MS / 1000)).toFixed(0)} round trips/s, ` +
        `p50 ${percentile(loaded, 50).toFixed(2)} ms, p99 ${loadedP99.toFixed(2)} ms, max ${loaded[loaded.length - 1].toFixed(2)} ms`,
    );
    assert.deepEqual(unexpected, []);
    assert.ok(rejected >= FLOODERS, `the flood ran (${rejected} rejections)`);
    assert.ok(loaded.length >= 50, `traffic kept flowing: ${loaded.length} round trips in ${FLOOD_MS} ms`);
    assert.ok(loadedP99 < compareMs / 2, `p99 ${loadedP99.toFixed(1)} ms stays well under one bcrypt comparison (${compareMs.toFixed(0)} ms)`);
    await Promise.all([responder.close(), requester.close()]);
  } finally {
    await server.close();
  }
});
