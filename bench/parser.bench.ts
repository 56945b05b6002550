/**
 * Parser backends side by side: `npm run bench:parser -- [--time MS]`.
 *
 * Streams: PUB with 16 B, 128 B and 1 KiB payloads, HPUB, and control traffic (SUB/UNSUB/PING/PONG),
 * each about 64 KiB. Each is parsed whole (parse calls from HDR_CONSUMED until the end, as a shard
 * does with one large read) and through ProtocolReader in 512-byte reads (ops split across reads
 * go through the reader's carry). Prints ns/msg, msgs/s and MB/s per backend with the native/js
 * speed ratio, and writes the figures to bench/results/parser-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Bench } from 'tinybench';
import { parse as jsParse } from '../src/protocol/js-parser.js';
import { native, nativeLoadError } from '../src/protocol/native.js';
import { HDR_CONSUMED, OPS_ARRAY_LENGTH, type ParseFunction } from '../src/protocol/ops.js';
import { ProtocolReader, type OpSink } from '../src/protocol/reader.js';
import { hpubStream, mixedControlStream, pubStream } from './parser-traffic.js';

const STREAM_BYTES = 64 * 1024;
const SMALL_READ = 512;
const MAX_CONTROL_LINE = 4096;
const MAX_PAYLOAD = 1024 * 1024;

interface Stream {
  name: string;
  bytes: Uint8Array;
  messages: number;
}

/** About STREAM_BYTES of `make(count)`, whose ops are all the same size. */
function sized(name: string, make: (count: number) => Uint8Array): Stream {
  const opBytes = make(1).length;
  const messages = Math.max(1, Math.floor(STREAM_BYTES / opBytes));
  return { name, bytes: make(messages), messages };
}

function streams(): Stream[] {
  const mixedOpBytes = mixedControlStream(1000).length / 1000;
  const mixedCount = Math.floor(STREAM_BYTES / mixedOpBytes);
  return [
    sized('PUB 16 B', (count) => pubStream(16, count)),
    sized('PUB 128 B', (count) => pubStream(128, count)),
    sized('PUB 1 KiB', (count) => pubStream(1024, count)),
    sized('HPUB 128 B', (count) => hpubStream(128, count)),
    { name: 'SUB/UNSUB/PING', bytes: mixedControlStream(mixedCount), messages: mixedCount },
  ];
}

/** Counts ops so the work cannot be optimized away. */
class CountingSink implements OpSink {
  ops = 0;
  onOps(_buf: Uint8Array, _ops: Int32Array, count: number): boolean {
    this.ops += count;
    return true;
  }
}

function parseWhole(parse: ParseFunction, stream: Stream, ops: Int32Array): number {
  const { bytes } = stream;
  let records = 0;
  for (let pos = 0; pos < bytes.length; pos = ops[HDR_CONSUMED]!) {
    records += parse(bytes, pos, bytes.length, ops, MAX_CONTROL_LINE, MAX_PAYLOAD);
  }
  return records;
}

function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

interface Row {
  stream: string;
  mode: string;
  backend: string;
  messages: number;
  bytes: number;
  nsPerMessage: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  samples: number;
  relativeMarginOfError: number;
}

function parseArguments(argv: string[]): { time: number } {
  const at = argv.indexOf('--time');
  const time = at >= 0 ? Number(argv[at + 1]) : 500;
  if (!Number.isFinite(time) || time <= 0) throw new Error('--time needs a positive number of milliseconds');
  return { time };
}

