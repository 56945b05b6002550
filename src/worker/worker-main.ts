/**
 * Entry point of a worker thread: one shard. It receives connections from the main thread as
 * duplicated file descriptors (or, without the native addon, accepts them itself).
 */
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { setInfoTls, type ServerInfo } from '../protocol/encoder.js';
import { selectParser } from '../protocol/backend.js';
import { createLogger } from '../server/logger.js';
import type { ServerOptions } from '../server/options.js';
import { acceptedSlot, AccountConnections, LIVE_TOTAL, openSlot } from '../server/shared-state.js';
import { ShardMesh, type MeshBuffers } from './mesh.js';
import { Shard } from './shard.js';
import { WorkerStats, type StatsQuery, type WorkerSnapshot } from './stats.js';
import { enterLameDuck } from './lame-duck.js';
import { reopenLogFile } from '../server/log-file.js';
import { NativeSockets } from '../transport/native-socket.js';
import { native, nativeConnections } from '../protocol/native.js';
import { peerAddressOf, Transports, type ConnectionKind, type PeerAddress } from '../transport/accept.js';

export interface WorkerConfig {
  index: number;
  options: ServerOptions;
  info: ServerInfo;
  counters: Int32Array;
  /** AccountConnections' shared table, rebuilt here. */
  accountConnections: { counts: Int32Array; accounts: number };
  mesh: MeshBuffers;
  /** Without the addon the single worker listens itself. */
  listenSelf: boolean;
}

/** An accepted connection's duplicated fd, now this worker's, with what accept(2) told of its peer. */
export interface HandedConnection {
  fd: number;
  clientId: number;
  kind: ConnectionKind;
  peer: PeerAddress;
}

export type ToWorker =
  | { type: 'port'; port: number }
  /** Connections the main thread accepted in one turn: duplicated fds this worker now owns. */
  | { type: 'connections'; connections: HandedConnection[] }
  | { type: 'stats'; id: number; query: StatsQuery }
  | { type: 'reload'; id: number; options: Partial<ServerOptions> }
  | { type: 'lame-duck' }
  | { type: 'reopen-log' }
  | { type: 'adopt-region'; worker: number; region: SharedArrayBuffer }
  | { type: 'shutdown' };
export type FromWorker =
  | { type: 'ready'; parser: string; parserFallbackReason: string | null }
  | { type: 'listening'; port: number; websocketPort: number }
  | { type: 'listen-error'; message: string }
  | { type: 'stats'; id: number; snapshot: WorkerSnapshot }
  | { type: 'lame-duck-done' }
  /** A reload is applied (connected clients re-checked, save for credentials still in the pool). */
  | { type: 'reloaded'; id: number }
  | { type: 'interest-region'; worker: number; region: SharedArrayBuffer }
  | { type: 'stopped' };

const config = workerData as WorkerConfig;
const port = parentPort!;
const log = createLogger(config.options, { worker: config.index });
const backend = selectParser(config.options.parser);
const mesh = new ShardMesh(config.mesh, config.index, (region) => post({ type: 'interest-region', worker: config.index, region }));
const accountConnections = new AccountConnections(config.accountConnections.counts, config.accountConnections.accounts);
const shard = new Shard(config.options, backend.parse, config.info, log, mesh, accountConnections);
mesh.startReceiving((record) => shard.deliverFromPeer(record), shard.flushAll, () => !shard.flow.blocked);
const counters = config.counters;
const workerStats = new WorkerStats(shard, config.index);
const transports = new Transports(config.options, log);
// Handed connections come only where the addon loaded (the main thread needs it to accept them);
// where it has no connections of its own, plain clients run on net.Socket too.
const addonConnections = native === null ? null : nativeConnections(native);
const nativeSockets = addonConnections === null ? null : new NativeSockets(addonConnections);
shard.onClientClosed = (client, reason) => workerStats.recordClosed(client, reason);
shard.onHandshakeFailed = (handshake) => workerStats.recordHandshakeFailure(handshake);
let nextLocalClientId = 1;

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** Counts a connection as taken from the main thread (which re-posts uncounted ones if this worker dies). */
function countAccepted(): void {
  Atomics.add(counters, acceptedSlot(config.index), 1);
}

