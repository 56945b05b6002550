/**
 * Parser backend tests, run for every backend in ./backends.ts.
 *
 * Limits are max_control_line 64 and max_payload 64, the configuration the expectations were
 * checked with against nats-server 2.9.10 over raw sockets (CONNECT {"verbose":false,
 * "pedantic":false,"headers":true} first, the case's bytes, then "PING\r\n" when still open). Each
 * case's `nats` field is what that server sent back for the case's bytes; for errors the test also
 * checks that errors.ts maps the parse error to exactly those bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HDR_CONSUMED,
  HDR_COUNT,
  HDR_NEED,
  HDR_SIZE,
  MAX_OPS_PER_CALL,
  OP_STRIDE,
  OPS_ARRAY_LENGTH,
  OpKind,
  ParseError,
  type ParseFunction,
} from '../../src/protocol/ops.js';
import { parseErrorReply } from '../../src/protocol/errors.js';
import { backends, bytes, decodeOps, type DecodedOp } from './backends.js';

const MAX_CONTROL_LINE = 64;
const MAX_PAYLOAD = 64;
const CLOSED_SILENTLY = 'closed, nothing sent';
const UNKNOWN_OP_REPLY = "-ERR 'Unknown Protocol Operation'\r\n";
const MAX_CONTROL_LINE_REPLY = "-ERR 'maximum control line exceeded'\r\n";
const MAX_PAYLOAD_REPLY = "-ERR 'Maximum Payload Violation'\r\n";

interface Parsed {
  ops: DecodedOp[];
  consumed: number;
  need: number;
  records: Int32Array;
}

function parseText(parse: ParseFunction, text: string, start = 0): Parsed {
  const buf = bytes(text);
  const ops = new Int32Array(OPS_ARRAY_LENGTH).fill(0x7777);
  const count = parse(buf, start, buf.length, ops, MAX_CONTROL_LINE, MAX_PAYLOAD);
  assert.equal(ops[HDR_COUNT], count);
  return {
    ops: decodeOps(buf, ops, count),
    consumed: ops[HDR_CONSUMED],
    need: ops[HDR_NEED],
    records: ops.slice(HDR_SIZE, HDR_SIZE + count * OP_STRIDE),
  };
}

const pub = (subject: string, payload: string, reply = ''): DecodedOp => ({ op: 'PUB', subject, reply, payload });
const sub = (subject: string, sid: string, queue = ''): DecodedOp => ({ op: 'SUB', subject, queue, sid });
const PING: DecodedOp = { op: 'PING' };
const PONG: DecodedOp = { op: 'PONG' };
const OK: DecodedOp = { op: 'OK' };
const x = (n: number) => 'x'.repeat(n);

/** Accepted input: the ops it yields; nats-server answered the trailing PING and stayed open. */
const ACCEPTED: { input: string; ops: DecodedOp[]; nats: string }[] = [
  { input: 'PING\r\n', ops: [PING], nats: 'PONG' },
  { input: 'ping\r\n', ops: [PING], nats: 'PONG' },
  { input: 'PiNg\r\n', ops: [PING], nats: 'PONG' },
  { input: 'PING x\r\n', ops: [PING], nats: 'PONG (tail ignored)' },
  { input: 'PINGX\r\n', ops: [PING], nats: 'PONG (tail ignored)' },
  { input: 'PING\n', ops: [PING], nats: 'PONG' },
  { input: `PING ${'y'.repeat(60)}\r\n`, ops: [PING], nats: 'PONG' },
  { input: 'PONG\r\n', ops: [PONG], nats: 'nothing' },
  { input: 'PONGfoo\r\n', ops: [PONG], nats: 'nothing' },
  { input: '+OK\r\n', ops: [OK], nats: 'nothing' },
  { input: '+okay\r\n', ops: [OK], nats: 'nothing' },
  { input: 'PUB foo 3\r\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing' },
  { input: 'pub foo 3\r\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing' },
  { input: 'PUB foo r 3\r\nabc\r\n', ops: [pub('foo', 'abc', 'r')], nats: 'nothing' },
  { input: 'PUB\tfoo\t\t3\r\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing' },
  { input: 'PUB  foo   3 \r\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing' },
  { input: 'PUB foo 3\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing (no \\r needed on the line)' },
  { input: 'PUB foo 0\r\n\r\n', ops: [pub('foo', '')], nats: 'nothing' },
  { input: 'PUB foo 000000003\r\nabc\r\n', ops: [pub('foo', 'abc')], nats: 'nothing (9 digits)' },
  { input: `PUB foo 64\r\n${x(64)}\r\n`, ops: [pub('foo', x(64))], nats: 'nothing (= max_payload)' },
  { input: `PUB ${x(58)} 3\r\nabc\r\n`, ops: [pub(x(58), 'abc')], nats: 'nothing (argument 62 bytes)' },
  { input: `PUB${' '.repeat(60)}foo 3\r\nabc\r\n`, ops: [pub('foo', 'abc')], nats: 'nothing' },
  { input: 'PUB foo 6\r\na\r\nb\r\n\r\n', ops: [pub('foo', 'a\r\nb\r\n')], nats: 'nothing' },
  { input: 'HPUB foo 2 5\r\n\r\n123\r\n', ops: [{ op: 'HPUB', subject: 'foo', reply: '', headerSize: 2, payload: '\r\n123' }], nats: 'nothing' },
  { input: 'HPUB foo r 2 5\r\n\r\n123\r\n', ops: [{ op: 'HPUB', subject: 'foo', reply: 'r', headerSize: 2, payload: '\r\n123' }], nats: 'nothing' },
  { input: 'hpub foo 0 3\r\nabc\r\n', ops: [{ op: 'HPUB', subject: 'foo', reply: '', headerSize: 0, payload: 'abc' }], nats: 'nothing' },
  { input: 'SUB foo 1\r\n', ops: [sub('foo', '1')], nats: 'nothing' },
  { input: 'SUB foo q 1\r\n', ops: [sub('foo', '1', 'q')], nats: 'nothing' },
  { input: 'sub\tfoo\t1\r\n', ops: [sub('foo', '1')], nats: 'nothing' },
  // nats-server's `drop`: the byte before "\n" goes, and SUB splits on "\r" too.
  { input: 'SUB foo 1\r\r\n', ops: [sub('foo', '1')], nats: 'nothing' },
  { input: 'SUB foo\r1\r\n', ops: [sub('foo', '1')], nats: 'nothing' },
  { input: `SUB ${x(62)} 1\r\n`, ops: [sub(x(62), '1')], nats: 'nothing (argument 64 bytes = max)' },
  { input: 'UNSUB 1\r\n', ops: [{ op: 'UNSUB', sid: '1', max: -1 }], nats: 'nothing' },
  { input: 'UNSUB 1 5\r\n', ops: [{ op: 'UNSUB', sid: '1', max: 5 }], nats: 'nothing' },
  { input: 'unsub 1 0\r\n', ops: [{ op: 'UNSUB', sid: '1', max: 0 }], nats: 'nothing' },
  { input: 'UNSUB 1 abc\r\n', ops: [{ op: 'UNSUB', sid: '1', max: -1 }], nats: 'nothing (bad max = none)' },
  { input: 'UNSUB 1 -1\r\n', ops: [{ op: 'UNSUB', sid: '1', max: -1 }], nats: 'nothing' },
  { input: 'CONNECT {}\r\n', ops: [{ op: 'CONNECT', text: '{}' }], nats: 'nothing' },
  { input: 'CONNECT{}\r\n', ops: [{ op: 'CONNECT', text: '{}' }], nats: 'nothing' },
  { input: 'CONNECT\t {}  \r\n', ops: [{ op: 'CONNECT', text: '{}  ' }], nats: 'nothing' },
  { input: 'connect {"a":1}\n', ops: [{ op: 'CONNECT', text: '{"a":1}' }], nats: 'nothing' },
  // nats-server then fails the JSON and closes silently; the parser only delivers the bytes.
  { input: 'CONNECT\r\n', ops: [{ op: 'CONNECT', text: '\r' }], nats: CLOSED_SILENTLY },
  { input: 'INFO {}\r\n', ops: [{ op: 'INFO', text: '{}' }], nats: 'nothing' },
  { input: "-ERR 'x'\r\n", ops: [{ op: 'ERR', text: "'x'" }], nats: CLOSED_SILENTLY + ' (client -ERR closes)' },
  {
    input: 'SUB foo 1\r\nPUB foo 3\r\nabc\r\n',
    ops: [sub('foo', '1'), pub('foo', 'abc')],
    nats: 'MSG foo 1 3\r\nabc\r\n',
  },
];

