/**
 * `natrium bench --compare` (Natrium against nats-server) and `--check-generator` (the node
 * generator against nbench, both on nats-server): alternating runs, medians, ratios, and the
 * result files (JSON with every run, a Markdown table, an SVG chart).
 */
import os from 'node:os';
import { cliDefaultWorkers } from '../server/options.js';
import type { NatriumSettings } from './brokers.js';
import { PALETTE, renderChart, type ChartGroup } from './chart.js';
import type { GeneratorOptions } from './generator.js';
import { cell, describeHost, hostInfo, runMatrix, type Cell, type Contender, type MatrixRun } from './matrix.js';
import type { Scenario } from './scenarios.js';
import { humanBytes, humanRate, markdownTable, table } from './stats.js';
import { commandLine, writeResult } from './output.js';

/** The issue's targets: delivered msgs/s ≥ 0.7× nats-server on these, request/reply p99 ≤ 1.5×. */
export const THROUGHPUT_TARGET = 0.7;
export const P99_TARGET = 1.5;
const THROUGHPUT_TARGET_SCENARIOS = new Set([
  '2-pubsub-1to1-16B',
  '3-pubsub-1to1-128B',
  '4-pubsub-1to1-1024B',
  '5-fanout-1to4-128B',
  '6-pubsub-4to4-128B',
  '7-queue-1to4q-128B',
]);
const P99_TARGET_SCENARIOS = new Set(['8-req-reply-16B']);

export interface SummaryRow {
  /** Scenario name, with " p99" appended for a latency row. */
  row: string;
  scenario: string;
  metric: 'rate' | 'p99';
  a: Cell;
  b: Cell;
  /** a ÷ b of the medians. */
  ratio: number;
  /** Whether the issue's target holds (compare mode), or null where there is none. */
  target: boolean | null;
}

export function summarize(runs: readonly MatrixRun[], scenarios: readonly Scenario[], a: string, b: string, withTargets: boolean): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const scenario of scenarios) {
    const ca = cell(runs, a, scenario.name);
    const cb = cell(runs, b, scenario.name);
    if (!ca || !cb) continue;
    const ratio = ca.median / cb.median;
    const rateTarget = withTargets && THROUGHPUT_TARGET_SCENARIOS.has(scenario.name) ? ratio >= THROUGHPUT_TARGET && ca.lossless : null;
    rows.push({ row: scenario.name, scenario: scenario.name, metric: 'rate', a: ca, b: cb, ratio, target: rateTarget });
    if (scenario.kind === 'req') {
      const p99Ratio = ca.p99Us! / cb.p99Us!;
      const target = withTargets && P99_TARGET_SCENARIOS.has(scenario.name) ? p99Ratio <= P99_TARGET : null;
      rows.push({ row: `${scenario.name} p99`, scenario: scenario.name, metric: 'p99', a: ca, b: cb, ratio: p99Ratio, target });
    }
  }
  return rows;
}

function figure(row: SummaryRow, c: Cell): string {
  return row.metric === 'p99' ? `${c.p99Us!.toFixed(0)} µs` : humanRate(c.median);
}

function runsText(row: SummaryRow, c: Cell): string {
  const values = row.metric === 'p99' ? c.p99Values! : c.values;
  return values.map((v) => (row.metric === 'p99' ? v.toFixed(0) : humanRate(v).replace(' ', ''))).join(' ');
}

function targetText(row: SummaryRow): string {
  if (row.target === null) return '';
  const goal = row.metric === 'p99' ? `≤${P99_TARGET}` : `≥${THROUGHPUT_TARGET}`;
  return `${goal} ${row.target ? 'met' : 'MISSED'}`;
}

