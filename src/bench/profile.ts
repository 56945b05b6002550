/**
 * `natrium bench --profile`: runs scenarios against a Natrium started with `node --cpu-prof`
 * (V8 writes one profile per thread: the main thread and every worker) and prints, per thread,
 * the functions with the most self time. That is where per-message costs show up first.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { startNatrium, type NatriumSettings } from './brokers.js';
import { runScenario, type GeneratorOptions } from './generator.js';
import { outcome } from './matrix.js';
import { commandLine, writeResult } from './output.js';
import { Progress } from './progress.js';
import type { Scenario } from './scenarios.js';
import { markdownTable, table } from './stats.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  /** file:line (1-based), or '' for V8's pseudo-frames such as (garbage collector). */
  location: string;
  selfMs: number;
  /** Share of the thread's busy (non-idle) time. */
  share: number;
}

export interface ThreadProfile {
  file: string;
  busyMs: number;
  totalMs: number;
  top: HotFunction[];
}

const sourceMaps = new Map<string, SourceMap | null>();

/**
 * `file:line` of a frame, mapped back to the TypeScript source through the compiled file's source
 * map when there is one (so the table points at src/, not dist/); the last two path segments only.
 */
function sourceLocation(url: string, line: number, column: number): string {
  if (!url) return '';
  let where = { file: url, line: line + 1 };
  if (url.startsWith('file://')) {
    const file = fileURLToPath(url);
    if (!sourceMaps.has(file)) {
      const mapFile = `${file}.map`;
      sourceMaps.set(file, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null);
    }
    const entry = sourceMaps.get(file)?.findEntry(line, column);
    where = entry && 'originalSource' in entry ? { file: entry.originalSource, line: entry.originalLine + 1 } : { file, line: line + 1 };
  }
  return `${where.file.split('/').slice(-2).join('/')}:${where.line}`;
}

/** Self time per function of one .cpuprofile, busiest first. */
export function summarizeProfile(profile: CpuProfile, limit: number): { busyMs: number; totalMs: number; top: HotFunction[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, HotFunction>();
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const frame = byId.get(profile.samples[i])?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      continue;
    }
    const location = sourceLocation(frame.url, frame.lineNumber, frame.columnNumber);
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${location}`;
    const entry = self.get(key) ?? { name, location, selfMs: 0, share: 0 };
    entry.selfMs += delta / 1000;
    self.set(key, entry);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const top = [...self.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, limit);
  for (const entry of top) entry.share = busyMs > 0 ? entry.selfMs / busyMs : 0;
  return { busyMs, totalMs: totalUs / 1000, top };
}

export interface ProfileOptions {
  scenarios: Scenario[];
  natrium: NatriumSettings;
  generator: GeneratorOptions;
  dir: string;
  top: number;
}

export async function runProfile(options: ProfileOptions): Promise<number> {
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true });
  const broker = await startNatrium(options.natrium, ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.dir)}`]);
  const progress = new Progress(options.scenarios.length);
  const lines: string[] = [];
  try {
    for (const scenario of options.scenarios) {
      progress.start(`${scenario.name}  natrium --cpu-prof`);
      const result = await runScenario(broker.url, scenario, { ...options.generator, onProgress: (f) => progress.update(f) });
      progress.finish(outcome(result));
      lines.push(`${scenario.name}: ${outcome(result)}`);
    }
  } finally {
    // V8 writes the profiles as the threads exit.
    await broker.close();
  }
  const threads: ThreadProfile[] = readdirSync(options.dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((file) => ({ file, ...summarizeProfile(JSON.parse(readFileSync(path.join(options.dir, file), 'utf8')) as CpuProfile, options.top) }));
  const header = ['self ms', 'share', 'function', 'where'];
  let text = '';
  let markdown = `\`${commandLine()}\`\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`;
  for (const thread of threads) {
    // V8 names them CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; thread 0 is the main thread.
    const threadId = thread.file.split('.')[4];
    const title = `${threadId === '0' ? 'main thread' : `worker thread ${threadId}`} (${thread.file}): busy ${thread.busyMs.toFixed(0)} of ${thread.totalMs.toFixed(0)} ms`;
    const rows = thread.top.map((f) => [f.selfMs.toFixed(1), `${(f.share * 100).toFixed(1)}%`, f.name, f.location]);
    text += `\n${title}\n${table(header, rows)}`;
    markdown += `\n### ${title}\n\n${markdownTable(header, rows)}`;
  }
  process.stdout.write(text);
  process.stderr.write(`profiles and summary: ${writeResult(path.join(options.dir, 'summary.md'), markdown)}\n`);
  return 0;
}
