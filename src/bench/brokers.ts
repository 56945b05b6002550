/**
 * The two brokers under comparison, each as its own process on 127.0.0.1 and a port it picks
 * itself: Natrium (this package's CLI) and nats-server. Running Natrium out of the generator's
 * process keeps the two on equal terms and lets /proc report its memory alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { ParserChoice } from '../server/options.js';

export type BrokerKind = 'natrium' | 'nats-server';

export interface NatriumSettings {
  /** null = the default a newcomer gets with `npm start` (one per core). */
  workers: number | null;
  parser: ParserChoice;
}

export interface BrokerProcess {
  kind: BrokerKind;
  url: string;
  pid: number;
  /** Resident set size now, in bytes (worker threads are part of Natrium's process). */
  rssBytes(): number;
  /** Peak resident set size since the process started, in bytes. */
  peakRssBytes(): number;
  close(): Promise<void>;
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const NATRIUM_MAIN = new URL('../cli/main.js', import.meta.url);
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A field of /proc/<pid>/status in bytes (the kernel reports kB). */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function natriumArgs(settings: NatriumSettings): string[] {
  // '--port=-1', not '-p -1': node's parseArgs refuses a separate value that starts with a dash.
  const args = ['-a', '127.0.0.1', '--port=-1', '--parser', settings.parser];
  if (settings.workers !== null) args.push('--workers', String(settings.workers));
  return args;
}

/** `nodeArgs` go to node itself, e.g. `--cpu-prof`. */
export function startNatrium(settings: NatriumSettings, nodeArgs: readonly string[] = []): Promise<BrokerProcess> {
  return launch('natrium', process.execPath, [...nodeArgs, NATRIUM_MAIN.pathname, ...natriumArgs(settings)]);
}

export function startNatsServer(): Promise<BrokerProcess> {
  if (!existsSync(NATS_SERVER_BIN)) {
    throw new Error(`nats-server not found at ${NATS_SERVER_BIN}: apt-get install -y nats-server (or set NATS_SERVER_BIN)`);
  }
  return launch('nats-server', NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', '-1']);
}

export function startBroker(kind: BrokerKind, settings: NatriumSettings): Promise<BrokerProcess> {
  return kind === 'natrium' ? startNatrium(settings) : startNatsServer();
}

/** `nats-server --version`, e.g. "2.9.10", or "unknown". */
export function natsServerVersion(): string {
  const result = spawnSync(NATS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  return /v?(\d+\.\d+\.\d+)/.exec(result.stdout ?? '')?.[1] ?? 'unknown';
}

/** Starts the process and resolves once it logs the client port (both brokers log the same line). */
async function launch(kind: BrokerKind, command: string, args: string[]): Promise<BrokerProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      const match = /Listening for client connections on [^\s"]*:(\d+)/.exec(log);
      if (match) {
        finish();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null): void => {
      finish();
      reject(new Error(`${kind} exited with code ${code} before listening:\n${log.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      finish();
      child.kill('SIGKILL');
      reject(new Error(`${kind} did not report its port within ${START_TIMEOUT_MS} ms:\n${log.slice(-2000)}`));
    }, START_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      // Keep draining so a chatty broker never blocks on a full pipe.
      child.stdout!.resume();
      child.stderr!.resume();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
  const pid = child.pid!;
  return {
    kind,
    url: `nats://127.0.0.1:${port}`,
    pid,
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
}
