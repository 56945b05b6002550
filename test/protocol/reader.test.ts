/**
 * ProtocolReader tests, run for every parser backend in ./backends.ts: however a byte stream is cut
 * into reads, the reader must hand out the same ops (and the same parse error) as when the whole
 * stream arrives at once, with bounded buffering and linear work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HDR_SIZE,
  MAX_OPS_PER_CALL,
  OP_STRIDE,
  OPS_ARRAY_LENGTH,
  OpKind,
  ParseError,
  type ParseFunction,
} from '../../src/protocol/ops.js';
import { ProtocolReader, type OpSink } from '../../src/protocol/reader.js';
import { backends, bytes, decodeOps, type DecodedOp } from './backends.js';

const MAX_CONTROL_LINE = 64;
const MAX_PAYLOAD = 1024;
/** The reader's documented bound on what it keeps between reads (see reader.ts / ops.ts). */
const CARRY_BOUND = 2 * MAX_CONTROL_LINE + 16 + MAX_PAYLOAD + 2;

/** Collects decoded ops; for a parse error also the first byte of the failed op. */
class CollectingSink implements OpSink {
  readonly ops: DecodedOp[] = [];
  failedOpFirstByte = -1;
  calls = 0;
  constructor(private readonly acceptCalls = Infinity) {}
  onOps(buf: Uint8Array, ops: Int32Array, count: number): boolean {
    this.calls++;
    this.ops.push(...decodeOps(buf, ops, count));
    const last = HDR_SIZE + (count - 1) * OP_STRIDE;
    if (ops[last] === OpKind.PARSE_ERROR) this.failedOpFirstByte = buf[ops[last + 2]];
    return this.calls < this.acceptCalls;
  }
}

/** A deterministic PRNG (mulberry32) so failures reproduce. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function binaryPayload(length: number, seed: number): string {
  const next = random(seed);
  let s = '';
  for (let k = 0; k < length; k++) {
    // Plenty of "\r", "\n" and op-name letters so payload bytes look like protocol.
    const r = next();
    s += r < 0.15 ? '\r\n' : r < 0.25 ? 'PING' : String.fromCharCode(Math.floor(next() * 256));
  }
  return s.slice(0, length);
}

/** A realistic client transcript: every op kind, binary payloads containing "\r\n". */
function transcript(): string {
  const parts: string[] = ['CONNECT {"verbose":false,"pedantic":false,"headers":true,"name":"t"}\r\n', 'PING\r\n'];
  for (let k = 0; k < 12; k++) {
    const payload = binaryPayload(k * 37, k);
    const headers = `NATS/1.0\r\nK-${k}: v\r\n\r\n`;
    const body = binaryPayload(k * 11, 100 + k);
    parts.push(
      `SUB foo.${k}.* q${k} ${k}\r\n`,
      `sub\tbar.${k}  s${k}\r\n`,
      `PUB foo.${k}.a reply.${k} ${payload.length}\r\n${payload}\r\n`,
      `HPUB foo.${k}.b ${headers.length} ${headers.length + body.length}\r\n${headers}${body}\r\n`,
      `pub bar.${k} 0\n\r\n`,
      `UNSUB ${k} ${k + 1}\r\n`,
      'PONG\r\n',
      '+OK\r\n',
      'ping\r\n',
    );
  }
  parts.push('UNSUB s1\r\n', 'PING\r\n');
  return parts.join('');
}

interface FeedResult {
  ops: DecodedOp[];
  failedOpFirstByte: number;
  /** feed() results, one per chunk. */
  results: boolean[];
}

function feedAll(parse: ParseFunction, chunks: Uint8Array[], maxPayload = MAX_PAYLOAD): FeedResult {
  const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, maxPayload);
  const sink = new CollectingSink();
  const results: boolean[] = [];
  for (const chunk of chunks) {
    results.push(reader.feed(chunk, sink));
    assert.ok(reader.bufferedBytes <= 2 * MAX_CONTROL_LINE + 16 + maxPayload + 2, 'carry bound');
  }
  return { ops: sink.ops, failedOpFirstByte: sink.failedOpFirstByte, results };
}

function cutAt(buf: Uint8Array, positions: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of positions) {
    chunks.push(buf.subarray(from, p));
    from = p;
  }
  chunks.push(buf.subarray(from));
  return chunks;
}

function randomChunks(buf: Uint8Array, seed: number, maxChunk: number): Uint8Array[] {
  const next = random(seed);
  const positions: number[] = [];
  for (let p = 1 + Math.floor(next() * maxChunk); p < buf.length; p += 1 + Math.floor(next() * maxChunk)) {
    positions.push(p);
  }
  return cutAt(buf, positions);
}

