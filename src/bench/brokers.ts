/**
 * The two brokers under comparison, each as its own process on 127.0.0.1 and a port it picks
 * itself: Natrium (this package's CLI) and nats-server. Running Natrium out of the generator's
 * process keeps the two on equal terms and lets /proc report its memory alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { ParserChoice } from '../server/options.js';

export type BrokerKind = 'natrium' | 'nats-server';

export interface NatriumSettings {
  /** null = the default a newcomer gets with `npm start` (one per core). */
  workers: number | null;
  parser: ParserChoice;
}

/** A broker process started by `launchBroker`, until `close()` stops it. */
export interface LaunchedBroker {
  child: ChildProcess;
  pid: number;
  /** Every complete line the process wrote to stdout and stderr so far. */
  log: string[];
  /** Resident set size now, in bytes (worker threads are part of Natrium's process). */
  rssBytes(): number;
  /** Peak resident set size since the process started, in bytes. */
  peakRssBytes(): number;
  /** SIGTERM, SIGKILL if it is still running after a while; resolves once it exited. */
  close(): Promise<void>;
}

export interface BrokerProcess extends LaunchedBroker {
  kind: BrokerKind;
  url: string;
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const NATRIUM_MAIN = new URL('../cli/main.js', import.meta.url);
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Throws with installation instructions when the nats-server binary is missing. */
export function assertNatsServerInstalled(binary = NATS_SERVER_BIN): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`nats-server not found at ${binary}: install it with \`apt-get install -y nats-server\` (or set NATS_SERVER_BIN).`);
  }
}

/** A field of /proc/<pid>/status in bytes (the kernel reports kB). */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The port of a "Listening for client connections on host:port" line (both brokers log it), or undefined. */
export function loggedClientPort(log: string): number | undefined {
  const match = /Listening for client connections on [^\s"]*:(\d+)/.exec(log);
  return match ? Number(match[1]) : undefined;
}

export function natriumArgs(settings: NatriumSettings): string[] {
  // '--port=-1', not '-p -1': node's parseArgs refuses a separate value that starts with a dash.
  const args = ['-a', '127.0.0.1', '--port=-1', '--parser', settings.parser];
  if (settings.workers !== null) args.push('--workers', String(settings.workers));
  return args;
}

/** `nodeArgs` go to node itself, e.g. `--cpu-prof`. */
export function startNatrium(settings: NatriumSettings, nodeArgs: readonly string[] = []): Promise<BrokerProcess> {
  return startListening('natrium', process.execPath, [...nodeArgs, NATRIUM_MAIN.pathname, ...natriumArgs(settings)]);
}

export function startNatsServer(): Promise<BrokerProcess> {
  assertNatsServerInstalled();
  return startListening('nats-server', NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', '-1']);
}

export function startBroker(kind: BrokerKind, settings: NatriumSettings): Promise<BrokerProcess> {
  return kind === 'natrium' ? startNatrium(settings) : startNatsServer();
}

/** `nats-server --version`, e.g. "2.9.10", or "unknown". */
export function natsServerVersion(): string {
  const result = spawnSync(NATS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  return /v?(\d+\.\d+\.\d+)/.exec(result.stdout ?? '')?.[1] ?? 'unknown';
}

async function startListening(kind: BrokerKind, command: string, args: string[]): Promise<BrokerProcess> {
  const { broker, ready: port } = await launchBroker(kind, command, args, loggedClientPort);
  return { ...broker, kind, url: `nats://127.0.0.1:${port}` };
}

/**
 * Starts a broker process and resolves once `ready` finds what it waits for (a port, say) in the
 * lines logged so far, checked as output arrives. A process that exits first, or is not ready
 * within START_TIMEOUT_MS, is a rejection with its log (and is killed).
 */
export async function launchBroker<T>(
  what: string,
  command: string,
  args: string[],
  ready: (log: string) => T | undefined,
): Promise<{ broker: LaunchedBroker; ready: T }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log: string[] = [];
  let partial = '';
  // Read for as long as the process runs, so that a chatty broker never blocks on a full pipe.
  const onData = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    log.push(...lines);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const logged = (): string => [...log, partial].join('\n');
  let found: T;
  try {
    found = await new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = ready(log.join('\n'));
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        finish();
        reject(new Error(`${what} exited (code ${code}, signal ${signal}) before it was ready:\n${logged()}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${what} was not ready within ${START_TIMEOUT_MS} ms:\n${logged()}`));
      }, START_TIMEOUT_MS);
      const finish = (): void => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        child.off('exit', onExit);
      };
      // Registered after onData: each check sees the chunk that triggered it.
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', onExit);
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    throw error;
  }
  const pid = child.pid!;
  const broker: LaunchedBroker = {
    child,
    pid,
    log,
    rssBytes: () => statusBytes(pid, 'VmRSS'),
    peakRssBytes: () => statusBytes(pid, 'VmHWM'),
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const guard = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(guard);
      }
      children.delete(child);
    },
  };
  return { broker, ready: found };
}
