/**
 * Differential fuzzer of the two parser backends: `npm run fuzz -- [options]`.
 *
 *   --seconds S   stop after S seconds (default 30 unless --cases is given)
 *   --cases N     stop after N cases
 *   --seed X      case stream to run (default: random; printed so a run can be repeated)
 *   --from I      first case index (default 0): `--seed X --from I --cases 1` replays one case
 *   --jobs J      child processes (default 1)
 *   --json        print the summary as one JSON line at the end
 *   --crash-case I  abort the child process at case I, to check that crashes are caught and located
 *
 * Case i of seed X is always the same input (bench/parser-traffic.ts fuzzCase): a valid transcript,
 * a mutated one, or garbage, with random limits; each goes through both backends call by call and
 * through ProtocolReader in random chunks (bench/parser-compare.ts compareCase). The backends run in
 * child processes, so a crash of the native code is seen as the child's death: the batch it was in
 * is then bisected in fresh children down to the case that crashes. Exit status 1 on any crash or
 * divergence, 2 when the native addon is not available.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse as jsParse } from '../src/protocol/js-parser.js';
import { native, nativeLoadError } from '../src/protocol/native.js';
import { compareCase } from './parser-compare.js';
import { Prng, fuzzCase } from './parser-traffic.js';

const BATCH_SIZE = 2000;
const MAX_REPORTED = 10;

interface RunBatch {
  type: 'run';
  seed: number;
  from: number;
  count: number;
  crashCase: number;
}
interface Divergence {
  index: number;
  diff: string;
}
type ChildMessage = { type: 'done'; from: number; count: number; divergences: Divergence[] } | { type: 'unavailable'; reason: string };

interface Crash {
  index: number;
  exit: string;
  /** The start of what the crashing child wrote to stderr (e.g. a panic message or stack). */
  stderr: string;
}

export interface FuzzSummary {
  seed: number;
  from: number;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  crashes: Crash[];
  divergences: Divergence[];
  divergenceCount: number;
}

/** The stream of comparisons for one case index: independent of the case's own generator. */
function caseRng(seed: number, index: number): Prng {
  return new Prng(seed ^ 0x5bd1e995, index);
}

function runCases(seed: number, from: number, count: number, crashCase: number): Divergence[] {
  if (native === null) throw new Error(nativeLoadError ?? 'native addon not loaded');
  const js = { name: 'js', parse: jsParse };
  const nat = { name: 'native', parse: native.parse };
  const divergences: Divergence[] = [];
  for (let index = from; index < from + count; index++) {
    if (index === crashCase) process.abort();
    const diff = compareCase(js, nat, fuzzCase(seed, index), caseRng(seed, index));
    if (diff !== null) divergences.push({ index, diff });
  }
  return divergences;
}

function childMain(): void {
  if (native === null) {
    process.send!({ type: 'unavailable', reason: nativeLoadError ?? 'unknown' } satisfies ChildMessage);
    process.disconnect();
    return;
  }
  process.on('message', (message: RunBatch) => {
    const divergences = runCases(message.seed, message.from, message.count, message.crashCase);
    process.send!({ type: 'done', from: message.from, count: message.count, divergences } satisfies ChildMessage);
  });
}

const STDERR_KEPT = 4096;

interface Child {
  process: ChildProcess;
  /** Resolves once the child exited and its stderr is drained, with how it ended and that stderr. */
  ended: Promise<{ exit: string; clean: boolean; stderr: string }>;
}

