/**
 * The -ERR lines nats-server (2.9) sends to clients, pre-encoded, with what happens to the
 * connection. Texts come from nats-server's source (server/client.go, server/errors.go, parser.go)
 * and were checked byte for byte against /usr/sbin/nats-server over raw sockets; note the mixed
 * case: the texts built from Go error values are lower case ('maximum control line exceeded').
 *
 * Cases where nats-server closes WITHOUT any -ERR (the client only sees EOF):
 *   - malformed PUB/HPUB/SUB/UNSUB arguments (ParseError.BAD_ARGUMENTS);
 *   - a CONNECT or INFO whose argument is not valid JSON (e.g. "CONNECT\r\n", "CONNECT {bad\r\n");
 *   - any "-ERR ..." line sent by a client;
 *   - an HPUB (whatever its arguments, even over max payload) from a client whose CONNECT did not
 *     set "headers": true; the control line length is still checked first;
 *   - slow consumers (max_pending or write deadline): nats-server 2.9 logs and closes, no -ERR.
 * While authentication is pending (auth required, no CONNECT processed yet), any op whose first
 * byte is not 'C'/'c', even an invalid one, gets ERR_AUTHORIZATION_VIOLATION and a close
 * ("PUB foo 65\r\n" over max payload included); "CXYZ" still gets Unknown Protocol Operation.
 */
import { ParseError } from './ops.js';
import type { CloseReason } from '../worker/client.js';

/** The wire line `-ERR '<text>'\r\n`. */
export function errLine(text: string): Buffer {
  return Buffer.from(`-ERR '${text}'\r\n`, 'utf8');
}

// --- Followed by a close ---------------------------------------------------------------------

/** Unrecognised op, bad byte after a payload ("PUB foo 3\r\nabcX"), empty line, "PUB\r\n". */
export const ERR_UNKNOWN_OP = errLine('Unknown Protocol Operation');
/** An argument longer than max_control_line (also detected on a partial line). */
export const ERR_MAX_CONTROL_LINE = errLine('maximum control line exceeded');
/** A PUB/HPUB size above max_payload, sent before any payload byte is read. */
export const ERR_MAX_PAYLOAD = errLine('Maximum Payload Violation');
/** Bad credentials, or a non-CONNECT op while authentication is pending. */
export const ERR_AUTHORIZATION_VIOLATION = errLine('Authorization Violation');
/** No CONNECT within auth_timeout. */
export const ERR_AUTHENTICATION_TIMEOUT = errLine('Authentication Timeout');
export const ERR_USER_AUTHENTICATION_EXPIRED = errLine('User Authentication Expired');
export const ERR_ACCOUNT_AUTHENTICATION_EXPIRED = errLine('Account Authentication Expired');
/** More than ping_max PINGs left unanswered. */
export const ERR_STALE_CONNECTION = errLine('Stale Connection');
/** max_connections reached: nats-server still sends INFO first, then this line, then closes. */
export const ERR_MAX_CONNECTIONS = errLine('maximum connections exceeded');
export const ERR_MAX_ACCOUNT_CONNECTIONS = errLine('maximum account active connections exceeded');
/** CONNECT with "no_responders": true but without "headers": true. */
export const ERR_NO_RESPONDERS_REQUIRES_HEADERS = errLine('no responders requires headers support');
/** CONNECT "protocol" outside 0..1. */
export const ERR_INVALID_CLIENT_PROTOCOL = errLine('invalid client protocol');
/** A plain-text client on a server that requires TLS. */
export const ERR_SECURE_CONNECTION_TLS_REQUIRED = errLine('Secure Connection - TLS Required');

// --- The connection stays open ---------------------------------------------------------------

/** SUB beyond max_subscriptions; the SUB is ignored. */
export const ERR_MAX_SUBSCRIPTIONS = errLine('maximum subscriptions exceeded');
/** SUB with a malformed subject ("foo..bar"); the SUB is ignored. */
export const ERR_INVALID_SUBJECT = errLine('Invalid Subject');
/**
 * Pedantic clients only: PUB/HPUB to a subject that is not a valid literal (wildcards included).
 * The message is still delivered (nats-server 2.9 only warns), and "+OK" follows when verbose.
 */
export const ERR_INVALID_PUBLISH_SUBJECT = errLine('Invalid Publish Subject');

