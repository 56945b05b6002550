/**
 * `npm run soak -- --minutes N`: a mixed workload against a Natrium broker (its own process, the
 * default settings unless told) for N minutes, reported every minute:
 *
 * - two publishers (real `nats` clients) at a steady rate over 8 plain subjects `soak.p.<k>` and
 *   4 queue subjects `soak.q.<k>`, every payload numbered per (publisher, subject);
 * - subscribers that keep up on a literal subject, `soak.p.*`, `soak.*.1` and `soak.>`, each
 *   checking order and counting, and a queue group of three on `soak.q.*` checked for exactly-once;
 * - request/reply: two responders in a queue group, 8 requesters at --request-rate in all;
 * - churn: a connection every --churn-ms that subscribes, waits for one message and leaves;
 * - now and then a subscriber on `soak.>` that never reads its socket (the broker must cut it).
 *
 * Every minute the publishers pause for a checkpoint (publishers, then subscribers flushed: a
 * PONG means everything before it was delivered) and the counts must match exactly. The run fails
 * (exit 1) on any lost, duplicated or reordered message, failed request or churn connection, a
 * stalled subscriber the broker did not cut, or resident memory that keeps growing.
 */
import { connect, type Msg, type NatsConnection } from 'nats';
import { hostLine, mib, MiB, monitor, parseOptions, sleep, startBroker, StalledSubscriber, type Json } from './common.js';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SoakOptions {
  minutes: number;
  /** Messages published per second, over both publishers. */
  rate: number;
  /** Payload bytes (at least 12: publisher, subject, sequence). */
  size: number;
  /** 0 = Natrium's default (one worker per core). */
  workers: number;
  /** Requests per second (over REQUESTS_IN_FLIGHT concurrent requesters). */
  requestRate: number;
  /** Seconds between stalled subscribers; the first comes after 10 s; 0 = none. */
  stallEvery: number;
  /** Milliseconds between churn connections; 0 = none. */
  churnMs: number;
  /** Seconds between reports (and checkpoints). */
  reportSeconds: number;
  /** Write the report here as JSON ('' = nowhere). */
  out: string;
}

export const DEFAULT_SOAK: SoakOptions = { minutes: 1, rate: 10_000, size: 64, requestRate: 500, workers: 0, stallEvery: 60, churnMs: 200, reportSeconds: 60, out: '' };

export interface WorkerFigures {
  worker: number;
  heapUsed: number;
  /** The isolate's committed heap. */
  heapTotal: number;
  arrayBuffers: number;
  /** Largest p99 and max of the event-loop-delay windows that closed in this period, ns. */
  eventLoopP99: number;
  eventLoopMax: number;
}

export interface PeriodReport {
  minute: number;
  seconds: number;
  published: number;
  publishedPerSecond: number;
  brokerInPerSecond: number;
  brokerOutPerSecond: number;
  rssBytes: number;
  rssMaxBytes: number;
  workers: WorkerFigures[];
  connections: number;
  slowConsumers: number;
  requests: number;
  churned: number;
  stalledOpened: number;
  stalledCut: number;
  /** Cumulative: messages missing, duplicated or out of order at subscribers that keep up. */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  requestFailures: number;
  churnFailures: number;
}

export interface SoakReport {
  options: SoakOptions;
  broker: string;
  periods: PeriodReport[];
  rssSamples: { at: number; rss: number }[];
  failures: string[];
}

const PLAIN_SUBJECTS = 8;
const QUEUE_SUBJECTS = 4;
const SUBJECTS = PLAIN_SUBJECTS + QUEUE_SUBJECTS;
const PUBLISHERS = 2;
const TICK_MS = 10;
const SAMPLE_MS = 5_000;
const REQUESTS_IN_FLIGHT = 8;
const REQUEST_TIMEOUT_MS = 5_000;
const CHURN_TIMEOUT_MS = 5_000;
const FIRST_STALL_MS = 10_000;
/** A stalled subscriber must be cut within this (kernel buffers fill, then the 10 s write deadline). */
const STALL_CUT_MS = 60_000;
const RPC_MARK = 0xffff_ffff;
const subjectName = (index: number): string => (index < PLAIN_SUBJECTS ? `soak.p.${index}` : `soak.q.${index - PLAIN_SUBJECTS}`);

