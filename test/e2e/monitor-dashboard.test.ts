/**
 * The dashboard in a real browser: headless Chromium (Debian `chromium`, installed by .ci/run)
 * driven over the DevTools protocol on a pipe. Under traffic the page's figures move, per-worker
 * rows appear, and a screenshot is saved; when the traffic stops the rates fall back to zero.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { connect } from 'nats';
import { startTestServer, TEST_PARSER, TEST_WORKERS } from '../helpers/server.js';
import { within } from './broker.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = new URL('../../artifacts/', import.meta.url).pathname;
const GUARD_MS = 20_000;

/** A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON). */
class Browser {
  private nextId = 1;
  private buffered = '';
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  private readonly profile = mkdtempSync(path.join(tmpdir(), 'natrium-chromium-'));
  private readonly child: ChildProcess;
  private sessionId: string | null = null;
  private readonly events = new Map<string, () => void>();

  constructor() {
    try {
      accessSync(CHROMIUM, constants.X_OK);
    } catch {
      throw new Error(`Chromium not found at ${CHROMIUM}: the dashboard test needs it. Install it with \`apt-get install -y chromium\` (or set CHROMIUM_BIN).`);
    }
    this.child = spawn(
      CHROMIUM,
      ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--remote-debugging-pipe', `--user-data-dir=${this.profile}`, '--window-size=1280,900', 'about:blank'],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const fromBrowser = this.child.stdio[4] as Readable;
    fromBrowser.setEncoding('utf8');
    fromBrowser.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let end = this.buffered.indexOf('\0'); end >= 0; end = this.buffered.indexOf('\0')) {
        const message = JSON.parse(this.buffered.slice(0, end));
        this.buffered = this.buffered.slice(end + 1);
        if (message.method !== undefined) {
          this.events.get(message.method)?.();
          continue;
        }
        const waiter = this.pending.get(message.id);
        if (waiter === undefined) continue;
        this.pending.delete(message.id);
        if (message.error) waiter.reject(new Error(`${message.error.message} (${message.error.code})`));
        else waiter.resolve(message.result);
      }
    });
    this.child.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`chromium exited with ${code}`));
    });
  }

  send(method: string, params: object = {}, session = true): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const id = this.nextId++;
    const message: Record<string, unknown> = { id, method, params };
    if (session && this.sessionId !== null) message.sessionId = this.sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(JSON.stringify(message) + '\0');
    });
  }

  async open(url: string): Promise<void> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }, false);
    ({ sessionId: this.sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }, false));
    await this.send('Page.enable');
    await this.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
    const loaded = new Promise<void>((resolve) => this.events.set('Page.loadEventFired', resolve));
    await this.send('Page.navigate', { url });
    await within(loaded, GUARD_MS, 'the dashboard to load');
  }

  /** Evaluates an expression in the page (awaiting it if it is a promise) and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value as T;
  }

  /** Resolves once `condition` (a page expression) is truthy, checked after every dashboard refresh. */
  waitFor(condition: string, what: string): Promise<void> {
    const expression = `new Promise((resolve) => {
      const check = () => { try { if (${condition}) return resolve(true); } catch {} ;
        new MutationObserver((_, observer) => { observer.disconnect(); check(); }).observe(document.body, { attributes: true, attributeFilter: ['data-updates'] }); };
      check();
    })`;
    return within(this.evaluate(expression).then(() => undefined), GUARD_MS, what);
  }

  async screenshot(file: string): Promise<void> {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    writeFileSync(file, Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    // Browser.close lets Chromium stop its helper processes before the profile is removed.
    await this.send('Browser.close', {}, false).catch(() => this.child.kill('SIGTERM'));
    await exited;
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** A figure of the page as a number ("1,234" → 1234). */
const metric = (name: string): string => `Number(document.querySelector('[data-metric="${name}"]').textContent.replace(/[^0-9.]/g, ''))`;

test('the dashboard shows the traffic live, per worker, in headless Chromium', async () => {
  const server = await startTestServer({ httpPort: -1 });
  const browser = new Browser();
  const sub = await connect({ servers: server.url, reconnect: false });
  const pub = await connect({ servers: server.url, reconnect: false });
  let publishing = true;
  let traffic: Promise<void> = Promise.resolve();
  try {
    await browser.open(`${server.monitorUrl}/`);
    await browser.waitFor(`document.body.dataset.updates >= 1 && ${metric('connections')} === 2`, 'the page to show the two connections');
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
    await browser.waitFor(`${metric('msgs-in-rate')} > 0 && ${metric('msgs-out-rate')} > 0 && ${metric('subscriptions')} === 1`, 'the rates to move under traffic');
    const perWorkerIn = await browser.evaluate<number[]>(
      `[...document.querySelectorAll('[data-metric="worker-in-msgs"]')].map((td) => Number(td.textContent.replace(/[^0-9]/g, '')))`,
    );
    assert.equal(perWorkerIn.length, TEST_WORKERS);
    assert.ok(perWorkerIn.some((n) => n > 0), `some worker counts the published messages: ${perWorkerIn}`);
    const before = await browser.evaluate<number>(metric('in-msgs'));
    const updates = await browser.evaluate<number>('Number(document.body.dataset.updates)');
    // Two more refreshes: the totals grow, and the chart has a few points for the screenshot.
    await browser.waitFor(`${metric('in-msgs')} > ${before} && Number(document.body.dataset.updates) >= ${updates + 2}`, 'the totals to grow');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `dashboard-${TEST_WORKERS}-${TEST_PARSER}.png`);
    await browser.screenshot(file);
    console.log(`# dashboard screenshot: ${file}`);

    publishing = false;
    await traffic;
    await browser.waitFor(`${metric('msgs-in-rate')} === 0`, 'the rates to fall back to zero once the traffic stops');
  } finally {
    publishing = false;
    await traffic;
    await Promise.all([sub.close(), pub.close()]);
    await browser.close();
    await server.close();
  }
});
