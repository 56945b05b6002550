import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hashSubjectBytes,
  isValidLiteralSubject,
  isValidPublishSubject,
  isValidPublishSubjectBytes,
  isValidSubject,
  isValidSubscribeSubject,
  isValidSubscribeSubjectBytes,
  matchLiteral,
  subjectIsLiteral,
  subjectIsLiteralBytes,
} from '../../src/sublist/subject.js';

/**
 * Runs a byte-level check on the subject placed inside a larger buffer, between bytes that would
 * change the answer if the function read outside [off, off + len).
 */
function checkBytes(check: (buf: Uint8Array, off: number, len: number) => boolean, subject: string): boolean {
  const buf = Buffer.from(`*.${subject}..>`, 'latin1');
  return check(buf, 2, Buffer.byteLength(subject, 'latin1'));
}

// Recorded from nats-server 2.9.10 with raw sockets: `SUB <subject> 1` either succeeded silently
// or got -ERR 'Invalid Subject' (the connection stayed open).
const SUB_ACCEPTED = [
  'foo',
  '>',
  '*',
  'foo.*',
  'foo.>',
  '*.*',
  '**',
  'foo*',
  '*foo.>bar',
  'foo.*.>',
  'foo\fbar',
  'foo\u0000bar',
  'foo\u00ffbar',
  'a.b.c.d.e.f.g.h',
];
const SUB_REFUSED = ['foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.>', '.', 'foo.>.', '>.foo'];

test('SUB subjects: accepted and refused exactly like nats-server', () => {
  for (const subject of SUB_ACCEPTED) {
    assert.equal(isValidSubscribeSubject(subject), true, JSON.stringify(subject));
    assert.equal(checkBytes(isValidSubscribeSubjectBytes, subject), true, JSON.stringify(subject));
  }
  for (const subject of [...SUB_REFUSED, '']) {
    assert.equal(isValidSubscribeSubject(subject), false, JSON.stringify(subject));
    assert.equal(checkBytes(isValidSubscribeSubjectBytes, subject), false, JSON.stringify(subject));
  }
});

// Recorded from nats-server 2.9.10 in pedantic mode: `PUB <subject> 2` got
// -ERR 'Invalid Publish Subject' (refused) or not (accepted).
const PEDANTIC_PUB_ACCEPTED = ['foo', 'foo.bar', 'foo*.>x', 'foo\fbar', '**', 'a.b.c'];
const PEDANTIC_PUB_REFUSED = ['foo.*', 'foo.>', 'foo.', 'foo..bar', 'foo.*.baz', '>', 'foo.*.>.*', '*', '.foo'];

test('pedantic PUB subjects: accepted and refused exactly like nats-server', () => {
  for (const subject of PEDANTIC_PUB_ACCEPTED) {
    assert.equal(isValidLiteralSubject(subject), true, JSON.stringify(subject));
    assert.equal(checkBytes(isValidPublishSubjectBytes, subject), true, JSON.stringify(subject));
  }
  for (const subject of [...PEDANTIC_PUB_REFUSED, '']) {
    assert.equal(isValidLiteralSubject(subject), false, JSON.stringify(subject));
    assert.equal(checkBytes(isValidPublishSubjectBytes, subject), false, JSON.stringify(subject));
  }
});

test('isValidSubject: nats-server IsValidSubject, with and without checkRunes', () => {
  const valid = ['foo', 'foo.bar', '*', '>', 'foo.*', 'foo.>', '*.*.>', 'foo*.b>r', 'foo\u0000bar', 'caf\u00e9'];
  const invalid = ['', '.', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.>', 'foo bar', 'foo\tbar', 'foo\rbar', 'foo\nbar',
    'foo\fbar', 'foo. .bar', ' '];
  for (const subject of valid) assert.equal(isValidSubject(subject), true, JSON.stringify(subject));
  for (const subject of invalid) assert.equal(isValidSubject(subject), false, JSON.stringify(subject));

  assert.equal(isValidSubject('foo\u0000bar', true), false);
  assert.equal(isValidSubject('foo.\ufffd', true), false);
  assert.equal(isValidSubject('caf\u00e9.>', true), true);
});

