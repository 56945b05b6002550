/**
 * The process around a running server, as nats-server handles it: signals (SIGINT/SIGTERM stop,
 * SIGHUP reloads the config file), the pid file, the ports file, and `--signal` to send a signal to
 * another natrium process.
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/config-file.js';
import { DEFAULT_OPTIONS, type ServerOptions } from './options.js';
import { reopenLogFile } from './log-file.js';
import type { RunningServer } from './server.js';
import type { TlsConfig, WebSocketConfig } from '../transport/config.js';

/** nats-server's --signal commands and the Unix signals they send (server/signal.go). */
export const SIGNAL_COMMANDS: Record<string, NodeJS.Signals> = {
  stop: 'SIGKILL',
  quit: 'SIGINT',
  term: 'SIGTERM',
  reopen: 'SIGUSR1',
  reload: 'SIGHUP',
  ldm: 'SIGUSR2',
};

/**
 * Natrium servers running on this machine (Linux /proc): processes whose command line runs the
 * same entry script as `entry` (a real path), other than `self`, and not themselves sending a signal. nats-server
 * finds its processes by name (pgrep) the same way when --signal names no pid.
 */
export function findServerProcesses(entry: string, self: number, procRoot = '/proc'): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === self) continue;
    let args: string[];
    try {
      args = readFileSync(path.join(procRoot, name, 'cmdline'), 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const runsEntry = args.slice(0, 2).some((arg) => arg !== '' && realPath(path.resolve(processCwd(procRoot, name), arg)) === entry);
    if (runsEntry && !args.some((arg) => arg === '--signal' || arg === '-signal' || arg.startsWith('--signal=') || arg === '-sl' || arg === '--sl')) {
      found.push(Number(name));
    }
  }
  return found.sort((a, b) => a - b);
}

/** A process's working directory, against which its relative arguments resolve. */
function processCwd(procRoot: string, pid: string): string {
  try {
    return readlinkSync(path.join(procRoot, pid, 'cwd'));
  } catch {
    return '/';
  }
}

/** Symlinks resolved (`node_modules/.bin/natrium` is the CLI script itself). */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/**
 * `--signal <command>[=<pid or pid file>]`; without a target the pid file of -P is read, and
 * without that the one natrium server running on this machine is signalled.
 */
export function sendSignal(command: string, pidOrFile: string | null, entry = realPath(path.resolve(process.argv[1]))): number {
  const signal = SIGNAL_COMMANDS[command.toLowerCase()];
  if (signal === undefined) {
    throw new Error(`unknown signal "${command}": use ${Object.keys(SIGNAL_COMMANDS).join(', ')}`);
  }
  if (pidOrFile === null) {
    const running = findServerProcesses(entry, process.pid);
    if (running.length === 0) throw new Error('no natrium process running: use --signal <signal>=<pid or pid file> or -P <pid file>');
    if (running.length > 1) throw new Error(`multiple natrium processes running (${running.join(', ')}): use --signal ${command}=<pid>`);
    pidOrFile = String(running[0]);
  }
  let pidText = pidOrFile;
  if (!/^\d+$/.test(pidOrFile)) {
    try {
      pidText = readFileSync(pidOrFile, 'utf8').trim();
    } catch (error) {
      throw new Error(`could not read pid file ${pidOrFile}: ${(error as Error).message}`);
    }
  }
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`invalid pid "${pidText}"`);
  process.kill(pid, signal);
  return pid;
}

/** Options that a reload may change (nats-server reloads these too); anything else is refused. */
const RELOADABLE = new Set<keyof ServerOptions>([
  'maxPayload',
  'maxControlLine',
  'maxPending',
  'writeDeadline',
  'pingInterval',
  'maxPingsOut',
  'maxConnections',
  'maxSubscriptions',
  'logLevel',
  'lameDuckDuration',
  'lameDuckGracePeriod',
  'authorization',
  'noAuthUser',
  'authTimeout',
  'tls',
]);