/** A child running batches; the start of its stderr (a panic message comes first) is kept to report a crash. */
function spawnChild(): Child {
  const child = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < STDERR_KEPT) stderr = (stderr + text).slice(0, STDERR_KEPT);
  });
  const drained = new Promise((resolve) => child.stderr!.once('close', resolve));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  const ended = Promise.all([exited, drained]).then(([[code, signal]]) => ({
    exit: exitText(code, signal),
    clean: code === 0 && signal === null,
    stderr,
  }));
  return { process: child, ended };
}

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${code}`;
}

/** Runs one batch in a fresh child; resolves to its divergences, or to how the child died. */
function runIsolated(seed: number, from: number, count: number, crashCase: number): Promise<Divergence[] | Omit<Crash, 'index'>> {
  return new Promise((resolve) => {
    const child = spawnChild();
    let result: Divergence[] | null = null;
    child.process.on('message', (message: ChildMessage) => {
      if (message.type === 'done') {
        result = message.divergences;
        child.process.disconnect();
      }
    });
    void child.ended.then(({ exit, stderr }) => resolve(result ?? { exit, stderr }));
    child.process.send({ type: 'run', seed, from, count, crashCase } satisfies RunBatch);
  });
}

/** Narrows a batch whose child died to the first case that kills a child on its own. */
async function locateCrash(seed: number, from: number, count: number, first: Omit<Crash, 'index'>, crashCase: number): Promise<Crash> {
  let low = from;
  let length = count;
  let death = first;
  while (length > 1) {
    const half = Math.ceil(length / 2);
    const outcome = await runIsolated(seed, low, half, crashCase);
    if ('exit' in outcome) {
      death = outcome;
      length = half;
    } else {
      low += half;
      length -= half;
    }
  }
  return { index: low, ...death };
}

export interface FuzzOptions {
  seed: number;
  from: number;
  cases: number;
  seconds: number;
  jobs: number;
  /** Case index that aborts its child (-1: none), to check crash handling. */
  crashCase: number;
}

/** Runs the fuzzer with `jobs` children until `cases` ran or `seconds` passed. */
export async function fuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const limit = options.from + options.cases;
  let next = options.from;
  let ran = 0;
  const crashes: Crash[] = [];
  const divergences: Divergence[] = [];
  let divergenceCount = 0;
  let unavailable: string | null = null;
  const crashedBatches: Array<{ from: number; count: number; death: Omit<Crash, 'index'> }> = [];

  const takeBatch = (): RunBatch | null => {
    if (next >= limit || performance.now() >= deadline || unavailable !== null) return null;
    const count = Math.min(BATCH_SIZE, limit - next);
    const batch: RunBatch = { type: 'run', seed: options.seed, from: next, count, crashCase: options.crashCase };
    next += count;
    return batch;
  };

  const worker = (): Promise<void> =>
    new Promise((resolve) => {
      let child = spawnChild();
      let current: RunBatch | null = null;
      const dispatch = (): void => {
        current = takeBatch();
        if (current === null) child.process.disconnect();
        else child.process.send(current);
      };
      const attach = (): void => {
        const attached = child;
        attached.process.on('message', (message: ChildMessage) => {
          if (message.type === 'unavailable') {
            unavailable = message.reason;
            return;
          }
          ran += message.count;
          divergenceCount += message.divergences.length;
          for (const divergence of message.divergences) {
            if (divergences.length < MAX_REPORTED) divergences.push(divergence);
          }
          dispatch();
        });
        void attached.ended.then(({ exit, clean, stderr }) => {
          if (unavailable !== null || (current === null && clean)) return resolve();
          if (current !== null) {
            crashedBatches.push({ from: current.from, count: current.count, death: { exit, stderr } });
            ran += current.count;
          }
          // Carry on with the next batch in a fresh child.
          child = spawnChild();
          attach();
          dispatch();
        });
      };
      attach();
      dispatch();
    });

  await Promise.all(Array.from({ length: options.jobs }, worker));
  if (unavailable !== null) throw new Error(`native addon not available: ${unavailable}`);
  const elapsed = (performance.now() - started) / 1000;
  for (const batch of crashedBatches) crashes.push(await locateCrash(options.seed, batch.from, batch.count, batch.death, options.crashCase));
  return {
    seed: options.seed,
    from: options.from,
    cases: ran,
    seconds: elapsed,
    casesPerSecond: ran / elapsed,
    crashes,
    divergences,
    divergenceCount,
  };
}

function parseArguments(argv: string[]): FuzzOptions & { json: boolean } {
  const options = { seed: new Prng(Date.now() & 0x7fffffff).next() & 0x7fffffff, from: 0, cases: Infinity, seconds: Infinity, jobs: 1, crashCase: -1, json: false };
  const numberAfter = (k: number, name: string): number => {
    const value = Number(argv[k + 1]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} needs a non-negative number`);
    return value;
  };
  for (let k = 0; k < argv.length; k++) {
    switch (argv[k]) {
      case '--seconds':
        options.seconds = numberAfter(k++, '--seconds');
        break;
      case '--cases':
        options.cases = Math.floor(numberAfter(k++, '--cases'));
        break;
      case '--seed':
        options.seed = Math.floor(numberAfter(k++, '--seed'));
        break;
      case '--from':
        options.from = Math.floor(numberAfter(k++, '--from'));
        break;
      case '--jobs':
        options.jobs = Math.max(1, Math.floor(numberAfter(k++, '--jobs')));
        break;
      case '--crash-case':
        options.crashCase = Math.floor(numberAfter(k++, '--crash-case'));
        break;
      case '--json':
        options.json = true;
        break;
      default:
        throw new Error(`unknown option ${argv[k]} (see the header of bench/fuzz-parser.ts)`);
    }
  }
  if (options.cases === Infinity && options.seconds === Infinity) options.seconds = 30;
  return options;
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  console.log(
    `fuzz: seed ${options.seed}, from case ${options.from}, ` +
      `${options.cases === Infinity ? 'no case limit' : `${options.cases} cases`}, ` +
      `${options.seconds === Infinity ? 'no time limit' : `${options.seconds} s`}, ${options.jobs} job(s)`,
  );
  let summary: FuzzSummary;
  try {
    summary = await fuzz(options);
  } catch (error) {
    console.error(`fuzz: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
    return;
  }
  console.log(
    `fuzz: ${summary.cases} cases in ${summary.seconds.toFixed(1)} s (${Math.round(summary.casesPerSecond)} cases/s), ` +
      `${summary.crashes.length} crashes, ${summary.divergenceCount} divergences`,
  );
  for (const crash of summary.crashes) {
    console.log(`CRASH (${crash.exit}) in case ${crash.index}: replay with --seed ${summary.seed} --from ${crash.index} --cases 1`);
    console.log(`  child stderr: ${crash.stderr.split('\n').slice(0, 6).join('\n  ')}`);
  }
  for (const divergence of summary.divergences) {
    console.log(`DIVERGENCE in case ${divergence.index} (--seed ${summary.seed} --from ${divergence.index} --cases 1):\n${divergence.diff}`);
  }
  if (options.json) console.log(JSON.stringify(summary));
  if (summary.crashes.length > 0 || summary.divergenceCount > 0) process.exitCode = 1;
}

if (process.argv.includes('--child')) childMain();
else if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
