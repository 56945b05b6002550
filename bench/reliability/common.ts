/**
 * What the reliability scripts share: the two brokers as child processes on 127.0.0.1 (Natrium's
 * CLI and nats-server) with monitoring on, their memory from /proc, their logs, /varz and /connz,
 * command-line options, and a raw subscriber that never reads its socket.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { launchBroker, loggedClientPort, NATS_SERVER_BIN, type LaunchedBroker } from '../../src/bench/brokers.js';
import { cliDefaultWorkers } from '../../src/server/options.js';

export type BrokerKind = 'natrium' | 'nats-server';

export interface BrokerSpec {
  kind: BrokerKind;
  /** Natrium only; null = the CLI's default (one per core). */
  workers: number | null;
  /** A fixed client port (for restarts); -1 lets the broker pick one. */
  port?: number;
  /** More command-line flags, the same for both brokers (e.g. --ping_interval is config-only for nats-server: use a config). */
  args?: string[];
}

export interface Broker extends LaunchedBroker {
  spec: BrokerSpec;
  label: string;
  url: string;
  port: number;
  monitorUrl: string;
}

const NATRIUM_MAIN = new URL('../../src/cli/main.js', import.meta.url).pathname;

export function brokerLabel(spec: BrokerSpec): string {
  if (spec.kind === 'nats-server') return 'nats-server';
  return `natrium ${spec.workers ?? cliDefaultWorkers()}w`;
}

/** The client and monitoring ports once the broker logged both and that it is ready. */
function readyPorts(log: string): { client: number; http: number } | undefined {
  const client = loggedClientPort(log);
  const http = /Starting http monitor on [^\s"]*:(\d+)/.exec(log);
  return client !== undefined && http && /Server is ready/.test(log) ? { client, http: Number(http[1]) } : undefined;
}

/** Starts the broker with monitoring on a port it picks; resolves once both ports are logged. */
export async function startBroker(spec: BrokerSpec): Promise<Broker> {
  const port = spec.port ?? -1;
  const extra = spec.args ?? [];
  const [command, args] =
    spec.kind === 'natrium'
      ? [process.execPath, [NATRIUM_MAIN, '-a', '127.0.0.1', `--port=${port}`, '--http_port=-1', ...(spec.workers === null ? [] : ['--workers', String(spec.workers)]), ...extra]]
      : [NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port), '-m', '-1', ...extra]];
  const { broker, ready: ports } = await launchBroker(spec.kind, command, args, readyPorts);
  return {
    ...broker,
    spec,
    label: brokerLabel(spec),
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    monitorUrl: `http://127.0.0.1:${ports.http}`,
  };
}

/** A free TCP port on 127.0.0.1 (for a broker that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function monitor(broker: Broker, path: string): Promise<Json> {
  const response = await fetch(`${broker.monitorUrl}${path}`);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as Json;
}

/** Parses `--kebab-name value` / `--kebab-name=value` into the camelCase fields of `defaults`. */
export function parseOptions<T extends object>(argv: string[], defaults: T): T {
  const options = { ...defaults } as Record<string, unknown>;
  const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  for (let i = 0; i < argv.length; i++) {
    const match = /^(--[^=]+)(?:=(.*))?$/.exec(argv[i]);
    const key = Object.keys(defaults).find((k) => flag(k) === match?.[1]);
    if (!match || key === undefined) throw new Error(`unknown argument ${argv[i]}; options: ${Object.keys(defaults).map(flag).join(' ')}`);
    const kind = typeof options[key];
    const text = kind === 'boolean' && match[2] === undefined ? 'true' : (match[2] ?? argv[++i]);
    if (text === undefined) throw new Error(`${match[1]} needs a value`);
    const value = kind === 'number' ? Number(text) : kind === 'boolean' ? text === 'true' : text;
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${match[1]}: not a number: ${text}`);
    options[key] = value;
  }
  return options as T;
}

/** [soft, hard] open-files limits of this process. */
export function openFileLimits(): [number, number] {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  return [parse(match?.[1]), parse(match?.[2])];
}

export const MiB = 1 << 20;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function hostLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${os.availableParallelism()} cores (${cpu}), node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/**
 * A subscriber that stops reading its socket once subscribed: the broker's writes to it back up
 * in the kernel, then in the broker. Never reading, it cannot see the broker close it either: the
 * broker's /connz (closed connections, by the cid its INFO announced) tells when and why.
 */
export class StalledSubscriber {
  /** Set once the broker reported it closed. */
  cutAt = 0;
  reason = '';
  readonly openedAt = Date.now();
  private constructor(
    private readonly socket: net.Socket,
    readonly cid: number,
  ) {
    socket.on('error', () => {});
  }

  static async open(port: number, subject: string, name = 'stalled'): Promise<StalledSubscriber> {
    const socket = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    let cid = 0;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('data', function onData(chunk: Buffer) {
        seen += chunk.toString('latin1');
        if (cid === 0 && seen.startsWith('INFO') && seen.includes('\r\n')) {
          cid = JSON.parse(seen.slice(5, seen.indexOf('\r\n'))).client_id;
          socket.write(`CONNECT {"verbose":false,"pedantic":false,"name":${JSON.stringify(name)},"lang":"raw","version":"0"}\r\nSUB ${subject} 1\r\nPING\r\n`);
        }
        if (seen.includes('PONG\r\n')) {
          socket.off('data', onData);
          socket.off('error', reject);
          // From here on nothing is read: the kernel's receive buffer fills, then the broker's.
          socket.pause();
          resolve();
        }
      });
    });
    return new StalledSubscriber(socket, cid);
  }

  /** Asks the broker whether it closed this connection; true once it did (then our end is closed too). */
  async checkCut(broker: Broker): Promise<boolean> {
    if (this.cutAt !== 0) return true;
    const connz = await monitor(broker, `/connz?cid=${this.cid}&state=closed`);
    const entry = (connz.connections as Json[])[0];
    if (entry === undefined) return false;
    this.cutAt = Date.parse(entry.stop);
    this.reason = entry.reason;
    this.socket.destroy();
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
