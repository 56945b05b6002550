/**
 * Differential test of the two parser backends: identical byte streams go to both, call by call
 * (identical return values, headers and records, int for int) and through ProtocolReader with the
 * same chunks (identical op sequences with the bytes they reference, identical errors, identical
 * bytes held back). Random inputs come from seeded generators, so a failure names its seed and case.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse as jsParse } from '../../src/protocol/js-parser.js';
import { native, nativeLoadError } from '../../src/protocol/native.js';
import { HDR_CONSUMED, HDR_SIZE, OP_STRIDE, OPS_ARRAY_LENGTH, type ParseFunction } from '../../src/protocol/ops.js';
import { compareCalls, compareCase, compareReaders, type NamedParser } from '../../bench/parser-compare.js';
import { Prng, fuzzCase, garbage, mutate, randomCuts, validTranscript } from '../../bench/parser-traffic.js';

const MCL = 4096;
const MAX_PAYLOAD = 1024 * 1024;
const js: NamedParser = { name: 'js', parse: jsParse };

/** The native backend; a machine without cargo legitimately has none (the TypeScript parser is used). */
function nativeParser(): NamedParser | null {
  if (native !== null) return { name: 'native', parse: native.parse };
  const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
  assert.ok(cargo.error !== undefined || cargo.status !== 0, `cargo is installed but the addon did not load: ${nativeLoadError}`);
  assert.match(nativeLoadError ?? '', /build:native/);
  return null;
}

const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'));

/** Hand-written traffic covering every op, both line ends, blanks, case and the limits' edges. */
const CORPUS: Array<[string, Uint8Array]> = [
  ['pub', text('PUB foo 5\r\nhello\r\n')],
  ['pub with reply', text('PUB foo.bar _INBOX.x1 11\r\nhello world\r\n')],
  ['pub empty payload', text('PUB foo 0\r\n\r\n')],
  ['pub payload holding CRLF', text('PUB foo 6\r\n\r\n\r\n\r\n\r\n')],
  ['pub tabs and runs of blanks', text('PUB\t foo \t\t bar   3\r\nabc\r\n')],
  ['lower and mixed case', text('pub foo 1\r\nx\r\nPuB foo 1\r\ny\r\nsub a 1\r\nuNsUb 1\r\nping\r\nPoNg\r\n')],
  ['lf only line ends', text('PUB foo 2\nhi\r\nSUB foo 1\nPING\nCONNECT {}\n')],
  ['hpub', text('HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n')],
  ['hpub with reply', text('HPUB foo reply 22 27\r\nNATS/1.0\r\nA: B\r\n\r\n\r\nhello\r\n')],
  ['sub with queue', text('SUB foo.* workers 42\r\nSUB bar.> 43\r\n')],
  ['unsub with and without max', text('UNSUB 42\r\nUNSUB 43 10\r\nUNSUB 44 x\r\nUNSUB 45 1234567890\r\n')],
  ['connect and info', text('CONNECT {"verbose":false,"pedantic":false}\r\nINFO {"server_id":"x"} \r\n')],
  ['ok and err', text("+OK\r\n-ERR 'Unknown Protocol Operation'\r\n")],
  ['ping tails', text('PING x\r\nPINGX\r\nPONG   \r\n+OKAY\r\n')],
  ['argument starting with CR', text('SUB \r\nfoo 1\r\nPING\r\n')],
  ['CR inside arguments', text('SUB foo\r1\r\nPUB a\r 1\r\nx\r\n')],
  ['unknown op', text('PING\r\nPUX foo 1\r\n')],
  ['garbage first byte', text('\x00PING\r\n')],
  ['pub missing size', text('PUB foo\r\n')],
  ['pub too many arguments', text('PUB a b c 1\r\nx\r\n')],
  ['pub size with sign', text('PUB foo -1\r\n')],
  ['pub size of 10 digits', text('PUB foo 0000000001\r\nx\r\n')],
  ['pub size of 9 digits', text('PUB foo 000000001\r\nx\r\n')],
  ['pub bad trailer', text('PUB foo 1\r\nxy\r\n')],
  ['pub bad trailer LF', text('PUB foo 1\r\nx\rX')],
  ['sub with one argument', text('SUB foo\r\n')],
  ['unsub with three arguments', text('UNSUB 1 2 3\r\n')],
  ['no blank after name', text('SUBfoo 1\r\n')],
  ['connect without blank', text('CONNECT{}\r\n')],
  ['empty lines', text('\r\n\r\n')],
];

