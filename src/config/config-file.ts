/**
 * A nats-server configuration file read into ServerOptions. Keys mean what they mean to
 * nats-server (server/opts.go, matched case-insensitively); a key nats-server knows and Natrium does
 * not support yet is refused with its file:line, never ignored; an unknown key is refused as
 * nats-server refuses it, unless the file uses it as a `$variable`.
 */
import { confTypeName, parseConfFile, ConfSyntaxError, type ConfEntry, type ConfMap } from './conf-parser.js';
import { parseDuration } from './units.js';
import type { LogLevel, ParserChoice, ServerOptions } from '../server/options.js';
import { readAccounts, readAuthorization, readOperatorKey } from '../auth/config.js';
import { readTlsBlock, readWebSocketBlock } from '../transport/config.js';

/** Every problem found in the file, each as `file:line:column: message`. */
export class ConfigFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface ConfigFileResult {
  options: Partial<ServerOptions>;
  /** What nats-server also only warns about (e.g. a duration given as a number of seconds). */
  warnings: string[];
}

/** Top-level keys of nats-server 2.9 that Natrium does not support yet. */
const NOT_YET_SUPPORTED = new Set([
  'client_advertise',
  'trace_verbose',
  'mappings',
  'maps',
  'disable_sublist_cache',
  'no_sublist_cache',
  'https',
  'https_port',
  'http_base_path',
  'cluster',
  'gateway',
  'leaf',
  'leafnodes',
  'store_dir',
  'storedir',
  'jetstream',
  'logfile_size_limit',
  'log_size_limit',
  'syslog',
  'remote_syslog',
  'prof_port',
  'max_traced_msg_len',
  'max_sub_tokens',
  'max_subscription_tokens',
  'ocsp',
  'ocsp_cache',
  'allow_non_tls',
  'operators',
  'roots',
  'root',
  'root_operators',
  'root_operator',
  'account_resolver',
  'accounts_resolver',
  'resolver_tls',
  'resolver_pinned_accounts',
  'system_account',
  'system',
  'no_system_account',
  'no_system',
  'no_sys_acc',
  'no_header_support',
  'trusted',
  'trusted_keys',
  'connect_error_reports',
  'reconnect_error_reports',
  'mqtt',
  'server_tags',
  'default_js_domain',
  'logtime_utc',
  'max_closed_clients',
]);

class Reader {
  readonly options: Partial<ServerOptions> = {};
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  private debug: boolean | undefined;
  private trace: boolean | undefined;

  private at(entry: ConfEntry): string {
    return `${entry.file}:${entry.line}:${entry.column}`;
  }

  problem(entry: ConfEntry, message: string): void {
    this.problems.push(`${this.at(entry)}: ${message}`);
  }

