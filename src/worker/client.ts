import type { Socket } from 'node:net';
import type { PeerAddress } from '../transport/accept.js';
import { OpKind, HDR_SIZE, OP_STRIDE } from '../protocol/ops.js';
import type { OpSink, ProtocolReader } from '../protocol/reader.js';
import { OK, PING, PONG } from '../protocol/encoder.js';
import * as errors from '../protocol/errors.js';
import { isValidPublishSubjectBytes, isValidSubscribeSubject } from '../sublist/subject.js';
import { Outbound } from './outbound.js';
import { ANONYMOUS, authenticatorFor, type Authenticator, type Credentials, type Identity, type JwtLimits, type KeyUserInfo, type Reauthorization } from '../auth/authenticator.js';
import { minLimit, NO_LIMIT } from '../auth/jwt.js';
import { LoginGate, peerOf, type LoginClient } from '../auth/login.js';
import { ConnectionPermissions } from '../auth/permissions.js';
import { peerCertificate } from '../transport/tls.js';
import type { Shard } from './shard.js';

/** One SUB of one client. `sidBytes` is what MSG lines carry, kept as bytes for delivery. */
export class Subscription {
  delivered = 0;
  /** Queue-group directory id, for queue subscriptions; -1 otherwise. */
  groupId = -1;
  /** Auto-unsubscribe after this many deliveries; 0 = no limit. */
  max = 0;
  constructor(
    readonly client: Client,
    readonly subject: string,
    readonly queue: string | null,
    readonly sid: string,
    readonly sidBytes: Buffer,
  ) {}
}

/** Why a connection closed, in nats-server's words (ClosedState in server/client.go). */
export type CloseReason =
  | 'Client Closed'
  | 'Server Shutdown'
  | 'Slow Consumer (Pending Bytes)'
  | 'Slow Consumer (Write Deadline)'
  | 'Stale Connection'
  | 'Parse Error'
  | 'Protocol Violation'
  | 'Maximum Payload Exceeded'
  | 'Maximum Control Line Exceeded'
  | 'Maximum Connections Exceeded'
  | 'Maximum Account Connections Exceeded'
  | 'Maximum Subscriptions Exceeded'
  | 'Write Error'
  | 'Read Error'
  | 'Authentication Timeout'
  | 'Authentication Failure'
  | 'Authentication Expired'
  | 'TLS Handshake Failure';

/** The CONNECT fields nats-server reads, with its defaults (note verbose and pedantic default on). */
interface ConnectOptions {
  verbose: boolean;
  pedantic: boolean;
  echo: boolean;
  headers: boolean;
  no_responders: boolean;
  name: string;
  lang: string;
  version: string;
  protocol: number;
}

const CONNECT_FIELD_TYPES: Record<keyof ConnectOptions, 'boolean' | 'string' | 'number'> = {
  verbose: 'boolean',
  pedantic: 'boolean',
  echo: 'boolean',
  headers: 'boolean',
  no_responders: 'boolean',
  name: 'string',
  lang: 'string',
  version: 'string',
  protocol: 'number',
};

const OP_NAMES: Record<number, string> = {
  [OpKind.PING]: 'PING',
  [OpKind.PONG]: 'PONG',
  [OpKind.INFO]: 'INFO',
  [OpKind.OK]: '+OK',
  [OpKind.ERR]: '-ERR',
};

/** nats-server's firstPingInterval. */
const FIRST_PING_MS = 2000;

/** setTimeout's longest delay (2^31 - 1 ms); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** nats-server closes a client whose JWTs allow no subscription at all this long after telling it. */
const NO_SUBSCRIPTIONS_CLOSE_MS = 20;

