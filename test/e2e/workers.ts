/**
 * Shared by the tests that need several workers (cross-worker.test.ts, faults.test.ts): a broker
 * with 4 workers and monitoring, /workerz readers, polling for state with no event to await, and
 * placement of clients on known workers.
 */
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/index.js';
import { startTestServer } from '../helpers/server.js';

export const WORKERS = 4;
export const GUARD_MS = 10_000;

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function withWorkers<T>(body: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await startTestServer({ workers: WORKERS, httpPort: -1 });
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

export async function monitor(server: RunningServer, path: string): Promise<Json> {
  const response = await fetch(`${server.monitorUrl}${path}`);
  const body = await response.text();
  assert.equal(response.status, 200, `${path}: ${body}`);
  return JSON.parse(body) as Json;
}

export async function workerz(server: RunningServer): Promise<Json[]> {
  return (await monitor(server, '/workerz')).workers as Json[];
}

export async function perWorker(server: RunningServer, field: string): Promise<number[]> {
  return (await workerz(server)).map((w) => w[field] as number);
}

/**
 * Re-reads `read` until `accept` holds: workers learn of a peer's close, and the monitor of a
 * worker's state, asynchronously, with no event a test could await.
 */
export async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${GUARD_MS} ms waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const same = (expected: unknown) => (value: unknown) => JSON.stringify(value) === JSON.stringify(expected);

/**
 * Opens connections one after another and records the worker each landed on: the one whose
 * connection count /workerz shows grown. Only valid while no other connection opens or closes.
 */
export class Placement {
  readonly workers: number[] = [];

  constructor(private readonly server: RunningServer) {}

  async open<T>(open: () => Promise<T>): Promise<T> {
    const before = await perWorker(this.server, 'connections');
    const conn = await open();
    const after = await perWorker(this.server, 'connections');
    const grown = after.flatMap((n, w) => (n > before[w]! ? [w] : []));
    assert.equal(grown.length, 1, `exactly one worker gained the connection (before ${before}, after ${after})`);
    this.workers.push(grown[0]!);
    return conn;
  }

  /** The first `WORKERS` connections are on as many different workers. */
  assertSpread(): void {
    const first = this.workers.slice(0, WORKERS);
    assert.equal(new Set(first).size, first.length, `consecutive connections on different workers (${this.workers})`);
  }
}