export function summaryTable(rows: readonly SummaryRow[], a: string, b: string, markdown: boolean): string {
  const header = ['scenario', `${a} (median)`, `${b} (median)`, 'ratio', 'target', 'no loss', `${a} runs`, `${b} runs`];
  const body = rows.map((row) => [
    row.row,
    figure(row, row.a),
    figure(row, row.b),
    `${row.ratio.toFixed(2)}×`,
    targetText(row),
    row.metric === 'p99' ? '' : `${row.a.lossless ? 'yes' : 'NO'}/${row.b.lossless ? 'yes' : 'NO'}`,
    runsText(row, row.a),
    runsText(row, row.b),
  ]);
  return markdown ? markdownTable(header, body) : table(header, body);
}

export function chartGroups(rows: readonly SummaryRow[]): ChartGroup[] {
  return rows.map((row) => {
    const p99 = row.metric === 'p99';
    return {
      label: p99 ? `${row.scenario} p99 (lower is better)` : row.scenario,
      unit: p99 ? 'µs' : row.scenario.includes('req-reply') ? 'rtt/s' : 'msgs/s',
      values: p99 ? [row.a.p99Us!, row.b.p99Us!] : [row.a.median, row.b.median],
      texts: p99 ? [row.a.p99Us!.toFixed(0), row.b.p99Us!.toFixed(0)] : [humanRate(row.a.median), humanRate(row.b.median)],
      note: `${row.ratio.toFixed(2)}×`,
      good: row.target,
    };
  });
}

interface Output {
  mode: string;
  out: string;
  settings: Record<string, unknown>;
  contenders: Contender[];
  scenarios: readonly Scenario[];
  runs: MatrixRun[];
  rows: SummaryRow[];
  a: string;
  b: string;
  title: string;
  ratioMeaning: string;
}

function writeOutputs(o: Output, host: ReturnType<typeof hostInfo>): void {
  const summary = o.rows.map((row) => ({
    row: row.row,
    metric: row.metric,
    [o.a]: row.metric === 'p99' ? row.a.p99Us : row.a.median,
    [o.b]: row.metric === 'p99' ? row.b.p99Us : row.b.median,
    ratio: row.ratio,
    target: row.target,
    lossless: { [o.a]: row.a.lossless, [o.b]: row.b.lossless },
    peakRssBytes: { [o.a]: row.a.peakRssBytes, [o.b]: row.b.peakRssBytes },
  }));
  const report = {
    tool: 'natrium bench',
    mode: o.mode,
    command: commandLine(),
    date: new Date().toISOString(),
    host,
    settings: o.settings,
    contenders: o.contenders,
    scenarios: o.scenarios,
    summary,
    runs: o.runs,
  };
  const files = [
    writeResult(`${o.out}.json`, JSON.stringify(report, null, 2) + '\n'),
    writeResult(
      `${o.out}.md`,
      `${o.title}\n\n\`${commandLine()}\` — ${report.date}\n\n${describeHost(host)}\n\n` +
        `Medians of ${o.settings.rounds} alternating runs; ratio = ${o.ratioMeaning}.\n\n` +
        summaryTable(o.rows, o.a, o.b, true),
    ),
    writeResult(
      `${o.out}.svg`,
      renderChart({
        title: o.title,
        subtitle: `${host.cpus} cores, ${host.cpuModel} · medians of ${o.settings.rounds} alternating runs · ratio = ${o.ratioMeaning}`,
        series: [
          { label: o.a, color: PALETTE[0] },
          { label: o.b, color: PALETTE[1] },
        ],
        groups: chartGroups(o.rows),
        footer: `${commandLine()} · ${report.date.slice(0, 16).replace('T', ' ')} UTC · node ${host.node}, nats-server ${host.natsServer}`,
      }),
    ),
  ];
  process.stderr.write(`results: ${files.join(', ')}\n`);
}

export interface CompareOptions {
  scenarios: Scenario[];
  rounds: number;
  natrium: NatriumSettings;
  generator: GeneratorOptions;
  out: string | null;
}

