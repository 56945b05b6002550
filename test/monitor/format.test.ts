import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatTime, formatUptime, goJson, nanoseconds } from '../../src/monitor/format.js';

test('uptime as nats-server writes it', () => {
  assert.equal(formatUptime(0), '0s');
  assert.equal(formatUptime(59_999), '59s');
  assert.equal(formatUptime(60_000), '1m0s');
  assert.equal(formatUptime(3_723_000), '1h2m3s');
  assert.equal(formatUptime(93_784_000), '1d2h3m4s');
  assert.equal(formatUptime(366 * 86_400_000 + 5000), '1y1d0h0m5s');
});

test('durations as Go time.Duration.String()', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(0.0005), '500ns');
  assert.equal(formatDuration(0.791), '791µs');
  assert.equal(formatDuration(6.542824), '6.542824ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(120_000), '2m0s');
  assert.equal(formatDuration(3_661_000), '1h1m1s');
});

test('times in RFC 3339 UTC without trailing zeros; nanoseconds', () => {
  assert.equal(formatTime(Date.UTC(2024, 0, 2, 3, 4, 5, 120)), '2024-01-02T03:04:05.12Z');
  assert.equal(formatTime(Date.UTC(2024, 0, 2, 3, 4, 5, 0)), '2024-01-02T03:04:05Z');
  assert.equal(nanoseconds(120_000), 120_000_000_000);
});

test('JSON indented with <, > and & escaped, as Go encodes it', () => {
  assert.equal(goJson({ subject: 'a.>', q: '<&>' }), '{\n  "subject": "a.\\u003e",\n  "q": "\\u003c\\u0026\\u003e"\n}');
  assert.deepEqual(JSON.parse(goJson({ subject: 'a.>' })), { subject: 'a.>' });
});
