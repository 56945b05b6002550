/**
 * The monitoring HTTP server, in the main thread (nats-server -m / http_port). Each request asks
 * every worker for a snapshot over postMessage and answers with nats-server's JSON; `/` serves the
 * live dashboard.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ServerInfo } from '../protocol/encoder.js';
import type { ServerOptions } from '../server/options.js';
import type { StatsQuery } from '../worker/stats.js';
import { WorkerQuery } from './worker-query.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { ACCOUNTZ_QUERY, accountz, accstatz, BadRequest, connz, connzQuery, featureOff, subsz, subszQuery, varz, workerz, type MonitorContext } from './endpoints.js';
import { goJson } from './format.js';

export interface MonitorServer {
  /** http://host:port */
  url: string;
  host: string;
  port: number;
  /** A config reload happened now (varz config_load_time). */
  noteReload(): void;
  close(): Promise<void>;
}

/** nats-server answers /healthz compactly. */
const HEALTHY = '{"status":"ok"}';
const COUNTERS_ONLY: StatsQuery = { connections: false, closed: false, cid: 0, subs: false, subscriptions: false, auth: false, accounts: false };

/** A body to encode as nats-server does, or one already encoded. */
type Endpoint = (params: URLSearchParams) => Promise<object | string>;

export async function startMonitor(ctx: MonitorContext, host: string, port: number): Promise<MonitorServer> {
  const requests: Record<string, number> = {};
  const endpoints: Record<string, Endpoint> = {
    '/varz': async () => varz(ctx, await ctx.query(COUNTERS_ONLY), requests),
    '/connz': async (params) => {
      const query = connzQuery(params);
      return connz(ctx, await ctx.query(query), params);
    },
    '/subsz': async (params) => {
      const query = subszQuery(params);
      return subsz(ctx, await ctx.query(query), params);
    },
    '/accountz': async (params) => accountz(ctx, await ctx.query(ACCOUNTZ_QUERY), params),
    '/healthz': async () => HEALTHY,
    '/accstatz': async () => accstatz(ctx, await ctx.query(COUNTERS_ONLY)),
    '/workerz': async () => workerz(ctx, await ctx.query(COUNTERS_ONLY)),
    '/routez': async () => featureOff(ctx, '/routez'),
    '/gatewayz': async () => featureOff(ctx, '/gatewayz'),
    '/leafz': async () => featureOff(ctx, '/leafz'),
    '/jsz': async () => featureOff(ctx, '/jsz'),
  };
  endpoints['/subscriptionsz'] = endpoints['/subsz'];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://monitor');
    if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(DASHBOARD_HTML);
      return;
    }
    const endpoint = endpoints[url.pathname];
    if (endpoint === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    requests[url.pathname] = (requests[url.pathname] ?? 0) + 1;
    endpoint(url.searchParams).then(
      (body) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(typeof body === 'string' ? body : goJson(body));
      },
      (error: Error) => {
        res.writeHead(error instanceof BadRequest ? 400 : 500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(error.message);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: port === -1 ? 0 : port }, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  ctx.httpHost = host;
  ctx.httpPort = bound;
  return {
    url: `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${bound}`,
    host,
    port: bound,
    noteReload: () => {
      ctx.configLoadTime = Date.now();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts monitoring when options.httpPort asks for it (0 = off); the figures come from `workers()`. */
export async function startMonitoring(
  options: ServerOptions,
  info: ServerInfo,
  serverId: string,
  workers: () => readonly Worker[],
  log: Logger,
): Promise<MonitorServer | null> {
  if (options.httpPort === 0) return null;
  const startedAt = Date.now();
  const workerQuery = new WorkerQuery(workers);
  const ctx: MonitorContext = {
    serverId,
    info,
    options,
    startedAt,
    configLoadTime: startedAt,
    workers: options.workers,
    httpHost: '',
    httpPort: 0,
    query: (query) => workerQuery.query(query),
  };
  const host = options.httpHost || options.host;
  const monitor = await startMonitor(ctx, host, options.httpPort);
  log.info(`Starting http monitor on ${host}:${monitor.port}`);
  return monitor;
}
