/**
 * A real browser: headless Chromium loads a page that imports nats.ws (served from node_modules by
 * this test, no CDN), connects to Natrium's websocket port, subscribes, publishes and gets its own
 * message back; a TCP client of the nats client sees the browser's message and answers a request.
 * A screenshot of the page is saved under dist/artifacts.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { connect } from 'nats';
import { HeadlessChromium } from '../helpers/chromium.js';
import { startTestServer, TEST_PARSER, TEST_WORKERS } from '../helpers/server.js';
import { signal, within } from './broker.js';

const GUARD_MS = 20_000;
const SCREENSHOT_DIR = new URL('../../artifacts/', import.meta.url).pathname;
const NATS_WS_BUNDLE = path.join(path.dirname(createRequire(import.meta.url).resolve('nats.ws')), '..', 'esm', 'nats.js');

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>nats.ws → Natrium</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;background:#f7f7f5}pre{background:#fff;border:1px solid #ccc;padding:1em;min-height:8em}</style></head>
<body><h1>nats.ws in Chromium, connected to Natrium</h1><pre id="log"></pre>
<script type="module">
import { connect, StringCodec } from '/nats.ws.js';
const sc = StringCodec();
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
window.roundTrip = async (url) => {
  const nc = await connect({ servers: url, reconnect: false });
  log('connected to ' + url + ' (server ' + nc.info.server_id.slice(0, 12) + '…)');
  const sub = nc.subscribe('browser.echo', { max: 1 });
  await nc.flush();
  nc.publish('browser.echo', sc.encode('hello from chromium'));
  let echoed = '';
  for await (const m of sub) echoed = sc.decode(m.data);
  log('received my own message: ' + echoed);
  const answer = sc.decode((await nc.request('browser.ask', sc.encode('what is natrium?'), { timeout: 5000 })).data);
  log('a TCP client answered: ' + answer);
  await nc.close();
  log('closed');
  return { echoed, answer };
};
</script></body></html>`;

function servePage(): Promise<http.Server> {
  const bundle = readFileSync(NATS_WS_BUNDLE);
  const server = http.createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    } else if (request.url === '/nats.ws.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      response.end(bundle);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('nats.ws in headless Chromium: subscribe, publish, own message back, request answered over TCP', { timeout: 90_000 }, async () => {
  const broker = await startTestServer({ websocket: { host: '127.0.0.1', port: -1, noTls: true, tls: null, compression: false, handshakeTimeout: 2000 } });
  const page = await servePage();
  const tcp = await connect({ servers: broker.url, reconnect: false });
  const browser = new HeadlessChromium();
  try {
    const seenByTcp = signal<string>();
    tcp.subscribe('browser.echo', { callback: (_err, msg) => seenByTcp.resolve(new TextDecoder().decode(msg.data)) });
    tcp.subscribe('browser.ask', { callback: (_err, msg) => msg.respond(new TextEncoder().encode('a NATS broker for Node.js')) });
    await tcp.flush();
    await within(browser.open(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`), GUARD_MS, 'the page to load');
    const result = await within(
      browser.evaluate<{ echoed: string; answer: string }>(`window.roundTrip(${JSON.stringify(broker.websocketUrl)})`),
      GUARD_MS,
      `the browser round trip (page console: ${browser.console.join(' | ')})`,
    );
    assert.deepEqual(result, { echoed: 'hello from chromium', answer: 'a NATS broker for Node.js' });
    assert.equal(await within(seenByTcp.promise, GUARD_MS, 'the TCP client to see the browser message'), 'hello from chromium');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `websocket-browser-${TEST_WORKERS}-${TEST_PARSER}.png`);
    await browser.screenshot(file);
    console.log(`# websocket browser screenshot: ${file}`);
  } finally {
    await browser.close();
    await tcp.close();
    await new Promise((resolve) => page.close(resolve));
    await broker.close();
  }
});
