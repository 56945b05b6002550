import os from 'node:os';
import type { TlsConfig, WebSocketConfig } from '../transport/config.js';
import { DEFAULT_AUTH_TIMEOUT_MS, type AccountConfig, type AuthorizationOptions, type OperatorOptions } from '../auth/options.js';
/** Broker options, named and defaulted as nats-server's (server/const.go, server/opts.go). */
export type ParserChoice = 'auto' | 'native' | 'js';
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface ServerOptions {
  /** Interface to listen on (nats-server -a/--addr). */
  host: string;
  /** Client port; 0 picks a free port (nats-server uses -1 for that, also accepted). */
  port: number;
  serverName: string;
  /** Worker threads (shards): one when embedded (startServer), one per core from the CLI (cliDefaultWorkers). */
  workers: number;
  parser: ParserChoice;
  /** Bytes; nats-server MAX_PAYLOAD_SIZE. */
  maxPayload: number;
  /** Bytes; nats-server MAX_CONTROL_LINE_SIZE. */
  maxControlLine: number;
  /** Bytes buffered for one client before it is closed as a slow consumer; MAX_PENDING_SIZE. */
  maxPending: number;
  /** Milliseconds a flush may stay blocked before the client is a slow consumer; DEFAULT_FLUSH_DEADLINE. */
  writeDeadline: number;
  /** Milliseconds between server PINGs; DEFAULT_PING_INTERVAL. */
  pingInterval: number;
  /** Unanswered PINGs before 'Stale Connection'; DEFAULT_PING_MAX_OUT. */
  maxPingsOut: number;
  /** 0 = unlimited. nats-server DEFAULT_MAX_CONNECTIONS is 64K. */
  maxConnections: number;
  /** Per connection; 0 = unlimited. */
  maxSubscriptions: number;
  logLevel: LogLevel;
  /** Write logs to this file instead of stderr. */
  logFile: string | null;
  /** Monitoring HTTP port (nats-server -m/http_port): 0 = off, -1 = a free port. */
  httpPort: number;
  /** Interface of the monitoring port; '' = the client interface (host). */
  httpHost: string;
  /** File to write the process id to (nats-server -P/pid_file); used by the CLI. */
  pidFile: string | null;
  /** Directory for the `<name>_<pid>.ports` file (nats-server ports_file_dir); used by the CLI. */
  portsFileDir: string | null;
  /** Milliseconds over which lame-duck mode closes the connections; DEFAULT_LAME_DUCK_DURATION. */
  lameDuckDuration: number;
  /** Milliseconds lame-duck mode waits before it starts closing; DEFAULT_LAME_DUCK_GRACE_PERIOD. */
  lameDuckGracePeriod: number;
  /** Client TLS (nats-server `tls {}` / --tls...); null = plain TCP. */
  tls: TlsConfig | null;
  /** WebSocket listener (nats-server `websocket {}`); null = none. */
  websocket: WebSocketConfig | null;
  /** The `authorization` block (token, user/password, users with permissions); null = no auth. */
  authorization: AuthorizationOptions | null;
  /** User of `users` that a client without credentials becomes (nats-server no_auth_user). */
  noAuthUser: string;
  /** Milliseconds a client has to authenticate (authorization.timeout); AUTH_TIMEOUT. */
  authTimeout: number;
  /** The `accounts` block: account i has id i + 1 (0 is $G, where `authorization` users are). */
  accounts: AccountConfig[];
  /** Operator mode: user JWTs checked against the operator and the preloaded accounts; null = off. */
  operator: OperatorOptions | null;
}

export const DEFAULT_OPTIONS: ServerOptions = {
  host: '0.0.0.0',
  port: 4222,
  serverName: '',
  // Embedded servers (tests) start with one worker; the CLI's default is cliDefaultWorkers().
  workers: 1,
  parser: 'auto',
  maxPayload: 1024 * 1024,
  maxControlLine: 4096,
  maxPending: 64 * 1024 * 1024,
  writeDeadline: 10_000,
  pingInterval: 2 * 60_000,
  maxPingsOut: 2,
  maxConnections: 64 * 1024,
  maxSubscriptions: 0,
  logLevel: 'info',
  logFile: null,
  httpPort: 0,
  httpHost: '',
  pidFile: null,
  portsFileDir: null,
  lameDuckDuration: 2 * 60_000,
  lameDuckGracePeriod: 10_000,
  tls: null,
  websocket: null,
  authorization: null,
  noAuthUser: '',
  authTimeout: DEFAULT_AUTH_TIMEOUT_MS,
  accounts: [],
  operator: null,
};

/** `natrium` without `--workers` or a `workers` key: one worker per core (`natrium tune` measures what suits a host). */
export function cliDefaultWorkers(): number {
  return os.availableParallelism();
}
