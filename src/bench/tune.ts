/**
 * `natrium tune`: the worker count that serves this host best. Natrium runs with 1..K workers
 * (a fresh broker per run, order rotated every round); each count is scored by its median
 * throughput relative to the best count, per scenario, combined by geometric mean.
 */
import os from 'node:os';
import type { ParserChoice } from '../server/options.js';
import { PALETTE, renderChart } from './chart.js';
import type { GeneratorOptions } from './generator.js';
import { cell, describeHost, hostInfo, runMatrix, type Contender } from './matrix.js';
import { commandLine, writeResult } from './output.js';
import type { Scenario } from './scenarios.js';
import { humanRate, markdownTable, table } from './stats.js';

export interface TuneOptions {
  scenarios: Scenario[];
  maxWorkers: number;
  rounds: number;
  parser: ParserChoice;
  generator: GeneratorOptions;
  out: string | null;
}

/** Within this fraction of the best score, fewer workers win: they leave cores to the host. */
export const TIE_TOLERANCE = 0.05;

export interface TuneRow {
  workers: number;
  medians: number[];
  /** Geometric mean over scenarios of median ÷ the best median of that scenario. */
  score: number;
  lossless: boolean;
}

export function scoreRows(medians: number[][], lossless: boolean[]): TuneRow[] {
  const scenarioCount = medians[0]?.length ?? 0;
  const best = Array.from({ length: scenarioCount }, (_, s) => Math.max(...medians.map((m) => m[s])));
  return medians.map((m, w) => {
    const logSum = m.reduce((sum, value, s) => sum + Math.log(Math.max(value, 1e-9) / best[s]), 0);
    return { workers: w + 1, medians: m, score: Math.exp(logSum / Math.max(1, scenarioCount)), lossless: lossless[w] };
  });
}

/** The fewest workers whose score is within TIE_TOLERANCE of the best, among lossless counts. */
export function recommend(rows: readonly TuneRow[]): TuneRow {
  const candidates = rows.some((r) => r.lossless) ? rows.filter((r) => r.lossless) : rows;
  const best = Math.max(...candidates.map((r) => r.score));
  return candidates.find((r) => r.score >= best * (1 - TIE_TOLERANCE))!;
}

export async function runTune(options: TuneOptions): Promise<number> {
  const host = hostInfo();
  const contenders: Contender[] = Array.from({ length: options.maxWorkers }, (_, i) => ({
    label: `workers=${i + 1}`,
    broker: 'natrium',
    natrium: { workers: i + 1, parser: options.parser },
    generator: options.generator.generator,
  }));
  process.stderr.write(
    `Tuning on ${host.cpus} cores: workers 1..${options.maxWorkers}, ${options.rounds} rounds of ` +
      `${options.scenarios.map((s) => s.name).join(', ')} (generator ${options.generator.generator})\n`,
  );
  const runs = await runMatrix(contenders, options.scenarios, options.rounds, options.generator);
  host.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const cells = contenders.map((c) => options.scenarios.map((s) => cell(runs, c.label, s.name)!));
  const rows = scoreRows(
    cells.map((cs) => cs.map((c) => c.median)),
    cells.map((cs) => cs.every((c) => c.lossless)),
  );
  const chosen = recommend(rows);
  const header = ['workers', 'threads', ...options.scenarios.map((s) => `${s.name} (median)`), 'score', 'no loss'];
  const body = rows.map((r) => [
    String(r.workers),
    `${r.workers}+main`,
    ...r.medians.map((m) => humanRate(m)),
    r.score.toFixed(2),
    r.lossless ? 'yes' : 'NO',
  ]);
  const advice =
    `Recommended: --workers ${chosen.workers} on this host (${host.cpus} cores; the main thread accepts connections ` +
    `and counts as one more thread, so ${chosen.workers} worker${chosen.workers === 1 ? '' : 's'} keep${chosen.workers === 1 ? 's' : ''} ${chosen.workers + 1} threads busy). ` +
    `Score = median throughput relative to the best worker count (geometric mean over scenarios); ` +
    `within ${TIE_TOLERANCE * 100}% of the best, fewer workers win.`;
  process.stdout.write(`\n${describeHost(host)}\n\n${table(header, body)}\n${advice}\n`);
  const out = options.out ?? `bench/results/tune-${options.scenarios.length === 1 ? options.scenarios[0].name : 'multi'}`;
  const report = {
    tool: 'natrium tune',
    command: commandLine(),
    date: new Date().toISOString(),
    host,
    settings: { maxWorkers: options.maxWorkers, rounds: options.rounds, parser: options.parser, generator: options.generator.generator },
    scenarios: options.scenarios,
    table: rows,
    recommendedWorkers: chosen.workers,
    runs,
  };
  const files = [
    writeResult(`${out}.json`, JSON.stringify(report, null, 2) + '\n'),
    writeResult(`${out}.md`, `\`${commandLine()}\` — ${report.date}\n\n${describeHost(host)}\n\n${markdownTable(header, body)}\n${advice}\n`),
    writeResult(
      `${out}.svg`,
      renderChart({
        title: `natrium tune: workers 1..${options.maxWorkers} (recommended ${chosen.workers})`,
        subtitle: `${host.cpus} cores, ${host.cpuModel} · medians of ${options.rounds} rotated runs · parser ${options.parser}`,
        series: contenders.map((c, i) => ({ label: c.label, color: PALETTE[i % PALETTE.length] })),
        groups: options.scenarios.map((s, si) => {
          const medians = rows.map((r) => r.medians[si]);
          const best = medians.indexOf(Math.max(...medians));
          return {
            label: s.name,
            unit: s.kind === 'req' ? 'rtt/s' : 'msgs/s',
            values: medians,
            texts: medians.map((m) => humanRate(m)),
            note: `best: ${best + 1}`,
            good: null,
          };
        }),
        footer: `${commandLine()} · ${report.date.slice(0, 16).replace('T', ' ')} UTC`,
      }),
    ),
  ];
  process.stderr.write(`results: ${files.join(', ')}\n`);
  return rows.every((r) => r.lossless) ? 0 : 2;
}