async function main(): Promise<void> {
  const { time } = parseArguments(process.argv.slice(2));
  if (native === null) {
    console.error(`bench:parser: ${nativeLoadError}`);
    process.exitCode = 2;
    return;
  }
  const backends: Array<[string, ParseFunction]> = [
    ['js', jsParse],
    ['native', native.parse],
  ];
  const bench = new Bench({ time, warmupTime: Math.min(200, time / 2) });
  const cases = new Map<string, { stream: Stream; mode: string; backend: string }>();
  for (const stream of streams()) {
    const reads = chunks(stream.bytes, SMALL_READ);
    for (const [backend, parse] of backends) {
      const ops = new Int32Array(OPS_ARRAY_LENGTH);
      const wholeName = `${stream.name} | whole buffer | ${backend}`;
      cases.set(wholeName, { stream, mode: 'whole buffer', backend });
      bench.add(wholeName, () => {
        if (parseWhole(parse, stream, ops) !== stream.messages) throw new Error(`${wholeName}: wrong op count`);
      });
      const readerName = `${stream.name} | reader, ${SMALL_READ} B reads | ${backend}`;
      cases.set(readerName, { stream, mode: `reader, ${SMALL_READ} B reads`, backend });
      bench.add(readerName, () => {
        const reader = new ProtocolReader(parse, ops, MAX_CONTROL_LINE, MAX_PAYLOAD);
        const sink = new CountingSink();
        for (const read of reads) reader.feed(read, sink);
        if (sink.ops !== stream.messages) throw new Error(`${readerName}: wrong op count`);
      });
    }
  }
  console.log(`bench:parser: ${bench.tasks.length} tasks, ${time} ms each, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}`);
  await bench.run();

  const rows: Row[] = [];
  for (const task of bench.tasks) {
    const result = task.result;
    const info = cases.get(task.name)!;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state === 'errored' ? result.error.message : result.state}`);
    const secondsPerRun = result.latency.mean / 1000;
    rows.push({
      stream: info.stream.name,
      mode: info.mode,
      backend: info.backend,
      messages: info.stream.messages,
      bytes: info.stream.bytes.length,
      nsPerMessage: (secondsPerRun * 1e9) / info.stream.messages,
      messagesPerSecond: info.stream.messages / secondsPerRun,
      megabytesPerSecond: info.stream.bytes.length / secondsPerRun / 1e6,
      samples: result.latency.samplesCount,
      relativeMarginOfError: result.latency.rme,
    });
  }

  const lines = [
    `${'stream'.padEnd(16)}${'mode'.padEnd(22)}${'js ns/msg'.padStart(11)}${'native'.padStart(9)}${'js Mmsg/s'.padStart(11)}${'native'.padStart(9)}` +
      `${'js MB/s'.padStart(9)}${'native'.padStart(9)}${'native/js'.padStart(11)}`,
  ];
  const ratios: Array<{ stream: string; mode: string; speedup: number }> = [];
  for (const jsRow of rows.filter((row) => row.backend === 'js')) {
    const nativeRow = rows.find((row) => row.backend === 'native' && row.stream === jsRow.stream && row.mode === jsRow.mode)!;
    const speedup = jsRow.nsPerMessage / nativeRow.nsPerMessage;
    ratios.push({ stream: jsRow.stream, mode: jsRow.mode, speedup });
    lines.push(
      `${jsRow.stream.padEnd(16)}${jsRow.mode.padEnd(22)}` +
        `${jsRow.nsPerMessage.toFixed(1).padStart(11)}${nativeRow.nsPerMessage.toFixed(1).padStart(9)}` +
        `${(jsRow.messagesPerSecond / 1e6).toFixed(2).padStart(11)}${(nativeRow.messagesPerSecond / 1e6).toFixed(2).padStart(9)}` +
        `${jsRow.megabytesPerSecond.toFixed(0).padStart(9)}${nativeRow.megabytesPerSecond.toFixed(0).padStart(9)}` +
        `${`${speedup.toFixed(2)}x`.padStart(11)}`,
    );
  }
  console.log(lines.join('\n'));

  const date = new Date().toISOString().slice(0, 10);
  const file = new URL(`./results/parser-${date}.json`, new URL('../../bench/', import.meta.url));
  mkdirSync(new URL('.', file), { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    taskTimeMs: time,
    smallReadBytes: SMALL_READ,
    rows,
    speedups: ratios,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written ${file.pathname}`);
}

await main();
