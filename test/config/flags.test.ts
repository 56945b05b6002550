import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags } from '../../src/config/flags.js';

test('config, test, monitoring, pid and ports-file flags', () => {
  assert.deepEqual(parseFlags(['-c', 'n.conf', '-t']), { kind: 'run', options: {}, configFile: 'n.conf', testConfig: true });
  assert.deepEqual(parseFlags(['--config=n.conf']), { kind: 'run', options: {}, configFile: 'n.conf', testConfig: false });
  assert.deepEqual(parseFlags(['-m', '8222', '-P', '/run/n.pid', '--ports_file_dir', '/run']), {
    kind: 'run',
    options: { httpPort: 8222, pidFile: '/run/n.pid', portsFileDir: '/run' },
    configFile: null,
    testConfig: false,
  });
  assert.throws(() => parseFlags(['-t']), /-t needs a configuration file/);
});

test('a negative number after a flag is its value, as Go flags read it', () => {
  const run = (args: string[]) => {
    const result = parseFlags(args);
    assert.equal(result.kind, 'run');
    return result.kind === 'run' ? result.options : {};
  };
  assert.deepEqual(run(['-p', '-1']), { port: -1 });
  assert.deepEqual(run(['-port', '-1']), { port: -1 });
  assert.deepEqual(run(['--port=-1', '-m', '-1']), { port: -1, httpPort: -1 });
  assert.deepEqual(run(['-http_port', '-1', '-a', '127.0.0.1']), { httpPort: -1, host: '127.0.0.1' });
});

test('--signal with a pid, a pid file, or -P', () => {
  assert.deepEqual(parseFlags(['--signal', 'reload=1234']), { kind: 'signal', signal: 'reload', pidOrFile: '1234' });
  assert.deepEqual(parseFlags(['-sl', 'ldm=/run/n.pid']), { kind: 'signal', signal: 'ldm', pidOrFile: '/run/n.pid' });
  assert.deepEqual(parseFlags(['--signal', 'quit', '-P', '/run/n.pid']), { kind: 'signal', signal: 'quit', pidOrFile: '/run/n.pid' });
  assert.deepEqual(parseFlags(['--signal', 'stop']), { kind: 'signal', signal: 'stop', pidOrFile: null });
});

test('flags still not supported are refused', () => {
  assert.throws(() => parseFlags(['--cluster', 'nats://127.0.0.1:6222']), /not supported by natrium yet: --cluster/);
  assert.throws(() => parseFlags(['-ms', '8223']), /not supported by natrium yet: --ms/);
});
