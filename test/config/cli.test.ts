/**
 * The natrium command with nats-server's config files, side by side with the real nats-server:
 * `-t` verdicts, refused keys, and both brokers started from one file behaving alike. Also the
 * process lifecycle: ports and pid files, SIGHUP reload, SIGTERM, --signal.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { NATS_SERVER_BIN, assertNatsServerInstalled } from '../helpers/nats-server.js';
import { startServer } from '../../src/server/server.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;
const children = new Set<ChildProcess>();
const tempDirs: string[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory, removed when this file's tests are done. */
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-cli-'));
  tempDirs.push(dir);
  return dir;
}

function writeConf(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function natrium(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function natsServer(args: string[]): { status: number | null; stdout: string; stderr: string } {
  assertNatsServerInstalled();
  return spawnSync(NATS_SERVER_BIN, args, { encoding: 'utf8', timeout: 20_000 });
}

/** A started broker process and the ports file it wrote. */
interface Launched {
  child: ChildProcess;
  ports: { nats: string[]; monitoring?: string[] };
  stderr: () => string;
}

/** Starts a broker with the given args and waits for its ports file in `dir` (written once it is ready). */
async function launch(bin: string, args: string[], dir: string, prefix: string): Promise<Launched> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (/Server is ready/.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${bin} exited with ${code}: ${stderr}`)));
  });
  await guard(ready, `${bin} to start`);
  const file = await guard(portsFile(dir, `${prefix}${child.pid}.ports`), `${bin} to write its ports file`);
  return { child, ports: JSON.parse(readFileSync(file, 'utf8')), stderr: () => stderr };
}

/** Turns a hang into a failure naming what did not happen. */
function guard<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `name` exists in `dir` (the brokers write it right after they are ready). */
function portsFile(dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  return new Promise((resolve) => {
    const found = (): void => {
      if (!existsSync(file)) return;
      watcher.close();
      resolve(file);
    };
    // Watching starts before the first look, so a file written in between is not missed.
    const watcher = watch(dir, found);
    found();
  });
}

async function stop(launched: Launched, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (launched.child.exitCode !== null) return launched.child.exitCode;
  const exited = once(launched.child, 'exit');
  launched.child.kill(signal);
  const [code] = await exited;
  return code as number | null;
}

/** Connects and returns the INFO object the server greets with, and the socket, still open. */
async function info(url: string): Promise<{ info: Record<string, unknown>; socket: net.Socket }> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve(buffered.slice(0, end));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before INFO')));
  });
  return { info: JSON.parse(line.slice(5)), socket };
}

async function varz(monitorUrl: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${monitorUrl}/varz`);
  return (await response.json()) as Record<string, unknown>;
}

const SHARED_CONFIG = `
# One file for both brokers.
listen: 127.0.0.1:-1
http: "127.0.0.1:-1"
server_name: twin
max_payload: 512KB
max_control_line = 2KB
max_pending: 16MB
write_deadline: "4s"
ping_interval: "45s"
ping_max 3
max_connections: 50
max_subscriptions: 20
LIMITS { nested: true }
debug: false, trace: false
logtime: true
`;

test('-t: a file with supported keys is valid to nats-server and to natrium alike', () => {
  const dir = tempDir();
  const file = writeConf(dir, 'both.conf', `${SHARED_CONFIG}ports_file_dir: "${dir}"\n`.replace('LIMITS { nested: true }\n', ''));
  const reference = natsServer(['-c', file, '-t']);
  assert.equal(reference.status, 0, reference.stderr);
  const ours = natrium(['-c', file, '-t']);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(ours.stdout, `natrium: configuration file ${file} is valid\n`);
});

test('-t: what nats-server refuses, natrium refuses, naming file:line', () => {
  const dir = tempDir();
  const cases: [string, RegExp][] = [
    ['port: 4222\nfoo: 1\n', /:2:1: unknown field "foo"/],
    ['port: 4222\nserver_name: "unterminated\n', /:3:\d+: Unexpected EOF/],
    ['port: 4222\nmax_payload: 3GB\n', /:2:1: max_payload value is too big/],
    ['ping_interval: 30\n', /:1:1: invalid use of field "ping_interval": ping_interval should be converted to a duration/],
    ['port: $NOT_DEFINED_ANYWHERE\n', /:1:\d+: variable reference for 'NOT_DEFINED_ANYWHERE' on line 1 can not be found/],
  ];
  for (const [text, expected] of cases) {
    const file = writeConf(dir, 'bad.conf', text);
    assert.notEqual(natsServer(['-c', file, '-t']).status, 0, `nats-server accepted ${JSON.stringify(text)}`);
    const ours = natrium(['-c', file, '-t']);
    assert.equal(ours.status, 1, `natrium accepted ${JSON.stringify(text)}`);
    assert.match(ours.stderr, new RegExp(`natrium: ${file.replace(/[.]/g, '\\.')}${expected.source}`));
  }
});

test('keys nats-server supports and natrium does not are refused at startup with file:line and name', () => {
  const dir = tempDir();
  const file = writeConf(dir, 'unsupported.conf', 'port: -1\ngateway {\n  name: a\n  port: -1\n}\nleafnodes { port: 7422 }\n');
  assert.equal(natsServer(['-c', file, '-t']).status, 0);
  const ours = natrium(['-c', file]);
  assert.equal(ours.status, 1);
  assert.match(ours.stderr, new RegExp(`${file}:2:1: "gateway" is not supported by natrium yet`));
  assert.match(ours.stderr, new RegExp(`${file}:6:1: "leafnodes" is not supported by natrium yet`));
});

test('one config file, both brokers: same INFO limits and /varz settings; ports files alike', async () => {
  const dir = tempDir();
  const natsDir = path.join(dir, 'nats');
  const ourDir = path.join(dir, 'natrium');
  const natsFile = writeConf(dir, 'nats.conf', `${SHARED_CONFIG.replace('LIMITS { nested: true }\n', '')}ports_file_dir: "${natsDir}"\n`);
  const ourFile = writeConf(dir, 'natrium.conf', `${SHARED_CONFIG.replace('LIMITS { nested: true }\n', '')}ports_file_dir: "${ourDir}"\nworkers: 2\n`);
  for (const d of [natsDir, ourDir]) spawnSync('mkdir', ['-p', d]);
  const reference = await launch(NATS_SERVER_BIN, ['-c', natsFile], natsDir, 'nats-server_');
  const ours = await launch(process.execPath, [CLI, '-c', ourFile], ourDir, 'natrium_');
  try {
    for (const launched of [reference, ours]) {
      assert.equal(launched.ports.nats.length, 1);
      assert.match(launched.ports.nats[0], /^nats:\/\/127\.0\.0\.1:\d+$/);
      assert.match(launched.ports.monitoring![0], /^http:\/\/127\.0\.0\.1:\d+$/);
    }
    const [refInfo, ourInfo] = await Promise.all([info(reference.ports.nats[0]), info(ours.ports.nats[0])]);
    refInfo.socket.destroy();
    ourInfo.socket.destroy();
    for (const key of ['server_name', 'max_payload', 'headers', 'proto', 'host']) {
      assert.deepEqual(ourInfo.info[key], refInfo.info[key], `INFO ${key}`);
    }
    const [refVarz, ourVarz] = await Promise.all([varz(reference.ports.monitoring![0]), varz(ours.ports.monitoring![0])]);
    for (const key of ['server_name', 'max_payload', 'max_control_line', 'max_pending', 'write_deadline', 'ping_interval', 'ping_max', 'max_connections', 'http_host', 'host']) {
      assert.deepEqual(ourVarz[key], refVarz[key], `varz ${key}`);
    }
  } finally {
    assert.equal(await stop(ours), 0);
    await stop(reference);
  }
  // Both remove their ports file when they stop.
  assert.deepEqual(readdirSync(ourDir), []);
});

test('flags override the config file', async () => {
  const dir = tempDir();
  const file = writeConf(dir, 'n.conf', `port: 4999\nserver_name: from-file\nmax_payload: 1KB\nports_file_dir: "${dir}"\n`);
  const ours = await launch(process.execPath, [CLI, '-c', file, '-p', '-1', '-a', '127.0.0.1', '--server_name', 'from-flag', '--workers', '1'], dir, 'natrium_');
  try {
    assert.notEqual(new URL(ours.ports.nats[0]).port, '4999');
    const { info: greeting, socket } = await info(ours.ports.nats[0]);
    socket.destroy();
    assert.equal(greeting.server_name, 'from-flag');
    assert.equal(greeting.max_payload, 1024);
  } finally {
    await stop(ours);
  }
});

test('worker count: one per core from the CLI unless --workers or the workers key says otherwise; one when embedded', async () => {
  const dir = tempDir();
  const workersLine = (text: string): number => Number(/Workers:\s+(\d+)/.exec(text)?.[1]);
  const byDefault = await launch(process.execPath, [CLI, '-p', '-1', '-a', '127.0.0.1', '--ports_file_dir', dir], dir, 'natrium_');
  await stop(byDefault);
  assert.equal(workersLine(byDefault.stderr()), availableParallelism());
  const file = writeConf(dir, 'w.conf', `workers: 3\nports_file_dir: "${dir}"\n`);
  const fromFile = await launch(process.execPath, [CLI, '-c', file, '-p', '-1', '-a', '127.0.0.1'], dir, 'natrium_');
  await stop(fromFile);
  assert.equal(workersLine(fromFile.stderr()), 3);
  const fromFlag = await launch(process.execPath, [CLI, '-c', file, '-p', '-1', '-a', '127.0.0.1', '--workers', '2'], dir, 'natrium_');
  await stop(fromFlag);
  assert.equal(workersLine(fromFlag.stderr()), 2);
  const embedded = await startServer({ host: '127.0.0.1', port: -1, logLevel: 'error' });
  try {
    assert.equal(embedded.workers, 1);
  } finally {
    await embedded.close();
  }
});

test('SIGHUP reloads limits and log level without dropping connections; refuses what cannot change live', async () => {
  const dir = tempDir();
  const pidFile = path.join(dir, 'natrium.pid');
  const base = `listen: 127.0.0.1:-1\nhttp_port: -1\nports_file_dir: "${dir}"\npid_file: "${pidFile}"\nworkers: 2\n`;
  const file = writeConf(dir, 'n.conf', `${base}max_payload: 1KB\n`);
  const ours = await launch(process.execPath, [CLI, '-c', file], dir, 'natrium_');
  try {
    assert.equal(readFileSync(pidFile, 'utf8'), String(ours.child.pid));
    const before = await info(ours.ports.nats[0]);
    assert.equal(before.info.max_payload, 1024);
    const reloaded = (text: RegExp): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (text.test(ours.stderr())) {
            ours.child.stderr!.off('data', check);
            resolve();
          }
        };
        ours.child.stderr!.on('data', check);
      });

    writeConf(dir, 'n.conf', `${base}max_payload: 2KB\ndebug: true\n`);
    let done = reloaded(/Reloaded server configuration/);
    // Through --signal and the pid file, as nats-server --signal reload=<pid file>.
    assert.equal(natrium(['--signal', `reload=${pidFile}`]).status, 0);
    await guard(done, 'the reload');
    const after = await info(ours.ports.nats[0]);
    assert.equal(after.info.max_payload, 2048);
    after.socket.destroy();
    const settings = await varz(ours.ports.monitoring![0]);
    assert.equal(settings.max_payload, 2048);
    assert.equal(settings.connections, 1, 'the connection opened before the reload is still there');
    // The old connection still works.
    before.socket.write('CONNECT {"verbose":false}\r\nPING\r\n');
    let reply = '';
    for await (const chunk of before.socket) {
      reply += chunk.toString();
      if (reply.includes('PONG\r\n')) break;
    }
    assert.match(reply, /PONG\r\n/);

    writeConf(dir, 'n.conf', `${base.replace('127.0.0.1:-1', '127.0.0.1:4998')}max_payload: 4KB\n`);
    done = reloaded(/Failed to reload server configuration: config reload not supported for port/);
    process.kill(ours.child.pid!, 'SIGHUP');
    await guard(done, 'the refused reload');
    assert.equal((await varz(ours.ports.monitoring![0])).max_payload, 2048, 'a refused reload changes nothing');
    before.socket.destroy();
  } finally {
    assert.equal(await stop(ours), 0);
  }
  assert.equal(existsSync(pidFile), false, 'the pid file is removed on exit');
});