function adopt(socket: net.Socket, clientId: number, kind: ConnectionKind, peer: PeerAddress): void {
  Atomics.add(counters, openSlot(config.index), 1);
  const live = Atomics.add(counters, LIVE_TOTAL, 1) + 1;
  socket.once('close', () => {
    Atomics.sub(counters, openSlot(config.index), 1);
    Atomics.sub(counters, LIVE_TOTAL, 1);
  });
  const max = config.options.maxConnections;
  const overMax = max > 0 && live > max;
  // Over the limit, nats-server answers a TCP client before any TLS handshake.
  if (overMax && kind === 'client') shard.rejectConnection(socket, clientId, peer);
  else transports.accept(socket, kind, clientId, peer, shard, overMax);
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'port':
      config.info.port = message.port;
      shard.infoChanged();
      break;
    case 'connections':
      for (const { fd, clientId, kind, peer } of message.connections) {
        // Counted before the socket owns the fd: a death in between may leak it, never reuse it.
        countAccepted();
        // Plain TCP clients are run by the addon; TLS and WebSocket build on a net.Socket.
        const socket =
          kind === 'client' && !transports.clientTlsEnabled && nativeSockets !== null
            ? nativeSockets.adopt(fd).asSocket()
            : new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        adopt(socket, clientId, kind, peer);
      }
      break;
    case 'adopt-region':
      mesh.adoptRegion(message.worker, message.region);
      break;
    case 'stats':
      post({ type: 'stats', id: message.id, snapshot: workerStats.collect(message.query, mesh.snapshot()) });
      break;
    case 'reload': {
      const changes = message.options;
      // Limits are read from these objects by every new connection; the log level applies at once.
      Object.assign(config.options, changes);
      config.info.max_payload = config.options.maxPayload;
      setInfoTls(config.info, config.options.tls);
      shard.infoChanged();
      log.level = config.options.logLevel;
      if (changes.tls !== undefined || changes.websocket !== undefined) transports.reloadTls(config.options);
      if (changes.authorization !== undefined || changes.noAuthUser !== undefined) shard.reauthorize();
      post({ type: 'reloaded', id: message.id });
      break;
    }
    case 'reopen-log':
      reopenLogFile(log);
      break;
    case 'lame-duck':
      listener?.close();
      websocketListener?.close();
      enterLameDuck(shard, config.info, config.options.lameDuckGracePeriod, config.options.lameDuckDuration, () => post({ type: 'lame-duck-done' }));
      break;
    case 'shutdown':
      listener?.close();
      websocketListener?.close();
      shard.closeAll();
      post({ type: 'stopped' });
      port.close();
      // Clients that do not read their last bytes must not hold the worker past shutdown.
      setTimeout(() => process.exit(0), 1000).unref();
      break;
  }
});

let listener: net.Server | null = null;
let websocketListener: net.Server | null = null;

function listen(kind: ConnectionKind, host: string, port: number): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    countAccepted();
    adopt(socket, nextLocalClientId++, kind, peerAddressOf(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve({ server, port: (server.address() as net.AddressInfo).port }));
  });
}

if (config.listenSelf) {
  const ws = config.options.websocket;
  listen('client', config.options.host, config.options.port)
    .then(async (client) => {
      listener = client.server;
      config.info.port = client.port;
      shard.infoChanged();
      let websocketPort = 0;
      if (ws !== null) {
        const opened = await listen('websocket', ws.host || config.options.host, ws.port === -1 ? 0 : ws.port);
        websocketListener = opened.server;
        websocketPort = opened.port;
      }
      post({ type: 'listening', port: client.port, websocketPort });
    })
    .catch((error: Error) => post({ type: 'listen-error', message: error.message }));
}
post({ type: 'ready', parser: backend.name, parserFallbackReason: backend.fallbackReason });
