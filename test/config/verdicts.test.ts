/**
 * Differential: nats-server's `-t` verdict on each snippet is the oracle; Natrium must accept and
 * refuse the same snippets. Keys nats-server supports and Natrium refuses as "not supported yet"
 * count as accepted syntax here (the refusal is about the feature, not the file).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigFileError, loadConfigFile } from '../../src/config/config-file.js';
import { assertNatsServerInstalled, NATS_SERVER_BIN } from '../helpers/nats-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const SNIPPETS = [
  "server_name: abc",
  "server_name = \"abc\"",
  "server_name abc",
  "server_name: 'it''s'",
  "server_name: \"a\\tb\"",
  "server_name: \"a\\x41b\"",
  "server_name: \"a\\qb\"",
  "server_name: a\\tb",
  "server_name: 10s",
  "server_name: 1.2.3.4",
  "server_name: 127.0.0.1:4222",
  "server_name: $2a$11$xyz",
  "server_name: (\nline\n)",
  "max_payload: 1k",
  "max_payload: 1K",
  "max_payload: 1kb",
  "max_payload: 1KB",
  "max_payload: 1Ki",
  "max_payload: 1KiB",
  "max_payload: 1m",
  "max_payload: 1MB",
  "max_payload: 1g",
  "max_payload: 1k2",
  "max_payload: 0x10",
  "max_payload: 1_000",
  "max_payload: 1.5",
  "max_payload: \"1MB\"",
  "debug: yes",
  "debug: YES",
  "debug: On",
  "debug: off",
  "debug: truee",
  "debug: \"true\"",
  "port: 4222;",
  "port: 4222,",
  "port: 4222 # c",
  "port: 4222 // c",
  "port: 4222 /x",
  "port: 4222 }",
  "{ port: 4222 }",
  "{ port: 4222",
  "port:\n4222",
  "port\n4222",
  "port: 4222 port: 4223",
  "\"port\": 4222",
  "'port' = 4222",
  "port: [1, 2]",
  "authorization { user: a; password: b }",
  "authorization { user: a, password: b, }",
  "authorization { user: a\npassword: b }",
  "authorization { users: [ {user: a, password: b}, {user: c, password: d} ] }",
  "authorization { users: [ {user: a, password: b} {user: c, password: d} ] }",
  "authorization { users: [ {user: a, password: b},, ] }",
  "authorization {\n  # comment\n  user: a // another\n  password: b\n}",
  "authorization: { user: a }",
  "authorization = { user = a }",
  "authorization { user a }",
  "authorization { = a }",
  "authorization { user: a ]",
  "X = 5",
  "port: $X",
  "port: $Y",
  "server_name: 2024-01-02T03:04:05Z",
  "server_name: 2024-01-02",
  "server_name: 12-01",
  "port: .5",
  "port: 1.",
  "port: 4222 ; server_name: x",
  "include ./nope.conf",
];

/** Natrium's verdict as `natrium -t` gives it: no problem and no warning. */
function natriumAccepts(file: string): { accepted: boolean; detail: string } {
  try {
    const { warnings } = loadConfigFile(file, {});
    return { accepted: warnings.length === 0, detail: warnings.join('; ') };
  } catch (error) {
    assert.ok(error instanceof ConfigFileError);
    const syntaxOnly = error.problems.every((problem) => problem.endsWith('is not supported by natrium yet'));
    return { accepted: syntaxOnly, detail: error.problems.join('; ') };
  }
}

test('nats-server and natrium give every snippet the same -t verdict', () => {
  assertNatsServerInstalled();
  const dir = tempDir('natrium-verdicts-');
  const file = path.join(dir, 'snippet.conf');
  const disagreements: string[] = [];
  let refusedByBoth = 0;
  for (const snippet of SNIPPETS) {
    writeFileSync(file, `${snippet}\n`);
    const reference = spawnSync(NATS_SERVER_BIN, ['-c', file, '-t'], { encoding: 'utf8', env: {} });
    const ours = natriumAccepts(file);
    if ((reference.status === 0) !== ours.accepted) {
      disagreements.push(`${JSON.stringify(snippet)}: nats-server ${reference.status === 0 ? 'accepts' : 'refuses'} (${(reference.stdout + reference.stderr).trim()}), natrium ${ours.accepted ? 'accepts' : 'refuses'} (${ours.detail})`);
    }
    if (reference.status !== 0) refusedByBoth++;
  }
  assert.deepEqual(disagreements, []);
  assert.ok(refusedByBoth >= 15, `the table holds files both refuse (${refusedByBoth})`);
});

test('where natrium is deliberately stricter than nats-server 2.9', () => {
  const dir = tempDir('natrium-verdicts-');
  const file = path.join(dir, 'strict.conf');
  // nats-server drops a value with an unknown size suffix without a word; natrium names it.
  writeFileSync(file, 'max_payload: 1kbb\n');
  assert.match(natriumAccepts(file).detail, /Invalid size suffix 'kbb'/);
  // A negative limit is refused instead of being taken as is.
  writeFileSync(file, 'max_payload: -5\n');
  assert.match(natriumAccepts(file).detail, /"max_payload" must be at least 1, got -5/);
});
