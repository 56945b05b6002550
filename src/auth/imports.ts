/**
 * Exports and imports between accounts, as a shard routes them.
 *
 * - Stream imports: a message published in an exporting account also goes, renamed by the import
 *   (prefix or `to`), into each importing account.
 * - Service imports: a request published in the importing account on the service subject goes to
 *   the exporting account, with its reply subject replaced by one under `_R_.`; a response the
 *   exporter publishes there goes back to the importing account on the original reply subject.
 *   The `_R_.` subject carries the importing account, the original reply and an expiry, sealed
 *   with an HMAC whose key every worker shares, so any worker can route a response and a client
 *   cannot forge one into another account. A singleton service (nats-server's default response
 *   type) lets only the first response through: the `_R_.` subject also names the worker that
 *   routed the request and a sequence number, and that worker keeps one bit per sequence, set by
 *   the first response (a response answered on another worker is handed to it first).
 *
 * Routes are subject indexes per account, so a publish in an account without imports or exports
 * costs one array read.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Sublist } from '../sublist/sublist.js';
import { InboundMessage, type MessageView } from '../worker/message.js';
import { subjectIsSubsetMatch } from './subjects.js';
import type { AccountConfig, ExportConfig } from './options.js';

interface StreamRoute {
  /** The imported subject (pattern) in the exporting account. */
  readonly subject: string;
  readonly queue: null;
  /** Account id that receives the message. */
  readonly target: number;
  /** 'prefix.' bytes, empty for none. */
  readonly prefix: Buffer;
  /** Literal subject replacing the original; null to keep it. */
  readonly to: Buffer | null;
}

interface ServiceRoute {
  /** The service subject as the importing account publishes it. */
  readonly subject: string;
  readonly queue: null;
  /** Exporting account id. */
  readonly target: number;
  /** The exported subject when the import renames it (`to`); null to keep the subject. */
  readonly targetSubject: Buffer | null;
  /** Only the first response goes back (response type singleton). */
  readonly singleton: boolean;
  /** How long responses may come (the export's response threshold). */
  readonly windowMs: number;
}

/** Where a sealed `_R_.` subject sends its responses. */
export interface OpenedReply {
  account: number;
  reply: string;
  /** The worker that routed the request and its sequence number there; 0 when any number of responses may come. */
  worker: number;
  seq: number;
}

/** Hands a singleton response to the worker that routed its request: only there can it be claimed. */
export type ResponseHandOff = (response: MessageView, worker: number, seq: number) => void;

const EMPTY = Buffer.alloc(0);
const REPLY_PREFIX = '_R_.';
/** nats-server's default response threshold: how long a response may take. */
const RESPONSE_WINDOW_MS = 2 * 60_000;
/**
 * Singleton requests a worker tells apart, one bit each: a response to a request more than this
 * many requests old is dropped as if it came too late (at 2 minutes per window, about 35,000
 * requests a second per worker).
 */
const CLAIM_BITS = 1 << 22;
const SEQ_MODULUS = 0x80000000;
const IV_BYTES = 12;
const TAG_BYTES = 12;
const HEADER_START = Buffer.from('NATS/1.0\r\n', 'latin1');

function startsWithReplyPrefix(bytes: Uint8Array, off: number, len: number): boolean {
  return len > 4 && bytes[off] === 0x5f && bytes[off + 1] === 0x52 && bytes[off + 2] === 0x5f && bytes[off + 3] === 0x2e;
}

export class AccountRoutes {
  /** By exporting account id: the stream imports from it. */
  private readonly streamsFrom: (Sublist<StreamRoute> | undefined)[] = [];
  /** By importing account id: its service imports. */
  private readonly servicesOf: (Sublist<ServiceRoute> | undefined)[] = [];
  /** By account id: true when it exports a service another account imports (it may answer on _R_.). */
  private readonly answers: boolean[] = [];
  /** The routed message; its bytes are a scratch buffer reused for every routed message. */
  private readonly message = new InboundMessage();
  private scratch = Buffer.alloc(1024);
  /** By account id: the header line a service request from it carries (nats-server's request info). */
  /** `Nats-Request-Info: {"acc":"<importing account>","rtt":` by account; the requester's rtt completes it. */
  private readonly requestInfoStart: string[] = [];

  /** Bit per singleton sequence (mod CLAIM_BITS): set once a response went back. */
  private readonly answered = new Int32Array(CLAIM_BITS >> 5);
  private lastSeq = 0;