/** A parse function that records how many calls it got and how many bytes they spanned. */
function countingParse(parse: ParseFunction) {
  const stats = { calls: 0, spanned: 0, largestSpan: 0 };
  const wrapped: ParseFunction = (buf, start, end, ops, mcl, mp) => {
    stats.calls++;
    stats.spanned += end - start;
    stats.largestSpan = Math.max(stats.largestSpan, end - start);
    return parse(buf, start, end, ops, mcl, mp);
  };
  return { wrapped, stats };
}

/** Endings that make a stream fail; each must fail the same way however the stream is cut. */
const FAILING_ENDINGS: { name: string; ending: string; code: ParseError; failedKind: number; firstByte: string }[] = [
  { name: 'unknown op', ending: 'XYZ\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, firstByte: 'X' },
  { name: 'bad op name', ending: 'PUX foo\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, firstByte: 'P' },
  { name: 'bad payload trailer', ending: 'PUB foo 3\r\nabcX\r\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, firstByte: 'P' },
  { name: 'junk after a payload', ending: 'PUB foo 3\r\nabc\rPING\r\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, firstByte: 'P' },
  { name: 'bad arguments', ending: 'SUB foo\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.SUB, firstByte: 'S' },
  { name: 'bad size', ending: 'PUB foo 12x\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, firstByte: 'P' },
  { name: 'max payload', ending: `HPUB foo 2 ${MAX_PAYLOAD + 1}\r\n`, code: ParseError.MAX_PAYLOAD, failedKind: OpKind.HPUB, firstByte: 'H' },
  { name: 'long line', ending: `SUB ${'x'.repeat(70)} 1\r\n`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB, firstByte: 'S' },
  { name: 'long unfinished line', ending: `CONNECT ${'x'.repeat(65)}`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.CONNECT, firstByte: 'C' },
  { name: 'long blank run', ending: `PUB${' '.repeat(200)}`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.PUB, firstByte: 'P' },
];

for (const backend of backends) {
  describe(`ProtocolReader with parser backend ${backend.name}`, () => {
    const parse = backend.parse;
    const stream = bytes(transcript());
    const whole = feedAll(parse, [stream]);

    it('parses the whole transcript in one read', () => {
      assert.deepEqual(whole.results, [true]);
      assert.equal(whole.ops.length, 2 + 12 * 9 + 2);
      assert.ok(!whole.ops.some((op) => op.op === 'PARSE_ERROR'));
      assert.deepEqual(whole.ops[4], {
        op: 'PUB',
        subject: 'foo.0.a',
        reply: 'reply.0',
        payload: '',
      });
      const hpub = whole.ops[2 + 9 * 5 + 3];
      assert.equal(hpub.op, 'HPUB');
      assert.ok(hpub.op === 'HPUB' && hpub.payload.startsWith('NATS/1.0\r\nK-5: v\r\n\r\n'));
    });

    it('gives the same ops when the transcript is cut in two at every byte', () => {
      for (let p = 0; p <= stream.length; p++) {
        const r = feedAll(parse, cutAt(stream, [p]));
        assert.deepEqual(r.ops, whole.ops, `cut at ${p}`);
        assert.deepEqual(r.results, [true, true], `cut at ${p}`);
      }
    });

    it('gives the same ops for one-byte reads and random chunkings', () => {
      assert.deepEqual(feedAll(parse, cutAt(stream, Array.from({ length: stream.length - 1 }, (_, k) => k + 1))).ops, whole.ops);
      for (let seed = 1; seed <= 150; seed++) {
        const maxChunk = seed % 3 === 0 ? 7 : seed % 3 === 1 ? 60 : 700;
        assert.deepEqual(feedAll(parse, randomChunks(stream, seed, maxChunk)).ops, whole.ops, `seed ${seed}`);
      }
    });

    it('parses each read with a single parse call when it holds only complete ops', () => {
      const { wrapped, stats } = countingParse(parse);
      const reader = new ProtocolReader(wrapped, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      assert.equal(reader.feed(stream, sink), true);
      assert.equal(stats.calls, 1);
      assert.equal(sink.calls, 1);
      assert.equal(reader.bufferedBytes, 0);
    });

    it('hands out more than MAX_OPS_PER_CALL ops of one read in batches, also across a split op', () => {
      const ops = 'PING\r\n'.repeat(3000) + 'PUB a 5\r\nhel';
      const buf = bytes(ops + 'lo\r\nPONG\r\n');
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      assert.equal(reader.feed(buf.subarray(0, ops.length), sink), true);
      assert.equal(sink.calls, Math.ceil(3000 / MAX_OPS_PER_CALL));
      assert.equal(reader.bufferedBytes, 'PUB a 5\r\nhel'.length);
      assert.equal(reader.feed(buf.subarray(ops.length), sink), true);
      assert.equal(sink.ops.length, 3002);
      assert.ok(sink.ops.slice(0, 3000).every((op) => op.op === 'PING'));
      assert.deepEqual(sink.ops.slice(3000), [{ op: 'PUB', subject: 'a', reply: '', payload: 'hello' }, { op: 'PONG' }]);
    });

    it('fails the same way whatever the chunking', () => {
      for (const c of FAILING_ENDINGS) {
        const buf = bytes('PING\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n' + c.ending);
        const expectedOps: DecodedOp[] = [
          { op: 'PING' },
          { op: 'SUB', subject: 'a', queue: '', sid: '1' },
          { op: 'PUB', subject: 'a', reply: '', payload: 'hi' },
          { op: 'PARSE_ERROR', code: c.code, failedKind: c.failedKind },
        ];
        const check = (r: FeedResult, what: string) => {
          assert.deepEqual(r.ops, expectedOps, `${c.name}: ${what}`);
          assert.equal(String.fromCharCode(r.failedOpFirstByte), c.firstByte, `${c.name}: ${what}`);
          assert.equal(r.results.at(-1), false, `${c.name}: ${what}`);
        };
        check(feedAll(parse, [buf]), 'one read');
        for (let p = 1; p < buf.length; p++) {
          const r = feedAll(parse, cutAt(buf, [p]));
          check(r, `cut at ${p}`);
          // Once failed, the stream is over: the read that failed returned false, not an earlier one.
          const failedAt = r.results.indexOf(false);
          assert.ok(r.results.slice(failedAt).every((ok) => !ok), `${c.name}: cut at ${p}`);
        }
        for (let seed = 1; seed <= 20; seed++) check(feedAll(parse, randomChunks(buf, seed, 9)), `seed ${seed}`);
      }
    });

    it('ignores reads after a parse error', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      assert.equal(reader.feed(bytes('PING\r\nXYZ\r\n'), sink), false);
      assert.equal(reader.feed(bytes('PING\r\n'), sink), false);
      assert.equal(sink.calls, 1);
      assert.equal(reader.bufferedBytes, 0);
    });

    it('stops when the sink returns false and ignores later reads', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink(1);
      assert.equal(reader.feed(bytes('PING\r\nPUB a 3\r\nab'), sink), false);
      assert.deepEqual(sink.ops, [{ op: 'PING' }]);
      assert.equal(reader.bufferedBytes, 0);
      assert.equal(reader.feed(bytes('c\r\nPING\r\n'), sink), false);
      assert.equal(sink.calls, 1);
    });

    it('stops when the sink returns false for an op completed from the carry', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink(1);
      assert.equal(reader.feed(bytes('PUB a 3\r\nab'), sink), true);
      assert.equal(reader.feed(bytes('c\r\nPING\r\n'), sink), false);
      assert.deepEqual(sink.ops, [{ op: 'PUB', subject: 'a', reply: '', payload: 'abc' }]);
    });

    it('hands an op completed from the carry over in a Buffer', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const seen: boolean[] = [];
      const sink: OpSink = {
        onOps(buf) {
          seen.push(Buffer.isBuffer(buf));
          return true;
        },
      };
      assert.equal(reader.feed(Buffer.from('PUB a 3\r\nab'), sink), true);
      assert.equal(reader.feed(Buffer.from('c\r\n'), sink), true);
      assert.deepEqual(seen, [true]);
    });

    it('reads a 1 MiB payload arriving in 64 KiB reads in linear time', () => {
      const maxPayload = 1024 * 1024;
      const payload = new Uint8Array(maxPayload);
      for (let k = 0; k < payload.length; k++) payload[k] = (k * 7 + (k >> 9)) & 0xff;
      const head = bytes(`PING\r\nPUB big r ${payload.length}\r\n`);
      const tail = bytes('\r\nPING\r\n');
      const buf = new Uint8Array(head.length + payload.length + tail.length);
      buf.set(head, 0);
      buf.set(payload, head.length);
      buf.set(tail, head.length + payload.length);

      for (const readSize of [64 * 1024, 1000]) {
        const { wrapped, stats } = countingParse(parse);
        const reader = new ProtocolReader(wrapped, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, maxPayload);
        let received: Uint8Array | null = null;
        let pings = 0;
        const sink: OpSink = {
          onOps(b, ops, count) {
            for (let k = 0; k < count; k++) {
              const r = HDR_SIZE + k * OP_STRIDE;
              if (ops[r] === OpKind.PING) pings++;
              if (ops[r] === OpKind.PUB) received = b.slice(ops[r + 5], ops[r + 5] + ops[r + 6]);
            }
            return true;
          },
        };
        let reads = 0;
        for (let p = 0; p < buf.length; p += readSize) {
          assert.equal(reader.feed(buf.subarray(p, Math.min(p + readSize, buf.length)), sink), true);
          assert.ok(reader.bufferedBytes <= 2 * MAX_CONTROL_LINE + 16 + maxPayload + 2);
          reads++;
        }
        assert.equal(pings, 2);
        assert.ok(received !== null && Buffer.compare(received, payload) === 0, `read size ${readSize}`);
        // Each read is parsed at most once, plus one parse of the completed carry.
        assert.ok(stats.calls <= reads + 1, `read size ${readSize}: ${stats.calls} parse calls for ${reads} reads`);
        assert.ok(stats.spanned <= 2 * buf.length + readSize, `read size ${readSize}: ${stats.spanned} bytes spanned`);
        assert.equal(reader.bufferedBytes, 0);
      }
    });

    it('never buffers more of an open control line than can still be valid', () => {
      // A line that never ends, arriving in large reads: the reader must not take it all in.
      const { wrapped, stats } = countingParse(parse);
      const reader = new ProtocolReader(wrapped, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      assert.equal(reader.feed(bytes('PING\r\nSUB abc'), sink), true);
      assert.equal(reader.bufferedBytes, 'SUB abc'.length);
      assert.equal(reader.feed(new Uint8Array(64 * 1024).fill(0x78), sink), false);
      assert.deepEqual(sink.ops.at(-1), { op: 'PARSE_ERROR', code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB });
      assert.ok(stats.largestSpan <= 2 * MAX_CONTROL_LINE + 16, `parsed a ${stats.largestSpan}-byte carry`);
    });

    it('detects an over-long line as soon as the partial argument exceeds the limit, byte by byte', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      const line = bytes('SUB ' + 'x'.repeat(100));
      let failedAt = -1;
      for (let p = 0; p < line.length && failedAt < 0; p++) {
        if (!reader.feed(line.subarray(p, p + 1), sink)) failedAt = p;
        assert.ok(reader.bufferedBytes <= CARRY_BOUND);
      }
      // The argument starts at offset 4; it fails with its 65th byte, like nats-server.
      assert.equal(failedAt, 4 + MAX_CONTROL_LINE);
      assert.deepEqual(sink.ops, [{ op: 'PARSE_ERROR', code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB }]);
    });

    it('fails a wrong payload trailer byte as soon as it arrives', () => {
      const reader = new ProtocolReader(parse, new Int32Array(OPS_ARRAY_LENGTH), MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sink = new CollectingSink();
      assert.equal(reader.feed(bytes('PUB a 3\r\nab'), sink), true);
      assert.equal(reader.feed(bytes('c'), sink), true);
      assert.equal(reader.feed(bytes('X'), sink), false);
      assert.deepEqual(sink.ops, [{ op: 'PARSE_ERROR', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB }]);
    });

    it('lets connections share one ops array', () => {
      const shared = new Int32Array(OPS_ARRAY_LENGTH);
      const other = bytes('SUB x 1\r\n' + 'PUB x 4\r\n\r\n\r\n\r\n'.repeat(50) + 'PING\r\n');
      const otherWhole = feedAll(parse, [other]);
      const readerA = new ProtocolReader(parse, shared, MAX_CONTROL_LINE, MAX_PAYLOAD);
      const readerB = new ProtocolReader(parse, shared, MAX_CONTROL_LINE, MAX_PAYLOAD);
      const sinkA = new CollectingSink();
      const sinkB = new CollectingSink();
      const chunksA = randomChunks(stream, 7, 50);
      const chunksB = randomChunks(other, 8, 13);
      for (let k = 0; k < Math.max(chunksA.length, chunksB.length); k++) {
        if (k < chunksA.length) assert.equal(readerA.feed(chunksA[k], sinkA), true);
        if (k < chunksB.length) assert.equal(readerB.feed(chunksB[k], sinkB), true);
      }
      assert.deepEqual(sinkA.ops, whole.ops);
      assert.deepEqual(sinkB.ops, otherWhole.ops);
    });
  });
}
