/**
 * FlowControl timing: each consumer that stops draining holds the publisher for its own
 * STALL_MAX_MS, counted from when it went over the threshold, not from when the shared timer was
 * armed by another consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowControl, STALL_MAX_MS } from '../../src/worker/flow-control.js';
import type { Client } from '../../src/worker/client.js';

/** The fields FlowControl reads from a client; pending bytes never go down (a stalled reader). */
function stalledClient(onPendingRead: () => void = () => {}): Client & { pausedCount: number } {
  const client = {
    stallExpired: false,
    closed: false,
    pausedCount: 0,
    pendingBytes: () => {
      onPendingRead();
      return 1_000_000;
    },
    socket: {
      pause: () => client.pausedCount++,
      resume: () => {},
    },
  };
  return client as unknown as Client & { pausedCount: number };
}

test('a consumer that stalls later than another gets its full STALL_MAX_MS before it is left to the slow-consumer policy', async () => {
  let resumedAt = 0;
  let onResume!: () => void;
  const resumed = new Promise<void>((resolve) => (onResume = resolve));
  const flow = new FlowControl(1000, () => {
    resumedAt = performance.now();
    onResume();
  });
  const first = stalledClient();
  const publisher = stalledClient();
  flow.currentReader = publisher;
  flow.consumerOverThreshold(first);
  assert.equal(publisher.pausedCount, 1, 'the publisher is held');
  await new Promise((resolve) => setTimeout(resolve, STALL_MAX_MS * 0.6));
  const second = stalledClient();
  const secondAt = performance.now();
  flow.consumerOverThreshold(second);
  // When the first one's window closes, the second one must still be holding.
  const firstExpired = new Promise<boolean>((resolve) => {
    const check = setInterval(() => {
      if (first.stallExpired) {
        clearInterval(check);
        resolve(second.stallExpired);
      }
    }, 1);
  });
  assert.equal(await firstExpired, false, 'the second consumer was given up together with the first');
  assert.equal(flow.blocked, true, 'rings stay held for the second consumer');
  await resumed;
  assert.equal(second.stallExpired, true);
  assert.ok(resumedAt - secondAt >= STALL_MAX_MS - 1, `held ${Math.round(resumedAt - secondAt)} ms for the second consumer`);
  assert.equal(flow.blocked, false);
});
