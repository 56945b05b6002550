/**
 * Command-line flags, named as nats-server's where it has them. Like nats-server (Go's flag
 * package), every long flag is accepted with one dash or two (`-port 4222`, `--port=4222`), and a
 * flag nats-server has that Natrium does not support yet is refused, never ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type LogLevel, type ParserChoice, type ServerOptions } from '../server/options.js';
import { parseDuration, parseSize } from './units.js';
import { tlsFromFlags } from '../transport/config.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

const SUPPORTED: OptionSpec = {
  addr: { type: 'string', short: 'a' },
  net: { type: 'string' },
  port: { type: 'string', short: 'p' },
  name: { type: 'string', short: 'n' },
  server_name: { type: 'string' },
  log: { type: 'string', short: 'l' },
  debug: { type: 'boolean', short: 'D' },
  trace: { type: 'boolean', short: 'V' },
  DV: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  config: { type: 'string', short: 'c' },
  t: { type: 'boolean' },
  http_port: { type: 'string', short: 'm' },
  pid: { type: 'string', short: 'P' },
  signal: { type: 'string' },
  sl: { type: 'string' },
  ports_file_dir: { type: 'string' },
  user: { type: 'string' },
  pass: { type: 'string' },
  auth: { type: 'string' },
  tls: { type: 'boolean' },
  tlscert: { type: 'string' },
  tlskey: { type: 'string' },
  tlsverify: { type: 'boolean' },
  tlscacert: { type: 'string' },
  // Natrium's own.
  workers: { type: 'string' },
  parser: { type: 'string' },
  // Limits that nats-server takes from its config file only; Natrium also takes them as flags.
  max_payload: { type: 'string' },
  max_control_line: { type: 'string' },
  max_pending: { type: 'string' },
  write_deadline: { type: 'string' },
  ping_interval: { type: 'string' },
  ping_max: { type: 'string' },
  max_connections: { type: 'string' },
  max_subscriptions: { type: 'string' },
};

/** nats-server flags Natrium does not support yet, with their value type (to parse them cleanly). */
const NOT_YET_SUPPORTED: OptionSpec = {
  ms: { type: 'string' },
  https_port: { type: 'string' },
  client_advertise: { type: 'string' },
  logtime: { type: 'boolean', short: 'T' },
  syslog: { type: 'boolean', short: 's' },
  remote_syslog: { type: 'string', short: 'r' },
  VV: { type: 'boolean' },
  DVV: { type: 'boolean' },
  log_size_limit: { type: 'string' },
  max_traced_msg_len: { type: 'string' },
  js: { type: 'boolean' },
  jetstream: { type: 'boolean' },
  sd: { type: 'string' },
  store_dir: { type: 'string' },
  routes: { type: 'string' },
  cluster: { type: 'string' },
  cluster_name: { type: 'string' },
  no_advertise: { type: 'string' },
  cluster_advertise: { type: 'string' },
  connect_retries: { type: 'string' },
  cluster_listen: { type: 'string' },
  profile: { type: 'string' },
  help_tls: { type: 'boolean' },
};

export const USAGE = `Usage: natrium [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222; -1 or 0 picks a free port)
    -n, --name
        --server_name <server_name>  Server name (default: the server id)
        --workers <n>                Worker threads (default: one per core)
        --parser <auto|native|js>    Protocol parser backend (default: auto = native when it loads)
    -c, --config <file>              Configuration file (nats-server syntax)
    -t                               Test the configuration file and exit
    -P, --pid <file>                 File to store the process id
    -m, --http_port <port>           HTTP port for monitoring (-1 picks a free port)
        --ports_file_dir <dir>       Write a ports file (<name>_<pid>.ports) into this directory

Limits (nats-server takes these from its config file; same meaning and defaults):
        --max_payload <size>         Maximum message payload (default: 1MB)
        --max_control_line <size>    Maximum protocol line (default: 4KB)
        --max_pending <size>         Bytes buffered for a client before it is a slow consumer (default: 64MB)
        --write_deadline <duration>  Blocked write time before a client is a slow consumer (default: 10s)
        --ping_interval <duration>   Interval between server PINGs (default: 2m)
        --ping_max <n>               Unanswered PINGs before a connection is stale (default: 2)
        --max_connections <n>        Maximum client connections (default: 65536)
        --max_subscriptions <n>      Maximum subscriptions per connection (default: 0, unlimited)

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

Logging Options:
    -l, --log <file>                 File to redirect log output
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Signal Options:
        --signal <signal>[=<pid>]    Send a signal to a natrium process (stop, quit, term, reload, ldm, reopen);
                                     <pid> is a process id or a pid file; without it, -P is read, and
                                     without -P the one natrium server running here is signalled

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version

Every long flag may be given with one dash or two, as with nats-server.
`;