  private integer(key: string, entry: ConfEntry, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = entry.value;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.problem(entry, `"${key}" expects an integer, got ${confTypeName(v)}`);
      return undefined;
    }
    if (v > max) {
      this.problem(entry, `${key} value is too big`);
      return undefined;
    }
    if (v < min) {
      this.problem(entry, `"${key}" must be at least ${min}, got ${v}`);
      return undefined;
    }
    return v;
  }

  private string(key: string, entry: ConfEntry): string | undefined {
    if (typeof entry.value !== 'string') {
      this.problem(entry, `"${key}" expects a string, got ${confTypeName(entry.value)}`);
      return undefined;
    }
    return entry.value;
  }

  private boolean(key: string, entry: ConfEntry): boolean | undefined {
    if (typeof entry.value !== 'boolean') {
      this.problem(entry, `"${key}" expects a boolean, got ${confTypeName(entry.value)}`);
      return undefined;
    }
    return entry.value;
  }

  /** A Go duration string; a bare integer is seconds, which nats-server accepts with a warning. */
  private duration(key: string, entry: ConfEntry): number | undefined {
    const v = entry.value;
    if (typeof v === 'number' && Number.isInteger(v)) {
      this.warnings.push(`${this.at(entry)}: invalid use of field "${key}": ${key} should be converted to a duration`);
      return v * 1000;
    }
    if (typeof v !== 'string') {
      this.problem(entry, `"${key}" expects a duration such as "2m", got ${confTypeName(v)}`);
      return undefined;
    }
    try {
      // Go's time.ParseDuration wants a unit on anything but zero.
      if (v.trim() !== '0' && /^\s*[\d.]+\s*$/.test(v)) throw new Error('missing unit');
      return parseDuration(v);
    } catch {
      this.problem(entry, `error parsing ${key}: time: invalid duration "${v}"`);
      return undefined;
    }
  }

  /** `listen` and `http`: a port, or "host:port". */
  private hostPort(key: string, entry: ConfEntry): { host: string | null; port: number } | undefined {
    const v = entry.value;
    if (typeof v === 'number' && Number.isInteger(v)) return { host: null, port: v };
    if (typeof v !== 'string') {
      this.problem(entry, `"${key}": expected port or host:port, got ${confTypeName(v)}`);
      return undefined;
    }
    const match = /^(?:\[([^\]]*)\]|([^:]*)):(-?\d+)$/.exec(v);
    if (match === null) {
      this.problem(entry, `could not parse address string ${JSON.stringify(v)}`);
      return undefined;
    }
    return { host: match[1] ?? match[2], port: Number(match[3]) };
  }

  read(key: string, entry: ConfEntry): void {
    const o = this.options;
    const set = <K extends keyof ServerOptions>(field: K, value: ServerOptions[K] | undefined): void => {
      if (value !== undefined) o[field] = value;
    };
    switch (key) {
      case 'listen': {
        const hp = this.hostPort(key, entry);
        if (hp === undefined) return;
        if (hp.host !== null && hp.host !== '') o.host = hp.host;
        o.port = hp.port;
        return;
      }
      case 'port':
        return set('port', this.integer(key, entry, -1, 65535));
      case 'host':
      case 'net':
        return set('host', this.string(key, entry));
      case 'server_name':
        return set('serverName', this.string(key, entry));
      case 'http': {
        const hp = this.hostPort(key, entry);
        if (hp === undefined) return;
        if (hp.host !== null) o.httpHost = hp.host;
        o.httpPort = hp.port;
        return;
      }
      case 'http_port':
      case 'monitor_port':
        return set('httpPort', this.integer(key, entry, -1, 65535));
      case 'max_payload':
        return set('maxPayload', this.integer(key, entry, 1, 2 ** 31 - 1));
      case 'max_control_line':
        return set('maxControlLine', this.integer(key, entry, 1, 2 ** 31 - 1));
      case 'max_pending':
        return set('maxPending', this.integer(key, entry, 1));
      case 'max_connections':
      case 'max_conn':
        return set('maxConnections', this.integer(key, entry, 0));
      case 'max_subscriptions':
      case 'max_subs':
        return set('maxSubscriptions', this.integer(key, entry, 0));
      case 'write_deadline':
        return set('writeDeadline', this.duration(key, entry));
      case 'ping_interval':
        return set('pingInterval', this.duration(key, entry));
      case 'ping_max':
        return set('maxPingsOut', this.integer(key, entry, 1));
      case 'debug':
        this.debug = this.boolean(key, entry);
        return;
      case 'trace':
        this.trace = this.boolean(key, entry);
        return;
      case 'logtime':
        // Natrium's log lines always carry their time; `logtime` is accepted so that files load.
        this.boolean(key, entry);
        return;
      case 'logfile':
      case 'log_file':
        return set('logFile', this.string(key, entry));
      case 'pidfile':
      case 'pid_file':
        return set('pidFile', this.string(key, entry));
      case 'ports_file_dir':
        return set('portsFileDir', this.string(key, entry));
      case 'lame_duck_duration': {
        const ms = this.duration(key, entry);
        if (ms !== undefined && ms < 30_000) this.problem(entry, `invalid lame_duck_duration of ${entry.value}, minimum is 30 seconds`);
        else set('lameDuckDuration', ms);
        return;
      }
      case 'lame_duck_grace_period':
        return set('lameDuckGracePeriod', this.duration(key, entry));
      case 'workers':
        return set('workers', this.integer(key, entry, 1));
      case 'parser': {
        const parser = this.string(key, entry);
        if (parser === undefined) return;
        if (parser !== 'auto' && parser !== 'native' && parser !== 'js') {
          this.problem(entry, `"parser" must be auto, native or js, got ${JSON.stringify(parser)}`);
          return;
        }
        o.parser = parser as ParserChoice;
        return;
      }
      case 'tls':
        return set('tls', readTlsBlock(key, entry, (at, message) => this.problem(at, message)));
      case 'websocket':
      case 'ws':
        return set('websocket', readWebSocketBlock(key, entry, (at, message) => this.problem(at, message)));
    }
    if (key === 'authorization') {
      const block = readAuthorization(entry, (at, message) => this.problem(at, message));
      if (block === undefined) return;
      o.authorization = block.authorization;
      if (block.timeoutMs !== undefined) o.authTimeout = block.timeoutMs;
      return;
    }
    if (key === 'no_auth_user') return set('noAuthUser', this.string(key, entry));
    if (key === 'accounts') return set('accounts', readAccounts(entry, (at, message) => this.problem(at, message)));
    if (key === 'operator' || key === 'resolver' || key === 'resolver_preload') {
      o.operator = readOperatorKey(key, entry, o.operator, (at, message) => this.problem(at, message));
      return;
    }
    if (NOT_YET_SUPPORTED.has(key)) {
      this.problem(entry, `"${key}" is not supported by natrium yet`);
      return;
    }
    if (!entry.usedAsVariable) this.problem(entry, `unknown field "${key}"`);
  }

  finish(): void {
    if (this.debug === undefined && this.trace === undefined) return;
    const level: LogLevel = this.trace ? 'trace' : this.debug ? 'debug' : 'info';
    this.options.logLevel = level;
  }
}

/** Maps parsed configuration to options; throws ConfigFileError listing every problem. */
export function optionsFromConf(conf: ConfMap): ConfigFileResult {
  const reader = new Reader();
  for (const [key, entry] of conf) reader.read(key.toLowerCase(), entry);
  reader.finish();
  if (reader.problems.length > 0) throw new ConfigFileError(reader.problems);
  return { options: reader.options, warnings: reader.warnings };
}

/** Reads a nats-server configuration file; throws ConfigFileError naming file:line on any problem. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigFileResult {
  let conf: ConfMap;
  try {
    conf = parseConfFile(file, env);
  } catch (error) {
    if (error instanceof ConfSyntaxError) throw new ConfigFileError([error.message]);
    throw new ConfigFileError([`error opening config file: ${(error as Error).message}`]);
  }
  return optionsFromConf(conf);
}
