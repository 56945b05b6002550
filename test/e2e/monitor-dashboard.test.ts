/**
 * The dashboard in a real browser, headless Chromium (test/helpers/chromium.ts). Under traffic the
 * page's figures move, per-worker rows appear, and a screenshot is saved; when the traffic stops
 * the rates fall back to zero.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { connect } from 'nats';
import { HeadlessChromium } from '../helpers/chromium.js';
import { startTestServer, TEST_PARSER, TEST_WORKERS } from '../helpers/server.js';
import { within } from './broker.js';

const SCREENSHOT_DIR = new URL('../../artifacts/', import.meta.url).pathname;
const GUARD_MS = 20_000;

/** Resolves once `condition` (a page expression) is truthy, checked after every dashboard refresh. */
function waitFor(browser: HeadlessChromium, condition: string, what: string): Promise<void> {
  const expression = `new Promise((resolve) => {
    const check = () => { try { if (${condition}) return resolve(true); } catch {} ;
      new MutationObserver((_, observer) => { observer.disconnect(); check(); }).observe(document.body, { attributes: true, attributeFilter: ['data-updates'] }); };
    check();
  })`;
  return within(browser.evaluate(expression).then(() => undefined), GUARD_MS, what);
}

/** A figure of the page as a number ("1,234" → 1234). */
const metric = (name: string): string => `Number(document.querySelector('[data-metric="${name}"]').textContent.replace(/[^0-9.]/g, ''))`;

test('the dashboard shows the traffic live, per worker, in headless Chromium', async () => {
  const server = await startTestServer({ httpPort: -1 });
  const browser = new HeadlessChromium({ width: 1280, height: 900 });
  const sub = await connect({ servers: server.url, reconnect: false });
  const pub = await connect({ servers: server.url, reconnect: false });
  let publishing = true;
  let traffic: Promise<void> = Promise.resolve();
  try {
    await within(browser.open(`${server.monitorUrl}/`), GUARD_MS, 'the dashboard to load');
    await waitFor(browser, `document.body.dataset.updates >= 1 && ${metric('connections')} === 2`, 'the page to show the two connections');
    assert.equal(await browser.evaluate<number>(metric('msgs-in-rate')), 0, 'no traffic yet');
    assert.equal(await browser.evaluate<number>(`document.querySelectorAll('#workers tr').length`), TEST_WORKERS);

    sub.subscribe('load.>', { callback: () => {} });
    await sub.flush();
    traffic = (async () => {
      const payload = new Uint8Array(64);
      while (publishing) {
        for (let i = 0; i < 200; i++) pub.publish('load.x', payload);
        await pub.flush();
      }
    })();
    await waitFor(browser, `${metric('msgs-in-rate')} > 0 && ${metric('msgs-out-rate')} > 0 && ${metric('subscriptions')} === 1`, 'the rates to move under traffic');
    const perWorkerIn = await browser.evaluate<number[]>(
      `[...document.querySelectorAll('[data-metric="worker-in-msgs"]')].map((td) => Number(td.textContent.replace(/[^0-9]/g, '')))`,
    );
    assert.equal(perWorkerIn.length, TEST_WORKERS);
    assert.ok(perWorkerIn.some((n) => n > 0), `some worker counts the published messages: ${perWorkerIn}`);
    const before = await browser.evaluate<number>(metric('in-msgs'));
    const updates = await browser.evaluate<number>('Number(document.body.dataset.updates)');
    // Two more refreshes: the totals grow, and the chart has a few points for the screenshot.
    await waitFor(browser, `${metric('in-msgs')} > ${before} && Number(document.body.dataset.updates) >= ${updates + 2}`, 'the totals to grow');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `dashboard-${TEST_WORKERS}-${TEST_PARSER}.png`);
    await browser.screenshot(file);
    console.log(`# dashboard screenshot: ${file}`);

    publishing = false;
    await traffic;
    await waitFor(browser, `${metric('msgs-in-rate')} === 0`, 'the rates to fall back to zero once the traffic stops');
  } finally {
    publishing = false;
    await traffic;
    await Promise.all([sub.close(), pub.close()]);
    await browser.close();
    await server.close();
  }
});
