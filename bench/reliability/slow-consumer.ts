/**
 * Slow-consumer isolation: one publisher and three subscribers that read normally (nbench, on the
 * official Go client), and, in the stalled run, one more subscriber on the same subject that never
 * reads its socket. The healthy subscribers' delivered msgs/s with the stalled one over the same
 * without it is what they keep; the stalled one must be closed by the slow-consumer policy, counted
 * in /varz slow_consumers and logged. Each broker (a fresh process) runs a baseline, then rounds of
 * stalled + baseline back to back; each stalled run is compared with the baselines around it. A
 * timeline samples the healthy subscribers' deliveries per second from the broker's /connz.
 *
 *   node dist/bench/reliability/slow-consumer.js [--seconds 6] [--rounds 3] [--size 128] [--brokers natrium:1,natrium:2,nats-server]
 */
import { brokerLabel, hostLine, monitor, parseOptions, sleep, startBroker, StalledSubscriber, type Broker, type BrokerSpec, type Json } from './common.js';
import { assertNbench, nbench, type NbenchResult } from './nbench.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const SUBJECT = 'reliability.slow';
const HEALTHY = 3;
/** How long after the run the stalled subscriber may take to be cut (nats-server: its 10 s write deadline). */
const CUT_WAIT_MS = 30_000;

export interface IsolationRow {
  broker: string;
  baseline: NbenchResult[];
  stalled: NbenchResult[];
  /** Delivered msgs/s of each stalled run over its neighbouring baselines, median of the rounds. */
  kept: number;
  /** The same for the publisher's msgs/s. */
  publisherKept: number;
  /** The slowest cut over the rounds, from the stalled run's start; null if one was never cut. */
  cutAfterMs: number | null;
  reason: string;
  slowConsumers: number;
  /** nbench connections (publisher, healthy subscribers) the broker cut as slow consumers. */
  healthyCut: number;
  /** Messages the healthy subscribers missed over all runs. */
  lost: number;
  logLine: string;
  /** Healthy subscribers' delivered msgs/s, one per second of the first stalled run. */
  timeline: number[];
}

export function parseBrokers(text: string): BrokerSpec[] {
  return text.split(',').map((entry) => {
    const [kind, workers] = entry.split(':');
    if (kind === 'nats-server') return { kind, workers: null };
    if (kind === 'natrium') return { kind, workers: workers === undefined || workers === '' ? null : Number(workers) };
    throw new Error(`unknown broker ${entry}: natrium[:workers] or nats-server`);
  });
}

/** Healthy subscribers' cumulative deliveries, from the broker's own per-connection counters. */
async function healthyDelivered(broker: Broker): Promise<number> {
  const connz = await monitor(broker, '/connz?limit=100');
  return (connz.connections as Json[]).filter((c) => /^nbench-sub-/.test(c.name ?? '')).reduce((n, c) => n + c.out_msgs, 0);
}