/** Fatal input: the ops before the failure, then the PARSE_ERROR. */
const FAILING: { input: string; before?: DecodedOp[]; code: ParseError; failedKind: number; nats: string }[] = [
  { input: 'PIN\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: '\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: '\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: ' PING\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'XYZ\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'XY', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY + ' (no line end needed)' },
  { input: '+O\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: '-ERR\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: '-ERRx\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'PUBX foo 3\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'SUB\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'UNSUB\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  { input: 'MSG foo 1 3\r\nabc\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  // Deviation: nats-server silently ignores "HMSG <anything>\r\n\r\n" when it arrives in one read
  // (and fails it with Unknown Protocol Operation when split); clients never send HMSG.
  { input: 'HMSG foo 1 3 3\r\n', code: ParseError.UNKNOWN_OP, failedKind: 0, nats: UNKNOWN_OP_REPLY },
  // The payload trailer must be exactly "\r\n"; checked byte by byte as it arrives.
  { input: 'PUB foo 3\r\nabcX\r\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB foo 3\r\nabcX', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB foo 3\r\nabc\rX', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB foo 3\r\nabc\nPING\r\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB foo 3\r\nabc\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  { input: 'PUB foo 3\r\nabcd\r\n', code: ParseError.UNKNOWN_OP, failedKind: OpKind.PUB, nats: UNKNOWN_OP_REPLY },
  {
    input: 'PUB foo 3\r\nabc\r\nJUNK\r\n',
    before: [pub('foo', 'abc')],
    code: ParseError.UNKNOWN_OP,
    failedKind: 0,
    nats: UNKNOWN_OP_REPLY,
  },
  {
    input: 'PUB foo 3\r\nabc\r\nPING\r\nXYZ\r\n',
    before: [pub('foo', 'abc'), PING],
    code: ParseError.UNKNOWN_OP,
    failedKind: 0,
    nats: 'PONG\r\n' + UNKNOWN_OP_REPLY,
  },
  { input: 'PUB foo\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo bar baz 3\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo -1\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo abc\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo +3\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo 1234567890\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo 0000000003\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo 3\r\r\nabc\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'PUB \r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: `PUB ${x(64)}\r\n`, code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.PUB, nats: CLOSED_SILENTLY },
  { input: 'HPUB foo 12 11\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.HPUB, nats: CLOSED_SILENTLY },
  { input: 'HPUB foo 3\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.HPUB, nats: CLOSED_SILENTLY },
  { input: 'HPUB foo a 5\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.HPUB, nats: CLOSED_SILENTLY },
  { input: 'SUB foo\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.SUB, nats: CLOSED_SILENTLY },
  { input: 'SUB foo q r 1\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.SUB, nats: CLOSED_SILENTLY },
  { input: 'SUB \r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.SUB, nats: CLOSED_SILENTLY },
  { input: 'UNSUB 1 2 3\r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.UNSUB, nats: CLOSED_SILENTLY },
  { input: 'UNSUB \r\n', code: ParseError.BAD_ARGUMENTS, failedKind: OpKind.UNSUB, nats: CLOSED_SILENTLY },
  { input: 'PUB foo 65\r\n', code: ParseError.MAX_PAYLOAD, failedKind: OpKind.PUB, nats: MAX_PAYLOAD_REPLY },
  { input: 'HPUB foo 2 65\r\n', code: ParseError.MAX_PAYLOAD, failedKind: OpKind.HPUB, nats: MAX_PAYLOAD_REPLY },
  { input: `SUB ${x(64)} 1\r\n`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB, nats: MAX_CONTROL_LINE_REPLY },
  { input: `SUB ${x(65)}\r\n`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB, nats: MAX_CONTROL_LINE_REPLY },
  // No line end yet: nats-server checks the partial argument when a read ends inside it.
  { input: `SUB ${x(65)}`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.SUB, nats: MAX_CONTROL_LINE_REPLY },
  { input: `CONNECT {"${x(70)}":1}`, code: ParseError.MAX_CONTROL_LINE, failedKind: OpKind.CONNECT, nats: MAX_CONTROL_LINE_REPLY },
];

/**
 * Beyond nats-server: it accepts these (it buffers nothing for blanks or a PING tail), the parser
 * fails them so that an incomplete op stays bounded for the reader.
 */
const BOUNDED: { input: string; failedKind: number; nats: string }[] = [
  { input: `PING ${'y'.repeat(64)}\r\n`, failedKind: OpKind.PING, nats: 'PONG' },
  { input: `PING ${'y'.repeat(100)}`, failedKind: OpKind.PING, nats: 'nothing, stays open' },
  { input: `PUB${' '.repeat(100)}foo 3\r\nabc\r\n`, failedKind: OpKind.PUB, nats: 'nothing, stays open' },
];

for (const backend of backends) {
  describe(`parser backend ${backend.name}`, () => {
    const parse = backend.parse;

    it('parses every accepted form like nats-server', () => {
      for (const c of ACCEPTED) {
        const r = parseText(parse, c.input);
        assert.deepEqual(r.ops, c.ops, JSON.stringify(c.input));
        assert.equal(r.consumed, c.input.length, JSON.stringify(c.input));
        assert.equal(r.need, 0, JSON.stringify(c.input));
      }
    });

    it('fails every malformed form with the error nats-server gives', () => {
      for (const c of FAILING) {
        const r = parseText(parse, c.input);
        const before = c.before ?? [];
        const expected: DecodedOp[] = [...before, { op: 'PARSE_ERROR', code: c.code, failedKind: c.failedKind }];
        assert.deepEqual(r.ops, expected, JSON.stringify(c.input));
        // f2 and HDR_CONSUMED: the failed op's first byte.
        assert.equal(r.records[before.length * OP_STRIDE + 2], r.consumed, JSON.stringify(c.input));
        const reply = parseErrorReply(c.code).bytes;
        const sentBeforeError: string = before.includes(PING) ? 'PONG\r\n' : '';
        const expectedNats: string = reply === null ? CLOSED_SILENTLY : sentBeforeError + reply.toString('latin1');
        assert.equal(c.nats.startsWith(expectedNats), true, `${JSON.stringify(c.input)}: ${c.nats}`);
      }
    });

    it('reports the failed op offset in f2 and HDR_CONSUMED', () => {
      const input = 'PING\r\nSUB foo 1\r\nPUB foo 65\r\n';
      const r = parseText(parse, input);
      assert.deepEqual(r.ops.at(-1), { op: 'PARSE_ERROR', code: ParseError.MAX_PAYLOAD, failedKind: OpKind.PUB });
      assert.equal(r.consumed, input.indexOf('PUB'));
      assert.equal(r.records[2 * OP_STRIDE + 2], input.indexOf('PUB'));
    });

    it('bounds blank runs and PING/PONG/+OK tails by max_control_line (beyond nats-server)', () => {
      for (const c of BOUNDED) {
        const r = parseText(parse, c.input);
        assert.deepEqual(
          r.ops,
          [{ op: 'PARSE_ERROR', code: ParseError.MAX_CONTROL_LINE, failedKind: c.failedKind }],
          JSON.stringify(c.input),
        );
      }
      // The measure is the bytes between the name and "\n" ("\r" included): 64 is still fine.
      assert.deepEqual(parseText(parse, `PING ${'y'.repeat(62)}\r\n`).ops, [PING]);
      assert.deepEqual(parseText(parse, `PUB${' '.repeat(64)}foo 3\r\nabc\r\n`).ops, [pub('foo', 'abc')]);
    });

    it('writes every field of a record, unused ones as 0', () => {
      const r = parseText(parse, 'PING\r\nPUB a 1\r\nx\r\nSUB s 9\r\nUNSUB 9\r\nCONNECT {}\r\n');
      assert.deepEqual(Array.from(r.records), [
        OpKind.PING, 0, 0, 0, 0, 0, 0, 0,
        OpKind.PUB, 10, 1, 0, 0, 15, 1, -1,
        OpKind.SUB, 22, 1, 0, 0, 24, 1, 0,
        OpKind.UNSUB, 0, 0, 0, 0, 33, 1, -1,
        OpKind.CONNECT, 44, 2, 0, 0, 0, 0, 0,
      ]);
    });

    it('reports an incomplete control line with HDR_NEED -1 at the op start', () => {
      for (const partial of ['P', 'PUB', 'PUB ', 'PUB foo 3', 'PUB foo 3\r', 'SUB foo', 'CONNECT {', 'PING', 'PING x']) {
        const r = parseText(parse, 'PING\r\n' + partial);
        assert.deepEqual(r.ops, [PING], JSON.stringify(partial));
        assert.equal(r.consumed, 6, JSON.stringify(partial));
        assert.equal(r.need, -1, JSON.stringify(partial));
      }
    });

    it('reports a pending payload with the total length the op needs', () => {
      const op = 'PUB foo 3\r\nabc\r\n';
      for (let cut = 'PUB foo 3\r\n'.length; cut < op.length; cut++) {
        const r = parseText(parse, 'SUB a 1\r\n' + op.slice(0, cut));
        assert.deepEqual(r.ops, [sub('a', '1')]);
        assert.equal(r.consumed, 9);
        assert.equal(r.need, op.length, `cut at ${cut}`);
      }
      assert.equal(parseText(parse, 'HPUB foo 2 5\r\n\r\n').need, 'HPUB foo 2 5\r\n\r\n123\r\n'.length);
    });

    it('parses from a start offset and reports offsets into the whole buffer', () => {
      const text = 'junk!PUB foo 3\r\nabc\r\n';
      const r = parseText(parse, text, 5);
      assert.deepEqual(r.ops, [pub('foo', 'abc')]);
      assert.equal(r.records[1], 9);
      assert.equal(r.records[5], 16);
      assert.equal(r.consumed, text.length);
    });

    it('stops at an op boundary with HDR_NEED 0 when the ops array is full, and resumes', () => {
      const text = Array.from({ length: 2500 }, (_, k) => (k % 2 === 0 ? 'PING\r\n' : `PUB s.${k} 2\r\nab\r\n`)).join('');
      const buf = bytes(text);
      const array = new Int32Array(OPS_ARRAY_LENGTH);
      const all: DecodedOp[] = [];
      let start = 0;
      let calls = 0;
      while (start < buf.length) {
        const count = parse(buf, start, buf.length, array, MAX_CONTROL_LINE, MAX_PAYLOAD);
        calls++;
        all.push(...decodeOps(buf, array, count));
        assert.ok(count <= MAX_OPS_PER_CALL);
        assert.equal(array[HDR_NEED], 0);
        if (array[HDR_CONSUMED] < buf.length) assert.equal(count, MAX_OPS_PER_CALL);
        start = array[HDR_CONSUMED];
      }
      assert.equal(calls, Math.ceil(2500 / MAX_OPS_PER_CALL));
      assert.equal(all.length, 2500);
      assert.deepEqual(all[1], pub('s.1', 'ab'));
      assert.deepEqual(all[2498], PING);
      assert.deepEqual(all[2499], pub('s.2499', 'ab'));
    });

    it('parses 200k small PUBs well within a second (throughput sanity check)', () => {
      const buf = Buffer.from('PUB foo.bar.baz reply.x 16\r\n0123456789abcdef\r\n'.repeat(200_000));
      const array = new Int32Array(OPS_ARRAY_LENGTH);
      const started = process.hrtime.bigint();
      let total = 0;
      for (let start = 0; start < buf.length; start = array[HDR_CONSUMED]) {
        total += parse(buf, start, buf.length, array, MAX_CONTROL_LINE, MAX_PAYLOAD);
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(total, 200_000);
      // About 50 ms on the reference machine: this only catches a pathological slowdown.
      assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    });

    it('treats payload bytes as opaque, including "\\r\\n" and op names', () => {
      const payload = 'PING\r\nPUB x 1\r\n\r\n\x00\xff';
      const r = parseText(parse, `PUB foo ${payload.length}\r\n${payload}\r\nPING\r\n`);
      assert.deepEqual(r.ops, [pub('foo', payload), PING]);
    });
  });
}
