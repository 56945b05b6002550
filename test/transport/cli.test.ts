/**
 * The natrium command with a `tls` and a `websocket` block, next to nats-server with the same file:
 * both start, and their ports files list the client port as tls:// and the websocket port as ws://.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/certs.js';
import { NATS_SERVER_BIN, assertNatsServerInstalled } from '../helpers/nats-server.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;
const GUARD_MS = 15_000;

let pki: TestPki;
let dir: string;
before(() => {
  pki = createTestPki();
  dir = mkdtempSync(path.join(tmpdir(), 'natrium-transport-cli-'));
});
after(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${GUARD_MS} ms waiting for ${what}`)), GUARD_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `bin -c file` and resolves with the JSON of the ports file it writes into `portsDir`. */
async function portsOf(bin: string, args: string[], portsDir: string): Promise<{ child: ChildProcess; ports: Record<string, string[]> }> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${bin} exited with ${code}: ${stderr}`))));
  const file = new Promise<string>((resolve) => {
    const look = (): void => {
      const name = readdirSync(portsDir).find((entry) => entry.endsWith('.ports'));
      if (name === undefined) return;
      watcher.close();
      resolve(path.join(portsDir, name));
    };
    // Watching starts before the first look, so a file written in between is not missed.
    const watcher = watch(portsDir, look);
    look();
  });
  const found = await guard(Promise.race([file, exited]), `${bin} to write its ports file`);
  return { child, ports: JSON.parse(readFileSync(found, 'utf8')) as Record<string, string[]> };
}

test('tls and websocket blocks: both brokers start; ports files list tls:// and ws:// alike', async () => {
  assertNatsServerInstalled();
  const children: ChildProcess[] = [];
  try {
    const shapes: string[] = [];
    for (const [name, bin, extra] of [
      ['nats', NATS_SERVER_BIN, []],
      ['natrium', process.execPath, [CLI]],
    ] as const) {
      const portsDir = path.join(dir, name);
      mkdirSync(portsDir);
      const file = path.join(dir, `${name}.conf`);
      writeFileSync(
        file,
        `listen: 127.0.0.1:-1\ntls { cert_file: "${pki.certFile}", key_file: "${pki.keyFile}" }\n` +
          `websocket { listen: "127.0.0.1:-1", no_tls: true }\nports_file_dir: "${portsDir}"\n`,
      );
      const { child, ports } = await portsOf(bin, [...extra, '-c', file], portsDir);
      children.push(child);
      assert.deepEqual(Object.keys(ports), ['nats', 'websocket'], name);
      assert.match(ports.nats[0], /^tls:\/\/127\.0\.0\.1:\d+$/, name);
      assert.match(ports.websocket[0], /^ws:\/\/127\.0\.0\.1:\d+$/, name);
      shapes.push(JSON.stringify(ports).replace(/:\d+/g, ':PORT'));
    }
    assert.equal(shapes[0], shapes[1]);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  }
});