test('isValidPublishSubject: valid and without wildcard tokens', () => {
  assert.equal(isValidPublishSubject('foo.bar'), true);
  assert.equal(isValidPublishSubject('foo*.bar>'), true);
  assert.equal(isValidPublishSubject('foo.*'), false);
  assert.equal(isValidPublishSubject('>'), false);
  assert.equal(isValidPublishSubject('foo bar'), false);
  assert.equal(isValidPublishSubject('foo..bar'), false);
});

test('subjectIsLiteral: only whole "*" or ">" tokens are wildcards', () => {
  const literal = ['foo', 'foo.bar', 'foo*', '*foo', 'foo.>bar', 'foo.b*r', '**', '>>', 'foo..bar', ''];
  const wildcard = ['*', '>', 'foo.*', 'foo.>', '*.foo', 'foo.*.bar', 'a.>', '*.>'];
  for (const subject of literal) {
    assert.equal(subjectIsLiteral(subject), true, JSON.stringify(subject));
    assert.equal(checkBytes(subjectIsLiteralBytes, subject), true, JSON.stringify(subject));
  }
  for (const subject of wildcard) {
    assert.equal(subjectIsLiteral(subject), false, JSON.stringify(subject));
    assert.equal(checkBytes(subjectIsLiteralBytes, subject), false, JSON.stringify(subject));
  }
});

test('matchLiteral: published subject against subscription pattern', () => {
  const cases: [string, string, boolean][] = [
    ['foo', 'foo', true],
    ['foo', 'bar', false],
    ['foo', 'fo', false],
    ['fo', 'foo', false],
    ['foo.bar', 'foo.*', true],
    ['foo.bar', '*.bar', true],
    ['foo.bar', '*.*', true],
    ['foo.bar', '*', false],
    ['foo', '*.*', false],
    ['foo.bar.baz', 'foo.*', false],
    ['foo.bar', 'foo.>', true],
    ['foo.bar.baz', 'foo.>', true],
    ['foo', 'foo.>', false],
    ['foo', '>', true],
    ['foo.bar', '>', true],
    ['foo.bar.baz', 'foo.*.>', true],
    ['foo.bar', 'foo.*.>', false],
    ['foo.bar', 'foo.bar.baz', false],
    ['foo.bar.baz', 'foo.bar', false],
    ['foo*', 'foo', false],
    ['foo', 'foo*', false],
    ['foo.*', 'foo.*', true],
    ['foo.*', 'foo.bar', false],
    ['foo.>', 'foo.*', true],
    ['foo.', 'foo.*', false],
    ['foo..bar', 'foo.*.bar', false],
    ['foo..bar', '>', false],
    ['', '>', false],
  ];
  for (const [literal, pattern, expected] of cases) {
    assert.equal(matchLiteral(literal, pattern), expected, `${literal} ~ ${pattern}`);
  }
});

test('hashSubjectBytes: depends only on the bytes in range, fits a small integer', () => {
  const subject = Buffer.from('orders.eu.created');
  const padded = Buffer.from('xx.orders.eu.created.yy');
  assert.equal(hashSubjectBytes(padded, 3, subject.length), hashSubjectBytes(subject, 0, subject.length));
  const seen = new Set<number>();
  for (const text of ['a', 'b', 'ab', 'ba', 'orders.eu.created', 'orders.eu.createe', 'orders.eu.created.x', '']) {
    const bytes = Buffer.from(text);
    const hash = hashSubjectBytes(bytes, 0, bytes.length);
    assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 30, text);
    seen.add(hash);
  }
  assert.equal(seen.size, 8, 'no collision among these few subjects');
});