/** A subscriber that must see every message on its subjects, in order per publisher. */
class CheckedSubscriber {
  received = 0;
  rpcRequests = 0;
  outOfOrder = 0;
  private readonly next = new Uint32Array(PUBLISHERS * SUBJECTS);
  constructor(
    readonly name: string,
    readonly subject: string,
    /** Subject indexes this subscription matches. */
    readonly subjects: number[],
    readonly countsRequests: boolean,
  ) {}

  onMessage(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const publisher = view.getUint32(0);
    if (publisher === RPC_MARK) {
      this.rpcRequests++;
      return;
    }
    const key = publisher * SUBJECTS + view.getUint32(4);
    const seq = view.getUint32(8);
    if (seq !== this.next[key]) this.outOfOrder++;
    this.next[key] = seq + 1;
    this.received++;
  }
}

/** A queue group's members together: every message exactly once. */
class QueueCheck {
  received = 0;
  duplicates = 0;
  private readonly seen: Uint8Array[] = Array.from({ length: PUBLISHERS * SUBJECTS }, () => new Uint8Array(1 << 16));

  onMessage(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const key = view.getUint32(0) * SUBJECTS + view.getUint32(4);
    const seq = view.getUint32(8);
    let seen = this.seen[key];
    if (seq >= seen.length) {
      const grown = new Uint8Array(Math.max(seen.length * 2, seq + 1));
      grown.set(seen);
      seen = this.seen[key] = grown;
    }
    if (seen[seq] === 1) this.duplicates++;
    seen[seq] = 1;
    this.received++;
  }
}

