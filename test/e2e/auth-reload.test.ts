/**
 * End to end: reloading users and permissions (SIGHUP re-reads the file and calls the same
 * server.reload). New logins use the new settings; connected clients keep theirs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadChanges } from '../../src/server/signals.js';
import { loadConfigFile } from '../../src/config/config-file.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, TEST_PARSER, TEST_WORKERS } from '../helpers/server.js';
import { exchange, rawLogin } from './auth-reference.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const TEST_TIMEOUT_MS = 60_000;
const VIOLATION = "-ERR 'Authorization Violation'\r\n";

function confOptions(dir: string, text: string) {
  const file = path.join(dir, 'n.conf');
  writeFileSync(file, text);
  return loadConfigFile(file, {}).options;
}

async function loginReply(port: number, user: string, pass: string): Promise<string> {
  const raw = await RawClient.connect(port);
  await raw.send(`CONNECT {"verbose":false,"user":"${user}","pass":"${pass}"}\r\nPING\r\n`);
  const result = await raw.readUntilOrClose('PONG\r\n');
  await raw.close();
  return result.data.toString();
}

test('reload: new users and permissions apply to new logins; connected clients keep theirs', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-auth-reload-'));
  try {
    const before = confOptions(dir, 'authorization { users = [ {user: a, password: one, permissions: { publish: "x" } } ] }');
    const after = confOptions(dir, 'authorization { users = [ {user: a, password: two, permissions: { publish: "y" } }, {user: b, password: b} ] }');
    const server = await startTestServer(before);
    try {
      const old = await rawLogin(server.port, { verbose: false, pedantic: false, user: 'a', pass: 'one' });
      assert.equal(await loginReply(server.port, 'b', 'b'), VIOLATION);

      server.reload(reloadChanges(before, after));

      assert.equal(await loginReply(server.port, 'a', 'one'), VIOLATION);
      assert.equal(await loginReply(server.port, 'a', 'two'), 'PONG\r\n');
      assert.equal(await loginReply(server.port, 'b', 'b'), 'PONG\r\n');
      const fresh = await rawLogin(server.port, { verbose: false, pedantic: false, user: 'a', pass: 'two' });
      assert.equal(await exchange(fresh, 'PUB x 1\r\n1\r\nPUB y 1\r\n1\r\n'), `-ERR 'Permissions Violation for Publish to "x"'\r\nPONG\r\n`);
      // The connection made before the reload still has the old permissions.
      assert.equal(await exchange(old, 'PUB x 1\r\n1\r\nPUB y 1\r\n1\r\n'), `-ERR 'Permissions Violation for Publish to "y"'\r\nPONG\r\n`);
      await Promise.all([old.close(), fresh.close()]);

      // Turning authentication off: new clients need no credentials and INFO stops asking.
      server.reload(reloadChanges(after, {}));
      const open = await RawClient.connect(server.port);
      assert.equal(open.info.auth_required, undefined);
      await open.send('CONNECT {"verbose":false}\r\nPING\r\n');
      assert.equal((await open.readUntil('PONG\r\n')).toString(), 'PONG\r\n');
      await open.close();
      // A reload that would break no_auth_user is refused and changes nothing.
      assert.throws(() => server.reload({ noAuthUser: 'ghost' }), /no_auth_user: "ghost" present, but users are not defined/);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP: the CLI re-reads the file; a changed password applies to the next login', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-auth-sighup-'));
  const file = path.join(dir, 'n.conf');
  writeFileSync(file, 'listen: 127.0.0.1:-1\nauthorization { users = [ {user: a, password: one} ] }\n');
  const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [cli, '-c', file, '--workers', String(TEST_WORKERS), '--parser', TEST_PARSER], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waitFor = (pattern: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(stderr);
        if (match !== null) {
          child.stderr!.off('data', check);
          resolve(match);
        }
      };
      child.stderr!.on('data', check);
      child.once('exit', (code) => reject(new Error(`natrium exited with ${code}: ${stderr}`)));
      check();
    });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  try {
    const port = Number((await waitFor(/Listening for client connections on [^\s"]*:(\d+)/))[1]);
    await waitFor(/Server is ready/);
    assert.equal(await loginReply(port, 'a', 'one'), 'PONG\r\n');
    writeFileSync(file, 'listen: 127.0.0.1:-1\nauthorization { users = [ {user: a, password: two} ] }\n');
    const reloaded = waitFor(/Reloaded server configuration/);
    process.kill(child.pid!, 'SIGHUP');
    await reloaded;
    assert.equal(await loginReply(port, 'a', 'one'), VIOLATION);
    assert.equal(await loginReply(port, 'a', 'two'), 'PONG\r\n');
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
