/**
 * Smoke tests of `natrium bench` / `natrium tune`: the frame scanner on split input, the node load
 * generator against an embedded broker and against nats-server (tiny counts, exact delivery
 * counts), nbench's result format, the tuning recommendation, and the CLI modes end to end
 * (result files written, chart well formed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderChart } from '../../src/bench/chart.js';
import { DEFAULT_GENERATOR_OPTIONS, parseNbenchResult, runScenario } from '../../src/bench/generator.js';
import { scaled, selectScenarios, type Scenario } from '../../src/bench/scenarios.js';
import { summarizeProfile } from '../../src/bench/profile.js';
import { percentile } from '../../src/bench/stats.js';
import { recommend, scoreRows } from '../../src/bench/tune.js';
import { InboundScanner, parseUrl } from '../../src/bench/wire.js';
import { startNatsServer, type RunningNatsServer } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';
import type { RunningServer } from '../../src/index.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;
const QUICK = { ...DEFAULT_GENERATOR_OPTIONS, maxTimeMs: 10_000, idleMs: 3_000 };

function pubsub(name: string, publishers: number, subscribers: number, count: number, size: number, queue: string | null = null): Scenario {
  return { name, kind: 'pubsub', publishers, subscribers, count, size, subject: `bench.test.${name}`, queue };
}

describe('InboundScanner', () => {
  const stream = Buffer.concat([
    Buffer.from('INFO {"server_id":"x"}\r\n'),
    Buffer.from('MSG a.b 1 5\r\nhello\r\n'),
    Buffer.from('PING\r\n'),
    Buffer.from('MSG a.b 1 _INBOX.x 0\r\n\r\n'),
    Buffer.from('HMSG a.b 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n'),
    Buffer.from('MSG a.b 1 3\r\nMSG\r\n'),
    Buffer.from('-ERR \'Slow Consumer\'\r\n'),
    Buffer.from('PONG\r\n'),
  ]);

  it('counts every frame however the stream is split', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      for (const step of [1, 3, 7, stream.length]) {
        const scanner = new InboundScanner();
        let pings = 0;
        let pongs = 0;
        const errors: string[] = [];
        scanner.onPing = () => pings++;
        scanner.onPong = () => pongs++;
        scanner.onError = (text) => errors.push(text);
        scanner.push(stream.subarray(0, cut));
        for (let at = cut; at < stream.length; at += step) scanner.push(stream.subarray(at, Math.min(stream.length, at + step)));
        assert.equal(scanner.messages, 4, `cut ${cut} step ${step}`);
        assert.equal(pings, 1);
        assert.equal(pongs, 1);
        assert.deepEqual(errors, ["-ERR 'Slow Consumer'"]);
      }
    }
  });

  it('hands each MSG control line to onMessage when set', () => {
    const scanner = new InboundScanner();
    const lines: string[] = [];
    scanner.onMessage = (buf, start, end) => lines.push(buf.toString('latin1', start, end));
    scanner.push(Buffer.from('MSG a 1 r.1 2\r\nhi\r\nMSG b 2 0\r\n\r\n'));
    assert.deepEqual(lines, ['MSG a 1 r.1 2', 'MSG b 2 0']);
  });
});

describe('scenarios and helpers', () => {
  it('selects suites, names and numbers, and scales counts with a floor of 100', () => {
    assert.equal(selectScenarios('standard').length, 8);
    assert.deepEqual(selectScenarios('2,8-req-reply-16B,size-1to1-64KiB').map((s) => s.name), ['2-pubsub-1to1-16B', '8-req-reply-16B', 'size-1to1-64KiB']);
    assert.throws(() => selectScenarios('nope'), /unknown scenario "nope"/);
    assert.equal(scaled(selectScenarios('2')[0], 0.001).count, 3000);
    assert.equal(scaled(selectScenarios('8')[0], 0.001).count, 100);
  });

  it('parses NATS URLs', () => {
    assert.deepEqual(parseUrl('nats://127.0.0.1:4333'), { host: '127.0.0.1', port: 4333 });
    assert.deepEqual(parseUrl('nats://user:pw@example.com'), { host: 'example.com', port: 4222 });
    assert.deepEqual(parseUrl('5555'), { host: '127.0.0.1', port: 5555 });
  });

  it('takes nearest-rank percentiles as nbench does', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile(sorted, 1), 100);
  });

  it('reads nbench RESULT lines', () => {
    const fields = parseNbenchResult('noise\nRESULT name=x mode=req status=ok p99_us=480.5 msgs_per_s=4300\n');
    assert.equal(fields?.p99_us, '480.5');
    assert.equal(fields?.status, 'ok');
    assert.equal(parseNbenchResult('nbench: connect failed\n'), null);
  });

  it('recommends the fewest workers within 5% of the best score, among lossless counts', () => {
    const rows = scoreRows([[100], [200], [205], [300]], [true, true, true, false]);
    assert.deepEqual(rows.map((r) => Number(r.score.toFixed(3))), [0.333, 0.667, 0.683, 1]);
    assert.equal(recommend(rows).workers, 2);
    assert.equal(recommend(scoreRows([[100], [90]], [true, true])).workers, 1);
  });

  it('sums self time per function of a CPU profile, idle excluded from the busy share', () => {
    const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 9, columnNumber: 0 });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('hot', 'file:///nowhere/x/hot.js') },
        { id: 3, callFrame: frame('cold', 'file:///nowhere/x/hot.js') },
      ],
      samples: [1, 2, 2, 3, 1, 2],
      timeDeltas: [5000, 1000, 1000, 1000, 5000, 1000],
    };
    const summary = summarizeProfile(profile, 5);
    assert.equal(summary.totalMs, 14);
    assert.equal(summary.busyMs, 4);
    assert.deepEqual(
      summary.top.map((f) => [f.name, f.location, f.selfMs, f.share]),
      [
        ['hot', 'x/hot.js:10', 3, 0.75],
        ['cold', 'x/hot.js:10', 1, 0.25],
      ],
    );
  });

  it('renders a well-formed SVG chart with one bar per series and group', () => {
    const svg = renderChart({
      title: 'A & B',
      subtitle: 's',
      series: [
        { label: 'a', color: '#000' },
        { label: 'b', color: '#111' },
      ],
      groups: [
        { label: 'g1', unit: 'msgs/s', values: [1, 2], texts: ['1', '2'], note: '0.50×', good: false },
        { label: 'g2 <x>', unit: 'µs', values: [3, NaN], texts: ['3', '-'], note: '', good: null },
      ],
      footer: 'f',
    });
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<rect x="\d+" y="\d+" width="[\d.]+" height="16"/g) ?? []).length, 4);
    assert.ok(svg.includes('A &amp; B') && svg.includes('g2 &lt;x&gt;'));
  });
});

describe('node generator against an embedded Natrium', () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('delivers every message of a 1→2 fan-out and counts it', async () => {
    const result = await runScenario(server.url, pubsub('fanout', 1, 2, 5000, 64), QUICK);
    assert.equal(result.status, 'ok', result.message);
    assert.equal(result.sent, 5000);
    assert.equal(result.delivered, 10_000);
    assert.equal(result.perSubscriberMin, 5000);
    assert.ok(result.msgsPerSec > 0 && result.pubMsgsPerSec! > 0);
  });

  it('delivers each message once to a queue group, across payload sizes up to 64 KiB', async () => {
    for (const size of [0, 16, 65536]) {
      const result = await runScenario(server.url, pubsub(`queue${size}`, 2, 3, 600, size, 'q'), QUICK);
      assert.equal(result.status, 'ok', result.message);
      assert.equal(result.delivered, 600);
      assert.equal(result.expected, 600);
    }
  });

  it('measures publish-only and request/reply', async () => {
    const pubOnly = await runScenario(server.url, pubsub('pubonly', 2, 0, 3000, 16), QUICK);
    assert.equal(pubOnly.status, 'ok');
    assert.equal(pubOnly.sent, 3000);
    const req = await runScenario(server.url, { ...selectScenarios('8')[0], count: 200 }, QUICK);
    assert.equal(req.status, 'ok', req.message);
    assert.equal(req.done, 200);
    assert.ok(req.p50Us! > 0 && req.p50Us! <= req.p90Us! && req.p90Us! <= req.p99Us! && req.p99Us! <= req.maxUs!);
  });
});

describe('node generator against nats-server', () => {
  let reference: RunningNatsServer;
  before(async () => {
    reference = await startNatsServer();
  });
  after(() => reference.close());

  it('measures the same scenario shape on the reference broker', async () => {
    const result = await runScenario(reference.url, pubsub('ref', 2, 2, 4000, 128), QUICK);
    assert.equal(result.status, 'ok', result.message);
    assert.equal(result.delivered, 8000);
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('CLI modes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-bench-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('bench --compare runs both brokers and writes JSON, Markdown and SVG', async () => {
    const out = path.join(dir, 'compare');
    const run = await runCli(['bench', '--compare', '--workers', '1', '--parser', 'js', '--scenario', '3,8', '--scale', '0.002', '--rounds', '1', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /3-pubsub-1to1-128B\s+\S+ [kM]?\s*\S+/);
    const report = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    assert.equal(report.mode, 'compare');
    assert.equal(report.runs.length, 4);
    assert.deepEqual(report.summary.map((r: { row: string }) => r.row), ['3-pubsub-1to1-128B', '8-req-reply-16B', '8-req-reply-16B p99']);
    for (const row of report.summary) assert.ok(row.ratio > 0 && Number.isFinite(row.ratio));
    assert.match(readFileSync(`${out}.svg`, 'utf8'), /<svg[\s\S]*3-pubsub-1to1-128B[\s\S]*<\/svg>/);
    assert.match(readFileSync(`${out}.md`, 'utf8'), /\| 3-pubsub-1to1-128B \|/);
  });

  it('tune tries each worker count and recommends one', async () => {
    const out = path.join(dir, 'tune');
    const run = await runCli(['tune', '--max-workers', '2', '--rounds', '1', '--scenario', '3', '--scale', '0.002', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Recommended: --workers [12] /);
    const report = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    assert.deepEqual(report.table.map((r: { workers: number }) => r.workers), [1, 2]);
  });

  it('bench --memory reports idle, idle-connection and under-load RSS for both brokers', async () => {
    const out = path.join(dir, 'memory');
    const run = await runCli(['bench', '--memory', '--workers', '1', '--connections', '50', '--scale', '0.002', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    assert.deepEqual(report.rows.map((r: { broker: string }) => r.broker), ['natrium', 'nats-server']);
    for (const row of report.rows) {
      assert.ok(row.idleBytes > 1 << 20, 'idle RSS is at least 1 MiB');
      assert.ok(row.withConnections[0] >= row.idleBytes * 0.9);
      assert.ok(row.loadPeakBytes >= row.idleBytes * 0.9);
    }
  });

  it('refuses unknown options with the usage text', async () => {
    const run = await runCli(['bench', '--bogus']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Usage: natrium bench/);
  });
});