export type FlagResult =
  | { kind: 'run'; options: Partial<ServerOptions>; configFile: string | null; testConfig: boolean }
  | { kind: 'signal'; signal: string; pidOrFile: string | null }
  | { kind: 'help' }
  | { kind: 'version' };

const ALL: OptionSpec = { ...SUPPORTED, ...NOT_YET_SUPPORTED };

const SHORT_TO_LONG = new Map(Object.entries(ALL).flatMap(([long, spec]) => (spec.short ? [[spec.short, long]] : [])));

/**
 * `-port=1`, `-DV` and `-t` become `--port=1`, `--DV` and `--t`; short flags (`-p`) stay as they
 * are. A negative number after a flag that takes a value is that value (`-p -1`), as for Go's flags.
 */
function normalize(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    if (arg.startsWith('-') && !arg.startsWith('--') && Object.hasOwn(ALL, arg.slice(1).split('=')[0])) arg = `-${arg}`;
    const name = arg.startsWith('--') ? arg.slice(2) : SHORT_TO_LONG.get(arg.slice(1));
    const next = args[i + 1];
    if (name !== undefined && !arg.includes('=') && ALL[name]?.type === 'string' && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`invalid value "${text}" for flag -${flag}`);
  return value;
}

/** Parses argv (without node and the script); throws an Error with a user-facing message. */
export function parseFlags(argv: readonly string[]): FlagResult {
  const { values, positionals } = parseArgs({ args: normalize(argv), options: ALL, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const refused = Object.keys(values).filter((key) => key in NOT_YET_SUPPORTED);
  if (refused.length > 0) {
    throw new Error(`not supported by natrium yet: ${refused.map((key) => `--${key}`).join(', ')}`);
  }
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  const options: Partial<ServerOptions> = {};
  const str = (key: string): string | undefined => v[key] as string | undefined;
  const signal = str('signal') ?? str('sl');
  if (signal !== undefined) {
    const [name, target] = signal.split('=', 2);
    return { kind: 'signal', signal: name, pidOrFile: target ?? str('pid') ?? null };
  }
  if (str('http_port') !== undefined) options.httpPort = integer('http_port', str('http_port')!, -1);
  if (str('pid') !== undefined) options.pidFile = str('pid')!;
  if (str('ports_file_dir') !== undefined) options.portsFileDir = str('ports_file_dir')!;
  const host = str('addr') ?? str('net');
  if (host !== undefined) options.host = host;
  if (str('port') !== undefined) options.port = integer('port', str('port')!, -1);
  const name = str('server_name') ?? str('name');
  if (name !== undefined) options.serverName = name;
  if (str('log') !== undefined) options.logFile = str('log')!;
  const trace = v.trace === true || v.DV === true;
  const debug = v.debug === true || v.DV === true;
  const level: LogLevel | undefined = trace ? 'trace' : debug ? 'debug' : undefined;
  if (level !== undefined) options.logLevel = level;
  if (str('workers') !== undefined) options.workers = integer('workers', str('workers')!, 1);
  const parser = str('parser');
  if (parser !== undefined) {
    if (parser !== 'auto' && parser !== 'native' && parser !== 'js') {
      throw new Error(`invalid value "${parser}" for flag --parser: use auto, native or js`);
    }
    options.parser = parser as ParserChoice;
  }
  if (str('max_payload') !== undefined) options.maxPayload = parseSize(str('max_payload')!);
  if (str('max_control_line') !== undefined) options.maxControlLine = parseSize(str('max_control_line')!);
  if (str('max_pending') !== undefined) options.maxPending = parseSize(str('max_pending')!);
  if (str('write_deadline') !== undefined) options.writeDeadline = parseDuration(str('write_deadline')!);
  if (str('ping_interval') !== undefined) options.pingInterval = parseDuration(str('ping_interval')!);
  if (str('ping_max') !== undefined) options.maxPingsOut = integer('ping_max', str('ping_max')!, 1);
  if (str('max_connections') !== undefined) options.maxConnections = integer('max_connections', str('max_connections')!, 0);
  if (str('max_subscriptions') !== undefined) options.maxSubscriptions = integer('max_subscriptions', str('max_subscriptions')!, 0);
  const tls = tlsFromFlags({ tls: v.tls === true, cert: str('tlscert'), key: str('tlskey'), ca: str('tlscacert'), verify: v.tlsverify === true });
  if (tls !== null) options.tls = tls;
  if (str('user') !== undefined || str('pass') !== undefined || str('auth') !== undefined) {
    options.authorization = { token: str('auth') ?? '', user: str('user') ?? '', password: str('pass') ?? '', users: [] };
  }
  const configFile = str('config') ?? null;
  if (v.t === true && configFile === null) throw new Error('-t needs a configuration file: -c <file> -t');
  return { kind: 'run', options, configFile, testConfig: v.t === true };
}
