/**
 * Subject rules, as nats-server applies them (server/sublist.go, server/client.go).
 *
 * A subject is a list of tokens separated by ".". In a subscription, a token that is exactly "*"
 * matches any one token and a token that is exactly ">" (only allowed last) matches one or more
 * trailing tokens. "*" or ">" inside a longer token ("foo*", ">bar") is an ordinary character.
 *
 * What nats-server checks on the wire (verified against nats-server 2.9.10 with raw sockets):
 *   SUB   always: no empty token, no token after ">" (the only rules of Sublist.Insert).
 *         Anything else is accepted, even "\f", NUL or bytes that are not UTF-8.
 *         Failure: -ERR 'Invalid Subject', the connection stays open, nothing is subscribed.
 *   PUB/HPUB  only in pedantic mode: IsValidLiteralSubject (no empty token, no "*" or ">" token).
 *         Failure: -ERR 'Invalid Publish Subject' and the message is STILL delivered: a wildcard
 *         token in a published subject matches only wildcard subscriptions, and a subject with an
 *         empty token matches nothing (Sublist.match returns no result for it).
 *
 * Every check exists twice: over a string (control plane) and over a byte range of a Uint8Array
 * (the shard's hot path, where subjects are not turned into strings).
 */

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/** True for a token that is exactly "*" or ">" (a wildcard), from its first char and length. */
function isWildcardToken(firstChar: number, tokenLength: number): boolean {
  return tokenLength === 1 && (firstChar === STAR || firstChar === GT);
}

/** True for the characters nats-server's IsValidSubject refuses inside a token. */
function isSubjectWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
}

/**
 * What SUB accepts (nats-server Sublist.Insert): at least one token, no empty token, and ">" only
 * as the last token.
 */
export function isValidSubscribeSubject(subject: string): boolean {
  const length = subject.length;
  if (length === 0) return false;
  let tokenStart = 0;
  for (let i = 0; i < length; i++) {
    if (subject.charCodeAt(i) === DOT) {
      const tokenLength = i - tokenStart;
      // A ">" token followed by "." has a token after it.
      if (tokenLength === 0 || (tokenLength === 1 && subject.charCodeAt(tokenStart) === GT)) return false;
      tokenStart = i + 1;
    }
  }
  return tokenStart < length;
}

/** isValidSubscribeSubject over buf[off, off + len). */
export function isValidSubscribeSubjectBytes(buf: Uint8Array, off: number, len: number): boolean {
  if (len === 0) return false;
  const end = off + len;
  let tokenStart = off;
  for (let i = off; i < end; i++) {
    if (buf[i] === DOT) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0 || (tokenLength === 1 && buf[tokenStart] === GT)) return false;
      tokenStart = i + 1;
    }
  }
  return tokenStart < end;
}

/**
 * nats-server IsValidLiteralSubject: at least one token, no empty token, no "*" or ">" token.
 * This is the pedantic-mode check on PUB/HPUB subjects.
 */
export function isValidLiteralSubject(subject: string): boolean {
  const length = subject.length;
  let tokenStart = 0;
  for (let i = 0; i <= length; i++) {
    if (i === length || subject.charCodeAt(i) === DOT) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0 || isWildcardToken(subject.charCodeAt(tokenStart), tokenLength)) return false;
      tokenStart = i + 1;
    }
  }
  return true;
}

/**
 * The pedantic-mode check on a PUB/HPUB subject in buf[off, off + len) (nats-server
 * IsValidLiteralSubject). On false, nats-server replies -ERR 'Invalid Publish Subject' and still
 * delivers the message.
 */
export function isValidPublishSubjectBytes(buf: Uint8Array, off: number, len: number): boolean {
  const end = off + len;
  let tokenStart = off;
  for (let i = off; i <= end; i++) {
    if (i === end || buf[i] === DOT) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0 || isWildcardToken(buf[tokenStart]!, tokenLength)) return false;
      tokenStart = i + 1;
    }
  }
  return true;
}

/**
 * nats-server isValidSubject: at least one token, no empty token, ">" only last, no space, tab,
 * CR, LF or form feed. With checkRunes also no NUL and no U+FFFD (what decoding invalid UTF-8
 * yields); nats-server uses that stricter form for subjects it stores (e.g. stream configs).
 */
