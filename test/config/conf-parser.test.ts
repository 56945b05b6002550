import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfSyntaxError, parseConf, parseConfFile, type ConfMap, type ConfValue } from '../../src/config/conf-parser.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The parsed document as plain values, to compare with deepEqual. */
function plain(value: ConfValue): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, e]) => [k, plain(e.value)]));
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

function parse(text: string, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  return plain(parseConf(text, 'test.conf', env)) as Record<string, unknown>;
}

function syntaxError(text: string, env: NodeJS.ProcessEnv = {}): ConfSyntaxError {
  try {
    parseConf(text, 'test.conf', env);
  } catch (error) {
    assert.ok(error instanceof ConfSyntaxError, `expected a ConfSyntaxError, got ${error}`);
    return error;
  }
  assert.fail(`expected a syntax error for ${JSON.stringify(text)}`);
}

test('key separators: =, :, and whitespace; items end at new lines, commas or semicolons', () => {
  assert.deepEqual(parse('a = 1\nb: 2\nc 3\n'), { a: 1, b: 2, c: 3 });
  assert.deepEqual(parse('a = 1; b: 2, c 3'), { a: 1, b: 2, c: 3 });
  assert.deepEqual(parse('a=1\r\nb:2\r\n'), { a: 1, b: 2 });
  // nats-server lets the value follow the key on the next line when no separator is used.
  assert.deepEqual(parse('port\n4222\n'), { port: 4222 });
});

test('comments with # and //, on their own line and after values', () => {
  const doc = parse('# heading\n// another\na: 1 # trailing\nb: "x" // trailing\nc { d: 2 # in a map\n}\ne [1 // in an array\n 2]\n');
  assert.deepEqual(doc, { a: 1, b: 'x', c: { d: 2 }, e: [1, 2] });
});

test('maps and arrays nest, with or without separators before a map', () => {
  const doc = parse('outer {\n  inner = { x: 1, y: [a, "b", 3] }\n  list: [\n    { name: one }\n    { name: two },\n  ]\n}\nempty: {}\nnone: []\n');
  assert.deepEqual(doc, {
    outer: { inner: { x: 1, y: ['a', 'b', 3] }, list: [{ name: 'one' }, { name: 'two' }] },
    empty: {},
    none: [],
  });
});

test('a document wrapped in braces', () => {
  assert.deepEqual(parse('{ port: 4222, debug: true }'), { port: 4222, debug: true });
});

test('strings: double-quoted with escapes, single-quoted raw, bare, quoted keys, blocks', () => {
  assert.deepEqual(parse('a: "x\\ty\\n\\"q\\" \\\\ \\x41"'), { a: 'x\ty\n"q" \\ A' });
  assert.deepEqual(parse("a: 'raw \\n stays'"), { a: 'raw \\n stays' });
  assert.deepEqual(parse('a: bare-string_1.x\nb: localhost'), { a: 'bare-string_1.x', b: 'localhost' });
  assert.deepEqual(parse('"quoted key": 1\n\'single key\' = 2'), { 'quoted key': 1, 'single key': 2 });
  assert.deepEqual(parse('a: (\nline one\n  line two\n)\nb: 1'), { a: '\nline one\n  line two', b: 1 });
  // A string that starts with digits is a string when it goes on with letters.
  assert.deepEqual(parse('name: 10s\nother: 2min'), { name: '10s', other: '2min' });
});

test('booleans: true/false, yes/no, on/off in any case', () => {
  assert.deepEqual(parse('a: true\nb: YES\nc: on\nd: false\ne: No\nf: OFF'), { a: true, b: true, c: true, d: false, e: false, f: false });
  assert.deepEqual(parse('a: "true"'), { a: 'true' });
});

test('numbers: integers, negatives, floats, sizes with nats-server meanings', () => {
  assert.deepEqual(parse('a: 42\nb: -1\nc: 1.5\nd: -0.25'), { a: 42, b: -1, c: 1.5, d: -0.25 });
  assert.deepEqual(parse('k: 1k\nkb: 1kb\nK: 2K\nKB: 2KB\nki: 1ki\nkib: 1KiB'), { k: 1000, kb: 1024, K: 2000, KB: 2048, ki: 1024, kib: 1024 });
  assert.deepEqual(parse('m: 1m\nmb: 1mb\ng: 1g\ngb: 1GB\nt: 1t'), { m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3, t: 1e12 });
  assert.deepEqual(parse('max_payload: 8MB\n'), { max_payload: 8 * 1024 * 1024 });
});

test('IP addresses, host:port strings and datetimes', () => {
  assert.deepEqual(parse('a: 127.0.0.1\nb: 127.0.0.1:4222\nc: "0.0.0.0:-1"'), { a: '127.0.0.1', b: '127.0.0.1:4222', c: '0.0.0.0:-1' });
  const doc = parse('when: 2024-01-02T03:04:05Z');
  assert.deepEqual(doc.when, new Date('2024-01-02T03:04:05Z'));
});

