/**
 * The native addon outside the parser's semantics (parity.test.ts covers those): it loads in the
 * main thread and in several workers at once, its dup/close hand a live socket to a worker thread,
 * its accept loop and connections serve sockets without net.Socket (and leave nothing open when a
 * worker exits), and bad arguments throw JS errors instead of crashing the process.
 */
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { native, nativeConnections, nativeLoadError, type NativeAddon, type NativeConnections } from '../../src/protocol/native.js';
import { HDR_CONSUMED, HDR_COUNT, HDR_SIZE, OP_STRIDE, OPS_ARRAY_LENGTH, OpKind } from '../../src/protocol/ops.js';

const NATIVE_MODULE_URL = new URL('../../src/protocol/native.js', import.meta.url).href;

/**
 * The addon; null only on a machine without cargo, where the TypeScript parser is used (and then
 * the loader must say why). With cargo installed, a missing or broken addon fails the test.
 */
function loadedAddon(): NativeAddon | null {
  if (native !== null) return native;
  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  assert.ok(cargo.error !== undefined || cargo.status !== 0, `cargo is installed but the addon did not load: ${nativeLoadError}`);
  assert.match(nativeLoadError ?? '', /build:native/);
  return null;
}

/** The addon's client connections: on Linux the addon has them (epoll). */
function loadedConnections(): (NativeAddon & NativeConnections) | null {
  const addon = loadedAddon();
  if (addon === null) return null;
  const connections = nativeConnections(addon);
  assert.ok(connections !== null || process.platform !== 'linux', 'on Linux the addon runs client connections');
  return connections;
}

