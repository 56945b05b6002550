import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { findServerProcesses, sendSignal } from '../../src/server/signals.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A fake /proc: one directory per pid with its NUL-separated command line and its cwd link. */
function fakeProc(processes: Record<string, { args: string[]; cwd?: string }>): string {
  const root = tempDir('natrium-proc-');
  for (const [pid, { args, cwd }] of Object.entries(processes)) {
    mkdirSync(path.join(root, pid));
    writeFileSync(path.join(root, pid, 'cmdline'), args.join('\0') + '\0');
    if (cwd !== undefined) symlinkSync(cwd, path.join(root, pid, 'cwd'));
  }
  mkdirSync(path.join(root, 'self'));
  return root;
}

const ENTRY = '/srv/natrium/dist/src/cli/main.js';

test('--signal without a pid finds the servers running the same CLI, not itself nor other senders', () => {
  const root = fakeProc({
    '100': { args: ['node', ENTRY, '-c', 'nats.conf'] },
    '101': { args: ['node', ENTRY, '--signal', 'reload'] },
    '102': { args: ['node', '/elsewhere/app.js'] },
    '103': { args: ['node', 'dist/src/cli/main.js', '-p', '-1'], cwd: '/srv/natrium' },
    '104': { args: ['nats-server', '-c', 'nats.conf'] },
    '200': { args: ['node', ENTRY] },
  });
  assert.deepEqual(findServerProcesses(ENTRY, 200, root), [100, 103]);
  assert.deepEqual(findServerProcesses('/other/entry.js', 200, root), []);
  assert.deepEqual(findServerProcesses(ENTRY, 200, path.join(root, 'missing')), []);
});

test('--signal refuses unknown commands and bad pids with a clear message', () => {
  assert.throws(() => sendSignal('explode', '1'), /unknown signal "explode"/);
  assert.throws(() => sendSignal('reload', '/no/such/pid/file'), /could not read pid file \/no\/such\/pid\/file/);
  const file = path.join(tempDir('natrium-pid-'), 'n.pid');
  writeFileSync(file, 'not a pid\n');
  assert.throws(() => sendSignal('reload', file), /invalid pid "not a pid"/);
  assert.throws(() => sendSignal('reload', null, '/no/natrium/runs/this.js'), /no natrium process running/);
});