  private constructor(
    accounts: readonly AccountConfig[],
    private readonly secret: Uint8Array,
    /** This worker: singleton responses are claimed where their request was routed. */
    private readonly self: number,
  ) {
    const ids = new Map(accounts.map((account, i) => [account.name, i + 1]));
    accounts.forEach((account, i) => {
      this.requestInfoStart[i + 1] = `Nats-Request-Info: ${JSON.stringify({ acc: account.name }).slice(0, -1)},"rtt":`;
      for (const entry of account.imports) {
        const source = ids.get(entry.account);
        // The config reader refuses such imports; options given through the API may still have them.
        if (source === undefined) continue;
        (this.streamsFrom[source] ??= new Sublist<StreamRoute>({ cacheMax: 256, cacheSweep: 128 })).insert({
          subject: entry.subject,
          queue: null,
          target: i + 1,
          prefix: entry.prefix === '' ? EMPTY : Buffer.from(`${entry.prefix}.`, 'latin1'),
          to: entry.to === '' ? null : Buffer.from(entry.to, 'latin1'),
        });
      }
      for (const entry of account.serviceImports) {
        const exporter = ids.get(entry.account);
        if (exporter === undefined) continue;
        this.answers[exporter] = true;
        const exported = authorizingExport(accounts[exporter - 1], 'service', account.name, entry.subject);
        (this.servicesOf[i + 1] ??= new Sublist<ServiceRoute>({ cacheMax: 256, cacheSweep: 128 })).insert({
          subject: entry.to === '' ? entry.subject : entry.to,
          queue: null,
          target: exporter,
          targetSubject: entry.to === '' ? null : Buffer.from(entry.subject, 'latin1'),
          singleton: (exported?.responseType ?? 'singleton') === 'singleton',
          // A threshold of 0 is no threshold: the default window.
          windowMs: exported?.responseThresholdMs || RESPONSE_WINDOW_MS,
        });
      }
    });
  }

  static from(accounts: readonly AccountConfig[], secret: Uint8Array, self = 0): AccountRoutes | null {
    const any = accounts.some((account) => account.imports.length > 0 || account.serviceImports.length > 0);
    return any ? new AccountRoutes(accounts, secret, self) : null;
  }