/** nats-server's config-file key for each option, to name what a reload refuses. */
const CONFIG_KEY: Partial<Record<keyof ServerOptions, string>> = {
  host: 'host',
  port: 'port',
  serverName: 'server_name',
  workers: 'workers',
  parser: 'parser',
  logFile: 'logfile',
  httpPort: 'http_port',
  httpHost: 'http',
  pidFile: 'pid_file',
  portsFileDir: 'ports_file_dir',
  tls: 'tls',
  websocket: 'websocket',
  accounts: 'accounts',
  operator: 'operator/resolver_preload',
};

/** What differs between two option sets, as the changes to apply; throws if something cannot change live. */
export function reloadChanges(current: Partial<ServerOptions>, next: Partial<ServerOptions>): Partial<ServerOptions> {
  const changes: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(current), ...Object.keys(next)] as (keyof ServerOptions)[]);
  for (const key of keys) {
    const after = next[key] ?? DEFAULT_OPTIONS[key];
    // Blocks (tls, websocket) are re-read as new objects: compare what they hold.
    if (JSON.stringify(current[key] ?? DEFAULT_OPTIONS[key]) !== JSON.stringify(after)) changes[key] = after;
  }
  assertReloadable(current, changes);
  return changes;
}

/** Throws, naming them, if `changes` to `current` holds options that cannot change on a running server. */
export function assertReloadable(current: Partial<ServerOptions>, changes: Partial<ServerOptions>): void {
  const refused = (Object.keys(changes) as (keyof ServerOptions)[]).filter(
    (key) => !RELOADABLE.has(key) && !(key === 'websocket' && onlyWebSocketTlsChanged(current.websocket ?? null, changes.websocket ?? null)),
  );
  if (refused.length > 0) throw new Error(`config reload not supported for ${refused.map((key) => CONFIG_KEY[key] ?? key).join(', ')}`);
  const mapped = (tls: TlsConfig | null | undefined): boolean => tls?.verifyAndMap ?? false;
  // As nats-server 2.9: certificates, CA, verify and timeout reload, the user mapping does not.
  if (changes.tls !== undefined && mapped(current.tls) !== mapped(changes.tls)) {
    throw new Error(`config reload not supported for tls verify_and_map: old=${mapped(current.tls)}, new=${mapped(changes.tls)}`);
  }
  if (changes.noAuthUser !== undefined) {
    const before = current.noAuthUser ?? '';
    const after = changes.noAuthUser;
    const users = [...((changes.authorization ?? current.authorization)?.users ?? []), ...(current.accounts ?? []).flatMap((account) => account.users)];
    // As nats-server 2.9: no_auth_user may only go away together with its user.
    if (before === '' || after !== '' || users.some((user) => user.user === before)) {
      throw new Error(`config reload not supported for no_auth_user: old=${before}, new=${after}`);
    }
  }
}

/**
 * A websocket block that differs only in its TLS certificates, CA, verify or timeout: nats-server
 * reloads those for new connections. Turning TLS on or off (wss:// or ws://) cannot change live;
 * port -1 ("any port") matches the port in use.
 */
function onlyWebSocketTlsChanged(before: WebSocketConfig | null, after: WebSocketConfig | null): boolean {
  if (before === null || after === null || before.tls === null || after.tls === null) return false;
  const rest = (config: WebSocketConfig, port: number): string => JSON.stringify({ ...config, port, tls: null });
  return rest(before, before.port) === rest(after, after.port === -1 ? before.port : after.port);
}

/** nats-server's ports file: the URLs clients and tools may use, one list per kind. */
export interface PortsInfo {
  nats: string[];
  monitoring?: string[];
  websocket?: string[];
}

/** URLs for every address of this host when listening on all interfaces, as nats-server lists them. */
function urlsFor(scheme: string, host: string, port: number): string[] {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return [`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`];
  const urls: string[] = [];
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (host === '0.0.0.0' && address.family !== 'IPv4') continue;
      urls.push(address.family === 'IPv6' ? `${scheme}://[${address.address}]:${port}` : `${scheme}://${address.address}:${port}`);
    }
  }
  return urls;
}