/** Runs `body` (the text of an async function of `(addon, workerData)`) in a worker; resolves its result. */
async function runInWorker<T>(body: string, workerData: unknown = null): Promise<T> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(NATIVE_MODULE_URL)}).then(async ({ native, nativeLoadError }) => {
      if (!native) throw new Error('worker could not load the addon: ' + nativeLoadError);
      const run = async (addon, workerData) => { ${body} };
      parentPort.postMessage({ result: await run(native, workerData.data) });
    });`;
  const worker = new Worker(source, { eval: true, workerData: { data: workerData } });
  // Both listeners go on now: the worker may post and exit within one turn of the event loop.
  const exited = once(worker, 'exit');
  const [message] = (await once(worker, 'message')) as [{ result: T }];
  await exited;
  return message.result;
}

/** The OS descriptor behind a socket or server (Node exposes it on its internal handle on Unix). */
function socketFd(owner: net.Socket | net.Server): number {
  const fd = (owner as unknown as { _handle?: { fd?: number } })._handle?.fd;
  assert.equal(typeof fd, 'number', 'the handle exposes its fd');
  return fd as number;
}

describe('native addon', () => {
  it('loads in the main thread with parse, dup and close', () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const ops = new Int32Array(OPS_ARRAY_LENGTH);
    const bytes = Buffer.from('PING\r\n');
    assert.equal(addon.parse(bytes, 0, bytes.length, ops, 4096, 1 << 20), 1);
    assert.equal(ops[HDR_COUNT], 1);
    assert.equal(ops[HDR_CONSUMED], bytes.length);
    assert.equal(ops[HDR_SIZE], OpKind.PING);
  });

  it('trimMemory hands freed allocator memory back to the system', async () => {
    const addon = loadedAddon();
    if (addon === null) return;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Every other 100 KiB buffer stays: the freed ones are holes glibc keeps, not its heap's top.
    const chunkBytes = 100 * 1024;
    const chunks = Array.from({ length: 2000 }, () => Buffer.allocUnsafeSlow(chunkBytes).fill(1));
    for (let i = 0; i < chunks.length; i += 2) chunks[i] = Buffer.alloc(0);
    gc();
    // V8 frees the backing stores after the collection, off the main thread: wait until it has.
    const kept = (chunks.length / 2) * chunkBytes;
    for (let turns = 0; process.memoryUsage().arrayBuffers > kept + 20 * 1024 * 1024; turns++) {
      if (turns > 10_000) assert.fail(`backing stores not freed: ${process.memoryUsage().arrayBuffers} bytes`);
      await new Promise(setImmediate);
    }
    const before = process.memoryUsage.rss();
    assert.equal(addon.trimMemory(), 1);
    const released = before - process.memoryUsage.rss();
    assert.ok(released > 50 * 1024 * 1024, `released ${released} bytes of about 100 MiB freed`);
    assert.equal(chunks[1][0], 1, 'the kept buffers are intact');
  });

  it('loads and parses in several workers at once', async () => {
    if (loadedAddon() === null) return;
    const body = `
      const ops = new Int32Array(${OPS_ARRAY_LENGTH});
      const bytes = Buffer.from('PUB a.b 5\\r\\nhello\\r\\n'.repeat(1000));
      let records = 0;
      for (let round = 0; round < 200; round++) records += addon.parse(bytes, 0, bytes.length, ops, 4096, 1 << 20);
      return { records, kind: ops[${HDR_SIZE}], consumed: ops[${HDR_CONSUMED}] };`;
    const results = await Promise.all(Array.from({ length: 4 }, () => runInWorker<Record<string, number>>(body)));
    for (const result of results) {
      assert.deepEqual(result, { records: 200_000, kind: OpKind.PUB, consumed: 18_000 });
    }
  });

  it('dup hands an accepted socket to a worker that serves it through net.Socket({ fd })', async () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const server = net.createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    try {
      const client = net.connect(port, '127.0.0.1');
      const [accepted] = (await once(server, 'connection')) as [net.Socket];
      const duplicate = addon.dup(socketFd(accepted));
      assert.ok(duplicate >= 0 && duplicate !== socketFd(accepted));
      accepted.destroy();

      const served = runInWorker<string>(
        `
        const net = require('node:net');
        const socket = new net.Socket({ fd: workerData, readable: true, writable: true });
        let received = '';
        await new Promise((resolve) => {
          socket.on('data', (chunk) => {
            received += chunk;
            if (received.endsWith('\\n')) socket.end('echo ' + received, resolve);
          });
        });
        return received;`,
        duplicate,
      );
      client.write('hello from the client\n');
      let reply = '';
      client.on('data', (chunk) => (reply += chunk));
      await once(client, 'end');
      assert.equal(reply, 'echo hello from the client\n');
      assert.equal(await served, 'hello from the client\n');
      client.destroy();
    } finally {
      server.close();
    }
  });

  it('close releases a descriptor, and a second close reports EBADF', async () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const fd = socketFd(server);
      const duplicate = addon.dup(fd);
      addon.close(duplicate);
      assert.throws(() => addon.close(duplicate), { code: 'EBADF', message: /close\(\d+\) failed: Bad file descriptor/ });
    } finally {
      server.close();
    }
  });

  it('the duplicate is close-on-exec, so child processes never inherit a client socket', () => {
    const addon = loadedAddon();
    if (addon === null || process.platform !== 'linux') return;
    const duplicate = addon.dup(1);
    try {
      const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${duplicate}`, 'utf8'))?.[1];
      const O_CLOEXEC = 0o2000000;
      assert.ok(flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) !== 0, `fd flags ${flags}`);
    } finally {
      addon.close(duplicate);
    }
  });

  it('dup of a closed descriptor throws with the errno text', () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const duplicate = addon.dup(1);
    addon.close(duplicate);
    assert.throws(() => addon.dup(duplicate), { code: 'EBADF', message: /dup\(\d+\) failed: Bad file descriptor/ });
  });

  it('throws JS errors on bad arguments instead of crashing', () => {
    const loaded = loadedAddon();
    if (loaded === null) return;
    const addon = loaded as unknown as Record<string, (...args: unknown[]) => unknown>;
    const ops = new Int32Array(OPS_ARRAY_LENGTH);
    const bytes = Buffer.from('PING\r\n');
    const shared = new ArrayBuffer(64);
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['no arguments', () => addon.parse(), /6 arguments/],
      ['string buffer', () => addon.parse('PING\r\n', 0, 6, ops, 4096, 1024), /buf must be a Uint8Array/],
      ['Uint16Array buffer', () => addon.parse(new Uint16Array(8), 0, 6, ops, 4096, 1024), /buf must be a Uint8Array/],
      ['Float64Array ops', () => addon.parse(bytes, 0, 6, new Float64Array(64), 4096, 1024), /ops must be an Int32Array/],
      ['plain array ops', () => addon.parse(bytes, 0, 6, [0, 0, 0, 0], 4096, 1024), /ops must be an Int32Array/],
      ['string start', () => addon.parse(bytes, '0', 6, ops, 4096, 1024), /must be numbers/],
      ['negative start', () => addon.parse(bytes, -1, 6, ops, 4096, 1024), /start <= end/],
      ['end past the buffer', () => addon.parse(bytes, 0, 7, ops, 4096, 1024), /end <= buf.length/],
      ['start after end', () => addon.parse(bytes, 4, 2, ops, 4096, 1024), /start <= end/],
      ['ops without room for a record', () => addon.parse(bytes, 0, 6, new Int32Array(HDR_SIZE + OP_STRIDE - 1), 4096, 1024), /at least one record/],
      ['overlapping buf and ops', () => addon.parse(new Uint8Array(shared, 0, 32), 0, 6, new Int32Array(shared, 16, 12), 4096, 1024), /overlap/],
      ['dup without an fd', () => addon.dup(), /1 argument/],
      ['dup of a string', () => addon.dup('3'), /non-negative integer/],
      ['dup of a negative fd', () => addon.dup(-1), /non-negative integer/],
      ['close of an object', () => addon.close({}), /non-negative integer/],
    ];
    for (const [name, call, message] of cases) {
      assert.throws(call, message, name);
    }
    assert.equal(addon.parse(bytes, 0, 6, ops, 4096, 1024), 1, 'the addon still works afterwards');
  });

  it('importing never throws: a missing or wrong addon leaves native null with the reason', () => {
    const probe = `import(${JSON.stringify(NATIVE_MODULE_URL)}).then((m) => console.log(JSON.stringify({ loaded: m.native !== null, error: m.nativeLoadError })))`;
    const load = (addonPath: string) => {
      const child = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NATRIUM_NATIVE_PATH: addonPath } });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout) as { loaded: boolean; error: string | null };
    };
    const missing = load('/nonexistent/natrium.node');
    assert.equal(missing.loaded, false);
    assert.match(missing.error ?? '', /\/nonexistent\/natrium\.node: not found/);
    const notAnAddon = load(fileURLToPath(new URL('../../../package.json', import.meta.url)));
    assert.equal(notAnAddon.loaded, false);
    assert.match(notAnAddon.error ?? '', /does not export parse, dup, close, trimMemory, acceptConnections/);
  });

  it("the crate's own tests pass in a debug build (arithmetic overflow checks on)", () => {
    const manifest = fileURLToPath(new URL('../../../native/Cargo.toml', import.meta.url));
    const cargo = spawnSync('cargo', ['test', '--quiet', '--manifest-path', manifest], { encoding: 'utf8', timeout: 300_000 });
    // Without cargo there is no crate to test (and loadedAddon checks that the fallback says so).
    if (cargo.error !== undefined && (cargo.error as NodeJS.ErrnoException).code === 'ENOENT' && loadedAddon() === null) return;
    assert.equal(cargo.status, 0, `${cargo.stdout}\n${cargo.stderr}`);
    assert.match(cargo.stdout, /test result: ok\. [1-9]\d* passed; 0 failed/);
  });

  it('a parse on an empty range writes an empty result', () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const ops = new Int32Array(OPS_ARRAY_LENGTH).fill(7);
    assert.equal(addon.parse(new Uint8Array(0), 0, 0, ops, 4096, 1024), 0);
    assert.equal(ops[HDR_COUNT], 0);
    assert.equal(ops[HDR_CONSUMED], 0);
  });

  it('acceptConnections takes pending connections with their peer address; stopAccepting refuses new ones', async () => {
    const addon = loadedAddon();
    if (addon === null) return;
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const listening = addon.dup(socketFd(server));
    server.close();
    const batches: (number | string)[][] = [];
    let onBatch: () => void = () => {};
    const acceptor = addon.acceptConnections(listening, (batch, error) => {
      assert.equal(error, undefined);
      batches.push(batch);
      onBatch();
    });
    const accepted = new Promise<void>((resolve) => (onBatch = resolve));
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    await accepted;
    const [fd, ip, peerPort] = batches[0];
    assert.equal(typeof fd, 'number');
    assert.equal(ip, '127.0.0.1');
    assert.equal(peerPort, client.localPort);
    addon.close(fd as number);
    await once(client, 'close');
    addon.stopAccepting(acceptor);
    addon.stopAccepting(acceptor);
    const refused = net.connect(port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
  });

  it('openConnection reads, writes (writev), pauses, sees the end and closes an accepted socket; one call per wake-up', async () => {
    const addon = loadedConnections();
    if (addon === null) return;
    const server = net.createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accept = async (): Promise<[net.Socket, number]> => {
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      const [accepted] = (await once(server, 'connection')) as [net.Socket];
      const fd = addon.dup(socketFd(accepted));
      accepted.destroy();
      return [client, fd];
    };
    const [client, fd] = await accept();
    const [other, otherFd] = await accept();
    server.close();
    const batches: (number | Buffer | string | undefined)[][] = [];
    let onBatch: () => void = () => {};
    addon.connectionEvents((batch) => {
      // Whole events only: [id, kind, data] each, no holes.
      assert.ok(batch.length > 0 && batch.length % 3 === 0 && batch.every((v, i) => i % 3 === 2 || typeof v === 'number'), `batch ${batch}`);
      batches.push(batch);
      onBatch();
    });
    assert.throws(() => addon.connectionEvents(() => {}), /already set/);
    const nextBatch = (): Promise<void> => new Promise((resolve) => (onBatch = resolve));
    const connection = addon.openConnection(fd, 42);
    const otherConnection = addon.openConnection(otherFd, 43);

    let batch = nextBatch();
    client.write('hello');
    await batch;
    assert.deepEqual(batches.shift(), [42, 0, Buffer.from('hello')]);

    // Both ready before the loop polls: their reads come in one call.
    batch = nextBatch();
    await Promise.all([new Promise((resolve) => client.write('one', resolve)), new Promise((resolve) => other.write('two', resolve))]);
    await batch;
    const both = batches.shift()!;
    assert.equal(both.length, 6);
    assert.deepEqual(
      [both.slice(0, 3), both.slice(3)].sort((a, b) => (a[0] as number) - (b[0] as number)),
      [
        [42, 0, Buffer.from('one')],
        [43, 0, Buffer.from('two')],
      ],
    );
    addon.closeConnection(otherConnection);
    await once(other, 'close');

    let reply = '';
    client.on('data', (chunk) => (reply += chunk));
    assert.equal(addon.writeConnection(connection, [Buffer.from('wor'), Buffer.alloc(0), Buffer.from('ld\n')]), 6);
    await new Promise<void>((resolve) => client.once('data', () => resolve()));
    assert.equal(reply, 'world\n');

    // Paused, the bytes wait in the socket; resumed, they arrive.
    addon.pollConnection(connection, false, false);
    // Loopback delivers within the write: after it and a full turn of the loop (its poll phase
    // included), an unpaused connection would have reported the bytes.
    await new Promise<void>((resolve) => client.write('later', () => setImmediate(() => setImmediate(resolve))));
    assert.equal(batches.length, 0);
    batch = nextBatch();
    addon.pollConnection(connection, true, false);
    await batch;
    assert.deepEqual(batches.shift(), [42, 0, Buffer.from('later')]);

    batch = nextBatch();
    client.end();
    await batch;
    assert.deepEqual(batches.shift(), [42, 1, undefined]);
    addon.shutdownConnection(connection);
    await once(client, 'end');
    addon.closeConnection(connection);
    addon.closeConnection(connection);
    assert.throws(() => addon.writeConnection(connection, [Buffer.from('x')]), /closed/);
    assert.throws(() => addon.openConnection(-1, 1), TypeError);
    assert.throws(() => addon.writeConnection({} as never, []), TypeError);
  });

  it('a worker that exits with connections and a listener still open is torn down cleanly', async () => {
    if (loadedConnections() === null) return;
    const result = await runInWorker<string>(`
      const net = require('node:net');
      const server = net.createServer();
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const fd = addon.dup(server._handle.fd);
      const port = server.address().port;
      server.close();
      addon.connectionEvents(() => {});
      const opened = new Promise((resolve) => {
        addon.acceptConnections(fd, (batch) => {
          for (let i = 0; i < batch.length; i += 3) addon.openConnection(batch[i], i);
          resolve();
        });
      });
      net.connect(port, '127.0.0.1');
      await opened;
      // Open connections keep a loop alive: the worker goes as the broker's do (process.exit, terminate).
      setImmediate(() => process.exit(0));
      return 'left open';`);
    assert.equal(result, 'left open');
  });
});
