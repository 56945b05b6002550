/**
 * The loop shared by the comparison, generator check and tuning modes: every round runs every
 * scenario once per contender (a broker setup and a generator), each on a freshly started broker,
 * rotating the contenders' order every round so that drift on a shared machine spreads over all.
 */
import os from 'node:os';
import { startBroker, natsServerVersion, type BrokerKind, type NatriumSettings } from './brokers.js';
import { resolveGenerator, runScenario, type GeneratorName, type GeneratorOptions } from './generator.js';
import { Progress } from './progress.js';
import { lossless, type Scenario, type ScenarioResult } from './scenarios.js';
import { humanBytes, humanRate, median } from './stats.js';
import { NATRIUM_VERSION } from '../server/version.js';

export interface Contender {
  /** Short name in tables and charts, e.g. "natrium", "nats-server", "workers=2". */
  label: string;
  broker: BrokerKind;
  natrium: NatriumSettings;
  generator: GeneratorName;
}

export interface MatrixRun {
  contender: string;
  scenario: string;
  round: number;
  result: ScenarioResult;
  /** The broker's peak RSS over its life, which is this one run (fresh broker per run). */
  peakRssBytes: number;
}

export interface HostInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  natsServer: string;
  natrium: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export function hostInfo(): HostInfo {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    natsServer: natsServerVersion(),
    natrium: NATRIUM_VERSION,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function describeHost(host: HostInfo): string {
  return (
    `${host.cpus} cores (${host.cpuModel}), ${humanBytes(host.memoryBytes)} RAM, ${host.kernel}, ` +
    `node ${host.node}, nats-server ${host.natsServer}, natrium ${host.natrium}, ` +
    `load average at start ${host.loadAverageAtStart.join(' ')}` +
    (host.loadAverageAtEnd ? `, at end ${host.loadAverageAtEnd.join(' ')}` : '')
  );
}

export function outcome(result: ScenarioResult): string {
  const lost = lossless(result) ? '' : `  LOST ${result.status}${result.message ? ` (${result.message})` : ''}`;
  if (result.kind === 'req') {
    return `${humanRate(result.msgsPerSec)} rtt/s  p50 ${result.p50Us?.toFixed(0)} µs  p99 ${result.p99Us?.toFixed(0)} µs${lost}`;
  }
  const delivered = result.expected ? `  ${result.delivered}/${result.expected}` : '';
  return `${humanRate(result.msgsPerSec)} msgs/s${delivered}${lost}`;
}

export async function runMatrix(
  contenders: readonly Contender[],
  scenarios: readonly Scenario[],
  rounds: number,
  generator: GeneratorOptions,
): Promise<MatrixRun[]> {
  const progress = new Progress(rounds * scenarios.length * contenders.length);
  const runs: MatrixRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) {
      const shift = (round - 1) % contenders.length;
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
      for (const contender of order) {
        progress.start(`round ${round}/${rounds}  ${scenario.name}  ${contender.label}`);
        const broker = await startBroker(contender.broker, contender.natrium);
        let result: ScenarioResult;
        try {
          result = await runScenario(broker.url, scenario, {
            ...generator,
            generator: contender.generator,
            onProgress: (fraction) => progress.update(fraction),
          });
        } catch (error) {
          result = { scenario: scenario.name, kind: scenario.kind, generator: resolveGenerator({ ...generator, generator: contender.generator }, scenario), status: 'FAILED', msgsPerSec: 0, seconds: 0, message: (error as Error).message };
        }
        const peakRssBytes = broker.peakRssBytes();
        await broker.close();
        progress.finish(outcome(result));
        runs.push({ contender: contender.label, scenario: scenario.name, round, result, peakRssBytes });
      }
    }
  }
  return runs;
}

export interface Cell {
  /** Median of the headline figure (msgs/s or round trips/s). */
  median: number;
  values: number[];
  /** Median p99 latency in µs (req scenarios). */
  p99Us?: number;
  p99Values?: number[];
  p50Us?: number;
  /** Every run delivered everything it published. */
  lossless: boolean;
  peakRssBytes: number;
}

/** Medians of one contender's runs of one scenario. */
export function cell(runs: readonly MatrixRun[], contender: string, scenario: string): Cell | null {
  const mine = runs.filter((r) => r.contender === contender && r.scenario === scenario);
  if (mine.length === 0) return null;
  const values = mine.map((r) => r.result.msgsPerSec);
  const result: Cell = {
    median: median(values),
    values,
    lossless: mine.every((r) => lossless(r.result)),
    peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes)),
  };
  if (mine[0].result.kind === 'req') {
    result.p99Values = mine.map((r) => r.result.p99Us ?? NaN);
    result.p99Us = median(result.p99Values);
    result.p50Us = median(mine.map((r) => r.result.p50Us ?? NaN));
  }
  return result;
}