export function portsInfo(server: RunningServer, options: ServerOptions): PortsInfo {
  const info: PortsInfo = { nats: urlsFor(options.tls ? 'tls' : 'nats', server.host, server.port) };
  if (server.monitorUrl !== undefined) {
    const port = Number(new URL(server.monitorUrl).port);
    info.monitoring = urlsFor('http', options.httpHost || server.host, port);
  }
  if (server.websocketUrl !== undefined && options.websocket) {
    const url = new URL(server.websocketUrl);
    info.websocket = urlsFor(url.protocol.slice(0, -1), options.websocket.host || server.host, Number(url.port));
  }
  return info;
}

/** `<dir>/natrium_<pid>.ports`, as nats-server writes `<dir>/nats-server_<pid>.ports`. */
export function portsFilePath(dir: string, pid = process.pid): string {
  return path.join(dir, `natrium_${pid}.ports`);
}

export interface LifecycleOptions {
  server: RunningServer;
  /** Effective options at start (file, then flags over it). */
  options: ServerOptions;
  /** The config file to re-read on SIGHUP, and the flags that override it. */
  configFile: string | null;
  flagOptions: Partial<ServerOptions>;
  fileOptions: Partial<ServerOptions>;
  log: Logger;
  /** Called with the exit code once the server stopped. */
  exit(code: number): void;
}

/**
 * Writes the pid and ports files and installs the signal handlers. SIGINT/SIGTERM stop the server
 * (files removed, exit 0); SIGHUP re-reads the config file and applies what may change live, keeping
 * every connection; a reload that fails or asks for what cannot change live leaves everything as it was.
 */
export function manageProcess(lifecycle: LifecycleOptions): { reload(): Promise<void>; stop(): Promise<void> } {
  const { server, options, log } = lifecycle;
  const files: string[] = [];
  if (options.pidFile !== null) {
    writeFileSync(options.pidFile, String(process.pid));
    files.push(options.pidFile);
  }
  if (options.portsFileDir !== null) {
    mkdirSync(options.portsFileDir, { recursive: true });
    const file = portsFilePath(options.portsFileDir);
    // Renamed into place, so whoever watches the directory never reads a half-written file.
    writeFileSync(`${file}.tmp`, JSON.stringify(portsInfo(server, options)));
    renameSync(`${file}.tmp`, file);
    files.push(file);
  }
  let fileOptions = lifecycle.fileOptions;

  async function reload(): Promise<void> {
    if (lifecycle.configFile === null) {
      log.warn('Reload requested, but the server was started without a configuration file');
      return;
    }
    try {
      const loaded = loadConfigFile(lifecycle.configFile);
      for (const warning of loaded.warnings) log.warn(warning);
      const current = { ...fileOptions, ...lifecycle.flagOptions };
      const next = { ...loaded.options, ...lifecycle.flagOptions };
      const changes = reloadChanges(current, next);
      await server.reload(changes);
      fileOptions = loaded.options;
      // Option names only: the values may hold passwords and tokens.
      log.info({ changed: Object.keys(changes) }, 'Reloaded server configuration');
    } catch (error) {
      log.error(`Failed to reload server configuration: ${(error as Error).message}`);
    }
  }

  const removeFiles = (): void => {
    for (const file of files) rmSync(file, { force: true });
  };
  function stop(): Promise<void> {
    return server.close().finally(removeFiles);
  }
  const exitAfter = (done: Promise<void>): void => {
    done.then(
      () => lifecycle.exit(0),
      () => lifecycle.exit(1),
    );
  };

  const onStop = (): void => exitAfter(stop());
  let lameDuck = false;
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', () => void reload());
  // Lame-duck mode; SIGINT/SIGTERM during it still stop at once.
  process.on('SIGUSR2', () => {
    if (lameDuck) return;
    lameDuck = true;
    exitAfter(server.lameDuck().finally(removeFiles));
  });
  // nats-server reopens its log file on SIGUSR1 (and Node must not open its inspector).
  process.on('SIGUSR1', () => {
    reopenLogFile(log);
    server.reopenLog();
  });
  return { reload, stop };
}
