/**
 * Differential checks of two parser backends on the same input: call by call (identical int32
 * headers and records for identical arguments) and through ProtocolReader (identical op sequences,
 * with the bytes they reference, for identical read chunks). Each returns null when the backends
 * agree, else a description of the first difference. Used by the parity test and the fuzzer.
 */
import { HDR_CONSUMED, HDR_COUNT, HDR_NEED, HDR_SIZE, OP_STRIDE, OpKind, type ParseFunction } from '../src/protocol/ops.js';
import { ProtocolReader, type OpSink } from '../src/protocol/reader.js';
import { Prng, randomCuts, type ParserCase } from './parser-traffic.js';

export interface NamedParser {
  name: string;
  parse: ParseFunction;
}

/** Fills an ops array with a marker, so a field one backend forgets to write shows up as a difference. */
function dirtyOps(length: number, marker: number): Int32Array {
  return new Int32Array(length).fill(marker);
}

function snippet(bytes: Uint8Array, from: number, to: number): string {
  return JSON.stringify(Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.max(0, to - from)).toString('latin1'));
}

function describeCall(parser: NamedParser, count: number, ops: Int32Array): string {
  const records: string[] = [];
  for (let k = 0; k < count && HDR_SIZE + (k + 1) * OP_STRIDE <= ops.length; k++) {
    records.push(`[${Array.from(ops.subarray(HDR_SIZE + k * OP_STRIDE, HDR_SIZE + (k + 1) * OP_STRIDE)).join(',')}]`);
  }
  return `${parser.name}: returned ${count}, header [${ops[HDR_COUNT]},${ops[HDR_CONSUMED]},${ops[HDR_NEED]}], records ${records.join(' ')}`;
}

/**
 * Parses buf[start, end) to its end with both backends in lock step (calling again from HDR_CONSUMED
 * while records come), comparing each call's return value, header and records int for int.
 */
export function compareCalls(
  a: NamedParser,
  b: NamedParser,
  buf: Uint8Array,
  start: number,
  end: number,
  opsLength: number,
  maxControlLine: number,
  maxPayload: number,
): string | null {
  const opsA = dirtyOps(opsLength, 0x7a7a7a7a);
  const opsB = dirtyOps(opsLength, -0x5b5b5b5b);
  let pos = start;
  for (;;) {
    const countA = a.parse(buf, pos, end, opsA, maxControlLine, maxPayload);
    const countB = b.parse(buf, pos, end, opsB, maxControlLine, maxPayload);
    let same = countA === countB;
    for (let k = 0; k < HDR_SIZE - 1 && same; k++) same = opsA[k] === opsB[k];
    for (let k = HDR_SIZE; k < HDR_SIZE + countA * OP_STRIDE && same; k++) same = opsA[k] === opsB[k];
    if (!same) {
      return (
        `parse(buf, ${pos}, ${end}, ops[${opsLength}], ${maxControlLine}, ${maxPayload}) on ${snippet(buf, pos, end)}\n` +
        `  ${describeCall(a, countA, opsA)}\n  ${describeCall(b, countB, opsB)}`
      );
    }
    const consumed = opsA[HDR_CONSUMED]!;
    const failed = countA > 0 && opsA[HDR_SIZE + (countA - 1) * OP_STRIDE] === OpKind.PARSE_ERROR;
    if (failed || consumed >= end || consumed === pos) return null;
    pos = consumed;
  }
}

/** Byte fields of each kind as [offset field, length field] pairs; other fields compare as numbers. */
const BYTE_FIELDS: Record<number, Array<[number, number]>> = {
  [OpKind.PUB]: [[1, 2], [3, 4], [5, 6]],
  [OpKind.HPUB]: [[1, 2], [3, 4], [5, 6]],
  [OpKind.SUB]: [[1, 2], [3, 4], [5, 6]],
  [OpKind.UNSUB]: [[5, 6]],
  [OpKind.CONNECT]: [[1, 2]],
  [OpKind.INFO]: [[1, 2]],
  [OpKind.ERR]: [[1, 2]],
};

