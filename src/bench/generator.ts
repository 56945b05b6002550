/**
 * Runs one scenario against one NATS URL and measures it the way nbench does: publishers publish
 * flat out then flush (PING/PONG); the delivered rate runs from the first publish to the last
 * delivery, summed over subscribers; requests are sequential per requester.
 *
 * Two generators produce the same result shape: `node` (worker threads on raw sockets, below) and
 * `nbench` (the Go program on the official nats.go client, run as a child process).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Board, type BoardShape } from './board.js';
import type { FromLoadWorker, LoadTask, ToLoadWorker } from './load-worker.js';
import { percentile } from './stats.js';
import type { Scenario, ScenarioResult, Status } from './scenarios.js';
import { nowNs, parseUrl, type Endpoint } from './wire.js';

/** `auto`: nbench for request/reply (when installed), where the node generator's own latency shows; node otherwise. */
export type GeneratorName = 'node' | 'nbench' | 'auto';

export interface GeneratorOptions {
  generator: GeneratorName;
  /** Cap on the publishing (or requesting) phase, as nbench's -maxtime. */
  maxTimeMs: number;
  /** Give up waiting for deliveries after this long without progress, as nbench's -idle. */
  idleMs: number;
  /** Most threads per role (publishers, subscribers, requesters) for the node generator. */
  threads: number;
  /** Bytes per publisher write for the node generator. */
  writeBytes: number;
  nbenchPath: string;
  /** Called a few times per second while a run is in progress (fraction 0..1). */
  onProgress?: (fraction: number) => void;
}

export const DEFAULT_NBENCH = process.env.NBENCH ?? '/tmp/nbench/nbench';

export const DEFAULT_GENERATOR_OPTIONS: GeneratorOptions = {
  generator: 'auto',
  maxTimeMs: 20_000,
  idleMs: 10_000,
  // More threads than cores only add contention with the broker: on 2 cores one per role is best.
  threads: Math.max(1, Math.min(4, Math.floor(os.availableParallelism() / 2))),
  writeBytes: 64 * 1024,
  nbenchPath: DEFAULT_NBENCH,
};

const LOAD_WORKER = new URL('./load-worker.js', import.meta.url);
const POLL_MS = 5;
const PROGRESS_MS = 250;

export function runScenario(url: string, scenario: Scenario, options: GeneratorOptions): Promise<ScenarioResult> {
  if (resolveGenerator(options, scenario) === 'nbench') return runNbench(url, scenario, options);
  const endpoint = parseUrl(url);
  return scenario.kind === 'req' ? runRequests(endpoint, scenario, options) : runPubSub(endpoint, scenario, options);
}

export function resolveGenerator(options: Pick<GeneratorOptions, 'generator' | 'nbenchPath'>, scenario: Scenario): 'node' | 'nbench' {
  if (options.generator !== 'auto') return options.generator;
  return scenario.kind === 'req' && existsSync(options.nbenchPath) ? 'nbench' : 'node';
}

/** A load-generator thread and the messages it sends back. */
class LoadThread {
  readonly worker: Worker;
  private waiters = new Map<FromLoadWorker['type'], (message: FromLoadWorker) => void>();
  private failure: Error | null = null;
  private onFailure: Array<(error: Error) => void> = [];
  readonly exited: Promise<void>;

  constructor(task: LoadTask) {
    this.worker = new Worker(LOAD_WORKER, { workerData: task });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (message: FromLoadWorker) => {
      if (message.type === 'failed') this.fail(new Error(message.message));
      else this.waiters.get(message.type)?.(message);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`load thread exited with code ${code}`)));
  }

  next<T extends FromLoadWorker['type']>(type: T): Promise<Extract<FromLoadWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.set(type, resolve as (message: FromLoadWorker) => void);
      this.onFailure.push(reject);
    });
  }

  send(message: ToLoadWorker): void {
    this.worker.postMessage(message);
  }

  async close(): Promise<void> {
    this.failure ??= new Error('closed');
    this.send({ type: 'close' });
    const guard = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(guard);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const reject of this.onFailure) reject(error);
  }
}

/** Splits `n` connections into at most `threads` contiguous groups. */
function groups(n: number, threads: number): Array<{ first: number; size: number }> {
  const count = Math.min(n, Math.max(1, threads));
  const result: Array<{ first: number; size: number }> = [];
  let first = 0;
  for (let g = 0; g < count; g++) {
    const size = Math.floor(n / count) + (g < n % count ? 1 : 0);
    result.push({ first, size });
    first += size;
  }
  return result;
}

/** `total` messages shared by `n` senders; the first takes the remainder (as nbench). */
function shares(total: number, n: number): number[] {
  const each = Math.floor(total / n);
  const result = Array.from({ length: n }, () => each);
  result[0] += total - each * n;
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Awaits `promise`, calling `tick` every PROGRESS_MS until it settles. */
async function withProgress<T>(promise: Promise<T>, tick: () => void): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await Promise.race([promise, sleep(PROGRESS_MS)]);
    if (!settled) tick();
  }
  return promise;
}