export async function runSoak(options: SoakOptions, print: (line: string) => void = (line) => console.log(line)): Promise<SoakReport> {
  if (options.size < 12) throw new Error('--size must be at least 12');
  const broker = await startBroker({ kind: 'natrium', workers: options.workers > 0 ? options.workers : null });
  const failures: string[] = [];
  const report: SoakReport = { options, broker: broker.label, periods: [], rssSamples: [], failures };
  const connections: NatsConnection[] = [];
  let finished = false;
  const open = async (name: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: broker.url, name, reconnect: false, timeout: 10_000 });
    void nc.closed().then((error) => {
      if (!finished) failures.push(`${name} closed unexpectedly${error ? `: ${error.message}` : ''}`);
    });
    connections.push(nc);
    return nc;
  };
  const stalled: StalledSubscriber[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    print(`soak: ${options.minutes} min against ${broker.label} (${broker.url}), ${options.rate} msgs/s of ${options.size} B; ${hostLine()}`);

    // Subscribers first, so that every count starts at the first message.
    const checked = [
      new CheckedSubscriber('literal', 'soak.p.3', [3], false),
      new CheckedSubscriber('plain-wildcard', 'soak.p.*', [...Array(PLAIN_SUBJECTS).keys()], false),
      new CheckedSubscriber('middle-wildcard', 'soak.*.1', [1, PLAIN_SUBJECTS + 1], false),
      new CheckedSubscriber('full-wildcard', 'soak.>', [...Array(SUBJECTS).keys()], true),
    ];
    const subscriberConnections: NatsConnection[] = [];
    for (const sub of checked) {
      const nc = await open(`soak-sub-${sub.name}`);
      nc.subscribe(sub.subject, { callback: (_error, msg: Msg) => sub.onMessage(msg.data) });
      subscriberConnections.push(nc);
    }
    const queue = new QueueCheck();
    for (let i = 0; i < 3; i++) {
      const nc = await open(`soak-queue-${i}`);
      nc.subscribe('soak.q.*', { queue: 'workers', callback: (_error, msg: Msg) => queue.onMessage(msg.data) });
      subscriberConnections.push(nc);
    }
    const responders: NatsConnection[] = [];
    for (let i = 0; i < 2; i++) {
      const nc = await open(`soak-responder-${i}`);
      nc.subscribe('soak.rpc', { queue: 'responders', callback: (_error, msg: Msg) => msg.respond(msg.data) });
      responders.push(nc);
    }
    await Promise.all([...subscriberConnections, ...responders].map((nc) => nc.flush()));

    const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => open(`soak-pub-${i}`)));
    const requester = await open('soak-requester');
    const published = Array.from({ length: PUBLISHERS }, () => new Uint32Array(SUBJECTS));
    let paused = false;
    let totalPublished = 0;
    let nextSubject = 0;
    let owed = 0;
    let lastTick = Date.now();
    timers.push(
      setInterval(() => {
        const now = Date.now();
        // By elapsed time, so that late timers on a busy host do not lower the rate (at most 1 s owed).
        const elapsed = Math.min(now - lastTick, 1000);
        lastTick = now;
        if (paused) return;
        owed += (options.rate * elapsed) / 1000;
        for (; owed >= 1; owed--) {
          const subject = nextSubject++ % SUBJECTS;
          const publisher = (nextSubject >> 4) % PUBLISHERS;
          // A fresh payload each time: the client keeps a reference until it writes.
          const payload = new Uint8Array(options.size);
          const payloadView = new DataView(payload.buffer);
          payloadView.setUint32(0, publisher);
          payloadView.setUint32(4, subject);
          payloadView.setUint32(8, published[publisher][subject]++);
          publishers[publisher].publish(subjectName(subject), payload);
          totalPublished++;
        }
      }, TICK_MS),
    );

    // Request/reply: a fixed number in flight; each must be answered.
    let requests = 0;
    let requestFailures = 0;
    let requestsInFlight = 0;
    const rpcPayload = new Uint8Array(16);
    new DataView(rpcPayload.buffer).setUint32(0, RPC_MARK);
    const requestLoop = async (): Promise<void> => {
      while (!finished) {
        if (paused) {
          await sleep(5);
          continue;
        }
        const started = Date.now();
        requests++;
        requestsInFlight++;
        try {
          const reply = await requester.request('soak.rpc', rpcPayload, { timeout: REQUEST_TIMEOUT_MS });
          if (reply.data.length !== rpcPayload.length) requestFailures++;
        } catch (error) {
          if (!finished) {
            requestFailures++;
            failures.push(`request failed: ${(error as Error).message}`);
          }
        }
        requestsInFlight--;
        await sleep((REQUESTS_IN_FLIGHT * 1000) / options.requestRate - (Date.now() - started));
      }
    };
    const requestLoops = Array.from({ length: REQUESTS_IN_FLIGHT }, requestLoop);

    // Churn: connect, subscribe, one message, leave.
    let churned = 0;
    let churnFailures = 0;
    let churnStopped = false;
    const churnInFlight = new Set<Promise<void>>();
    const churnOnce = async (): Promise<void> => {
      const nc = await connect({ servers: broker.url, name: 'soak-churn', reconnect: false, timeout: 10_000 });
      const first = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${CHURN_TIMEOUT_MS} ms`)), CHURN_TIMEOUT_MS);
        nc.subscribe('soak.p.0', {
          max: 1,
          callback: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
      try {
        await first;
      } finally {
        await nc.close();
      }
      churned++;
    };
    if (options.churnMs > 0) {
      timers.push(
        setInterval(() => {
          if (paused || churnStopped) return;
          const run = churnOnce()
            .catch((error: Error) => {
              churnFailures++;
              failures.push(`churn connection failed: ${error.message}`);
            })
            .finally(() => churnInFlight.delete(run));
          churnInFlight.add(run);
        }, options.churnMs),
      );
    }

    // Stalled subscribers now and then; each must be cut by the broker.
    let stalledOpened = 0;
    const openStalled = async (): Promise<void> => {
      const sub = await StalledSubscriber.open(broker.port, 'soak.>', 'soak-stalled');
      stalledOpened++;
      stalled.push(sub);
    };
    if (options.stallEvery > 0) {
      timers.push(
        setTimeout(() => {
          void openStalled();
          timers.push(setInterval(() => void openStalled(), options.stallEvery * 1000));
        }, FIRST_STALL_MS),
      );
    }
    const checkStalled = async (): Promise<void> => {
      for (const sub of stalled) {
        if ((await sub.checkCut(broker)) || Date.now() - sub.openedAt < STALL_CUT_MS) continue;
        failures.push(`a stalled subscriber opened at ${new Date(sub.openedAt).toISOString()} was not cut within ${STALL_CUT_MS / 1000} s`);
        sub.destroy();
        sub.cutAt = -1;
      }
    };

    // Samples: resident memory and the workers' figures.
    const start = Date.now();
    const windowsSeen = new Set<string>();
    let periodWorkers = new Map<number, WorkerFigures>();
    const sample = async (): Promise<void> => {
      report.rssSamples.push({ at: Date.now() - start, rss: broker.rssBytes() });
      await checkStalled();
      const workerz = await monitor(broker, '/workerz');
      for (const w of workerz.workers as Json[]) {
        const figures = periodWorkers.get(w.worker) ?? { worker: w.worker, heapUsed: 0, heapTotal: 0, arrayBuffers: 0, eventLoopP99: 0, eventLoopMax: 0 };
        figures.heapUsed = w.heap_used;
        figures.heapTotal = w.heap_total;
        figures.arrayBuffers = w.array_buffers;
        const window = w.event_loop_delay;
        if (window.window_end !== null && !windowsSeen.has(`${w.worker}@${window.window_end}`)) {
          windowsSeen.add(`${w.worker}@${window.window_end}`);
          figures.eventLoopP99 = Math.max(figures.eventLoopP99, window.p99);
          figures.eventLoopMax = Math.max(figures.eventLoopMax, window.max);
        }
        periodWorkers.set(w.worker, figures);
      }
    };
    timers.push(setInterval(() => void sample().catch((error: Error) => failures.push(`monitoring failed: ${error.message}`)), SAMPLE_MS));

    let previousVarz = await monitor(broker, '/varz');
    let previousAt = Date.now();
    let previousPublished = 0;
    const periods = Math.max(1, Math.round((options.minutes * 60) / options.reportSeconds));
    for (let period = 1; period <= periods; period++) {
      await sleep(start + period * options.reportSeconds * 1000 - Date.now());
      // Checkpoint: nothing new; everything published and requested is delivered once the
      // publishers' and then the subscribers' PONGs are back.
      paused = true;
      while (requestsInFlight > 0) await sleep(5);
      await Promise.all([...publishers, requester].map((nc) => nc.flush()));
      await Promise.all([...subscriberConnections, ...responders].map((nc) => nc.flush()));
      let lost = 0;
      for (const sub of checked) {
        let expected = 0;
        for (const subject of sub.subjects) for (let p = 0; p < PUBLISHERS; p++) expected += published[p][subject];
        if (sub.received !== expected) lost += Math.abs(expected - sub.received);
        if (sub.countsRequests && sub.rpcRequests !== requests) lost += Math.abs(requests - sub.rpcRequests);
      }
      let queueExpected = 0;
      for (let subject = PLAIN_SUBJECTS; subject < SUBJECTS; subject++) for (let p = 0; p < PUBLISHERS; p++) queueExpected += published[p][subject];
      lost += Math.abs(queueExpected - (queue.received - queue.duplicates));
      const varz = await monitor(broker, '/varz');
      await sample();
      paused = false;

      const now = Date.now();
      const seconds = (now - previousAt) / 1000;
      const periodSamples = report.rssSamples.filter((s) => s.at > previousAt - start);
      const entry: PeriodReport = {
        minute: (period * options.reportSeconds) / 60,
        seconds,
        published: totalPublished,
        publishedPerSecond: (totalPublished - previousPublished) / seconds,
        brokerInPerSecond: (varz.in_msgs - previousVarz.in_msgs) / seconds,
        brokerOutPerSecond: (varz.out_msgs - previousVarz.out_msgs) / seconds,
        rssBytes: broker.rssBytes(),
        rssMaxBytes: Math.max(...periodSamples.map((s) => s.rss)),
        workers: [...periodWorkers.values()].sort((a, b) => a.worker - b.worker),
        connections: varz.connections,
        slowConsumers: varz.slow_consumers,
        requests,
        churned,
        stalledOpened,
        stalledCut: stalled.filter((s) => s.cutAt > 0).length,
        lost,
        duplicates: queue.duplicates,
        outOfOrder: checked.reduce((n, s) => n + s.outOfOrder, 0),
        requestFailures,
        churnFailures,
      };
      report.periods.push(entry);
      print(formatPeriod(entry));
      if (lost > 0 || entry.duplicates > 0 || entry.outOfOrder > 0) failures.push(`minute ${entry.minute}: ${lost} lost, ${entry.duplicates} duplicated, ${entry.outOfOrder} out of order`);
      previousVarz = varz;
      previousAt = now;
      previousPublished = totalPublished;
      periodWorkers = new Map();
    }
    // The publishers stop last: a churn connection still waiting needs their next message.
    churnStopped = true;
    await Promise.all(churnInFlight);
    finished = true;
    for (const timer of timers) clearTimeout(timer);
    await Promise.all(requestLoops);
    const growth = rssGrowth(report.rssSamples, options.minutes * 60_000);
    print(`rss: ${growth.text}`);
    if (!growth.bounded) failures.push(`resident memory keeps growing: ${growth.text}`);
    const last = report.periods[report.periods.length - 1];
    // Cut ones are counted by the broker as slow consumers (a stall opened in the last minute may still be pending).
    if (last.slowConsumers < last.stalledCut) failures.push(`${last.stalledCut} stalled subscribers cut but /varz slow_consumers is ${last.slowConsumers}`);
    const logged = broker.log.filter((line) => line.includes('Slow Consumer Detected')).length;
    if (logged < last.stalledCut) failures.push(`${last.stalledCut} stalled subscribers cut but ${logged} "Slow Consumer Detected" log lines`);
    print(failures.length === 0 ? 'soak: ok' : `soak: FAILED\n  ${[...new Set(failures)].join('\n  ')}`);
    return report;
  } finally {
    finished = true;
    for (const timer of timers) clearTimeout(timer);
    for (const sub of stalled) sub.destroy();
    await Promise.all(connections.map((nc) => nc.close().catch(() => {})));
    await broker.close();
    if (options.out !== '') {
      mkdirSync(dirname(options.out), { recursive: true });
      writeFileSync(options.out, JSON.stringify(report, null, 2) + '\n');
    }
  }
}

/**
 * Resident memory must plateau: after a warm-up (a quarter of the run, at most 5 minutes), the
 * highest sample of the second half of the rest may exceed the first half's by at most 5 % + 8 MiB
 * (10 % + 8 MiB for runs under 5 minutes, where V8 is still growing its heaps).
 */
export function rssGrowth(samples: { at: number; rss: number }[], durationMs: number): { bounded: boolean; text: string } {
  const warmUp = Math.min(durationMs / 4, 5 * 60_000);
  const rest = samples.filter((s) => s.at >= warmUp);
  const middle = warmUp + (durationMs - warmUp) / 2;
  const first = Math.max(...rest.filter((s) => s.at < middle).map((s) => s.rss));
  const second = Math.max(...rest.filter((s) => s.at >= middle).map((s) => s.rss));
  if (!Number.isFinite(first) || !Number.isFinite(second)) return { bounded: false, text: `too few samples (${samples.length})` };
  const limit = first * (durationMs < 5 * 60_000 ? 1.1 : 1.05) + 8 * MiB;
  return {
    bounded: second <= limit,
    text: `max ${mib(first)} in the first half after ${Math.round(warmUp / 1000)} s warm-up, ${mib(second)} in the second (limit ${mib(limit)})`,
  };
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(1)}`;

export function formatPeriod(p: PeriodReport): string {
  const workers = p.workers.map((w) => `w${w.worker} heap ${mib(w.heapUsed)} of ${mib(w.heapTotal)} buffers ${mib(w.arrayBuffers)} loop p99/max ${ms(w.eventLoopP99)}/${ms(w.eventLoopMax)} ms`).join('; ');
  return (
    `min ${p.minute.toFixed(p.minute % 1 === 0 ? 0 : 1)}: pub ${Math.round(p.publishedPerSecond)}/s, broker in ${Math.round(p.brokerInPerSecond)}/s out ${Math.round(p.brokerOutPerSecond)}/s | ` +
    `rss ${mib(p.rssBytes)} (max ${mib(p.rssMaxBytes)}) | ${workers} | conns ${p.connections}, churned ${p.churned}, requests ${p.requests}, ` +
    `stalled ${p.stalledOpened} opened/${p.stalledCut} cut, slow_consumers ${p.slowConsumers} | ` +
    `lost ${p.lost} dup ${p.duplicates} disorder ${p.outOfOrder} req-fail ${p.requestFailures} churn-fail ${p.churnFailures}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseOptions(process.argv.slice(2), DEFAULT_SOAK);
  const report = await runSoak(options);
  process.exit(report.failures.length === 0 ? 0 : 1);
}