test('--signal quit, stop and ldm reach the process named by a pid or pid file', async () => {
  const dir = tempDir();
  const pidFile = path.join(dir, 'n.pid');
  const args = [CLI, '-a', '127.0.0.1', '-p', '-1', '-P', pidFile, '--ports_file_dir', dir, '--workers', '1'];
  let ours = await launch(process.execPath, args, dir, 'natrium_');
  let exited = once(ours.child, 'exit');
  assert.equal(natrium(['--signal', 'quit', '-P', pidFile]).status, 0);
  assert.deepEqual(await exited, [0, null]);

  ours = await launch(process.execPath, args, dir, 'natrium_');
  exited = once(ours.child, 'exit');
  assert.equal(natrium(['--signal', `stop=${ours.child.pid}`]).status, 0);
  assert.deepEqual(await exited, [null, 'SIGKILL']);

  ours = await launch(process.execPath, args, dir, 'natrium_');
  exited = once(ours.child, 'exit');
  assert.equal(natrium(['--signal', `ldm=${pidFile}`]).status, 0);
  assert.deepEqual(await exited, [0, null], 'lame duck without clients stops at once, exit 0');
  assert.match(ours.stderr(), /Entering lame duck mode/);
  assert.equal(existsSync(pidFile), false);

  const unknown = natrium(['--signal', 'explode=1']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown signal "explode"/);
});

