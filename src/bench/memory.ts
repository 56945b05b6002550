/**
 * `natrium bench --memory`: resident memory of Natrium and nats-server side by side — idle, holding
 * N idle client connections (each through CONNECT and a PING/PONG), and at the peak of a load run
 * on a fresh broker. Natrium's figure is its whole process: the worker threads live in it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { cliDefaultWorkers } from '../server/options.js';
import { startBroker, type BrokerKind, type BrokerProcess, type NatriumSettings } from './brokers.js';
import { PALETTE, renderChart } from './chart.js';
import { runScenario, type GeneratorOptions } from './generator.js';
import { describeHost, hostInfo, outcome } from './matrix.js';
import { commandLine, writeResult } from './output.js';
import { Progress } from './progress.js';
import { lossless, type Scenario, type ScenarioResult } from './scenarios.js';
import { humanBytes, markdownTable, table } from './stats.js';
import { parseUrl, RawConnection } from './wire.js';

export interface MemoryOptions {
  natrium: NatriumSettings;
  /** Idle connection counts, measured in ascending order on one broker. */
  connections: number[];
  load: Scenario;
  generator: GeneratorOptions;
  out: string | null;
}

export interface MemoryRow {
  broker: BrokerKind;
  idleBytes: number;
  /** RSS holding each count of idle connections, in the order of MemoryOptions.connections. */
  withConnections: number[];
  loadPeakBytes: number;
  afterLoadBytes: number;
  load: ScenarioResult;
}

const SETTLE_MS = 1000;
const OPEN_CONCURRENCY = 200;
/** File descriptors this process needs beyond its connections. */
const FD_HEADROOM = 256;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** [soft, hard] open-files limits of this process. */
export function openFileLimits(): [number, number] {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  return [parse(match?.[1]), parse(match?.[2])];
}

/**
 * Makes sure this process (and the brokers it starts, which inherit the limit) may open `needed`
 * files. Node cannot raise its own limit, so when the hard limit allows it the command re-runs
 * itself under `ulimit -n`; returns that run's exit status, or null when no re-run was needed.
 */
function ensureOpenFiles(needed: number): number | null {
  const [soft, hard] = openFileLimits();
  if (soft >= needed) return null;
  if (hard < needed || process.env.NATRIUM_BENCH_ULIMIT_RAISED) {
    throw new Error(`${needed} open files needed, the limit is ${soft} (hard ${hard}): raise it first, e.g. \`ulimit -n ${needed}\` as root`);
  }
  process.stderr.write(`raising the open-files limit from ${soft} to ${needed} (ulimit -n) and re-running\n`);
  const result = spawnSync('/bin/sh', ['-c', `ulimit -n ${needed} && exec "$@"`, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NATRIUM_BENCH_ULIMIT_RAISED: '1' },
  });
  return result.status ?? 1;
}

/** RSS once the process has been quiet for SETTLE_MS. */
async function settledRss(broker: BrokerProcess): Promise<number> {
  await sleep(SETTLE_MS);
  return broker.rssBytes();
}

async function openIdle(url: string, connections: RawConnection[], target: number): Promise<void> {
  const endpoint = parseUrl(url);
  while (connections.length < target) {
    const batch = Math.min(OPEN_CONCURRENCY, target - connections.length);
    const opened = await Promise.all(Array.from({ length: batch }, (_, i) => RawConnection.open(endpoint, `bench-idle-${connections.length + i}`)));
    connections.push(...opened);
  }
}