async function runPubSub(endpoint: Endpoint, scenario: Scenario, options: GeneratorOptions): Promise<ScenarioResult> {
  const shape: BoardShape = { publishers: scenario.publishers, subscribers: scenario.subscribers, requesters: 0 };
  const board = Board.create(shape);
  const common = { endpoint, subject: scenario.subject, size: scenario.size, board: board.buffer, boardShape: shape };
  const threads: LoadThread[] = [];
  try {
    const subscriberThreads = groups(scenario.subscribers, options.threads).map(
      ({ first, size }) => new LoadThread({ ...common, role: 'sub', first, connections: size, queue: scenario.queue }),
    );
    threads.push(...subscriberThreads);
    await Promise.all(subscriberThreads.map((t) => t.next('ready')));
    const counts = shares(scenario.count, scenario.publishers);
    const publisherThreads = groups(scenario.publishers, options.threads).map(
      ({ first, size }) =>
        new LoadThread({ ...common, role: 'pub', first, counts: counts.slice(first, first + size), writeBytes: options.writeBytes, idleMs: options.idleMs }),
    );
    threads.push(...publisherThreads);
    await Promise.all(publisherThreads.map((t) => t.next('ready')));

    const fanout = scenario.subscribers === 0 ? 0 : scenario.queue ? 1 : scenario.subscribers;
    const progress = (): number => {
      const published = board.sum(board.published) / scenario.count;
      return fanout === 0 ? published : (published + board.sum(board.delivered) / (scenario.count * fanout)) / 2;
    };
    const start = nowNs();
    const published = Promise.all(publisherThreads.map((t) => t.next('published')));
    for (const t of publisherThreads) t.send({ type: 'go', deadlineNs: start + options.maxTimeMs * 1e6 });
    let reported = 0;
    const reports = await withProgress(published, () => {
      reported = nowNs();
      options.onProgress?.(progress());
    });
    const sent = reports.reduce((sum, r) => sum + r.sent.reduce((a, b) => a + b, 0), 0);
    const lastPublishNs = Math.max(...reports.flatMap((r) => r.endNs));
    const publishErrors = reports.flatMap((r) => r.errors);
    const expected = sent * fanout;

    let lastProgressNs = nowNs();
    let previous = -1;
    let subscriberFailed = false;
    for (;;) {
      const delivered = board.sum(board.delivered);
      if (delivered >= expected) break;
      if (board.sum(board.failed) > 0) {
        subscriberFailed = true;
        break;
      }
      if (delivered !== previous) {
        previous = delivered;
        lastProgressNs = nowNs();
      } else if (nowNs() - lastProgressNs > options.idleMs * 1e6) {
        break;
      }
      if (options.onProgress && nowNs() - reported > PROGRESS_MS * 1e6) {
        reported = nowNs();
        options.onProgress(progress());
      }
      await sleep(POLL_MS);
    }
    const delivered = board.sum(board.delivered);
    const perSubscriber = Array.from(board.delivered);
    const lastDeliveryNs = Math.max(0, ...Array.from(board.lastDeliveryNs));
    const publishSeconds = (lastPublishNs - start) / 1e9;
    const deliverSeconds = delivered > 0 ? (lastDeliveryNs - start) / 1e9 : 0;
    const pubMsgsPerSec = sent / publishSeconds;
    const subMsgsPerSec = delivered > 0 ? delivered / deliverSeconds : 0;
    let status: Status = 'ok';
    if (delivered < expected) status = 'INCOMPLETE';
    if (publishErrors.length > 0) status = 'PUBERR';
    if (sent < scenario.count && status === 'ok') status = 'TIMECAP';
    const messages = [...publishErrors];
    if (subscriberFailed) messages.push('a subscriber connection was closed by the server');
    return {
      scenario: scenario.name,
      kind: 'pubsub',
      generator: 'node',
      status,
      msgsPerSec: fanout === 0 ? pubMsgsPerSec : subMsgsPerSec,
      pubMsgsPerSec,
      sent,
      delivered,
      expected,
      perSubscriberMin: perSubscriber.length > 0 ? Math.min(...perSubscriber) : 0,
      perSubscriberMax: perSubscriber.length > 0 ? Math.max(...perSubscriber) : 0,
      seconds: fanout === 0 ? publishSeconds : deliverSeconds,
      ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
    };
  } finally {
    await Promise.all(threads.map((t) => t.close()));
  }
}

