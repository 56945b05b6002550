/**
 * Runs the reference broker, the real nats-server binary, for differential tests. Natrium options
 * are translated to nats-server's configuration keys so both brokers can run with the same limits.
 * A missing binary is a test failure with instructions, never a skip.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertNatsServerInstalled, launchBroker, loggedClientPort, NATS_SERVER_BIN, type LaunchedBroker } from '../../src/bench/brokers.js';
import type { ServerOptions } from '../../src/server/options.js';

export { assertNatsServerInstalled, NATS_SERVER_BIN };

const GREETING_TIMEOUT_MS = 10_000;

/** The same shape as Natrium's RunningServer, plus the child process. */
export interface RunningNatsServer {
  url: string;
  host: string;
  port: number;
  /** http://host:port of the monitoring endpoints, when the configuration has `http_port`. */
  monitorUrl?: string;
  process: ChildProcess;
  /** Every complete line nats-server logged so far. */
  log: string[];
  /** The configuration file it runs with (rewrite it and send SIGHUP to reload). */
  configFile: string;
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
    | 'authorization'
    | 'httpPort'
  >
>;

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
    const map = tls.verifyAndMap ? ', verify_and_map: true' : '';
    lines.push(`tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}${ca}, verify: ${tls.verify}${map}, timeout: ${tls.timeout / 1000} }`);
  }
  const auth = options.authorization;
  if (auth) {
    const users = auth.users.map((u) => `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)} }`);
    const single = auth.token !== '' ? `token: ${JSON.stringify(auth.token)}` : auth.user !== '' ? `user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.password)}` : '';
    lines.push(`authorization { ${single}${users.length > 0 ? ` users = [ ${users.join(', ')} ]` : ''} }`);
  }
  // -1: nats-server picks the monitoring port and logs it.
  if (options.httpPort !== undefined && options.httpPort !== 0) lines.push('http_port: -1');
  return lines.join('\n') + '\n';
}

/** Starts nats-server with `options` on 127.0.0.1 and a port it picks; resolves once it accepts connections. */
export function startNatsServer(options: ReferenceOptions = {}, binary = NATS_SERVER_BIN): Promise<RunningNatsServer> {
  return startNatsServerWithConf(natsServerConfig(options), binary);
}

/** Starts nats-server with the configuration text `conf` on 127.0.0.1 and a port it picks. */
export async function startNatsServerWithConf(conf: string, binary = NATS_SERVER_BIN): Promise<RunningNatsServer> {
  assertNatsServerInstalled(binary);
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-ref-'));
  const configFile = path.join(dir, 'nats-server.conf');
  writeFileSync(configFile, conf);
  let broker: LaunchedBroker | undefined;
  try {
    // -p -1 lets nats-server pick the port itself (no race with another process); it logs which.
    const { broker: started, ready: port } = await launchBroker('nats-server', binary, ['-a', '127.0.0.1', '-p', '-1', '-c', configFile], loggedClientPort);
    broker = started;
    await waitUntilAccepting(port);
    const host = '127.0.0.1';
    // Logged before the client port.
    const monitor = started.log.map((line) => /Starting http monitor on ([^\s]*:\d+)/.exec(line)).find((match) => match !== null);
    return {
      url: `nats://${host}:${port}`,
      host,
      port,
      ...(monitor ? { monitorUrl: `http://${monitor[1]}` } : {}),
      process: started.child,
      log: started.log,
      configFile,
      async close() {
        await started.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves when a TCP connection to the port receives the INFO line's first bytes. */
function waitUntilAccepting(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`nats-server on port ${port} did not greet within ${GREETING_TIMEOUT_MS} ms`));
    }, GREETING_TIMEOUT_MS);
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
