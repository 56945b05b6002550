/**
 * Many raw NATS connections from one process, for the connection tests: each connects, gets INFO,
 * sends CONNECT (+ optionally one SUB) and a PING, and counts as up once the PONG is back. It then
 * answers the broker's PINGs, counts its MSGs, and can be PINGed again.
 */
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { openFileLimits } from './common.js';

const CONNECT_TIMEOUT_MS = 30_000;

export class FleetConnection {
  serverPings = 0;
  messages = 0;
  closed = false;
  private text = '';
  /** Payload bytes (with CRLF) of a MSG still to skip. */
  private skip = 0;
  private readonly pongWaiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk.toString('latin1')));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  private onData(data: string): void {
    this.text += data;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.text.length);
        this.text = this.text.slice(n);
        this.skip -= n;
        if (this.skip > 0) return;
      }
      const end = this.text.indexOf('\r\n');
      if (end < 0) return;
      const line = this.text.slice(0, end);
      this.text = this.text.slice(end + 2);
      if (line === 'PING') {
        this.serverPings++;
        this.socket.write('PONG\r\n');
      } else if (line === 'PONG') {
        this.pongWaiters.shift()?.();
      } else if (line.startsWith('MSG ')) {
        this.messages++;
        this.skip = Number(line.slice(line.lastIndexOf(' ') + 1)) + 2;
      }
    }
  }

  /** Resolves when the broker answered a PING sent now. */
  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pongWaiters.push(resolve);
      this.socket.write('PING\r\n');
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Connects, waits for INFO, sends CONNECT (+ SUB) + PING, resolves at the PONG. */
  static open(port: number, subscribe: string | null): Promise<FleetConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const connection = new FleetConnection(socket);
      const timer = setTimeout(() => fail(new Error(`no PONG within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('closed before PONG')));
      socket.once('data', () => {
        const sub = subscribe === null ? '' : `SUB ${subscribe} 1\r\n`;
        connection.pongWaiters.push(() => {
          clearTimeout(timer);
          socket.off('error', fail);
          socket.removeAllListeners('close');
          socket.on('close', () => (connection.closed = true));
          resolve(connection);
        });
        socket.write(`CONNECT {"verbose":false,"pedantic":false,"lang":"raw","version":"0"}\r\n${sub}PING\r\n`);
      });
    });
  }
}

export interface FleetResult {
  connections: FleetConnection[];
  failures: string[];
  seconds: number;
}

/** Opens `count` connections with at most `inFlight` handshakes at a time. */
export async function openFleet(port: number, count: number, inFlight: number, subject: ((i: number) => string) | null): Promise<FleetResult> {
  const connections: FleetConnection[] = [];
  const failures: string[] = [];
  let next = 0;
  const start = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        connections.push(await FleetConnection.open(port, subject === null ? null : subject(i)));
      } catch (error) {
        failures.push(`connection ${i}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { connections, failures, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/**
 * Node cannot raise its own open-files limit: when it is too low and the hard limit allows, the
 * script re-runs itself under `ulimit -n` (the brokers it starts inherit the limit). Returns that
 * run's exit status, or null when this process may go on.
 */
export function ensureOpenFiles(needed: number): number | null {
  const [soft, hard] = openFileLimits();
  if (soft >= needed) return null;
  if (hard < needed || process.env.NATRIUM_RELIABILITY_ULIMIT) {
    throw new Error(`${needed} open files needed, the limit is ${soft} (hard ${hard}): raise it first (ulimit -n ${needed})`);
  }
  process.stderr.write(`raising the open-files limit from ${soft} to ${needed} and re-running\n`);
  const result = spawnSync('/bin/sh', ['-c', `ulimit -n ${needed} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NATRIUM_RELIABILITY_ULIMIT: '1' },
  });
  return result.status ?? 1;
}
