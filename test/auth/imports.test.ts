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
  assert.equal(routes.route(message(1, 'news.x', 'r.1', 'NATS/1.0\r\nK: v\r\n\r\n', 'hello'), (m) => seen.push(parts(m))), 0);
  assert.deepEqual(seen, [{ account: 2, subject: 'a.news.x', reply: 'r.1', headers: 'NATS/1.0\r\nK: v\r\n\r\n', payload: 'hello' }]);
  const back: Parts[] = [];
  routes.route(message(2, 'news.x', '', null, 'x'), (m) => back.push(parts(m)));
  assert.deepEqual(back, [], 'nothing flows from the importer back');
});

test('service import: request info added to existing headers, sealed reply opens to the requester; forged and expired ones do not', (t) => {
  const routes = AccountRoutes.from(ACCOUNTS, randomBytes(32))!;
  const seen: Parts[] = [];
  assert.equal(routes.route(message(2, 'help.me', '_INBOX.9', 'NATS/1.0\r\nK: v\r\n\r\n', 'q'), (m) => seen.push(parts(m))), 1);
  assert.equal(seen.length, 1);
  const request = seen[0];
  assert.equal(request.account, 1);
  assert.equal(request.subject, 'help.me');
  assert.equal(request.headers, 'NATS/1.0\r\nK: v\r\nNats-Request-Info: {"acc":"B","rtt":0}\r\n\r\n');
  assert.equal(request.payload, 'q');
  assert.match(request.reply, /^_R_\./);

  const responses: Parts[] = [];
  routes.route(message(1, request.reply, '', null, 'answer'), (m) => responses.push(parts(m)));
  assert.deepEqual(responses, [{ account: 2, subject: '_INBOX.9', reply: '', headers: null, payload: 'answer' }]);

  const forged = request.reply.replace(/_INBOX\.9$/, '_INBOX.other');
  assert.equal(routes.openReply(forged), null);
  assert.equal(routes.openReply('_R_.x'), null);
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 3 * 60_000 });
  assert.equal(routes.openReply(request.reply), null, 'past the response window');
});
