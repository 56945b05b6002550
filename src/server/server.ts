/**
 * The main thread: listens, hands each accepted connection to the least loaded worker, supervises
 * the workers. It does no protocol work.
 */
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { native, nativeLoadError } from '../protocol/native.js';
import { setInfoTls, type ServerInfo } from '../protocol/encoder.js';
import type { FromWorker, HandedConnection, ToWorker, WorkerConfig } from '../worker/worker-main.js';
import { createLogger } from './logger.js';
import { DEFAULT_OPTIONS, type ServerOptions } from './options.js';
import { acceptedSlot, AccountConnections, createConnectionCounters, openSlot } from './shared-state.js';
import { createMeshBuffers } from '../worker/mesh.js';
import { startMonitoring, type MonitorServer } from '../monitor/http-server.js';
import { reopenLogFile } from './log-file.js';
import { assertReloadable } from './signals.js';
import { assertAuthConsistent, assertOperatorConsistent } from '../auth/config.js';
import { NATRIUM_VERSION, NATS_PROTOCOL_VERSION } from './version.js';
import type { ConnectionKind } from '../transport/accept.js';
import { listenForConnections, type Listener } from './listener.js';
import { checkTransports } from '../transport/check.js';

export interface RunningServer {
  /** nats://host:port, usable by any NATS client. */
  url: string;
  host: string;
  port: number;
  serverId: string;
  /** Worker threads serving connections. */
  workers: number;
  /** http://host:port of the monitoring endpoints, when httpPort enabled them. */
  monitorUrl?: string;
  /** ws://host:port (wss:// with TLS) of the WebSocket listener, when `websocket` enabled it. */
  websocketUrl?: string;
  /**
   * Applies changed options to the running server, as nats-server's reload: limits, log level and
   * TLS for new connections; authentication settings for new logins and connected clients, which
   * are checked again (closed if no longer authorized, subscriptions their new permissions do not
   * allow removed). Resolves once every worker applied them; rejects, changing nothing, for
   * options that cannot change live (port, host, workers, ...).
   */
  reload(changes: Partial<ServerOptions>): Promise<void>;
  /**
   * Lame-duck mode: stops accepting, tells clients (INFO ldm), closes them gradually over
   * lameDuckDuration after lameDuckGracePeriod, then closes the server.
   */
  lameDuck(): Promise<void>;
  /** Reopens the log file in every thread (after rotation), as nats-server does on SIGUSR1. */
  reopenLog(): void;
  /**
   * Fault injection: terminates worker `index` as a crash would (its connections drop) and
   * resolves once the supervisor has a replacement serving.
   */
  killWorker(index: number): Promise<void>;
  /** Stops accepting, closes every client and stops the workers. */
  close(): Promise<void>;
}

const WORKER_ENTRY = new URL('../worker/worker-main.js', import.meta.url);
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A server id shaped like nats-server's (a public server NKey: 'N' + 55 base32 characters). */
function newServerId(): string {
  const bytes = randomBytes(55);
  let id = 'N';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}



const MEMORY_TRIM_INTERVAL_MS = 30_000;

class WorkerSlot {
  worker!: Worker;
  /** Connections posted to this worker, to balance before its own counter catches up. */
  assigned = 0;
  /**
   * The newest connections posted to this worker, of which the last `assigned - accepted` are not
   * adopted yet: if the worker dies they wait in its dead queue, and go to the replacement instead.
   */
  posted: HandedConnection[] = [];
  /** Connections accepted in this event-loop turn, posted to the worker together at its end. */
  outbox: HandedConnection[] = [];
  ready!: Promise<FromWorker & { type: 'ready' }>;
  constructor(readonly index: number) {}
}

