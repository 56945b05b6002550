/** Account routes: renamed subjects, the request-info header, sealed _R_ reply subjects. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { AccountRoutes } from '../../src/auth/imports.js';
import { InboundMessage, type MessageView } from '../../src/worker/message.js';
import type { AccountConfig } from '../../src/auth/options.js';

const ACCOUNTS: AccountConfig[] = [
  { name: 'A', users: [], exports: [{ kind: 'service', subject: 'help.>', accounts: null }, { kind: 'stream', subject: 'news.>', accounts: null }], imports: [], serviceImports: [] },
  { name: 'B', users: [], exports: [], imports: [{ account: 'A', subject: 'news.>', prefix: 'a', to: '' }], serviceImports: [{ account: 'A', subject: 'help.>', to: '' }] },
];

/** With one worker every singleton response is claimed where it arrives. */
function noHandOff(): never {
  throw new Error('a response was handed to another worker');
}

function message(account: number, subject: string, reply: string, headers: string | null, payload: string): InboundMessage {
  const msg = new InboundMessage();
  const body = (headers ?? '') + payload;
  msg.account = account;
  msg.bytes = Buffer.from(subject + reply + body, 'latin1');
  msg.subjectOffset = 0;
  msg.subjectLength = subject.length;
  msg.replyOffset = subject.length;
  msg.replyLength = reply.length;
  msg.payloadOffset = subject.length + reply.length;
  msg.payloadLength = body.length;
  msg.headerLength = headers === null ? -1 : headers.length;
  return msg;
}

interface Parts {
  account: number;
  subject: string;
  reply: string;
  headers: string | null;
  payload: string;
}

function parts(msg: MessageView): Parts {
  const text = (off: number, len: number) => msg.bytes.toString('latin1', off, off + len);
  return {
    account: msg.account,
    subject: text(msg.subjectOffset, msg.subjectLength),
    reply: text(msg.replyOffset, msg.replyLength),
    headers: msg.headerLength < 0 ? null : text(msg.payloadOffset, msg.headerLength),
    payload: text(msg.payloadOffset + Math.max(0, msg.headerLength), msg.payloadLength - Math.max(0, msg.headerLength)),
  };
}

test('stream import: prefixed subject, reply and headers kept, into the importing account', () => {
  const routes = AccountRoutes.from(ACCOUNTS, randomBytes(32))!;
  const seen: Parts[] = [];
  assert.equal(routes.route(message(1, 'news.x', 'r.1', 'NATS/1.0\r\nK: v\r\n\r\n', 'hello'), 0, (m) => seen.push(parts(m)), noHandOff), 0);
  assert.deepEqual(seen, [{ account: 2, subject: 'a.news.x', reply: 'r.1', headers: 'NATS/1.0\r\nK: v\r\n\r\n', payload: 'hello' }]);
  const back: Parts[] = [];
  routes.route(message(2, 'news.x', '', null, 'x'), 0, (m) => back.push(parts(m)), noHandOff);
  assert.deepEqual(back, [], 'nothing flows from the importer back');
});

test('service import: request info added to existing headers, sealed reply opens to the requester; forged and expired ones do not', (t) => {
  const routes = AccountRoutes.from(ACCOUNTS, randomBytes(32))!;
  const seen: Parts[] = [];
  assert.equal(routes.route(message(2, 'help.me', '_INBOX.9', 'NATS/1.0\r\nK: v\r\n\r\n', 'q'), 0.6375, (m) => seen.push(parts(m)), noHandOff), 1);
  assert.equal(seen.length, 1);
  const request = seen[0];
  assert.equal(request.account, 1);
  assert.equal(request.subject, 'help.me');
  assert.equal(request.headers, 'NATS/1.0\r\nK: v\r\nNats-Request-Info: {"acc":"B","rtt":637500}\r\n\r\n', 'the requester\'s rtt in nanoseconds');
  assert.equal(request.payload, 'q');
  assert.match(request.reply, /^_R_\./);

  const responses: Parts[] = [];
  routes.route(message(1, request.reply, '', null, 'answer'), 0, (m) => responses.push(parts(m)), noHandOff);
  assert.deepEqual(responses, [{ account: 2, subject: '_INBOX.9', reply: '', headers: null, payload: 'answer' }]);

  assert.ok(!request.reply.includes('INBOX'), `the requester's inbox stays hidden: ${request.reply}`);
  const token = request.reply.slice('_R_.'.length);
  const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
  assert.equal(routes.openReply(`_R_.${flipped}`), null, 'an altered token');
  assert.equal(AccountRoutes.from(ACCOUNTS, randomBytes(32))!.openReply(request.reply), null, 'another key');
  assert.equal(routes.openReply('_R_.x'), null);
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 3 * 60_000 });
  assert.equal(routes.openReply(request.reply), null, 'past the response window');
});

test('service import, singleton: the first response goes back, later ones do not; one routed elsewhere is handed to its worker', () => {
  const secret = randomBytes(32);
  const routing = AccountRoutes.from(ACCOUNTS, secret, 1)!;
  const answering = AccountRoutes.from(ACCOUNTS, secret, 0)!;
  const requests: Parts[] = [];
  routing.route(message(2, 'help.me', '_INBOX.1', null, 'q'), 0, (m) => requests.push(parts(m)), noHandOff);
  const reply = requests[0].reply;
  const responses: string[] = [];
  for (const payload of ['first', 'second']) routing.route(message(1, reply, '', null, payload), 0, (m) => responses.push(parts(m).payload), noHandOff);
  assert.deepEqual(responses, ['first']);

  routing.route(message(2, 'help.me', '_INBOX.2', null, 'q'), 0, (m) => requests.push(parts(m)), noHandOff);
  const handedOff: { worker: number; seq: number; subject: string }[] = [];
  answering.route(message(1, requests[1].reply, '', null, 'a'), 0, noHandOff, (m, worker, seq) => handedOff.push({ worker, seq, subject: parts(m).subject }));
  assert.equal(handedOff.length, 1);
  assert.deepEqual({ worker: handedOff[0].worker, subject: handedOff[0].subject }, { worker: 1, subject: '_INBOX.2' });
  assert.equal(routing.claim(handedOff[0].seq), true);
  assert.equal(routing.claim(handedOff[0].seq), false, 'claimed once');
  assert.equal(routing.claim(handedOff[0].seq + 1), false, 'never issued');
});

test('service import, response_type stream: every response within the threshold goes back', (t) => {
  const accounts: AccountConfig[] = [
    { ...ACCOUNTS[0], exports: [{ kind: 'service', subject: 'help.>', accounts: null, responseType: 'stream', responseThresholdMs: 5_000 }] },
    ACCOUNTS[1],
  ];
  const routes = AccountRoutes.from(accounts, randomBytes(32))!;
  const requests: Parts[] = [];
  routes.route(message(2, 'help.me', '_INBOX.1', null, 'q'), 0, (m) => requests.push(parts(m)), noHandOff);
  const responses: string[] = [];
  for (const payload of ['1', '2', '3']) routes.route(message(1, requests[0].reply, '', null, payload), 0, (m) => responses.push(parts(m).payload), noHandOff);
  assert.deepEqual(responses, ['1', '2', '3']);
  const now = Date.now();
  t.mock.timers.enable({ apis: ['Date'], now: now + 3_000 });
  assert.notEqual(routes.openReply(requests[0].reply), null, 'within the threshold');
  t.mock.timers.setTime(now + 7_000);
  assert.equal(routes.openReply(requests[0].reply), null, 'the threshold sets the response window');
});