async function stalledRun(broker: Broker, args: string[]): Promise<{ result: NbenchResult; timeline: number[]; stalled: StalledSubscriber; startedAt: number }> {
  const stalled = await StalledSubscriber.open(broker.port, SUBJECT, 'reliability-stalled');
  const startedAt = Date.now();
  const run = nbench(args);
  let done = false;
  void run.finally(() => (done = true));
  const timeline: number[] = [];
  let previous = 0;
  let previousAt = Date.now();
  while (!done) {
    await sleep(1000);
    const now = await healthyDelivered(broker).catch(() => previous);
    const at = Date.now();
    // nbench closes its connections at the end: their counters leave /connz.
    if (now < previous) break;
    timeline.push(Math.round(((now - previous) * 1000) / (at - previousAt)));
    previous = now;
    previousAt = at;
  }
  return { result: await run, timeline, stalled, startedAt };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Each stalled run against the mean of the baselines just before and after it (the host's load
 * drifts), then the median over the rounds.
 */
function keptRatio(stalled: NbenchResult[], baseline: NbenchResult[], pick: (r: NbenchResult) => number): number {
  return median(stalled.map((r, i) => pick(r) / ((pick(baseline[i]) + pick(baseline[i + 1])) / 2)));
}

/** Baseline, then `rounds` times stalled + baseline, on one broker process; medians compared. */
export async function measureIsolation(spec: BrokerSpec, seconds: number, size: number, rounds: number, print: (line: string) => void): Promise<IsolationRow> {
  const broker = await startBroker(spec);
  const args = ['pubsub', '-url', broker.url, '-np', '1', '-ns', String(HEALTHY), '-n', '100000000', '-ms', String(size), '-subj', SUBJECT, '-maxtime', `${seconds}s`];
  const rate = (r: NbenchResult): string =>
    `${Math.round(r.subPerSecond)} msgs/s delivered (publisher ${Math.round(r.pubPerSecond)}/s)${r.delivered < r.sent * HEALTHY ? ` LOST ${r.sent * HEALTHY - r.delivered}` : ''}`;
  try {
    const baseline = [await nbench(args)];
    print(`  baseline ${rate(baseline[0])}`);
    const stalledRuns: NbenchResult[] = [];
    const cuts: { stalled: StalledSubscriber; startedAt: number }[] = [];
    let timeline: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const run = await stalledRun(broker, args);
      stalledRuns.push(run.result);
      if (round === 0) timeline = run.timeline;
      print(`  stalled  ${rate(run.result)}; per second: ${run.timeline.join(' ')}`);
      const deadline = Date.now() + CUT_WAIT_MS;
      while (!(await run.stalled.checkCut(broker)) && Date.now() < deadline) await sleep(250);
      run.stalled.destroy();
      cuts.push(run);
      print(`  stalled subscriber ${run.stalled.cutAt > 0 ? `cut after ${((run.stalled.cutAt - run.startedAt) / 1000).toFixed(1)} s: ${run.stalled.reason}` : 'NOT CUT'}`);
      baseline.push(await nbench(args));
      print(`  baseline ${rate(baseline[baseline.length - 1])}`);
    }
    const varz = await monitor(broker, '/varz');
    const closed = await monitor(broker, '/connz?state=closed&limit=10000');
    const healthyCut = (closed.connections as Json[]).filter((c) => /^nbench-/.test(c.name ?? '') && /Slow Consumer/.test(c.reason)).length;
    if (healthyCut > 0) print(`  ${healthyCut} healthy connections were cut as slow consumers`);
    const cutTimes = cuts.map((c) => (c.stalled.cutAt > 0 ? c.stalled.cutAt - c.startedAt : Infinity));
    return {
      broker: broker.label,
      baseline,
      stalled: stalledRuns,
      kept: keptRatio(stalledRuns, baseline, (r) => r.subPerSecond),
      publisherKept: keptRatio(stalledRuns, baseline, (r) => r.pubPerSecond),
      cutAfterMs: Number.isFinite(Math.max(...cutTimes)) ? Math.max(...cutTimes) : null,
      reason: [...new Set(cuts.map((c) => c.stalled.reason))].join(', '),
      slowConsumers: varz.slow_consumers,
      healthyCut,
      lost: [...baseline, ...stalledRuns].reduce((n, r) => n + r.sent * HEALTHY - r.delivered, 0),
      logLine: broker.log.find((line) => line.includes('Slow Consumer')) ?? '',
      timeline,
    };
  } finally {
    await broker.close();
  }
}

export function formatRow(row: IsolationRow): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const rates = (runs: NbenchResult[]): string => `${Math.round(median(runs.map((r) => r.subPerSecond))).toLocaleString('en-US')}`;
  return (
    `| ${row.broker} | ${rates(row.baseline)} | ${rates(row.stalled)} | **${pct(row.kept)}** | ${pct(row.publisherKept)} | ` +
    `${row.cutAfterMs === null ? 'not cut' : `≤ ${(row.cutAfterMs / 1000).toFixed(1)} s`} | ${row.reason || '-'} | ${row.slowConsumers} | ${row.lost} |`
  );
}

export const TABLE_HEADER = '| broker | healthy msgs/s alone (median) | with a stalled subscriber (median) | kept | publisher kept | stalled one cut after | reason | /varz slow_consumers | healthy lost |\n|---|---|---|---|---|---|---|---|---|';

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseOptions(process.argv.slice(2), { seconds: 6, rounds: 3, size: 128, brokers: 'natrium:1,natrium:2,nats-server', out: '' });
  assertNbench();
  console.log(`slow-consumer isolation: 1 publisher, ${HEALTHY} healthy subscribers, ${options.size} B, ${options.seconds} s per run; ${hostLine()}`);
  const rows: IsolationRow[] = [];
  for (const spec of parseBrokers(options.brokers)) {
    console.log(`${brokerLabel(spec)}:`);
    const row = await measureIsolation(spec, options.seconds, options.size, options.rounds, (line) => console.log(line));
    console.log(`  log: ${row.logLine.slice(0, 200)}`);
    rows.push(row);
  }
  console.log(`\n${TABLE_HEADER}\n${rows.map(formatRow).join('\n')}`);
  if (options.out !== '') {
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, JSON.stringify({ date: new Date().toISOString(), host: hostLine(), options, rows }, null, 2) + '\n');
  }
  const failed = rows.filter((r) => r.broker.startsWith('natrium') && (r.kept < 0.9 || r.cutAfterMs === null || r.slowConsumers < 1 || r.healthyCut > 0 || r.lost > 0));
  process.exit(failed.length === 0 ? 0 : 1);
}