test('--signal reopen (SIGUSR1): after logrotate moved the log file, logging goes on in a new one', async () => {
  const dir = tempDir();
  const logFile = path.join(dir, 'natrium.log');
  const pidFile = path.join(dir, 'n.pid');
  const child = spawn(process.execPath, [CLI, '-a', '127.0.0.1', '-p', '-1', '--workers', '2', '-l', logFile, '-P', pidFile], { stdio: 'ignore' });
  children.add(child);
  try {
    await guard(fileContaining(dir, logFile, /Server is ready/), 'the first log file');
    renameSync(logFile, `${logFile}.1`);
    assert.equal(natrium(['--signal', 'reopen', '-P', pidFile]).status, 0);
    await guard(fileContaining(dir, logFile, /Reopened log file/), 'the new log file');
    assert.doesNotMatch(readFileSync(`${logFile}.1`, 'utf8'), /Reopened log file/);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
  }
});

/** Resolves once `file` (in `dir`) exists and matches `pattern`. */
function fileContaining(dir: string, file: string, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!existsSync(file) || !pattern.test(readFileSync(file, 'utf8'))) return;
      watcher.close();
      resolve();
    };
    const watcher = watch(dir, check);
    check();
  });
}

test('SIGTERM with clients connected: they are closed, the process exits 0 within a few seconds', async () => {
  const dir = tempDir();
  const ours = await launch(process.execPath, [CLI, '-a', '127.0.0.1', '-p', '-1', '--workers', '2', '--ports_file_dir', dir], dir, 'natrium_');
  const clients = await Promise.all([info(ours.ports.nats[0]), info(ours.ports.nats[0]), info(ours.ports.nats[0])]);
  const closed = Promise.all(clients.map(({ socket }) => new Promise((resolve) => socket.once('close', resolve).resume())));
  const started = performance.now();
  assert.equal(await stop(ours, 'SIGTERM'), 0);
  await guard(closed, 'the clients to be closed', 5000);
  assert.ok(performance.now() - started < 5000, 'exit within a few seconds');
  assert.deepEqual(readdirSync(dir), [], 'the ports file is removed');
});
