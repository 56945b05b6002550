import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '../../src/worker/client.js';
import type { Shard } from '../../src/worker/shard.js';
import { MAX_CLOSED_CONNECTIONS, WorkerStats } from '../../src/worker/stats.js';

/** The fields WorkerStats reads from a client. */
function fakeClient(id: number): Client {
  return {
    id,
    socket: { destroyed: true, writableLength: 0 },
    peer: { ip: '10.0.0.1', port: 1000 + id },
    outbound: { length: 0 },
    startedAt: 1000,
    msgsIn: id,
    msgsOut: 0,
    bytesIn: id * 10,
    bytesOut: 0,
    subs: new Map(),
    name: `c${id}`,
    lang: 'test',
    version: '1',
  } as unknown as Client;
}

const fakeShard = {
  clients: new Set(),
  stats: { connections: 0, totalConnections: 0, msgsIn: 0, bytesIn: 0, msgsOut: 0, bytesOut: 0, slowConsumers: 0 },
  handshakes: new Set(),
  sublistStats: () => [],
} as unknown as Shard;

test('closed connections: a bounded ring keeping the newest, with reason and final counters', () => {
  const stats = new WorkerStats(fakeShard, 3);
  const total = MAX_CLOSED_CONNECTIONS + 25;
  for (let id = 1; id <= total; id++) stats.recordClosed(fakeClient(id), id % 2 === 0 ? 'Client Closed' : 'Stale Connection');
  const closed = stats.collect({ connections: false, closed: true, cid: 0, subs: false, subscriptions: false, auth: false, accounts: false }).closed;
  assert.equal(closed.length, MAX_CLOSED_CONNECTIONS);
  const ids = closed.map((c) => c.cid).sort((a, b) => a - b);
  assert.equal(ids[0], 26, 'the oldest 25 were dropped');
  assert.equal(ids.at(-1), total);
  const last = closed.find((c) => c.cid === total)!;
  assert.deepEqual(
    [last.worker, last.ip, last.port, last.reason, last.inMsgs, last.inBytes, last.name, last.pendingBytes],
    [3, '10.0.0.1', 1000 + total, total % 2 === 0 ? 'Client Closed' : 'Stale Connection', total, total * 10, `c${total}`, 0],
  );
  assert.ok(last.stop !== null && last.stop >= last.start);
  assert.deepEqual(stats.collect({ connections: false, closed: false, cid: 0, subs: false, subscriptions: false, auth: false, accounts: false }).closed, [], 'sent only when asked for');
});
