/**
 * The 2-minute soak as part of `npm test` (the issue asks for at least one minute; the second one
 * lets V8's heaps settle before RSS growth is judged). It lives outside test/e2e so that scripts/run-tests.mjs
 * runs it once (with the unit tests), not once per worker/parser combination: it starts its own
 * broker process with Natrium's defaults (one worker per core less the main thread's, the native parser when it loads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SOAK, rssGrowth, runSoak } from '../../bench/reliability/soak.js';

test('soak, 2 minutes, run once with the default workers and parser: no loss, stalled subscribers cut, RSS bounded, event-loop delay per worker', async () => {
  const lines: string[] = [];
  const report = await runSoak({ ...DEFAULT_SOAK, minutes: 2, rate: 5_000, stallEvery: 20, reportSeconds: 30 }, (line) => lines.push(line));
  assert.deepEqual(report.failures, [], lines.join('\n'));
  assert.equal(report.periods.length, 4);
  const last = report.periods[report.periods.length - 1];
  assert.equal(last.lost + last.duplicates + last.outOfOrder + last.requestFailures + last.churnFailures, 0);
  assert.ok(last.requests > 0 && last.churned > 0, 'request/reply and churn ran');
  assert.ok(last.stalledCut >= 1, `a stalled subscriber was cut (${last.stalledOpened} opened)`);
  assert.ok(last.slowConsumers >= last.stalledCut, 'each cut one is counted in /varz slow_consumers');
  for (const period of report.periods) {
    assert.ok(period.workers.length >= 1);
    for (const worker of period.workers) {
      assert.ok(worker.heapUsed > 0, 'worker heap reported');
      assert.ok(worker.eventLoopMax > 0 && worker.eventLoopP99 <= worker.eventLoopMax, `event-loop delay of worker ${worker.worker} reported`);
    }
  }
});

test('the RSS plateau rule fails steady growth and passes a plateau with noise', () => {
  const minute = 60_000;
  const steady = Array.from({ length: 13 }, (_, i) => ({ at: i * 5_000, rss: (100 + i * 5) * 2 ** 20 }));
  assert.equal(rssGrowth(steady, minute).bounded, false);
  const plateau = Array.from({ length: 13 }, (_, i) => ({ at: i * 5_000, rss: (i < 3 ? 60 + i * 15 : 100 + (i % 3) * 4) * 2 ** 20 }));
  assert.equal(rssGrowth(plateau, minute).bounded, true);
});