export async function runMemory(options: MemoryOptions): Promise<number> {
  const counts = [...options.connections].sort((a, b) => a - b);
  const rerun = ensureOpenFiles(Math.max(0, ...counts) + FD_HEADROOM);
  if (rerun !== null) return rerun;
  const host = hostInfo();
  const kinds: BrokerKind[] = ['natrium', 'nats-server'];
  const progress = new Progress(kinds.length * 2);
  const rows: MemoryRow[] = [];
  for (const kind of kinds) {
    progress.start(`${kind}: idle, then ${counts.join(', ')} idle connections`);
    const broker = await startBroker(kind, options.natrium);
    const connections: RawConnection[] = [];
    let idleBytes: number;
    const withConnections: number[] = [];
    try {
      idleBytes = await settledRss(broker);
      for (const count of counts) {
        await openIdle(broker.url, connections, count);
        progress.update(count / Math.max(...counts));
        withConnections.push(await settledRss(broker));
      }
    } finally {
      for (const connection of connections) connection.close();
      await broker.close();
    }
    progress.finish(`idle ${humanBytes(idleBytes)}, ${counts.map((c, i) => `${c}: ${humanBytes(withConnections[i])}`).join(', ')}`);

    progress.start(`${kind}: under load (${options.load.name})`);
    const loaded = await startBroker(kind, options.natrium);
    let load: ScenarioResult;
    let loadPeakBytes: number;
    let afterLoadBytes: number;
    try {
      load = await runScenario(loaded.url, options.load, { ...options.generator, onProgress: (f) => progress.update(f) });
      loadPeakBytes = loaded.peakRssBytes();
      afterLoadBytes = loaded.rssBytes();
    } finally {
      await loaded.close();
    }
    progress.finish(`peak ${humanBytes(loadPeakBytes)}  (${outcome(load)})`);
    rows.push({ broker: kind, idleBytes, withConnections, loadPeakBytes, afterLoadBytes, load });
  }
  host.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);

  const largest = counts[counts.length - 1];
  const header = [
    'broker',
    'idle',
    ...counts.map((c) => `${c.toLocaleString('en-US')} idle conns`),
    ...(largest ? ['per idle conn'] : []),
    `peak under load (${options.load.name})`,
    'after load',
  ];
  const body = rows.map((r) => [
    r.broker,
    humanBytes(r.idleBytes),
    ...r.withConnections.map(humanBytes),
    ...(largest ? [humanBytes((r.withConnections[r.withConnections.length - 1] - r.idleBytes) / largest)] : []),
    humanBytes(r.loadPeakBytes),
    humanBytes(r.afterLoadBytes),
  ]);
  const workers = options.natrium.workers ?? cliDefaultWorkers();
  const settings = `natrium workers=${workers}, parser=${options.natrium.parser}`;
  process.stdout.write(`\n${describeHost(host)}\n${settings}\n\n${table(header, body)}`);
  const out = options.out ?? 'bench/results/memory';
  const date = new Date().toISOString();
  const report = { tool: 'natrium bench', mode: 'memory', command: commandLine(), date, host, settings: { ...options.natrium, workers, connections: counts, load: options.load }, rows };
  const groups = [
    { label: 'idle', pick: (r: MemoryRow) => r.idleBytes },
    ...counts.map((c, i) => ({ label: `${c.toLocaleString('en-US')} idle connections`, pick: (r: MemoryRow) => r.withConnections[i] })),
    { label: `peak under load (${options.load.name})`, pick: (r: MemoryRow) => r.loadPeakBytes },
  ].map(({ label, pick }) => {
    const values = rows.map((r) => pick(r) / (1 << 20));
    return { label, unit: 'MiB', values, texts: values.map((v) => v.toFixed(1)), note: `${(values[0] / values[1]).toFixed(2)}×`, good: null };
  });
  const files = [
    writeResult(`${out}.json`, JSON.stringify(report, null, 2) + '\n'),
    writeResult(`${out}.md`, `\`${commandLine()}\` — ${date}\n\n${describeHost(host)}\n\n${settings}\n\n${markdownTable(header, body)}`),
    writeResult(
      `${out}.svg`,
      renderChart({
        title: 'Resident memory (RSS): Natrium vs nats-server',
        subtitle: `${settings} · ratio = natrium ÷ nats-server · ${host.cpus} cores, ${host.cpuModel}`,
        series: [
          { label: 'natrium', color: PALETTE[0] },
          { label: 'nats-server', color: PALETTE[1] },
        ],
        groups,
        footer: `${commandLine()} · ${date.slice(0, 16).replace('T', ' ')} UTC`,
      }),
    ),
  ];
  process.stderr.write(`results: ${files.join(', ')}\n`);
  return rows.every((r) => lossless(r.load)) ? 0 : 2;
}
