#!/usr/bin/env node
// Builds the Rust N-API parser (native/) with @napi-rs/cli. The result is
// native/natrium.<platform>-<arch>[-<abi>].node, which src/protocol/native.ts loads.
// Without cargo the broker runs on the TypeScript parser, so a missing toolchain is not an error;
// a failing build is, so that a broken crate never goes unnoticed where cargo exists (CI).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  console.log('build:native: cargo not found; the TypeScript parser will be used.');
  process.exit(0);
}

const require = createRequire(join(root, 'package.json'));
let napiCli;
try {
  const cliPackageJson = require.resolve('@napi-rs/cli/package.json');
  napiCli = join(dirname(cliPackageJson), require(cliPackageJson).bin.napi);
} catch {
  console.error('build:native: @napi-rs/cli is not installed (a devDependency); run npm install first.');
  process.exit(1);
}

const build = spawnSync(
  process.execPath,
  [napiCli, 'build', '--release', '--platform', '--no-js', '--cwd', 'native', '--package-json-path', '../package.json'],
  { cwd: root, stdio: 'inherit' },
);
if (build.error) {
  console.error(`build:native: could not run napi build: ${build.error.message}`);
  process.exit(1);
}
if (build.status !== 0) {
  console.error(`build:native: napi build failed (exit ${build.status ?? build.signal})`);
  process.exit(build.status || 1);
}
