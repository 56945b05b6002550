#!/usr/bin/env node
/**
 * `npm test`: unit tests once, then every end-to-end and differential test once per combination
 * of worker count (1 and 4) and parser backend (js and native). Prints node's TAP output and a
 * closing "N passed, N failed" line over all runs; exits non-zero if anything failed.
 *
 *   npm test -- --only e2e          only the end-to-end/differential runs
 *   npm test -- --only unit         only the unit tests
 *   NATRIUM_TEST_MATRIX=1:js,4:native npm test   choose the combinations
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test');
const END_TO_END = ['e2e', 'differential'];

function testFiles(filter) {
  if (!existsSync(testRoot)) throw new Error('dist/test is missing: run npm run build first');
  return readdirSync(testRoot, { recursive: true })
    .filter((file) => file.endsWith('.test.js'))
    .filter((file) => filter(file.split('/')[0]))
    .sort()
    .map((file) => join(testRoot, file));
}

function nativeAvailable() {
  return readdirSync(join(root, 'native')).some((file) => file.endsWith('.node'));
}

function cargoAvailable() {
  return spawnSync('cargo', ['--version']).status === 0;
}

// A hung test fails on its own (the soak test, the longest, takes 2 minutes); a run whose files
// still do not exit (a worker kept alive by a test that timed out) is killed, so CI fails fast.
const TEST_TIMEOUT_MS = 240_000;
const RUN_TIMEOUT_MS = 12 * 60_000;

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const matrix = (process.env.NATRIUM_TEST_MATRIX ?? '1:js,4:js,1:native,4:native').split(',').map((entry) => {
  const [workers, parser] = entry.split(':');
  return { workers, parser };
});

const runs = [];
if (only !== 'e2e') runs.push({ name: 'unit', files: testFiles((dir) => !END_TO_END.includes(dir)), env: {} });
if (only !== 'unit') {
  for (const { workers, parser } of matrix) {
    if (parser === 'native' && !nativeAvailable()) {
      if (cargoAvailable()) throw new Error('cargo is installed but the native addon is not built: run npm run build:native');
      console.log(`# no cargo on this machine: the native-parser runs (workers=${workers}) are left out`);
      continue;
    }
    runs.push({
      name: `e2e workers=${workers} parser=${parser}`,
      files: testFiles((dir) => END_TO_END.includes(dir)),
      env: { NATRIUM_TEST_WORKERS: workers, NATRIUM_TEST_PARSER: parser },
    });
  }
}

let passed = 0;
let failed = 0;
for (const run of runs) {
  console.log(`# ===== ${run.name}: ${run.files.length} files`);
  if (run.files.length === 0) continue;
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=tap', `--test-timeout=${TEST_TIMEOUT_MS}`, ...run.files], {
    env: { ...process.env, ...run.env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: RUN_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error) console.log(`# ${run.name}: ${result.error.message} (a test hung: killed after ${RUN_TIMEOUT_MS / 60_000} min)`);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  const pass = Number(/^# pass (\d+)/m.exec(result.stdout)?.[1] ?? 0);
  const fail = Number(/^# fail (\d+)/m.exec(result.stdout)?.[1] ?? 0);
  passed += pass;
  failed += fail + (result.status !== 0 && fail === 0 ? 1 : 0);
  console.log(`# ===== ${run.name}: ${pass} passed, ${fail} failed`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