export function isValidSubject(subject: string, checkRunes = false): boolean {
  const length = subject.length;
  if (length === 0) return false;
  let tokenStart = 0;
  let previousWasFullWildcard = false;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? DOT : subject.charCodeAt(i);
    if (c === DOT) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0 || previousWasFullWildcard) return false;
      previousWasFullWildcard = tokenLength === 1 && subject.charCodeAt(tokenStart) === GT;
      tokenStart = i + 1;
    } else if (isSubjectWhitespace(c) || (checkRunes && (c === 0 || c === 0xfffd))) {
      return false;
    }
  }
  return true;
}

/** nats-server IsValidPublishSubject: isValidSubject and no wildcard token. */
export function isValidPublishSubject(subject: string): boolean {
  return isValidSubject(subject) && subjectIsLiteral(subject);
}

/**
 * nats-server subjectIsLiteral: no token is exactly "*" or ">". Does not check validity otherwise
 * ("foo..bar" is literal).
 */
export function subjectIsLiteral(subject: string): boolean {
  const length = subject.length;
  let tokenStart = 0;
  for (let i = 0; i <= length; i++) {
    if (i === length || subject.charCodeAt(i) === DOT) {
      if (isWildcardToken(subject.charCodeAt(tokenStart), i - tokenStart)) return false;
      tokenStart = i + 1;
    }
  }
  return true;
}

/** subjectIsLiteral over buf[off, off + len). */
export function subjectIsLiteralBytes(buf: Uint8Array, off: number, len: number): boolean {
  const end = off + len;
  let tokenStart = off;
  for (let i = off; i <= end; i++) {
    if (i === end || buf[i] === DOT) {
      if (isWildcardToken(buf[tokenStart]!, i - tokenStart)) return false;
      tokenStart = i + 1;
    }
  }
  return true;
}

/** True for "" and for subjects with an empty token ("foo.", ".foo", "foo..bar"). */
export function hasEmptyToken(subject: string): boolean {
  const length = subject.length;
  if (length === 0 || subject.charCodeAt(0) === DOT || subject.charCodeAt(length - 1) === DOT) return true;
  return subject.includes('..');
}

function regionsEqual(a: string, aStart: number, b: string, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (a.charCodeAt(aStart + i) !== b.charCodeAt(bStart + i)) return false;
  }
  return true;
}

/**
 * True when the published subject `literal` is matched by the subscription subject `pattern`
 * (which may hold "*" and ">" tokens). Tokens of `literal` are compared as plain text, so a "*"
 * in `literal` only matches a "*" wildcard or an identical "*" token, as in nats-server's
 * matchLiteral. Subjects with empty tokens match nothing, like Sublist.match.
 */
export function matchLiteral(literal: string, pattern: string): boolean {
  if (hasEmptyToken(literal)) return false;
  const literalLength = literal.length;
  const patternLength = pattern.length;
  let li = 0;
  let pi = 0;
  for (;;) {
    let patternEnd = pattern.indexOf('.', pi);
    if (patternEnd < 0) patternEnd = patternLength;
    let literalEnd = literal.indexOf('.', li);
    if (literalEnd < 0) literalEnd = literalLength;
    const patternTokenLength = patternEnd - pi;
    if (patternTokenLength === 0) return false;
    if (patternTokenLength === 1 && pattern.charCodeAt(pi) === GT) return true;
    const tokenMatches =
      (patternTokenLength === 1 && pattern.charCodeAt(pi) === STAR) ||
      (literalEnd - li === patternTokenLength && regionsEqual(literal, li, pattern, pi, patternTokenLength));
    if (!tokenMatches) return false;
    const literalDone = literalEnd === literalLength;
    const patternDone = patternEnd === patternLength;
    if (literalDone || patternDone) return literalDone && patternDone;
    li = literalEnd + 1;
    pi = patternEnd + 1;
  }
}

/**
 * A hash of the subject in buf[off, off + len): FNV-1a style over the bytes taken four at a time
 * (a quarter of the multiplies of byte-wise FNV), folded to 30 bits so it stays a small-integer
 * map key. Used by the Sublist's byte lookups; fit for any subject-keyed table.
 */
export function hashSubjectBytes(buf: Uint8Array, off: number, len: number): number {
  let hash = 0x811c9dc5 ^ len;
  const end = off + len;
  let i = off;
  for (; i + 4 <= end; i += 4) {
    hash = Math.imul(hash ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)), 0x01000193);
  }
  for (; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
  return (hash ^ (hash >>> 15)) & 0x3fffffff;
}