export async function runCompare(options: CompareOptions): Promise<number> {
  const host = hostInfo();
  const natriumLabel = 'natrium';
  const contenders: Contender[] = [
    { label: natriumLabel, broker: 'natrium', natrium: options.natrium, generator: options.generator.generator },
    { label: 'nats-server', broker: 'nats-server', natrium: options.natrium, generator: options.generator.generator },
  ];
  const workers = options.natrium.workers ?? cliDefaultWorkers();
  process.stderr.write(
    `Comparing natrium (workers=${workers}${options.natrium.workers === null ? ', the default' : ''}, parser=${options.natrium.parser}) ` +
      `with nats-server ${host.natsServer}, generator ${options.generator.generator}, ${options.rounds} rounds\n`,
  );
  const runs = await runMatrix(contenders, options.scenarios, options.rounds, options.generator);
  host.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const rows = summarize(runs, options.scenarios, natriumLabel, 'nats-server', true);
  process.stdout.write(`\n${describeHost(host)}\n\n` + summaryTable(rows, natriumLabel, 'nats-server', false));
  const peak = options.scenarios.map((s) => {
    const n = cell(runs, natriumLabel, s.name);
    const g = cell(runs, 'nats-server', s.name);
    return [s.name, humanBytes(n?.peakRssBytes ?? NaN), humanBytes(g?.peakRssBytes ?? NaN)];
  });
  process.stdout.write(`\nPeak RSS during the runs (fresh broker per run):\n` + table(['scenario', 'natrium', 'nats-server'], peak));
  const suffix = [
    options.generator.generator !== 'auto' ? options.generator.generator : '',
    options.natrium.workers !== null ? `w${options.natrium.workers}` : '',
    options.natrium.parser !== 'auto' ? options.natrium.parser : '',
  ].filter(Boolean);
  writeOutputs(
    {
      mode: 'compare',
      out: options.out ?? `bench/results/compare${suffix.map((s) => `-${s}`).join('')}`,
      settings: { rounds: options.rounds, workers, workersDefault: options.natrium.workers === null, parser: options.natrium.parser, generator: options.generator.generator, threads: options.generator.threads },
      contenders,
      scenarios: options.scenarios,
      runs,
      rows,
      a: natriumLabel,
      b: 'nats-server',
      title: `Natrium vs nats-server (workers=${workers}, parser=${options.natrium.parser}, generator ${options.generator.generator})`,
      ratioMeaning: 'natrium ÷ nats-server (throughput: higher is better; p99: lower is better)',
    },
    host,
  );
  return rows.every((r) => r.a.lossless && r.b.lossless) ? 0 : 2;
}

export interface CheckGeneratorOptions {
  scenarios: Scenario[];
  rounds: number;
  generator: GeneratorOptions;
  out: string | null;
}

export async function runCheckGenerator(options: CheckGeneratorOptions): Promise<number> {
  const host = hostInfo();
  const unused: NatriumSettings = { workers: null, parser: 'auto' };
  const contenders: Contender[] = [
    { label: 'node generator', broker: 'nats-server', natrium: unused, generator: 'node' },
    { label: 'nbench', broker: 'nats-server', natrium: unused, generator: 'nbench' },
  ];
  process.stderr.write(`Both generators against nats-server ${host.natsServer}, ${options.rounds} rounds\n`);
  const runs = await runMatrix(contenders, options.scenarios, options.rounds, options.generator);
  host.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const rows = summarize(runs, options.scenarios, 'node generator', 'nbench', false);
  process.stdout.write(`\n${describeHost(host)}\n\n` + summaryTable(rows, 'node generator', 'nbench', false));
  writeOutputs(
    {
      mode: 'check-generator',
      out: options.out ?? 'bench/results/check-generator',
      settings: { rounds: options.rounds, threads: options.generator.threads, writeBytes: options.generator.writeBytes },
      contenders,
      scenarios: options.scenarios,
      runs,
      rows,
      a: 'node generator',
      b: 'nbench',
      title: 'natrium bench’s node generator vs nbench (nats.go), both against nats-server',
      ratioMeaning: 'node generator ÷ nbench',
    },
    host,
  );
  return 0;
}