export async function startServer(partial: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const options: ServerOptions = { ...DEFAULT_OPTIONS, ...partial };
  if (options.port === -1) options.port = 0;
  const log = createLogger(options);
  if (options.parser === 'native' && native === null) throw new Error(`--parser native: ${nativeLoadError}`);
  assertAuthConsistent(options);
  assertOperatorConsistent(options);
  // Handing sockets to workers needs dup(2) from the addon; without it the one worker listens itself.
  const listenSelf = native === null;
  let workerCount = options.workers;
  if (listenSelf && workerCount > 1) {
    log.warn(`Native addon unavailable (${nativeLoadError}): running 1 worker instead of ${workerCount}`);
    workerCount = 1;
  }
  options.workers = workerCount;
  checkTransports(options);
  const serverId = newServerId();
  const info: ServerInfo = {
    server_id: serverId,
    server_name: options.serverName || serverId,
    version: NATS_PROTOCOL_VERSION,
    proto: 1,
    // nats-server names its runtime here; clients only display it.
    go: `node${process.version}`,
    host: options.host,
    port: options.port,
    headers: true,
    max_payload: options.maxPayload,
  };
  // WebSocket clients get the same INFO.
  setInfoTls(info, options.tls);
  log.info(`Starting natrium ${NATRIUM_VERSION} (nats protocol ${NATS_PROTOCOL_VERSION})`);
  log.info(`  Name:     ${info.server_name}`);
  log.info(`  ID:       ${serverId}`);
  log.info(`  Workers:  ${workerCount}`);

  const counters = createConnectionCounters(workerCount);
  const accountConnections = AccountConnections.create(workerCount, Object.keys(options.operator?.preload ?? {}).length);
  const mesh = createMeshBuffers(workerCount, options.maxPayload);
  const slots = Array.from({ length: workerCount }, (_, i) => new WorkerSlot(i));
  let stopping = false;
  let listener: Listener | null = null;
  let websocketListener: Listener | null = null;
  let nextClientId = 1;
  let selfListenPorts: Promise<{ port: number; websocketPort: number }> | null = null;

  function spawn(slot: WorkerSlot): void {
    const config: WorkerConfig = {
      index: slot.index,
      options,
      info,
      counters,
      accountConnections: { counts: accountConnections.counts, accounts: accountConnections.accounts },
      mesh,
      listenSelf,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData: config });
    slot.worker = worker;
    slot.assigned = Atomics.load(counters, acceptedSlot(slot.index));
    slot.ready = new Promise((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'interest-region') shareRegion(message.worker, message.region);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${slot.index} exited with code ${code} while starting`)));
    });
    if (listenSelf) {
      selfListenPorts = new Promise((resolve, reject) => {
        worker.on('message', (message: FromWorker) => {
          if (message.type === 'listening') resolve(message);
          else if (message.type === 'listen-error') reject(new Error(message.message));
        });
      });
    }
    worker.on('error', (error) => log.error({ worker: slot.index, err: error }, 'Worker failed'));
    worker.on('exit', (code) => {
      // Its connections died with it; their counters must not keep the slot looking busy.
      const open = Atomics.exchange(counters, openSlot(slot.index), 0);
      Atomics.sub(counters, 0, open);
      accountConnections.clearWorker(slot.index);
      const orphans = slot.posted.slice(slot.posted.length - unadopted(slot));
      slot.posted = [];
      slot.outbox = []; // among the orphans
      if (stopping) {
        for (const orphan of orphans) closeSync(orphan.fd);
        return;
      }
      log.error({ worker: slot.index, code }, `Worker ${slot.index} exited; respawning`);
      spawn(slot);
      for (const orphan of orphans) post(slot, orphan);
      postOutboxes();
      slot.ready.catch((error: Error) => log.error({ err: error }, `Worker ${slot.index} failed to restart`));
    });
  }

  /** A worker's interest table grew: every peer reads the new region from now on. */
  function shareRegion(worker: number, region: SharedArrayBuffer): void {
    mesh.interestRegions[worker] = region;
    const message: ToWorker = { type: 'adopt-region', worker, region };
    for (const slot of slots) if (slot.index !== worker) slot.worker.postMessage(message);
  }

  function leastLoaded(): WorkerSlot {
    let best = slots[0];
    let bestLoad = Infinity;
    for (const slot of slots) {
      const load = Atomics.load(counters, openSlot(slot.index)) + unadopted(slot);
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Connections posted to the slot's worker that it has not taken yet. */
  function unadopted(slot: WorkerSlot): number {
    return slot.assigned - Atomics.load(counters, acceptedSlot(slot.index));
  }

  /** Queues a connection for the slot's worker; postOutboxes() sends it. */
  function post(slot: WorkerSlot, connection: HandedConnection): void {
    slot.assigned++;
    slot.posted.push(connection);
    const waiting = unadopted(slot);
    if (slot.posted.length > waiting) slot.posted.splice(0, slot.posted.length - waiting);
    slot.outbox.push(connection);
  }

  /** One message per worker for every connection of one accept burst (a storm comes in bursts). */
  function postOutboxes(): void {
    for (const slot of slots) {
      if (slot.outbox.length === 0) continue;
      const message: ToWorker = { type: 'connections', connections: slot.outbox };
      slot.outbox = [];
      slot.worker.postMessage(message);
    }
  }

  for (const slot of slots) spawn(slot);
  let readies;
  try {
    readies = await Promise.all(slots.map((slot) => slot.ready));
  } catch (error) {
    // One worker could not start: the others must not keep the process alive.
    stopping = true;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    throw error;
  }
  const parser = readies[0];
  if (parser.parserFallbackReason !== null) log.warn(`Using the TypeScript parser: ${parser.parserFallbackReason}`);
  log.info(`Protocol parser: ${parser.parser}`);

  let port: number;
  let websocketPort = 0;
  const listen = (kind: ConnectionKind, host: string, wanted: number): Promise<Listener> =>
    listenForConnections(
      native!,
      kind,
      host,
      wanted === -1 ? 0 : wanted,
      { connection: (fd, peer) => post(leastLoaded(), { fd, clientId: nextClientId++, kind, peer }), burstEnd: postOutboxes },
      log,
    );
  if (listenSelf) {
    ({ port, websocketPort } = await selfListenPorts!);
  } else {
    listener = await listen('client', options.host, options.port);
    port = listener.port;
    // Posted before any connection, so every INFO carries the real port (workers keep order).
    const message: ToWorker = { type: 'port', port };
    for (const slot of slots) slot.worker.postMessage(message);
    if (options.websocket !== null) {
      try {
        websocketListener = await listen('websocket', options.websocket.host || options.host, options.websocket.port);
      } catch (error) {
        // A busy websocket port must not leave the client listener and the workers running.
        stopping = true;
        listener.close();
        await Promise.all(slots.map((slot) => slot.worker.terminate()));
        throw error;
      }
      websocketPort = websocketListener.port;
    }
  }
  info.port = port;
  // Buffers freed by a slow consumer's cut or a burst stay in glibc's arenas: give them back now and
  // then, or RSS keeps what the busiest minute needed (seen in the 30-minute soak).
  const trimming = native === null ? null : setInterval(() => native!.trimMemory(), MEMORY_TRIM_INTERVAL_MS).unref();
  options.port = port;
  // /varz shows the port in use, as for the client port.
  if (options.websocket !== null) options.websocket = { ...options.websocket, port: websocketPort };
  log.info(`Listening for client connections on ${options.host}:${port}`);
  if (options.tls !== null) log.info('TLS required for client connections');
  const websocketHost = options.websocket === null ? '' : options.websocket.host || options.host;
  if (options.websocket !== null) log.info(`Listening for websocket clients on ${options.websocket.tls === null ? 'ws' : 'wss'}://${websocketHost}:${websocketPort}`);
  let monitor: MonitorServer | null = null;
  try {
    monitor = await startMonitoring(options, info, serverId, () => slots.map((slot) => slot.worker), log);
  } catch (error) {
    // A busy monitoring port must not leave the listener and the workers running.
    await close();
    throw error;
  }
  log.info('Server is ready');

  let lastReloadId = 0;
  async function reload(changes: Partial<ServerOptions>): Promise<void> {
    assertReloadable(options, changes);
    // A reloaded websocket block (only its TLS may differ) keeps the port in use, whatever it asks.
    if (changes.websocket) changes = { ...changes, websocket: { ...changes.websocket, port: options.websocket!.port } };
    const next = { ...options, ...changes };
    assertAuthConsistent(next);
    assertOperatorConsistent(next);
    if (changes.tls !== undefined || changes.websocket !== undefined) checkTransports(next);
    Object.assign(options, changes);
    info.max_payload = options.maxPayload;
    setInfoTls(info, options.tls);
    log.level = options.logLevel;
    monitor?.noteReload();
    const id = ++lastReloadId;
    await askEveryWorker({ type: 'reload', id, options: changes }, (answer) => answer.type === 'reloaded' && answer.id === id);
  }

  /** Posts `message` to every worker; resolves once each answered (`isReply`) or exited. */
  function askEveryWorker(message: ToWorker, isReply: (answer: FromWorker) => boolean): Promise<void> {
    return Promise.all(
      slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const worker = slot.worker;
            const done = (): void => {
              worker.off('message', onMessage);
              worker.off('exit', done);
              resolve();
            };
            const onMessage = (answer: FromWorker): void => {
              if (isReply(answer)) done();
            };
            worker.on('message', onMessage);
            worker.once('exit', done);
            worker.postMessage(message);
          }),
      ),
    ).then(() => undefined);
  }

  function reopenLog(): void {
    reopenLogFile(log);
    const message: ToWorker = { type: 'reopen-log' };
    for (const slot of slots) slot.worker.postMessage(message);
    log.info('Reopened log file');
  }

  async function lameDuck(): Promise<void> {
    if (stopping) return;
    log.info('Entering lame duck mode, stop accepting new clients');
    listener?.close();
    websocketListener?.close();
    await askEveryWorker({ type: 'lame-duck' }, (answer) => answer.type === 'lame-duck-done');
    await close();
  }

  async function close(): Promise<void> {
    if (trimming !== null) clearInterval(trimming);
    if (stopping) return;
    stopping = true;
    await monitor?.close();
    listener?.close();
    websocketListener?.close();
    await Promise.all(
      slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.worker.once('exit', () => resolve());
            const message: ToWorker = { type: 'shutdown' };
            slot.worker.postMessage(message);
          }),
      ),
    );
    log.info('Server shut down');
  }

  const host = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  async function killWorker(index: number): Promise<void> {
    const slot = slots[index];
    const dead = slot.worker;
    // Registered after the supervisor's own exit handler, so the replacement exists when it runs.
    const exited = new Promise((resolve) => dead.once('exit', resolve));
    await dead.terminate();
    await exited;
    if (slot.worker === dead) throw new Error(`worker ${index} was not respawned`);
    await slot.ready;
  }

  let websocketUrl: string | undefined;
  if (options.websocket !== null) {
    const wsHost = websocketHost === '0.0.0.0' ? '127.0.0.1' : websocketHost;
    websocketUrl = `${options.websocket.tls === null ? 'ws' : 'wss'}://${wsHost}:${websocketPort}`;
  }
  return { url: `nats://${host}:${port}`, host: options.host, port, serverId, workers: workerCount, monitorUrl: monitor?.url, websocketUrl, reload, lameDuck, reopenLog, killWorker, close };
}