  /**
   * Hands `deliver` the message once per route that takes it, renamed and in its new account; a
   * singleton response whose request another worker routed goes to `handOff` instead.
   * Returns how many service routes took it (a request that went to a service has a responder).
   */
  route(msg: MessageView, requesterRttMs: number, deliver: (routed: MessageView) => void, handOff: ResponseHandOff): number {
    const account = msg.account;
    const streams = this.streamsFrom[account];
    if (streams !== undefined) {
      const matched = streams.matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength).plain;
      for (let i = 0; i < matched.length; i++) {
        const route = matched[i];
        if (route.to !== null) this.build(msg, route.target, route.to, 0, route.to.length, EMPTY, msg.bytes, msg.replyOffset, msg.replyLength);
        else this.build(msg, route.target, route.prefix, 0, route.prefix.length, msg.bytes, msg.bytes, msg.replyOffset, msg.replyLength, msg.subjectOffset, msg.subjectLength);
        deliver(this.message);
      }
    }
    let services = 0;
    const routes = this.servicesOf[account];
    if (routes !== undefined) {
      const matched = routes.matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength).plain;
      for (let i = 0; i < matched.length; i++) {
        const route = matched[i];
        const reply = msg.replyLength > 0 ? this.sealReply(account, msg.bytes.toString('latin1', msg.replyOffset, msg.replyOffset + msg.replyLength), route) : EMPTY;
        // nats-server gives the requester's round trip as a Go duration: nanoseconds.
        const info = Buffer.from(`${this.requestInfoStart[account]}${Math.round(requesterRttMs * 1e6)}}\r\n`, 'latin1');
        if (route.targetSubject !== null) this.build(msg, route.target, route.targetSubject, 0, route.targetSubject.length, EMPTY, reply, 0, reply.length, 0, 0, info);
        else this.build(msg, route.target, msg.bytes, msg.subjectOffset, msg.subjectLength, EMPTY, reply, 0, reply.length, 0, 0, info);
        deliver(this.message);
        services++;
      }
    }
    if (this.answers[account] === true && startsWithReplyPrefix(msg.bytes, msg.subjectOffset, msg.subjectLength)) {
      const opened = this.openReply(msg.bytes.toString('latin1', msg.subjectOffset, msg.subjectOffset + msg.subjectLength));
      if (opened !== null) {
        const subject = Buffer.from(opened.reply, 'latin1');
        this.build(msg, opened.account, subject, 0, subject.length, EMPTY, EMPTY, 0, 0);
        if (opened.seq === 0) deliver(this.message);
        else if (opened.worker !== this.self) handOff(this.message, opened.worker, opened.seq);
        else if (this.claim(opened.seq)) deliver(this.message);
      }
    }
    return services;
  }

  /**
   * Fills the routed message: subject = head[headOff, headOff + headLen) followed by `tail`
   * (msg's bytes at tailOff/tailLen, for prefixed subjects), then the reply, then msg's payload,
   * with `headerLine` added to its headers (a header block is made when it has none).
   */
  private build(
    msg: MessageView, account: number,
    head: Uint8Array, headOff: number, headLen: number, tail: Buffer,
    reply: Uint8Array, replyOff: number, replyLen: number,
    tailOff = 0, tailLen = 0, headerLine: Buffer = EMPTY,
  ): void {
    const subjectLength = headLen + tailLen;
    const hadHeaders = msg.headerLength >= 0;
    const added = headerLine.length === 0 ? 0 : headerLine.length + (hadHeaders ? 0 : HEADER_START.length + 2);
    const payloadLength = msg.payloadLength + added;
    const size = subjectLength + replyLen + payloadLength;
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2));
    const out = this.scratch;
    out.set(head.subarray(headOff, headOff + headLen), 0);
    if (tailLen > 0) out.set(tail.subarray(tailOff, tailOff + tailLen), headLen);
    out.set(reply.subarray(replyOff, replyOff + replyLen), subjectLength);
    let at = subjectLength + replyLen;
    const payloadStart = msg.payloadOffset;
    const payloadEnd = msg.payloadOffset + msg.payloadLength;
    let headerLength = msg.headerLength;
    if (added === 0) {
      out.set(msg.bytes.subarray(payloadStart, payloadEnd), at);
    } else if (hadHeaders) {
      // The line goes before the blank line that ends the header block.
      const blank = payloadStart + msg.headerLength - 2;
      out.set(msg.bytes.subarray(payloadStart, blank), at);
      at += blank - payloadStart;
      out.set(headerLine, at);
      at += headerLine.length;
      out.set(msg.bytes.subarray(blank, payloadEnd), at);
      headerLength += headerLine.length;
    } else {
      out.set(HEADER_START, at);
      at += HEADER_START.length;
      out.set(headerLine, at);
      at += headerLine.length;
      out[at++] = 13;
      out[at++] = 10;
      out.set(msg.bytes.subarray(payloadStart, payloadEnd), at);
      headerLength = added;
    }
    const routed = this.message;
    routed.account = account;
    routed.bytes = out;
    routed.subjectOffset = 0;
    routed.subjectLength = subjectLength;
    routed.replyOffset = subjectLength;
    routed.replyLength = replyLen;
    routed.headerLength = headerLength;
    routed.payloadOffset = subjectLength + replyLen;
    routed.payloadLength = payloadLength;
  }

  /**
   * Encrypts and authenticates: the responder sees an opaque token, as nats-server's, and no client
   * can make or alter one (every worker holds the key, so any of them opens it).
   */
  private seal(body: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.secret, iv, { authTagLength: TAG_BYTES });
    const sealed = Buffer.concat([iv, cipher.update(body, 'latin1'), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  private unseal(token: string): string | null {
    const sealed = Buffer.from(token, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES) return null;
    const decipher = createDecipheriv('aes-256-gcm', this.secret, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('latin1');
    } catch {
      return null;
    }
  }

  /**
   * `_R_.<mac>.<expiry>.<account>.<worker>.<seq>.<reply>`: where a response to this request goes,
   * until when, and for a singleton the request's number on this worker (0 for a streamed one).
   */
  sealReply(account: number, reply: string, route: Pick<ServiceRoute, 'singleton' | 'windowMs'>): Buffer {
    const seq = route.singleton ? this.nextSeq() : 0;
    const expiry = Math.ceil((Date.now() + route.windowMs) / 1000).toString(36);
    const body = `${expiry}.${account}.${this.self}.${seq}.${reply}`;
    return Buffer.from(`${REPLY_PREFIX}${this.seal(body)}`, 'latin1');
  }

  /** Where a sealed `_R_.` subject sends its responses; null if forged or expired. */
  openReply(subject: string): OpenedReply | null {
    const body = this.unseal(subject.slice(REPLY_PREFIX.length));
    if (body === null) return null;
    const fields = body.split('.', 4);
    if (fields.length < 4) return null;
    if (parseInt(fields[0], 36) * 1000 < Date.now()) return null;
    const replyStart = fields[0].length + fields[1].length + fields[2].length + fields[3].length + 4;
    return { account: Number(fields[1]), worker: Number(fields[2]), seq: Number(fields[3]), reply: body.slice(replyStart) };
  }

  private nextSeq(): number {
    const seq = this.lastSeq + 1 === SEQ_MODULUS ? 1 : this.lastSeq + 1;
    this.lastSeq = seq;
    const bit = seq % CLAIM_BITS;
    this.answered[bit >> 5] &= ~(1 << (bit & 31));
    return seq;
  }

  /**
   * The first response to singleton request `seq` of this worker claims it: true once, then false
   * (also for a request so old that its bit was reused).
   */
  claim(seq: number): boolean {
    const age = (this.lastSeq - seq + SEQ_MODULUS) % SEQ_MODULUS;
    if (age >= CLAIM_BITS) return false;
    const bit = seq % CLAIM_BITS;
    const mask = 1 << (bit & 31);
    if ((this.answered[bit >> 5] & mask) !== 0) return false;
    this.answered[bit >> 5] |= mask;
    return true;
  }
}

/** The export of `exporter` that lets account `importer` import `subject` as a stream or service; undefined if none does. */
export function authorizingExport(exporter: AccountConfig, kind: ExportConfig['kind'], importer: string, subject: string): ExportConfig | undefined {
  return exporter.exports.find(
    (exported) =>
      exported.kind === kind &&
      subjectIsSubsetMatch(subject, exported.subject) &&
      (exported.accounts === null || exported.accounts.includes(importer)),
  );
}
