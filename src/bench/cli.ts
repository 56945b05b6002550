/**
 * `natrium bench` and `natrium tune`: argument parsing and dispatch to the modes.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { ParserChoice } from '../server/options.js';
import type { NatriumSettings } from './brokers.js';
import { runCheckGenerator, runCompare } from './compare.js';
import { DEFAULT_GENERATOR_OPTIONS, resolveGenerator, runScenario, type GeneratorOptions } from './generator.js';
import { hostInfo, outcome } from './matrix.js';
import { writeResult } from './output.js';
import { runMemory } from './memory.js';
import { runProfile } from './profile.js';
import { Progress } from './progress.js';
import { lossless, scaled, selectScenarios, type Scenario, type ScenarioResult } from './scenarios.js';
import { humanRate, table } from './stats.js';
import { runTune } from './tune.js';

export const BENCH_USAGE = `Usage: natrium bench [mode] [options]

Modes (default: run the scenarios against --url):
    --compare                 Start Natrium and nats-server back to back, alternate runs over
                              --rounds, print medians and natrium/nats-server ratios; write
                              <out>.json, <out>.md and <out>.svg
    --memory                  RSS of Natrium and nats-server: idle, with --connections idle
                              connections, and under load (--load-scenario)
    --check-generator         Run the node generator and nbench against nats-server back to back
                              (shows whether the generator keeps up)
    --profile                 Run the scenarios (default 3,5,7,8) once against Natrium under
                              node --cpu-prof; print each thread's hottest functions (--out is the
                              profile directory, default bench/results/profile)

Options:
    --url <url>               Broker to load (default nats://127.0.0.1:4222)
    --scenario <list>         standard | sizes | all | comma list of names or numbers (default standard)
    --np, --ns, --ms, --n     A custom pub/sub scenario: publishers, subscribers, payload bytes, messages
    --queue <group>           Custom scenario: subscribers join this queue group
    --scale <f>               Multiply every message count (default 1; e.g. 0.1 for a quick look)
    --generator <name>        auto | node | nbench: node (worker threads on raw sockets), nbench
                              (Go, nats.go), or auto = nbench for request/reply when installed,
                              node for the rest (default auto)
    --nbench <path>           nbench binary (default $NBENCH or /tmp/nbench/nbench)
    --threads <n>             Node generator: most threads per role (default cores/2, 1..4)
    --max-time <seconds>      Cap on each publishing phase (default 20)
    --idle <seconds>          Give up waiting for deliveries after this long without progress (default 10)
    --rounds <n>              Runs per scenario and broker in --compare / --check-generator (default 3)
    --workers <n>             Natrium's worker threads (default: as npm start, one per core)
    --parser <auto|native|js> Natrium's parser backend (default auto)
    --out <path>              Result files without extension (default bench/results/<mode>-...)
    --connections <list>      --memory: idle connection counts (default 1000,10000)
    --load-scenario <name>    --memory: the scenario run for the under-load figure (default 5)
    --json <file>             Plain mode: also write the results as JSON
    -h, --help                Show this message
`;

export const TUNE_USAGE = `Usage: natrium tune [options]

Runs a scenario against Natrium with workers = 1..K on this host (a fresh broker per run,
--rounds runs each, order rotated), prints the medians and recommends a worker count.

Options:
    --scenario <list>         Scenarios to score (default 3-pubsub-1to1-128B; several: geometric mean)
    --max-workers <k>         Largest worker count tried (default: the number of cores)
    --rounds <n>              Runs per worker count (default 3)
    --parser <auto|native|js> Parser backend (default auto)
    --scale, --generator, --nbench, --threads, --max-time, --idle   as for natrium bench
    --out <path>              Result files without extension (default bench/results/tune-<scenario>)
    -h, --help                Show this message
`;

const COMMON = {
  scenario: { type: 'string' },
  scale: { type: 'string' },
  generator: { type: 'string' },
  nbench: { type: 'string' },
  threads: { type: 'string' },
  'max-time': { type: 'string' },
  idle: { type: 'string' },
  rounds: { type: 'string' },
  parser: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const BENCH_OPTIONS = {
  ...COMMON,
  url: { type: 'string' },
  compare: { type: 'boolean' },
  memory: { type: 'boolean' },
  'check-generator': { type: 'boolean' },
  profile: { type: 'boolean' },
  workers: { type: 'string' },
  connections: { type: 'string' },
  'load-scenario': { type: 'string' },
  json: { type: 'string' },
  np: { type: 'string' },
  ns: { type: 'string' },
  ms: { type: 'string' },
  n: { type: 'string' },
  queue: { type: 'string' },
} as const;

const TUNE_OPTIONS = { ...COMMON, 'max-workers': { type: 'string' } } as const;

type Values = Record<string, string | boolean | undefined>;

function positiveNumber(values: Values, key: string, fallback: number, integer = false): number {
  const text = values[key];
  if (typeof text !== 'string') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`invalid value "${text}" for --${key}`);
  }
  return value;
}

function generatorOptions(values: Values): GeneratorOptions {
  const generator = (values.generator as string | undefined) ?? DEFAULT_GENERATOR_OPTIONS.generator;
  if (generator !== 'node' && generator !== 'nbench' && generator !== 'auto') {
    throw new Error(`invalid value "${generator}" for --generator: use auto, node or nbench`);
  }
  return {
    ...DEFAULT_GENERATOR_OPTIONS,
    generator,
    nbenchPath: (values.nbench as string | undefined) ?? DEFAULT_GENERATOR_OPTIONS.nbenchPath,
    threads: positiveNumber(values, 'threads', DEFAULT_GENERATOR_OPTIONS.threads, true),
    maxTimeMs: positiveNumber(values, 'max-time', DEFAULT_GENERATOR_OPTIONS.maxTimeMs / 1000) * 1000,
    idleMs: positiveNumber(values, 'idle', DEFAULT_GENERATOR_OPTIONS.idleMs / 1000) * 1000,
  };
}

function parserChoice(values: Values): ParserChoice {
  const parser = (values.parser as string | undefined) ?? 'auto';
  if (parser !== 'auto' && parser !== 'native' && parser !== 'js') throw new Error(`invalid value "${parser}" for --parser: use auto, native or js`);
  return parser;
}

function scenarios(values: Values, fallback: string): Scenario[] {
  const scale = positiveNumber(values, 'scale', 1);
  if (values.np !== undefined || values.ns !== undefined || values.ms !== undefined || values.n !== undefined) {
    const publishers = positiveNumber(values, 'np', 1, true);
    const subscribers = values.ns === '0' ? 0 : positiveNumber(values, 'ns', 1, true);
    const size = values.ms === '0' ? 0 : positiveNumber(values, 'ms', 128, true);
    const count = positiveNumber(values, 'n', 1_000_000, true);
    const queue = (values.queue as string | undefined) ?? null;
    const name = `custom-${publishers}to${subscribers}${queue ? 'q' : ''}-${size}B`;
    return [scaled({ name, kind: 'pubsub', publishers, subscribers, count, size, subject: 'bench.custom', queue }, scale)];
  }
  return selectScenarios((values.scenario as string | undefined) ?? fallback).map((s) => scaled(s, scale));
}

async function plain(values: Values): Promise<number> {
  const url = (values.url as string | undefined) ?? 'nats://127.0.0.1:4222';
  const generator = generatorOptions(values);
  const chosen = scenarios(values, 'standard');
  const progress = new Progress(chosen.length);
  const results: ScenarioResult[] = [];
  for (const scenario of chosen) {
    progress.start(`${scenario.name}  ${url}  (${resolveGenerator(generator, scenario)})`);
    const result = await runScenario(url, scenario, { ...generator, onProgress: (f) => progress.update(f) });
    progress.finish(outcome(result));
    results.push(result);
  }
  const rows = results.map((r) => [
    r.scenario,
    humanRate(r.msgsPerSec),
    r.kind === 'req' ? '-' : humanRate(r.pubMsgsPerSec ?? NaN),
    r.kind === 'req' ? `${r.done}` : `${r.delivered}/${r.expected}`,
    r.kind === 'req' ? `${r.p50Us!.toFixed(0)}/${r.p90Us!.toFixed(0)}/${r.p99Us!.toFixed(0)}` : '-',
    r.status,
  ]);
  process.stdout.write(table(['scenario', 'msgs/s', 'pub msgs/s', 'delivered', 'p50/p90/p99 µs', 'status'], rows));
  if (typeof values.json === 'string') {
    const report = { tool: 'natrium bench', mode: 'run', date: new Date().toISOString(), url, host: hostInfo(), generator: generator.generator, results };
    writeResult(values.json, JSON.stringify(report, null, 2) + '\n');
  }
  return results.every(lossless) ? 0 : 2;
}

function natriumSettings(values: Values): NatriumSettings {
  return { workers: values.workers === undefined ? null : positiveNumber(values, 'workers', 1, true), parser: parserChoice(values) };
}

export async function benchCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: BENCH_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const modes = [values.compare, values.memory, values['check-generator'], values.profile].filter(Boolean).length;
  if (modes > 1) throw new Error('choose one of --compare, --memory, --check-generator, --profile');
  const rounds = positiveNumber(values, 'rounds', 3, true);
  if (values.compare) {
    const settings = natriumSettings(values);
    return runCompare({ scenarios: scenarios(values, 'standard'), rounds, natrium: settings, generator: generatorOptions(values), out: (values.out as string | undefined) ?? null });
  }
  if (values['check-generator']) {
    return runCheckGenerator({ scenarios: scenarios(values, 'standard'), rounds, generator: generatorOptions(values), out: (values.out as string | undefined) ?? null });
  }
  if (values.profile) {
    return runProfile({
      scenarios: scenarios(values, '3,5,7,8'),
      natrium: natriumSettings(values),
      generator: generatorOptions(values),
      dir: (values.out as string | undefined) ?? 'bench/results/profile',
      top: 15,
    });
  }
  if (values.memory) {
    const connections = ((values.connections as string | undefined) ?? '1000,10000').split(',').map((c) => {
      const n = Number(c);
      if (!Number.isInteger(n) || n < 0) throw new Error(`invalid value "${c}" for --connections`);
      return n;
    });
    const load = selectScenarios((values['load-scenario'] as string | undefined) ?? '5')[0];
    return runMemory({
      natrium: natriumSettings(values),
      connections,
      load: scaled(load, positiveNumber(values, 'scale', 1)),
      generator: generatorOptions(values),
      out: (values.out as string | undefined) ?? null,
    });
  }
  return plain(values);
}

export async function tuneCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: TUNE_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(TUNE_USAGE);
    return 0;
  }
  return runTune({
    scenarios: scenarios(values, '3-pubsub-1to1-128B'),
    maxWorkers: positiveNumber(values, 'max-workers', os.availableParallelism(), true),
    rounds: positiveNumber(values, 'rounds', 3, true),
    parser: parserChoice(values),
    generator: generatorOptions(values),
    out: (values.out as string | undefined) ?? null,
  });
}

/** Entry from src/cli/main.ts: `natrium bench ...` / `natrium tune ...`; returns the exit status. */
export async function runSubcommand(name: 'bench' | 'tune', argv: readonly string[]): Promise<number> {
  try {
    return await (name === 'bench' ? benchCommand(argv) : tuneCommand(argv));
  } catch (error) {
    process.stderr.write(`natrium ${name}: ${(error as Error).message}\n\n${name === 'bench' ? BENCH_USAGE : TUNE_USAGE}`);
    return 1;
  }
}
