/** Permission matching as nats-server does it: allow then deny, queue rules, the deny filter, replies. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledPermissions, ConnectionPermissions } from '../../src/auth/permissions.js';
import { subjectIsSubsetMatch } from '../../src/auth/subjects.js';
import type { Permissions } from '../../src/auth/options.js';

function perms(p: Partial<Permissions>): CompiledPermissions {
  return new CompiledPermissions({ publish: null, subscribe: null, response: null, ...p });
}

function canPublish(rules: CompiledPermissions | ConnectionPermissions, subject: string): boolean {
  const bytes = Buffer.from(`xx${subject}yy`, 'latin1');
  return rules instanceof ConnectionPermissions ? rules.canPublish(bytes, 2, subject.length) : rules.publishAllowed(bytes, 2, subject.length);
}

test('publish: allow list with wildcards, then deny overrides; an empty allow list allows nothing', () => {
  const rules = perms({ publish: { allow: ['foo.>', 'bar.*'], deny: ['foo.secret', 'foo.*.hidden'] } });
  assert.equal(rules.checksPublish, true);
  for (const [subject, allowed] of [
    ['foo.a', true], ['foo.a.b', true], ['foo.secret', false], ['foo.x.hidden', false], ['foo.x.y.hidden', true],
    ['bar.a', true], ['bar.a.b', false], ['baz', false], ['foo', false],
  ] as const) assert.equal(canPublish(rules, subject), allowed, subject);
  assert.equal(canPublish(perms({ publish: { allow: [], deny: null } }), 'anything'), false);
  assert.equal(canPublish(perms({ publish: { allow: null, deny: ['>'] } }), 'x'), false);
  assert.equal(perms({ subscribe: { allow: ['x'], deny: null } }).checksPublish, false);
});

test('subscribe: plain and queue rules, queue-name patterns, deny with a queue; an empty allow list is no list', () => {
  const rules = perms({ subscribe: { allow: ['foo.*', 'bar.* q1', 'baz.> q.*'], deny: ['foo.x', 'bar.b q1'] } });
  for (const [subject, queue, allowed] of [
    ['foo.a', null, true], ['foo.a', 'any', true], ['foo.x', null, false], ['foo.*', null, true],
    // A '>' in a SUB subject is one token to the matcher, so 'foo.*' covers 'foo.>' (nats-server agrees).
    ['foo.>', null, true], ['foo.>.x', null, false],
    ['bar.a', null, false], ['bar.a', 'q1', true], ['bar.a', 'q2', false], ['bar.b', 'q1', false],
    ['baz.x', 'q.1', true], ['baz.x', 'q2', false], ['foo..bar', null, false],
  ] as const) assert.equal(rules.subscribeAllowed(subject, queue), allowed, `${subject} ${queue}`);
  assert.equal(perms({ subscribe: { allow: [], deny: null } }).subscribeAllowed('any.thing', null), true);
});

test('a wildcard subscription that reaches a denied subject turns on the delivery filter', () => {
  const connection = new ConnectionPermissions(perms({ subscribe: { allow: null, deny: ['foo.x', 'a.*.c'] } }));
  assert.equal(connection.canSubscribe('foo.y', null), true);
  assert.equal(connection.filtersDelivery, false);
  assert.equal(connection.canSubscribe('bar.*', null), true);
  assert.equal(connection.filtersDelivery, false);
  assert.equal(connection.canSubscribe('foo.*', null), true);
  assert.equal(connection.filtersDelivery, true);
  const bytes = Buffer.from('foo.x', 'latin1');
  assert.equal(connection.rules.deliveryDenied(bytes, 0, 5), true);
  assert.equal(connection.rules.deliveryDenied(Buffer.from('foo.y'), 0, 5), false);
});

test('allow_responses: a delivered reply subject may be published to max times', () => {
  const connection = new ConnectionPermissions(perms({ publish: { allow: [], deny: null }, response: { maxMsgs: 2, expires: 60_000 } }));
  assert.equal(canPublish(connection, '_INBOX.1'), false);
  const reply = Buffer.from('_INBOX.1');
  connection.noteReply(reply, 0, reply.length);
  assert.equal(canPublish(connection, '_INBOX.1'), true);
  assert.equal(canPublish(connection, '_INBOX.1'), true);
  assert.equal(canPublish(connection, '_INBOX.1'), false);
  assert.equal(canPublish(connection, '_INBOX.2'), false);
});

test('subset match (nats-server subjectIsSubsetMatch)', () => {
  for (const [subject, test_, expected] of [
    ['foo.x', 'foo.*', true], ['foo.x', 'foo.>', true], ['foo.*', 'foo.*', true], ['foo.*', 'foo.x', false],
    ['foo.>', 'foo.*', false], ['foo.x.y', 'foo.*', false], ['a.*.c', '>', true], ['a.b', 'a.b', true], ['a', 'a.b', false],
  ] as const) assert.equal(subjectIsSubsetMatch(subject, test_), expected, `${subject} ⊆ ${test_}`);
});