test('variables: from the file, from enclosing maps, from the environment', () => {
  assert.deepEqual(parse('PORT = 4333\nport: $PORT'), { PORT: 4333, port: 4333 });
  assert.deepEqual(parse('LIMIT: 1MB\nouter { inner { v: $LIMIT } }'), { LIMIT: 1024 * 1024, outer: { inner: { v: 1024 * 1024 } } });
  // The innermost definition wins.
  assert.deepEqual(parse('x: 1\nm { x: 2, y: $x }\nz: $x'), { x: 1, m: { x: 2, y: 2 }, z: 1 });
  // Environment values are read as values of the file would be.
  assert.deepEqual(parse('a: $NUM\nb: $SIZE\nc: $WORD\nd: $FLAG', { NUM: '12', SIZE: '2k', WORD: 'hello', FLAG: 'yes' }), { a: 12, b: 2000, c: 'hello', d: true });
  // The file wins over the environment.
  assert.deepEqual(parse('NUM: 1\na: $NUM', { NUM: '2' }), { NUM: 1, a: 1 });
  // bcrypt hashes are not variables.
  assert.deepEqual(parse('pass: $2a$11$abc'), { pass: '$2a$11$abc' });
});

test('a key used as a variable is marked so', () => {
  const conf = parseConf('V = 1\nport: $V\nW = 2\n', 'x.conf', {});
  assert.equal(conf.get('V')!.usedAsVariable, true);
  assert.equal(conf.get('W')!.usedAsVariable, false);
});

test('an unknown variable is an error naming file and line', () => {
  const error = syntaxError('a: 1\nb: $MISSING\n');
  assert.equal(error.file, 'test.conf');
  assert.equal(error.line, 2);
  assert.match(error.message, /^test\.conf:2:\d+: variable reference for 'MISSING' on line 2 can not be found$/);
});

test('keys carry their file, line and column', () => {
  const conf: ConfMap = parseConf('\n\n  port: 1\nm {\n  k: 2\n}\n', 'f.conf', {});
  const port = conf.get('port')!;
  assert.deepEqual([port.file, port.line, port.column], ['f.conf', 3, 3]);
  const inner = (conf.get('m')!.value as ConfMap).get('k')!;
  assert.deepEqual([inner.line, inner.column], [5, 3]);
});

test('include: relative to the including file, quoted or bare, at the top or inside a map', () => {
  const dir = tempDir('natrium-conf-');
  writeFileSync(path.join(dir, 'limits.conf'), 'max_payload: 2MB\nmax_pending: 8MB\n');
  writeFileSync(path.join(dir, 'inner.conf'), 'x: 1\n');
  writeFileSync(path.join(dir, 'main.conf'), 'port: 4222\ninclude "limits.conf"\nm {\n  include inner.conf\n  y: $x\n}\nz: $max_payload\n');
  const conf = parseConfFile(path.join(dir, 'main.conf'), {});
  assert.deepEqual(plain(conf), { port: 4222, max_payload: 2 * 1024 ** 2, max_pending: 8 * 1024 ** 2, m: { x: 1, y: 1 }, z: 2 * 1024 ** 2 });
  // Included keys remember their own file and line.
  assert.equal(conf.get('max_pending')!.file, path.join(dir, 'limits.conf'));
  assert.equal(conf.get('max_pending')!.line, 2);
});

test('include: a missing file and a syntax error inside an included file name the right place', () => {
  const dir = tempDir('natrium-conf-');
  writeFileSync(path.join(dir, 'bad.conf'), 'ok: 1\nbroken: "unterminated\n');
  writeFileSync(path.join(dir, 'a.conf'), 'port: 1\ninclude ./missing.conf\n');
  writeFileSync(path.join(dir, 'b.conf'), 'port: 1\ninclude bad.conf\n');
  writeFileSync(path.join(dir, 'loop.conf'), 'include loop.conf\n');
  assert.throws(() => parseConfFile(path.join(dir, 'a.conf'), {}), (e: ConfSyntaxError) => e.line === 2 && /error parsing include file '\.\/missing\.conf'/.test(e.message));
  assert.throws(() => parseConfFile(path.join(dir, 'b.conf'), {}), (e: ConfSyntaxError) => e.file === path.join(dir, 'bad.conf') && /Unexpected EOF/.test(e.message));
  assert.throws(() => parseConfFile(path.join(dir, 'loop.conf'), {}), /include cycle/);
});

test('syntax errors name file:line:column', () => {
  const cases: [string, number, RegExp][] = [
    ['port: "abc\n', 2, /Unexpected EOF/],
    ['a: 1\nport:\n', 2, /Expected value but found new line/],
    ['a: 1\nb: 2 c\n', 2, /Expected a top-level value to end with a new line, comment or EOF, but got 'c' instead/],
    ['a: "bad \\q escape"', 1, /Invalid escape character 'q'/],
    ['a: [1,, 2]', 1, /Unexpected array value terminator/],
    ['a { b: 1 c }', 1, /Expected a map value terminator/],
    ['a: .5', 1, /Floats must start with a digit/],
    ['a: 1.x', 1, /Floats must have a digit after the '.'/],
    ['a: 12-01', 1, /ISO8601/],
    ['= 1', 1, /Unexpected key separator/],
    ['a: 1k2', 1, /Expected a top-level value to end/],
    ['a { b: 1', 1, /Unexpected EOF/],
  ];
  for (const [text, line, reason] of cases) {
    const error = syntaxError(text);
    assert.equal(error.line, line, `line of the error in ${JSON.stringify(text)}: ${error.message}`);
    assert.match(error.reason, reason, `reason for ${JSON.stringify(text)}`);
    assert.match(error.message, new RegExp(`^test\\.conf:${line}:\\d+: `));
  }
});
