import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confReader } from '../helpers/conf.js';

const { load, problems } = confReader('n.conf');

test('every supported key maps to its option, with nats-server units', () => {
  const { options, warnings } = load(`
    host: 127.0.0.1
    port: 4333
    server_name: "edge-1"
    http_port: 8333
    max_payload: 2MB
    max_control_line: 8KB
    max_pending: 32MB
    write_deadline: "5s"
    ping_interval: "30s"
    ping_max: 3
    max_connections: 100
    max_subscriptions: 10
    debug: true
    logfile: "/tmp/natrium.log"
    pid_file: "/tmp/natrium.pid"
    ports_file_dir: "/tmp"
    lame_duck_duration: "45s"
    lame_duck_grace_period: "3s"
    workers: 2
    parser: js
  `);
  assert.deepEqual(warnings, []);
  assert.deepEqual(options, {
    host: '127.0.0.1',
    port: 4333,
    serverName: 'edge-1',
    httpPort: 8333,
    maxPayload: 2 * 1024 * 1024,
    maxControlLine: 8 * 1024,
    maxPending: 32 * 1024 * 1024,
    writeDeadline: 5000,
    pingInterval: 30_000,
    maxPingsOut: 3,
    maxConnections: 100,
    maxSubscriptions: 10,
    logLevel: 'debug',
    logFile: '/tmp/natrium.log',
    pidFile: '/tmp/natrium.pid',
    portsFileDir: '/tmp',
    lameDuckDuration: 45_000,
    lameDuckGracePeriod: 3000,
    workers: 2,
    parser: 'js',
  });
});

test('aliases and case: net, listen, http, monitor_port, max_conn, max_subs, log_file, pidfile, Port', () => {
  assert.deepEqual(load('net: 10.0.0.1\nPORT: 1').options, { host: '10.0.0.1', port: 1 });
  assert.deepEqual(load('listen: "0.0.0.0:-1"').options, { host: '0.0.0.0', port: -1 });
  assert.deepEqual(load('listen: 4555').options, { port: 4555 });
  assert.deepEqual(load('listen: "[::1]:4555"').options, { host: '::1', port: 4555 });
  assert.deepEqual(load('http: "127.0.0.1:8222"').options, { httpHost: '127.0.0.1', httpPort: 8222 });
  assert.deepEqual(load('http: 8222').options, { httpPort: 8222 });
  assert.deepEqual(load('monitor_port: -1').options, { httpPort: -1 });
  assert.deepEqual(load('max_conn: 5\nmax_subs: 6').options, { maxConnections: 5, maxSubscriptions: 6 });
  assert.deepEqual(load('log_file: a.log\npidfile: a.pid').options, { logFile: 'a.log', pidFile: 'a.pid' });
});

test('trace wins over debug; both off is info', () => {
  assert.equal(load('debug: true\ntrace: true').options.logLevel, 'trace');
  assert.equal(load('debug: false\ntrace: false').options.logLevel, 'info');
  assert.equal(load('port: 1').options.logLevel, undefined);
});

test('a duration given as a number is seconds, with nats-server\'s warning', () => {
  const { options, warnings } = load('ping_interval: 30\nwrite_deadline: "500ms"');
  assert.equal(options.pingInterval, 30_000);
  assert.equal(options.writeDeadline, 500);
  assert.deepEqual(warnings, ['n.conf:1:1: invalid use of field "ping_interval": ping_interval should be converted to a duration']);
  // Unquoted 2m is the integer 2,000,000 to nats-server: seconds again, as it reads it.
  assert.equal(load('ping_interval: 2m').options.pingInterval, 2_000_000_000);
});

test('keys nats-server knows but Natrium does not support are refused with file:line and name', () => {
  const found = problems('port: 4222\n\nleafnodes {\n  port: 7422\n  no_advertise: true\n}\n  gateway { port: 7222 }\ncluster { port: 6222 }\njetstream: enabled\n');
  assert.deepEqual(found, [
    'n.conf:3:1: "leafnodes" is not supported by natrium yet',
    'n.conf:7:3: "gateway" is not supported by natrium yet',
    'n.conf:8:1: "cluster" is not supported by natrium yet',
    'n.conf:9:1: "jetstream" is not supported by natrium yet',
  ]);
  for (const key of ['leafnodes', 'gateway', 'mqtt', 'system_account', 'syslog']) {
    assert.deepEqual(problems(`${key}: x`), [`n.conf:1:1: "${key}" is not supported by natrium yet`]);
  }
});

test('unknown keys are refused as nats-server refuses them, unless used as variables', () => {
  assert.deepEqual(problems('a: 1\nfoo: 1'), ['n.conf:1:1: unknown field "a"', 'n.conf:2:1: unknown field "foo"']);
  assert.deepEqual(load('PORT = 4333\nport: $PORT').options, { port: 4333 });
});

test('wrong types and out-of-range values are refused with file:line', () => {
  assert.deepEqual(problems('debug: 1'), ['n.conf:1:1: "debug" expects a boolean, got integer']);
  assert.deepEqual(problems('port: "x"'), ['n.conf:1:1: "port" expects an integer, got string']);
  assert.deepEqual(problems('max_payload: 3GB'), ['n.conf:1:1: max_payload value is too big']);
  assert.deepEqual(problems('ping_interval: "soon"'), ['n.conf:1:1: error parsing ping_interval: time: invalid duration "soon"']);
  assert.deepEqual(problems('write_deadline: "10"'), ['n.conf:1:1: error parsing write_deadline: time: invalid duration "10"']);
  assert.deepEqual(problems('parser: rust'), ['n.conf:1:1: "parser" must be auto, native or js, got "rust"']);
  assert.deepEqual(problems('listen: "nohost"'), ['n.conf:1:1: could not parse address string "nohost"']);
  assert.deepEqual(problems('lame_duck_duration: "10s"'), ['n.conf:1:1: invalid lame_duck_duration of 10s, minimum is 30 seconds']);
});

test('variables from the environment feed options', () => {
  assert.deepEqual(load('port: $NATS_PORT\nmax_payload: $LIMIT', { NATS_PORT: '4999', LIMIT: '1MB' }).options, { port: 4999, maxPayload: 1024 * 1024 });
});
