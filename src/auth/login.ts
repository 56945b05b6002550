/**
 * A connection's way in while authentication is required and not done. As in nats-server, the
 * first op must be CONNECT (any other first byte: -ERR 'Authorization Violation', or the
 * `no_auth_user` when there is one); nothing after the CONNECT line is processed until its
 * credentials are checked, which may take a pool thread's time: the socket is paused meanwhile and
 * what already arrived is kept, then processed in order. No CONNECT within auth_timeout:
 * -ERR 'Authentication Timeout'.
 */
import type { Socket } from 'node:net';
import * as errors from '../protocol/errors.js';
import type { Authenticator, Credentials, Identity } from './authenticator.js';
import type { Peer } from './jwt.js';
import type { PeerAddress } from '../transport/accept.js';
import { peerCertificate } from '../transport/tls.js';
import { WebSocketDuplex } from '../transport/websocket.js';

/** Where a client connects from, for a user JWT's source restrictions. */
export function peerOf(client: LoginClient): Peer {
  return { ip: client.peer.ip, websocket: client.socket instanceof WebSocketDuplex };
}

/** What the gate needs from the connection it guards. */
export interface LoginClient {
  readonly id: number;
  readonly socket: Socket;
  readonly peer: PeerAddress;
  readonly closed: boolean;
  /** The normal read path (parser and ops). */
  readChunk(chunk: Buffer): void;
  /** Authentication succeeded: the identity's permissions apply from now on. */
  applyIdentity(identity: Identity): void;
  /** The rest of CONNECT processing once its credentials passed (+OK when verbose). */
  finishConnect(): void;
  sendErrorAndClose(errLine: Buffer, reason: 'Authentication Failure' | 'Authentication Timeout'): void;
}

const LF = 10;
const UPPER_C = 67;
const LOWER_C = 99;

export class LoginGate {
  /** Sent in INFO when NKey users exist; the client signs it. */
  readonly nonce: string;
  private readonly timeoutMs: number;
  /** The first line (the CONNECT) was handed to the parser whole. */
  private connectLineRead = false;
  private seenFirstByte = false;
  private done = false;
  /** Inside a readChunk of the CONNECT line: a synchronous success must not re-enter the parser. */
  private feeding = false;
  /** Bytes after the CONNECT line, processed once authentication succeeded. */
  private readonly pending: Buffer[] = [];
  private timer: NodeJS.Timeout | null;

  /** `authenticator` gives the current settings: a reload may replace them while the gate stands. */
  constructor(
    private readonly client: LoginClient,
    private readonly authenticator: () => Authenticator,
  ) {
    const settings = authenticator();
    this.nonce = settings.nonceFor(client.id);
    this.timeoutMs = settings.timeoutMs;
    this.timer = setTimeout(() => this.timedOut(), this.timeoutMs);
  }

  /** Every read while the gate stands. */
  onData(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.connectLineRead) {
      this.pending.push(chunk);
      return;
    }
    if (!this.seenFirstByte) {
      this.seenFirstByte = true;
      const first = chunk[0];
      if (first !== UPPER_C && first !== LOWER_C) {
        const identity = this.authenticator().defaultIdentity;
        if (identity === null) {
          this.fail();
          return;
        }
        // nats-server lets a client of the no_auth_user start without CONNECT (telnet demos).
        this.succeed(identity, false);
        this.client.readChunk(chunk);
        return;
      }
    }
    const lineEnd = chunk.indexOf(LF);
    if (lineEnd < 0) {
      this.client.readChunk(chunk);
      return;
    }
    this.connectLineRead = true;
    if (lineEnd + 1 < chunk.length) this.pending.push(chunk.subarray(lineEnd + 1));
    this.feeding = true;
    this.client.readChunk(chunk.subarray(0, lineEnd + 1));
    this.feeding = false;
    if (this.done) this.releasePending();
  }

  /** The CONNECT op arrived (its JSON is valid): check its credentials. */
  authenticate(credentials: Credentials): void {
    const settings = this.authenticator();
    const certificate = settings.tlsMap ? peerCertificate(this.client.socket) : null;
    const result = settings.authenticate(credentials, this.nonce, peerOf(this.client), certificate);
    if (result === null) {
      this.fail();
    } else if (result instanceof Promise) {
      this.client.socket.pause();
      result.then(
        (identity) => this.settle(identity, settings, credentials),
        () => this.settle(null, settings, credentials),
      );
    } else {
      this.succeed(result, true);
    }
  }

  private settle(identity: Identity | null, checkedBy: Authenticator, credentials: Credentials): void {
    if (this.client.closed) return;
    // A reload replaced the settings while the pool checked: the verdict of the new ones counts.
    if (checkedBy !== this.authenticator()) {
      this.authenticate(credentials);
      if (this.done && !this.feeding) {
        this.releasePending();
        this.client.socket.resume();
      }
      return;
    }
    if (identity === null) {
      this.fail();
      return;
    }
    this.succeed(identity, true);
    if (!this.feeding) this.releasePending();
    this.client.socket.resume();
  }

  private succeed(identity: Identity, viaConnect: boolean): void {
    this.done = true;
    this.dispose();
    this.client.applyIdentity(identity);
    if (viaConnect) this.client.finishConnect();
  }

  private releasePending(): void {
    for (const chunk of this.pending.splice(0)) {
      if (this.client.closed) return;
      this.client.readChunk(chunk);
    }
  }

  private fail(): void {
    this.dispose();
    this.pending.length = 0;
    this.client.sendErrorAndClose(errors.ERR_AUTHORIZATION_VIOLATION, 'Authentication Failure');
  }

  private timedOut(): void {
    this.timer = null;
    if (this.done || this.client.closed) return;
    this.pending.length = 0;
    this.client.sendErrorAndClose(errors.ERR_AUTHENTICATION_TIMEOUT, 'Authentication Timeout');
  }

  /** Stops the auth timer (authenticated, or the connection closed). */
  dispose(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