function stringField(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * nats-server's getRawAuthUser: the CONNECT's NKey, else its user (which a `no_auth_user` or a
 * certificate-mapped user replaced), else a JWT user's key, else the token as sent.
 */
function rawAuthUser(credentials: Credentials, identity: Identity | null): string {
  const nkey = stringField(credentials.nkey);
  if (nkey !== '') return nkey;
  const user = stringField(credentials.user);
  if (user !== '') return user;
  if (identity?.jwtLimits != null) return identity.name;
  return stringField(credentials.auth_token);
}

/** A client connection owned by one shard: protocol state, subscriptions and outbound bytes. */
export class Client implements OpSink, LoginClient {
  readonly outbound = new Outbound();
  readonly subs = new Map<string, Subscription>();
  verbose = true;
  pedantic = true;
  echo = true;
  headers = false;
  noResponders = false;
  name = '';
  lang = '';
  version = '';
  /** CONNECT's protocol level (0 or 1). */
  protocol = 0;
  connectReceived = false;
  /** Stands until the client authenticated, when authentication is required. */
  login: LoginGate | null = null;
  /** Who the client is now; checked again, with `credentials`, when a reload changes authentication. */
  private identity: Identity = ANONYMOUS;
  /** The credential fields of its CONNECT (a user JWT is not kept: operator settings never reload). */
  private credentials: Credentials = {};
  /** The nonce its INFO carried ('' for none), which an NKey user signed. */
  private readonly nonce: string;
  /** Counts reload checks, so that a pool verdict that a newer reload overtook is dropped. */
  private reauthorizations = 0;
  /** Reads that arrived while a reload's check of this client ran in the pool; processed after its verdict. */
  private heldReads: Buffer[] | null = null;
  /** The authenticated user's permissions; null = no restrictions. */
  permissions: ConnectionPermissions | null = null;
  /** Who /connz says the client is (rawAuthUser); '' for none. */
  authorizedUser = '';
  /** An NKey or JWT user, for /connz. */
  keyUser: KeyUserInfo | null = null;
  /** Account id of the user (0 = $G). */
  account = 0;
  /** Holds a place among its account's `limits.conn` connections (operator mode). */
  private inAccountCount = false;
  /** Max subscriptions set by the user and account JWTs (NO_LIMIT = none); null: the server's. */
  private subscriptionLimit: number | null = null;
  /** The INFO with the JWTs' lower max_payload, sent after the first PONG (protocol 1 clients). */
  private limitedInfo: Buffer | null = null;
  closed = false;
  /** Set while queued for the shard's next flush. */
  dirty = false;
  /** Held a publisher for STALL_MAX_MS without draining: left to the slow-consumer policy. */
  stallExpired = false;
  pingsOut = 0;
  /** Round trip of the last server PING answered, in ms (0 until one was): /connz rtt, Nats-Request-Info. */
  rttMs = 0;
  /** When the outstanding server PING went out (performance.now()), 0 when none is. */
  private pingSentAt = 0;
  msgsIn = 0;
  bytesIn = 0;
  msgsOut = 0;
  bytesOut = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private noSubscriptionsTimer: NodeJS.Timeout | null = null;
  private writeDeadlineTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly peer: PeerAddress,
    readonly shard: Shard,
    private readonly reader: ProtocolReader,
    /** Epoch milliseconds: when the connection was accepted (a TLS client's handshake came after). */
    readonly startedAt = Date.now(),
  ) {
    socket.setNoDelay(true);
    if (authenticatorFor(shard.options).required) this.login = new LoginGate(this, () => authenticatorFor(shard.options));
    this.nonce = this.login?.nonce ?? '';
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      if (this.login !== null) this.login.onData(chunk);
      else if (this.heldReads !== null) this.heldReads.push(chunk);
      else this.readChunk(chunk);
    });
    socket.on('drain', () => {
      this.clearWriteDeadline();
      this.shard.flow.consumerDrained(this);
    });
    socket.on('error', () => this.close('Read Error'));
    // Sockets are half-open: on the peer's FIN, what is pending is still flushed before ending.
    socket.on('end', () => this.close('Client Closed'));
    socket.on('close', () => this.close('Client Closed'));
    const interval = shard.options.pingInterval;
    // Like nats-server, the first PING comes early (2 s plus up to 20 %) to learn the RTT. Whole
    // milliseconds: Node keeps one timer list per distinct duration, so fractions cost a list each.
    if (interval > 0) {
      const first = Math.min(interval, Math.round(FIRST_PING_MS + Math.random() * FIRST_PING_MS * 0.2));
      this.pingTimer = setTimeout(() => {
        this.onPingTimer();
        if (!this.closed) this.pingTimer = setInterval(() => this.onPingTimer(), interval);
      }, first);
    }
  }

  readChunk(chunk: Buffer): void {
    this.shard.beginRead(this);
    this.reader.feed(chunk, this);
    this.shard.endRead();
  }

  applyIdentity(identity: Identity): void {
    this.login = null;
    this.adoptIdentity(identity);
    const accountExpiresAt = identity.jwtLimits?.accountExpiresAt ?? 0;
    if (accountExpiresAt > 0 && (identity.expiresAt === 0 || accountExpiresAt < identity.expiresAt)) {
      this.expireAt(accountExpiresAt, errors.ERR_ACCOUNT_AUTHENTICATION_EXPIRED);
    } else if (identity.expiresAt > 0) {
      this.expireAt(identity.expiresAt, errors.ERR_USER_AUTHENTICATION_EXPIRED);
    }
    if (identity.jwtLimits !== null) this.applyJwtLimits(identity.jwtLimits);
  }

  private adoptIdentity(identity: Identity): void {
    this.identity = identity;
    this.account = identity.account;
    this.permissions = identity.permissions === null ? null : new ConnectionPermissions(identity.permissions);
    // As nats-server records them: a no_auth_user client logged in as that user (with its password),
    // a verify_and_map client as its certificate's user.
    if (identity.foundBy === 'no_auth_user') this.credentials = { user: identity.name };
    else if (identity.foundBy === 'certificate') this.credentials = { ...this.credentials, user: identity.name };
    this.keyUser = identity.keyUser;
    this.authorizedUser = rawAuthUser(this.credentials, identity);
  }

  /**
   * A reload changed the authentication settings: the client passes again or is closed, and keeps
   * only the subscriptions its new permissions allow (nats-server reloadAuthorization). A client
   * still logging in needs nothing: its gate checks against the new settings.
   */
  reauthorize(authenticator: Authenticator): void {
    if (this.closed || this.login !== null) return;
    const certificate = authenticator.tlsMap ? peerCertificate(this.socket) : null;
    const result = authenticator.reauthorize(this.credentials, this.identity, this.nonce, peerOf(this), certificate);
    const round = ++this.reauthorizations;
    if (!(result instanceof Promise)) {
      this.applyReauthorization(result);
      this.releaseHeldReads();
      return;
    }
    // As in nats-server, whose check blocks the connection: what it sends next meets the verdict.
    this.heldReads ??= [];
    this.socket.pause();
    void result.then((verdict) => {
      if (round !== this.reauthorizations || this.closed) return;
      this.applyReauthorization(verdict);
      this.releaseHeldReads();
    });
  }

  private releaseHeldReads(): void {
    const held = this.heldReads;
    if (held === null) return;
    this.heldReads = null;
    for (const chunk of held) {
      if (this.closed) return;
      this.readChunk(chunk);
    }
    if (!this.closed) this.socket.resume();
  }

  private applyReauthorization(result: Reauthorization): void {
    if (result.verdict === 'removed') {
      // nats-server closes a client whose user is gone without a word.
      this.close('Client Closed');
      return;
    }
    if (result.verdict === 'refused') {
      this.sendErrorAndClose(errors.ERR_AUTHORIZATION_VIOLATION, 'Authentication Failure');
      return;
    }
    this.adoptIdentity(result.identity);
    const perms = this.permissions;
    if (perms === null) return;
    for (const sub of [...this.subs.values()]) {
      // As nats-server's processSubsOnConfigReload: a queue subscription stays if its subject alone is allowed.
      if (perms.canSubscribe(sub.subject, null) || (sub.queue !== null && perms.canSubscribe(sub.subject, sub.queue))) continue;
      this.removeSubscription(sub);
      this.send(errors.errSubscriptionRevoked(sub.subject, sub.sid));
      this.shard.log.info({ cid: this.id }, `Removed sub "${sub.subject}" (sid "${sub.sid}") for User "${this.authorizedUser}" - not authorized`);
    }
  }

  /**
   * nats-server's registerWithAccount and applyAccountLimits: the account's connection limit (over
   * all workers), then max subscriptions and payload, the tighter of the JWTs' and the server's.
   */
  private applyJwtLimits(limits: JwtLimits): void {
    const log = this.shard.log;
    const options = this.shard.options;
    if (limits.accountMaxConnections !== NO_LIMIT) {
      if (!this.shard.enterAccount(this.account, limits.accountMaxConnections)) {
        log.error({ cid: this.id }, 'maximum account active connections exceeded');
        this.sendErrorAndClose(errors.ERR_MAX_ACCOUNT_CONNECTIONS, 'Maximum Account Connections Exceeded');
        return;
      }
      this.inAccountCount = true;
    }
    const maxPayload = minLimit(limits.maxPayload, options.maxPayload);
    if (limits.maxPayload !== NO_LIMIT && maxPayload !== limits.maxPayload) {
      log.error({ cid: this.id }, `Max Payload set to ${options.maxPayload} from server overrides account or user config`);
    }
    if (maxPayload !== options.maxPayload) {
      this.reader.limitPayload(maxPayload);
      if (this.protocol >= 1) this.limitedInfo = this.shard.limitedInfoLine(this.id, this.peer.ip, maxPayload);
    }
    const serverMaxSubscriptions = options.maxSubscriptions > 0 ? options.maxSubscriptions : NO_LIMIT;
    this.subscriptionLimit = minLimit(limits.maxSubscriptions, serverMaxSubscriptions);
    if (limits.maxSubscriptions !== NO_LIMIT && this.subscriptionLimit !== limits.maxSubscriptions) {
      log.error({ cid: this.id }, `Max Subscriptions set to ${options.maxSubscriptions} from server overrides account or user config`);
    }
    if (this.subscriptionLimit !== NO_LIMIT && this.subscriptionLimit <= 0) {
      log.error({ cid: this.id }, 'maximum subscriptions exceeded');
      this.send(errors.ERR_MAX_SUBSCRIPTIONS);
      this.noSubscriptionsTimer = setTimeout(() => this.close('Maximum Subscriptions Exceeded'), NO_SUBSCRIPTIONS_CLOSE_MS);
    }
  }

  /** A user or account JWT's expiry ends the connection, as nats-server does (timers re-armed past 24 days). */
  private expireAt(time: number, errLine: Buffer): void {
    const delay = time - Date.now();
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < time) this.expireAt(time, errLine);
      else this.sendErrorAndClose(errLine, 'Authentication Expired');
    }, Math.min(Math.max(0, delay), MAX_TIMER_MS));
  }

  /** Handles a batch of parsed ops; returns false once the connection closed. */
  onOps(buf: Uint8Array, ops: Int32Array, count: number): boolean {
    // Socket chunks and the reader's carry are both Buffers.
    const src = buf as Buffer;
    // -V: checked once per read, so the message path has no log call unless tracing is on.
    if (this.shard.log.isLevelEnabled('trace')) this.traceOps(src, ops, count);
    for (let i = 0, r = HDR_SIZE; i < count; i++, r += OP_STRIDE) {
      if (this.closed) return false;
      switch (ops[r] as OpKind) {
        case OpKind.PUB:
          this.processPub(src, ops, r, -1);
          break;
        case OpKind.HPUB:
          if (!this.headers) {
            // nats-server drops a client that sends headers it did not announce, without -ERR.
            this.close('Protocol Violation');
            return false;
          }
          // An empty header block makes a plain message, as in nats-server.
          this.processPub(src, ops, r, ops[r + 7] > 0 ? ops[r + 7] : -1);
          break;
        case OpKind.SUB:
          this.processSub(src, ops[r + 1], ops[r + 2], ops[r + 3], ops[r + 4], ops[r + 5], ops[r + 6]);
          break;
        case OpKind.UNSUB:
          this.processUnsub(src.toString('latin1', ops[r + 5], ops[r + 5] + ops[r + 6]), ops[r + 7]);
          break;
        case OpKind.PING:
          this.send(PONG);
          if (this.limitedInfo !== null) {
            this.send(this.limitedInfo);
            this.limitedInfo = null;
          }
          break;
        case OpKind.PONG:
          this.pingsOut = 0;
          if (this.pingSentAt !== 0) {
            this.rttMs = performance.now() - this.pingSentAt;
            this.pingSentAt = 0;
          }
          break;
        case OpKind.CONNECT:
          this.processConnect(src.toString('utf8', ops[r + 1], ops[r + 1] + ops[r + 2]));
          break;
        case OpKind.INFO:
        case OpKind.OK:
          break;
        case OpKind.ERR:
          this.close('Client Closed');
          return false;
        case OpKind.PARSE_ERROR:
          this.failParse(ops[r + 1]);
          return false;
      }
    }
    return !this.closed;
  }

  /** nats-server's protocol trace: `<<- [PUB foo 2]`, then the payload. */
  private traceOps(src: Buffer, ops: Int32Array, count: number): void {
    const text = (off: number, len: number): string => src.toString('utf8', off, off + len);
    for (let i = 0, r = HDR_SIZE; i < count; i++, r += OP_STRIDE) {
      const f = (k: number): number => ops[r + k];
      let line: string;
      switch (ops[r] as OpKind) {
        case OpKind.PUB:
        case OpKind.HPUB: {
          const hpub = ops[r] === OpKind.HPUB;
          const reply = f(4) > 0 ? ` ${text(f(3), f(4))}` : '';
          const sizes = hpub ? `${f(7)} ${f(6)}` : `${f(6)}`;
          line = `${hpub ? 'HPUB' : 'PUB'} ${text(f(1), f(2))}${reply} ${sizes}] <<- MSG_PAYLOAD: [${JSON.stringify(text(f(5), f(6)))}`;
          break;
        }
        case OpKind.SUB:
          line = `SUB ${text(f(1), f(2))}${f(4) > 0 ? ` ${text(f(3), f(4))}` : ''} ${text(f(5), f(6))}`;
          break;
        case OpKind.UNSUB:
          line = `UNSUB ${text(f(5), f(6))}${f(7) >= 0 ? ` ${f(7)}` : ''}`;
          break;
        case OpKind.CONNECT:
          line = `CONNECT ${text(f(1), f(2))}`;
          break;
        case OpKind.PARSE_ERROR:
          line = `parse error ${f(1)}`;
          break;
        default:
          line = OP_NAMES[ops[r]] ?? `op ${ops[r]}`;
      }
      this.shard.log.trace({ cid: this.id }, `<<- [${line}]`);
    }
  }

  private processConnect(json: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      this.close('Protocol Violation'); // nats-server closes on a bad CONNECT without -ERR
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.close('Protocol Violation');
      return;
    }
    // Go's JSON decoding matches field names case-insensitively, the last duplicate winning.
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(parsed)) fields[key.toLowerCase()] = value;
    for (const key of Object.keys(CONNECT_FIELD_TYPES) as (keyof ConnectOptions)[]) {
      const value = fields[key];
      if (value !== undefined && value !== null && typeof value !== CONNECT_FIELD_TYPES[key]) {
        this.close('Protocol Violation');
        return;
      }
    }
    const opts = fields as Partial<ConnectOptions>;
    this.verbose = opts.verbose ?? this.verbose;
    this.pedantic = opts.pedantic ?? this.pedantic;
    this.echo = opts.echo ?? this.echo;
    this.headers = opts.headers ?? this.headers;
    this.noResponders = opts.no_responders ?? this.noResponders;
    this.name = opts.name ?? '';
    this.lang = opts.lang ?? '';
    this.version = opts.version ?? '';
    this.protocol = opts.protocol ?? 0;
    this.connectReceived = true;
    const { user, pass, auth_token, nkey, sig } = fields;
    this.credentials = { user, pass, auth_token, nkey, sig };
    this.authorizedUser = rawAuthUser(this.credentials, null);
    if (this.login !== null) this.login.authenticate(fields);
    else this.finishConnect();
  }

  finishConnect(): void {
    // Protocol 0 is the original one, 1 adds async INFO; nats-server knows no other.
    if (this.protocol !== 0 && this.protocol !== 1) {
      this.sendErrorAndClose(errors.ERR_INVALID_CLIENT_PROTOCOL, 'Protocol Violation');
      return;
    }
    if (this.noResponders && !this.headers) {
      this.sendErrorAndClose(errors.ERR_NO_RESPONDERS_REQUIRES_HEADERS, 'Protocol Violation');
      return;
    }
    if (this.verbose) this.send(OK);
  }

  /** PUB or HPUB record `r` of `ops` (fields as in ops.ts); `headerLength` -1 for none. */
  private processPub(src: Buffer, ops: Int32Array, r: number, headerLength: number): void {
    const msg = this.shard.inbound;
    msg.account = this.account;
    msg.bytes = src;
    msg.subjectOffset = ops[r + 1];
    msg.subjectLength = ops[r + 2];
    msg.replyOffset = ops[r + 3];
    msg.replyLength = ops[r + 4];
    msg.headerLength = headerLength;
    msg.payloadOffset = ops[r + 5];
    msg.payloadLength = ops[r + 6];
    this.msgsIn++;
    this.bytesIn += msg.payloadLength;
    // Like nats-server, pedantic mode complains about the subject but still delivers.
    if (this.pedantic && !isValidPublishSubjectBytes(src, msg.subjectOffset, msg.subjectLength)) {
      this.send(errors.ERR_INVALID_PUBLISH_SUBJECT);
    }
    const perms = this.permissions;
    if (perms !== null && perms.rules.checksPublish && !perms.canPublish(src, msg.subjectOffset, msg.subjectLength)) {
      this.send(errors.errPublishPermission(src.subarray(msg.subjectOffset, msg.subjectOffset + msg.subjectLength)));
      return;
    }
    // nats-server acknowledges before delivering (an echo to self comes after the +OK).
    if (this.verbose) this.send(OK);
    this.shard.publish(this, msg);
  }

  private processSub(
    src: Buffer,
    subjectOff: number,
    subjectLen: number,
    queueOff: number,
    queueLen: number,
    sidOff: number,
    sidLen: number,
  ): void {
    const subject = src.toString('latin1', subjectOff, subjectOff + subjectLen);
    const queue = queueLen > 0 ? src.toString('latin1', queueOff, queueOff + queueLen) : null;
    // Permissions come first: nats-server refuses "foo..bar" as a violation when it is not allowed.
    if (this.permissions !== null && !this.permissions.canSubscribe(subject, queue)) {
      this.send(errors.errSubscriptionPermission(src.subarray(subjectOff, subjectOff + subjectLen), src.subarray(queueOff, queueOff + queueLen)));
      return;
    }
    if (!isValidSubscribeSubject(subject)) {
      this.send(errors.ERR_INVALID_SUBJECT);
      return;
    }
    // At the limit, nats-server refuses even a SUB that repeats an existing sid.
    const max = this.subscriptionLimit ?? (this.shard.options.maxSubscriptions || NO_LIMIT);
    if (max !== NO_LIMIT && this.subs.size >= max) {
      this.send(errors.ERR_MAX_SUBSCRIPTIONS);
      return;
    }
    const sid = src.toString('latin1', sidOff, sidOff + sidLen);
    if (!this.subs.has(sid)) {
      const sub = new Subscription(this, subject, queue, sid, Buffer.from(sid, 'latin1'));
      this.subs.set(sid, sub);
      this.shard.addSubscription(sub);
    }
    if (this.verbose) this.send(OK);
  }

  private processUnsub(sid: string, max: number): void {
    const sub = this.subs.get(sid);
    if (sub !== undefined) {
      if (max > 0 && max > sub.delivered) sub.max = max;
      else this.removeSubscription(sub);
    }
    if (this.verbose) this.send(OK);
  }

  removeSubscription(sub: Subscription): void {
    if (this.subs.get(sub.sid) !== sub) return;
    this.subs.delete(sub.sid);
    this.shard.removeSubscription(sub);
  }

  private failParse(code: number): void {
    const reply = errors.parseErrorReply(code);
    if (reply.bytes === null) this.close(reply.reason);
    else this.sendErrorAndClose(reply.bytes, reply.reason);
  }

  /** Queues bytes for the next flush of this shard. */
  send(bytes: Buffer): void {
    if (this.closed) return;
    this.outbound.append(bytes);
    this.shard.markDirty(this);
  }

  /** Bytes queued for this client: not yet flushed, plus written but not taken by the kernel. */
  pendingBytes(): number {
    return this.outbound.length + this.socket.writableLength;
  }

  slowConsumer(): void {
    this.shard.log.warn({ cid: this.id }, `Slow Consumer Detected: MaxPending of ${this.shard.options.maxPending} Exceeded`);
    this.shard.stats.slowConsumers++;
    this.close('Slow Consumer (Pending Bytes)');
  }

  flush(): void {
    this.dirty = false;
    if (this.closed) return;
    this.outbound.flushTo(this.socket);
    // What the kernel did not take stays queued here: over max_pending, a slow consumer.
    if (this.socket.writableLength > this.shard.options.maxPending) {
      this.slowConsumer();
      return;
    }
    // The kernel took enough: publishers held for this client may go on.
    if (this.socket.writableLength <= this.shard.flow.stallThreshold) this.shard.flow.consumerDrained(this);
    if (this.socket.writableLength > 0 && this.writeDeadlineTimer === null) {
      this.writeDeadlineTimer = setTimeout(() => this.onWriteDeadline(), this.shard.options.writeDeadline);
    }
  }

  private onWriteDeadline(): void {
    this.writeDeadlineTimer = null;
    if (this.closed || this.socket.writableLength === 0) return;
    this.shard.log.warn({ cid: this.id }, 'Slow Consumer Detected: WriteDeadline exceeded');
    this.shard.stats.slowConsumers++;
    this.close('Slow Consumer (Write Deadline)');
  }

  private clearWriteDeadline(): void {
    if (this.writeDeadlineTimer !== null) {
      clearTimeout(this.writeDeadlineTimer);
      this.writeDeadlineTimer = null;
    }
  }

  private onPingTimer(): void {
    if (this.pingsOut + 1 > this.shard.options.maxPingsOut) {
      this.sendErrorAndClose(errors.ERR_STALE_CONNECTION, 'Stale Connection');
      return;
    }
    this.pingsOut++;
    // As nats-server, each server PING times the round trip its PONG closes.
    if (this.pingSentAt === 0) this.pingSentAt = performance.now();
    this.send(PING);
  }

  /** Sends an -ERR line, then closes the connection once it is written. */
  sendErrorAndClose(errLine: Buffer, reason: CloseReason): void {
    if (this.closed) return;
    this.outbound.append(errLine);
    this.close(reason);
  }

  /**
   * Closes the connection like nats-server: what is pending is flushed first, except for slow
   * consumers and broken sockets, which are cut at once.
   */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    this.login?.dispose();
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    if (this.noSubscriptionsTimer !== null) clearTimeout(this.noSubscriptionsTimer);
    if (this.inAccountCount) this.shard.leaveAccount(this.account);
    this.clearWriteDeadline();
    for (const sub of this.subs.values()) this.shard.removeSubscription(sub);
    this.subs.clear();
    this.shard.removeClient(this, reason);
    this.shard.flow.consumerDrained(this);
    const socket = this.socket;
    if (reason.startsWith('Slow Consumer') || reason === 'Read Error' || socket.destroyed) {
      this.outbound.discard();
      socket.destroy();
      return;
    }
    this.outbound.flushTo(socket);
    this.outbound.discard();
    socket.end();
    // A peer that never reads must not hold the socket open forever.
    socket.setTimeout(this.shard.options.writeDeadline, () => socket.destroy());
  }
}