/** One record as text: its kind, its non-offset fields, and the bytes its offsets reference. */
export function describeRecord(buf: Uint8Array, ops: Int32Array, index: number): string {
  const r = HDR_SIZE + index * OP_STRIDE;
  const kind = ops[r]!;
  if (kind === OpKind.PARSE_ERROR) return `PARSE_ERROR code=${ops[r + 1]} kind=${ops[r + 3]}`;
  const parts = [`kind=${kind}`];
  const byteFields = BYTE_FIELDS[kind] ?? [];
  for (let f = 1; f < OP_STRIDE; f++) {
    const pair = byteFields.find(([offset, length]) => offset === f || length === f);
    if (pair === undefined) parts.push(`f${f}=${ops[r + f]}`);
    else if (pair[0] === f) parts.push(`f${f}=${snippet(buf, ops[r + f]!, ops[r + f]! + ops[r + pair[1]]!)}`);
  }
  return parts.join(' ');
}

/** Collects what a reader delivers: one line per onOps call. */
class TranscriptSink implements OpSink {
  readonly batches: string[] = [];

  onOps(buf: Uint8Array, ops: Int32Array, count: number): boolean {
    const records: string[] = [];
    for (let k = 0; k < count; k++) records.push(describeRecord(buf, ops, k));
    this.batches.push(records.join(' | '));
    return true;
  }
}

/**
 * Feeds the same chunks (bytes cut at `cuts`) to a ProtocolReader over each backend and compares
 * what they deliver per feed, the feed results, and the bytes each holds back.
 */
export function compareReaders(
  a: NamedParser,
  b: NamedParser,
  bytes: Uint8Array,
  cuts: readonly number[],
  opsLength: number,
  maxControlLine: number,
  maxPayload: number,
): string | null {
  const readerA = new ProtocolReader(a.parse, new Int32Array(opsLength), maxControlLine, maxPayload);
  const readerB = new ProtocolReader(b.parse, new Int32Array(opsLength), maxControlLine, maxPayload);
  const sinkA = new TranscriptSink();
  const sinkB = new TranscriptSink();
  let from = 0;
  for (let c = 0; c <= cuts.length; c++) {
    const to = c < cuts.length ? cuts[c]! : bytes.length;
    const seenA = sinkA.batches.length;
    const seenB = sinkB.batches.length;
    // A fresh copy per reader: the chunk is the reader's to reference during the feed only.
    const resultA = readerA.feed(bytes.slice(from, to), sinkA);
    const resultB = readerB.feed(bytes.slice(from, to), sinkB);
    let same = resultA === resultB && readerA.bufferedBytes === readerB.bufferedBytes && seenA === seenB;
    same &&= sinkA.batches.length === sinkB.batches.length;
    for (let k = seenA; k < sinkA.batches.length && same; k++) same = sinkA.batches[k] === sinkB.batches[k];
    if (!same) {
      return (
        `reader feed of chunk ${c} [${from}, ${to}) ${snippet(bytes, from, to)} (cuts ${JSON.stringify(cuts)}, ` +
        `ops[${opsLength}], mcl ${maxControlLine}, max payload ${maxPayload})\n` +
        `  ${a.name}: feed ${resultA}, buffered ${readerA.bufferedBytes}, delivered:\n    ${sinkA.batches.join('\n    ')}\n` +
        `  ${b.name}: feed ${resultB}, buffered ${readerB.bufferedBytes}, delivered:\n    ${sinkB.batches.join('\n    ')}`
      );
    }
    if (!resultA) return null;
    from = to;
  }
  return null;
}

/** Ops arrays from one record (every op fills it) to the shard's full size. */
const OPS_LENGTHS = [HDR_SIZE + OP_STRIDE, HDR_SIZE + 2 * OP_STRIDE, HDR_SIZE + 7 * OP_STRIDE, HDR_SIZE + 1024 * OP_STRIDE];

/**
 * One fuzz case through both comparisons: the whole input behind random leading bytes (offsets must
 * be absolute) with a random ops size, then the input in random chunks through the reader.
 */
export function compareCase(a: NamedParser, b: NamedParser, parserCase: ParserCase, rng: Prng): string | null {
  const { bytes, maxControlLine, maxPayload } = parserCase;
  const lead = rng.int(4);
  const framed = new Uint8Array(lead + bytes.length + rng.int(3));
  framed.fill(0x0a);
  framed.set(bytes, lead);
  const callDiff = compareCalls(a, b, framed, lead, lead + bytes.length, rng.pick(OPS_LENGTHS), maxControlLine, maxPayload);
  if (callDiff !== null) return callDiff;
  return compareReaders(a, b, bytes, randomCuts(rng, bytes.length), rng.pick(OPS_LENGTHS), maxControlLine, maxPayload);
}