/** HPUB header-size edge cases: zero, equal to total, above total, bad digits, missing sizes. */
const HPUB_EDGES: Array<[string, Uint8Array]> = [
  ['header size 0', text('HPUB foo 0 5\r\nhello\r\n')],
  ['header size equal to total', text('HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n')],
  ['header size above total', text('HPUB foo 13 12\r\nNATS/1.0\r\n\r\n\r\n')],
  ['header size of 10 digits', text('HPUB foo 0000000012 12\r\nNATS/1.0\r\n\r\n\r\n')],
  ['total size not a number', text('HPUB foo 12 x\r\n')],
  ['header size not a number', text('HPUB foo x 12\r\n')],
  ['only one size', text('HPUB foo 12\r\n')],
  ['five arguments', text('HPUB foo a b 12 12\r\n')],
  ['header size above max payload', text('HPUB foo 2000 2000\r\n')],
  ['total above max payload', text('HPUB foo 10 1025\r\n')],
  ['reply and header size above total', text('HPUB foo bar 20 10\r\n')],
];

/** Lines and payloads around the limits (checked with maxControlLine 32 and maxPayload 64). */
function limitEdges(): Array<[string, Uint8Array]> {
  const arg = (length: number) => 'a'.repeat(length);
  return [
    ['argument at the line limit', text(`SUB ${arg(30)} 1\r\n`)],
    ['argument one over the line limit', text(`SUB ${arg(31)} 1\r\n`)],
    ['open argument over the line limit', text(`SUB ${arg(40)}`)],
    ['connect over the line limit', text(`CONNECT {"a":"${arg(40)}"}\r\n`)],
    ['blank run over the line limit', text(`SUB${' '.repeat(40)}foo 1\r\n`)],
    ['open blank run over the line limit', text(`PUB${'\t'.repeat(40)}`)],
    ['ping tail over the line limit', text(`PING${' '.repeat(40)}\r\n`)],
    ['open ping tail over the line limit', text(`PONG${'x'.repeat(40)}`)],
    ['payload at max payload', text(`PUB foo 64\r\n${'p'.repeat(64)}\r\n`)],
    ['payload over max payload', text(`PUB foo 65\r\n${'p'.repeat(65)}\r\n`)],
    ['huge size', text('PUB foo 999999999\r\n')],
  ];
}

/** Every one-cut split of `bytes` through the reader, and every start and end through the call. */
function compareAllSplits(a: NamedParser, b: NamedParser, bytes: Uint8Array, maxControlLine: number, maxPayload: number): string | null {
  for (let cut = 0; cut <= bytes.length; cut++) {
    const diff: string | null =
      compareReaders(a, b, bytes, [cut], OPS_ARRAY_LENGTH, maxControlLine, maxPayload) ??
      compareCalls(a, b, bytes, cut, bytes.length, OPS_ARRAY_LENGTH, maxControlLine, maxPayload) ??
      compareCalls(a, b, bytes, 0, cut, OPS_ARRAY_LENGTH, maxControlLine, maxPayload);
    if (diff !== null) return `cut at ${cut}: ${diff}`;
  }
  const oneByteReads = Array.from({ length: Math.max(0, bytes.length - 1) }, (_, k) => k + 1);
  return compareReaders(a, b, bytes, oneByteReads, HDR_SIZE + OP_STRIDE, maxControlLine, maxPayload);
}