async function runRequests(endpoint: Endpoint, scenario: Scenario, options: GeneratorOptions): Promise<ScenarioResult> {
  const shape: BoardShape = { publishers: 0, subscribers: 0, requesters: scenario.publishers };
  const board = Board.create(shape);
  const common = { endpoint, subject: scenario.subject, size: scenario.size, board: board.buffer, boardShape: shape };
  const threads: LoadThread[] = [];
  try {
    const counts = shares(scenario.count, scenario.publishers);
    const requesters: LoadThread[] = [];
    // The first thread also runs the responder, so it must be ready before the others warm up.
    for (const { first, size } of groups(scenario.publishers, options.threads)) {
      const thread = new LoadThread({ ...common, role: 'requester', first, counts: counts.slice(first, first + size), timeoutMs: 5000, respond: first === 0 });
      threads.push(thread);
      requesters.push(thread);
      if (first === 0) await thread.next('ready');
    }
    await Promise.all(requesters.slice(1).map((t) => t.next('ready')));
    const start = nowNs();
    const finished = Promise.all(requesters.map((t) => t.next('latencies')));
    for (const t of requesters) t.send({ type: 'go', deadlineNs: start + options.maxTimeMs * 1e6 });
    const done = await withProgress(finished, () => options.onProgress?.(board.sum(board.requested) / scenario.count));
    const seconds = (nowNs() - start) / 1e9;
    const all = new Float64Array(done.reduce((sum, r) => sum + r.samplesUs.length, 0));
    let at = 0;
    for (const r of done) {
      all.set(r.samplesUs, at);
      at += r.samplesUs.length;
    }
    all.sort();
    const errors = done.flatMap((r) => r.errors);
    const rate = all.length / seconds;
    const status: Status = errors.length > 0 ? 'ERRORS' : all.length < scenario.count ? 'TIMECAP' : 'ok';
    return {
      scenario: scenario.name,
      kind: 'req',
      generator: 'node',
      status,
      msgsPerSec: rate,
      done: all.length,
      p50Us: percentile(all, 0.5),
      p90Us: percentile(all, 0.9),
      p99Us: percentile(all, 0.99),
      maxUs: percentile(all, 1),
      seconds,
      ...(errors.length > 0 ? { message: errors.slice(0, 3).join('; ') } : {}),
    };
  } finally {
    await Promise.all(threads.map((t) => t.close()));
  }
}

/** nbench's RESULT line as key/value pairs. */
export function parseNbenchResult(output: string): Record<string, string> | null {
  const line = output
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .pop();
  if (!line) return null;
  const fields: Record<string, string> = {};
  for (const pair of line.slice('RESULT '.length).trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return fields;
}

function nbenchArgs(url: string, scenario: Scenario, options: GeneratorOptions): string[] {
  const common = ['-url', url, '-name', scenario.name, '-n', String(scenario.count), '-ms', String(scenario.size), '-subj', scenario.subject];
  const maxTime = ['-maxtime', `${options.maxTimeMs}ms`];
  if (scenario.kind === 'req') return ['req', ...common, ...maxTime, '-c', String(scenario.publishers)];
  const args = ['pubsub', ...common, ...maxTime, '-idle', `${options.idleMs}ms`, '-np', String(scenario.publishers), '-ns', String(scenario.subscribers)];
  if (scenario.queue) args.push('-queue', scenario.queue);
  return args;
}

async function runNbench(url: string, scenario: Scenario, options: GeneratorOptions): Promise<ScenarioResult> {
  if (!existsSync(options.nbenchPath)) {
    throw new Error(`nbench not found at ${options.nbenchPath}: build it with ../shared/tools/nbench/build.sh (or set NBENCH / --nbench)`);
  }
  const started = nowNs();
  const child = spawn(options.nbenchPath, nbenchArgs(url, scenario, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const expectedSeconds = Math.min(options.maxTimeMs / 1000, 1);
  const ticker = options.onProgress
    ? setInterval(() => options.onProgress!(Math.min(0.99, (nowNs() - started) / 1e9 / (expectedSeconds * 4))), PROGRESS_MS)
    : null;
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  if (ticker) clearInterval(ticker);
  const fields = parseNbenchResult(stdout);
  const seconds = (nowNs() - started) / 1e9;
  if (!fields) {
    return {
      scenario: scenario.name,
      kind: scenario.kind,
      generator: 'nbench',
      status: 'FAILED',
      msgsPerSec: 0,
      seconds,
      message: `nbench exited with ${code}: ${stderr.trim().slice(0, 300)}`,
    };
  }
  const num = (key: string): number => Number(fields[key] ?? 0);
  const status = (fields.status ?? 'FAILED') as Status;
  const base = {
    scenario: scenario.name,
    kind: scenario.kind,
    generator: 'nbench' as const,
    status,
    msgsPerSec: num('msgs_per_s'),
    ...(stderr.trim() ? { message: stderr.trim().slice(0, 300) } : {}),
  };
  if (scenario.kind === 'req') {
    return { ...base, done: num('done'), p50Us: num('p50_us'), p90Us: num('p90_us'), p99Us: num('p99_us'), maxUs: num('max_us'), seconds: num('secs') };
  }
  return {
    ...base,
    pubMsgsPerSec: num('pub_msgs_per_s'),
    sent: num('sent'),
    delivered: num('delivered'),
    expected: num('expected'),
    perSubscriberMin: num('per_sub_min'),
    perSubscriberMax: num('per_sub_max'),
    seconds: scenario.subscribers === 0 ? num('pub_secs') : num('sub_secs'),
  };
}
