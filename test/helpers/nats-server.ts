/**
 * Runs the reference broker, the real nats-server binary, for differential tests. Natrium options
 * are translated to nats-server's configuration keys so both brokers can run with the same limits.
 * A missing binary is a test failure with instructions, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServerOptions } from '../../src/server/options.js';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** The same shape as Natrium's RunningServer, plus the child process. */
export interface RunningNatsServer {
  url: string;
  host: string;
  port: number;
  process: ChildProcess;
  close(): Promise<void>;
}

/** The options both brokers understand; each maps to one nats-server configuration key. */
export type ReferenceOptions = Partial<
  Pick<
    ServerOptions,
    | 'serverName'
    | 'maxPayload'
    | 'maxControlLine'
    | 'maxPending'
    | 'writeDeadline'
    | 'pingInterval'
    | 'maxPingsOut'
    | 'maxConnections'
    | 'maxSubscriptions'
    | 'tls'
  >
>;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function assertNatsServerInstalled(binary = NATS_SERVER_BIN): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(
      `nats-server not found at ${binary}: differential tests need the reference broker. ` +
        'Install it with `apt-get install -y nats-server` (or set NATS_SERVER_BIN).',
    );
  }
}

/** nats-server configuration text for the given options (durations in milliseconds). */
export function natsServerConfig(options: ReferenceOptions): string {
  const lines: string[] = [];
  if (options.serverName) lines.push(`server_name: ${JSON.stringify(options.serverName)}`);
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.maxControlLine !== undefined) lines.push(`max_control_line: ${options.maxControlLine}`);
  if (options.maxPending !== undefined) lines.push(`max_pending: ${options.maxPending}`);
  if (options.writeDeadline !== undefined) lines.push(`write_deadline: "${options.writeDeadline}ms"`);
  if (options.pingInterval !== undefined) lines.push(`ping_interval: "${options.pingInterval}ms"`);
  if (options.maxPingsOut !== undefined) lines.push(`ping_max: ${options.maxPingsOut}`);
  if (options.maxConnections !== undefined) lines.push(`max_connections: ${options.maxConnections}`);
  if (options.maxSubscriptions !== undefined) lines.push(`max_subscriptions: ${options.maxSubscriptions}`);
  const tls = options.tls;
  if (tls) {
    const ca = tls.caFile === null ? '' : `, ca_file: ${JSON.stringify(tls.caFile)}`;
    lines.push(`tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}${ca}, verify: ${tls.verify}, timeout: ${tls.timeout / 1000} }`);
  }
  return lines.join('\n') + '\n';
}

/** Starts nats-server on 127.0.0.1 and a free port; resolves once it accepts connections. */
export async function startNatsServer(options: ReferenceOptions = {}, binary = NATS_SERVER_BIN): Promise<RunningNatsServer> {
  assertNatsServerInstalled(binary);
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-ref-'));
  const configFile = path.join(dir, 'nats-server.conf');
  writeFileSync(configFile, natsServerConfig(options));
  // -p -1 lets nats-server pick the port itself (no race with another process); we read it from its log.
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', '-1', '-c', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let port: number;
  try {
    port = await listeningPort(child);
    await waitUntilAccepting(port);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const host = '127.0.0.1';
  return {
    url: `nats://${host}:${port}`,
    host,
    port,
    process: child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const guard = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(guard);
      }
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const match = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (match) {
        finish();
        resolve(Number(match[1]));
        // Keep draining stderr so nats-server never blocks on a full pipe.
        child.stderr?.resume();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      finish();
      reject(new Error(`nats-server exited (code ${code}, signal ${signal}) before listening:\n${log}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`nats-server did not report a client port within ${START_TIMEOUT_MS} ms:\n${log}`));
    }, START_TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves when a TCP connection to the port receives the INFO line's first bytes. */
function waitUntilAccepting(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`nats-server on port ${port} did not greet within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    socket.once('data', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
