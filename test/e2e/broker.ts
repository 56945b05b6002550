/**
 * The broker an end-to-end test runs against: Natrium through test/helpers/server.ts, or — with
 * NATRIUM_E2E_REFERENCE=1 — the real nats-server with the same options, to check that the tests
 * themselves hold for the reference broker.
 */
import { connect, type ConnectionOptions, type Msg, type NatsConnection } from 'nats';
import type { ServerOptions } from '../../src/server/options.js';
import { startNatsServer } from '../helpers/nats-server.js';

export interface Broker {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export const AGAINST_REFERENCE = process.env.NATRIUM_E2E_REFERENCE === '1';

export async function startBroker(options: Partial<ServerOptions> = {}): Promise<Broker> {
  if (AGAINST_REFERENCE) return startNatsServer(options);
  // Loaded lazily so that the reference mode works without a built broker.
  const { startTestServer } = await import('../helpers/server.js');
  return startTestServer(options);
}

/** Starts a broker for the duration of `body`, closing it even when the body fails. */
export async function withBroker<T>(options: Partial<ServerOptions>, body: (broker: Broker) => Promise<T>): Promise<T> {
  const broker = await startBroker(options);
  try {
    return await body(broker);
  } finally {
    await broker.close();
  }
}

/** Rejects with a clear message if `promise` does not settle in time (a guard, never a wait). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve function, for events counted in callbacks. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A nats client that does not reconnect: a dropped connection is for the test to see. */
export function client(broker: { url: string }, options: ConnectionOptions = {}): Promise<NatsConnection> {
  return connect({ servers: broker.url, reconnect: false, ...options });
}

export async function closeAll(...connections: NatsConnection[]): Promise<void> {
  await Promise.all(connections.map((nc) => (nc.isClosed() ? undefined : nc.close())));
}

/**
 * Subscribes and collects messages until one arrives on `endSubject` (also subscribed). A sentinel
 * sent last by the same publisher proves everything before it was delivered (per-publisher order).
 */
export function collectUntil(nc: NatsConnection, subject: string, endSubject: string, queue?: string) {
  const received: Msg[] = [];
  const done = signal<void>();
  nc.subscribe(subject, { queue, callback: (_err, msg) => received.push(msg) });
  nc.subscribe(endSubject, { callback: () => done.resolve() });
  return { received, done: done.promise };
}