/** PUB/HPUB to a subject the user may not publish to; the message is dropped. */
export function errPublishPermission(subject: Uint8Array): Buffer {
  return errLine(`Permissions Violation for Publish to ${goQuote(subject)}`);
}

/** PUB/HPUB with a reply subject the user may not use; the message is dropped. */
export function errReplyPermission(reply: Uint8Array): Buffer {
  return errLine(`Permissions Violation for Publish with Reply of ${goQuote(reply)}`);
}

/** SUB the user may not make; the SUB is ignored. `queue` empty: a plain subscription. */
export function errSubscriptionPermission(subject: Uint8Array, queue: Uint8Array): Buffer {
  const text =
    queue.length === 0
      ? `Permissions Violation for Subscription to ${goQuote(subject)}`
      : `Permissions Violation for Subscription to ${goQuote(subject)} using queue ${goQuote(queue)}`;
  return errLine(text);
}

/**
 * A subscription a config reload took away (the user's new permissions do not allow it); the
 * connection stays. nats-server names the sid, not the queue.
 */
export function errSubscriptionRevoked(subject: string, sid: string): Buffer {
  return errLine(`Permissions Violation for Subscription to ${goQuote(Buffer.from(subject, 'latin1'))} (sid ${goQuote(Buffer.from(sid, 'latin1'))})`);
}

/**
 * What nats-server sends for each fatal parse error (null: nothing; the connection is closed in
 * every case) and its close reason (ClosedState in server/client.go).
 */
export function parseErrorReply(code: number): { bytes: Buffer | null; reason: CloseReason } {
  switch (code as ParseError) {
    case ParseError.MAX_CONTROL_LINE:
      return { bytes: ERR_MAX_CONTROL_LINE, reason: 'Maximum Control Line Exceeded' };
    case ParseError.MAX_PAYLOAD:
      return { bytes: ERR_MAX_PAYLOAD, reason: 'Maximum Payload Exceeded' };
    case ParseError.BAD_ARGUMENTS:
      return { bytes: null, reason: 'Protocol Violation' };
    default:
      return { bytes: ERR_UNKNOWN_OP, reason: 'Parse Error' };
  }
}

const HEX = '0123456789abcdef';

/**
 * Go's %q for a byte string, as nats-server formats subjects in permission errors: double quotes,
 * backslash escapes for '"', '\\' and \a \b \f \n \r \t \v, \xHH for other control bytes, DEL and
 * bytes that are not valid UTF-8; valid UTF-8 above ASCII is kept. (Go also escapes non-printable
 * Unicode code points as \u/\U; subjects with those are not expected and are kept as they are.)
 */
export function goQuote(bytes: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      if (b === 0x22) out += '\\"';
      else if (b === 0x5c) out += '\\\\';
      else if (b === 0x07) out += '\\a';
      else if (b === 0x08) out += '\\b';
      else if (b === 0x0c) out += '\\f';
      else if (b === 0x0a) out += '\\n';
      else if (b === 0x0d) out += '\\r';
      else if (b === 0x09) out += '\\t';
      else if (b === 0x0b) out += '\\v';
      else if (b < 0x20 || b === 0x7f) out += '\\x' + HEX[b >> 4] + HEX[b & 15];
      else out += String.fromCharCode(b);
      continue;
    }
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      out += '\\x' + HEX[b >> 4] + HEX[b & 15];
      i++;
      continue;
    }
    out += Buffer.from(bytes.buffer, bytes.byteOffset + i, length).toString('utf8');
    i += length;
  }
  return out + '"';
}

/** Length of the valid UTF-8 sequence starting at bytes[i] (a non-ASCII lead byte), 0 if invalid. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  let length: number;
  let min: number;
  let codePoint: number;
  if (b >= 0xc2 && b <= 0xdf) (length = 2), (min = 0x80), (codePoint = b & 0x1f);
  else if (b >= 0xe0 && b <= 0xef) (length = 3), (min = 0x800), (codePoint = b & 0x0f);
  else if (b >= 0xf0 && b <= 0xf4) (length = 4), (min = 0x10000), (codePoint = b & 0x07);
  else return 0;
  if (i + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) {
    const c = bytes[i + k];
    if ((c & 0xc0) !== 0x80) return 0;
    codePoint = (codePoint << 6) | (c & 0x3f);
  }
  if (codePoint < min || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return 0;
  return length;
}