describe('parser parity: TypeScript and native backends', () => {
  it('agree on the hand-written corpus at every split point', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (const [name, bytes] of CORPUS) {
      const diff = compareAllSplits(js, nat, bytes, MCL, MAX_PAYLOAD);
      assert.equal(diff, null, `${name}: ${diff}`);
    }
  });

  it('agree on HPUB header-size edge cases at every split point', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (const [name, bytes] of HPUB_EDGES) {
      const diff = compareAllSplits(js, nat, bytes, MCL, 1024);
      assert.equal(diff, null, `${name}: ${diff}`);
    }
  });

  it('agree on oversized control lines and payloads at every split point', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (const [name, bytes] of limitEdges()) {
      for (const [maxControlLine, maxPayload] of [
        [32, 64],
        [0, 0],
        [-1, -1],
      ] as const) {
        const diff = compareAllSplits(js, nat, bytes, maxControlLine, maxPayload);
        assert.equal(diff, null, `${name} (mcl ${maxControlLine}, max payload ${maxPayload}): ${diff}`);
      }
    }
  });

  it('compare limits as JS numbers: fractions, negative fractions, NaN and infinities', () => {
    const nat = nativeParser();
    if (nat === null) return;
    const limits = [32.5, -0.5, 0.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 40];
    for (const [name, bytes] of [...CORPUS, ...HPUB_EDGES, ...limitEdges()]) {
      for (const maxControlLine of limits) {
        for (const maxPayload of limits) {
          const diff = compareCalls(js, nat, bytes, 0, bytes.length, OPS_ARRAY_LENGTH, maxControlLine, maxPayload);
          assert.equal(diff, null, `${name} (mcl ${maxControlLine}, max payload ${maxPayload}): ${diff}`);
        }
      }
    }
  });

  it('agree on generated valid traffic, whole and in random reads', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Prng(seed);
      const bytes = validTranscript(rng, rng.range(1, 40), 2000);
      const diff: string | null =
        compareCalls(js, nat, bytes, 0, bytes.length, OPS_ARRAY_LENGTH, MCL, MAX_PAYLOAD) ??
        compareReaders(js, nat, bytes, randomCuts(rng, bytes.length), OPS_ARRAY_LENGTH, MCL, MAX_PAYLOAD);
      assert.equal(diff, null, `seed ${seed}: ${diff}`);
    }
  });

  it('agree at every split point of generated transcripts', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Prng(seed, 1);
      const bytes = validTranscript(rng, 6, 100);
      const diff = compareAllSplits(js, nat, bytes, MCL, MAX_PAYLOAD);
      assert.equal(diff, null, `seed ${seed}: ${diff}`);
    }
  });

  it('agree on random and mutated garbage', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (let seed = 1; seed <= 3000; seed++) {
      const rng = new Prng(seed, 2);
      const bytes = seed % 2 === 0 ? garbage(rng, rng.range(0, 200)) : mutate(rng, validTranscript(rng, rng.range(1, 6), 80));
      const maxControlLine = rng.pick([8, 64, 4096]);
      const maxPayload = rng.pick([0, 16, 4096]);
      const diff = compareCase(js, nat, { bytes, maxControlLine, maxPayload }, rng);
      assert.equal(diff, null, `seed ${seed}: ${diff}`);
    }
  });

  it('agree on the fuzzer cases of a fixed seed', () => {
    const nat = nativeParser();
    if (nat === null) return;
    for (let index = 0; index < 5000; index++) {
      const diff = compareCase(js, nat, fuzzCase(20261125, index), new Prng(20261125, index + 1_000_000));
      assert.equal(diff, null, `fuzz case ${index}: ${diff}`);
    }
  });

  it('the comparison reports a backend that differs (so agreement above means something)', () => {
    // Off by one in HDR_CONSUMED, only once an op is incomplete.
    const skewed: ParseFunction = (buf, start, end, ops, maxControlLine, maxPayload) => {
      const count = jsParse(buf, start, end, ops, maxControlLine, maxPayload);
      if (ops[HDR_CONSUMED]! < end) ops[HDR_CONSUMED] = ops[HDR_CONSUMED]! + 1;
      return count;
    };
    const bytes = text('PING\r\nPUB foo 5\r\nhel');
    assert.notEqual(compareCalls(js, { name: 'skewed', parse: skewed }, bytes, 0, bytes.length, OPS_ARRAY_LENGTH, MCL, MAX_PAYLOAD), null);
    assert.notEqual(compareReaders(js, { name: 'skewed', parse: skewed }, bytes, [10], OPS_ARRAY_LENGTH, MCL, MAX_PAYLOAD), null);
  });

  it('npm run fuzz finds no crash or divergence in a short run, and catches a crashing case', () => {
    if (nativeParser() === null) return;
    const fuzzer = fileURLToPath(new URL('../../bench/fuzz-parser.js', import.meta.url));
    const clean = spawnSync(process.execPath, [fuzzer, '--seconds', '3', '--json'], { encoding: 'utf8' });
    const summary = JSON.parse(clean.stdout.trim().split('\n').at(-1)!);
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.ok(summary.cases > 1000, `only ${summary.cases} cases ran`);
    assert.deepEqual([summary.crashes, summary.divergenceCount], [[], 0]);

    const crashing = spawnSync(process.execPath, [fuzzer, '--cases', '3000', '--seed', '7', '--crash-case', '2345', '--json'], { encoding: 'utf8' });
    const crashSummary = JSON.parse(crashing.stdout.trim().split('\n').at(-1)!);
    assert.equal(crashing.status, 1);
    assert.deepEqual(
      crashSummary.crashes.map((crash: { index: number; exit: string }) => [crash.index, crash.exit]),
      [[2345, 'signal SIGABRT']],
    );
  });
});
