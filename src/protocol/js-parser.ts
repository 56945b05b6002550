/**
 * The pure-TypeScript parser backend: one byte-wise state machine over buf[start, end), following
 * nats-server's server/parser.go (client connections) for what is accepted and what is an error.
 * See ops.ts for the contract. The Rust backend is a line-by-line port of this file: keep it a
 * single pass with integer state, no strings, no regexes and no allocation.
 */
import {
  HDR_CONSUMED,
  HDR_COUNT,
  HDR_NEED,
  HDR_SIZE,
  OP_STRIDE,
  OpKind,
  ParseError,
  type ParseFunction,
} from './ops.js';

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const PLUS = 43;
const MINUS = 45;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
/** `b | CASE_BIT` maps an ASCII letter of either case to lower case (and no other byte onto a letter). */
const CASE_BIT = 0x20;
const LOWER_C = 99;
const LOWER_H = 104;
const LOWER_I = 105;
const LOWER_O = 111;
const LOWER_P = 112;
const LOWER_S = 115;
const LOWER_U = 117;

/** nats-server's parseSize accepts at most 9 digits (999,999,999), so sizes never overflow int32. */
const MAX_SIZE_DIGITS = 9;

function asciiLower(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
  return bytes;
}

/** Lower-case op names by OpKind, matched byte by byte after the first byte picked the op. */
const OP_NAMES: readonly Uint8Array[] = (() => {
  const names: Uint8Array[] = [];
  names[OpKind.PING] = asciiLower('ping');
  names[OpKind.PONG] = asciiLower('pong');
  names[OpKind.CONNECT] = asciiLower('connect');
  names[OpKind.PUB] = asciiLower('pub');
  names[OpKind.HPUB] = asciiLower('hpub');
  names[OpKind.SUB] = asciiLower('sub');
  names[OpKind.UNSUB] = asciiLower('unsub');
  names[OpKind.INFO] = asciiLower('info');
  names[OpKind.OK] = asciiLower('+ok');
  names[OpKind.ERR] = asciiLower('-err');
  return names;
})();

/** Expecting the first byte of an op. */
const ST_START = 0;
/** After "P": PUB, PING or PONG. */
const ST_P = 1;
/** Matching the rest of OP_NAMES[kind]. */
const ST_NAME = 2;
/** PUB, HPUB, SUB, UNSUB, -ERR: the name must be followed by a space or tab. */
const ST_NEED_SPACE = 3;
/** Skipping spaces and tabs before the argument (CONNECT and INFO start here right after the name). */
const ST_SKIP_SPACE = 4;
/** Inside the argument, up to "\n". */
const ST_ARG = 5;
/** PING, PONG, +OK: everything up to "\n" is ignored, as nats-server does ("PING x", "PINGX"). */
const ST_TAIL = 6;

/**
 * nats-server's parseSize: 1 to 9 ASCII digits, else -1 (empty, sign, other bytes, too long).
 * Leading zeros are accepted.
 */
function parseSize(buf: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > MAX_SIZE_DIGITS) return -1;
  let n = 0;
  for (let k = from; k < to; k++) {
    const d = buf[k];
    if (d < DIGIT_0 || d > DIGIT_9) return -1;
    n = n * 10 + (d - DIGIT_0);
  }
  return n;
}

export const parse: ParseFunction = (buf, start, end, ops, maxControlLine, maxPayload) => {
  const capacity = ((ops.length - HDR_SIZE) / OP_STRIDE) | 0;
  let count = 0;
  let state = ST_START;
  let kind = 0;
  let name = OP_NAMES[OpKind.PUB];
  let namePos = 0;
  let opStart = start;
  /** First byte after the op name: start of the run of spaces (or of the ignored PING/PONG/+OK tail). */
  let runStart = start;
  let argStart = start;
  /** nats-server's `drop`: set by any "\r" in the argument; the line then ends one byte before "\n". */
  let drop = 0;
  let error = 0;
  let errorKind = 0;
  let i = start;

  scan: for (; i < end; i++) {
    const b = buf[i];
    switch (state) {
      case ST_START: {
        opStart = i;
        const lower = b | CASE_BIT;
        if (lower === LOWER_P) {
          state = ST_P;
          continue;
        }
        if (lower === LOWER_H) kind = OpKind.HPUB;
        else if (lower === LOWER_S) kind = OpKind.SUB;
        else if (lower === LOWER_U) kind = OpKind.UNSUB;
        else if (lower === LOWER_C) kind = OpKind.CONNECT;
        else if (lower === LOWER_I) kind = OpKind.INFO;
        else if (b === PLUS) kind = OpKind.OK;
        else if (b === MINUS) kind = OpKind.ERR;
        else {
          error = ParseError.UNKNOWN_OP;
          break scan;
        }
        name = OP_NAMES[kind];
        namePos = 1;
        state = ST_NAME;
        continue;
      }
      case ST_P: {
        const lower = b | CASE_BIT;
        if (lower === LOWER_U) kind = OpKind.PUB;
        else if (lower === LOWER_I) kind = OpKind.PING;
        else if (lower === LOWER_O) kind = OpKind.PONG;
        else {
          error = ParseError.UNKNOWN_OP;
          break scan;
        }
        name = OP_NAMES[kind];
        namePos = 2;
        state = ST_NAME;
        continue;
      }
      case ST_NAME:
        if ((b | CASE_BIT) !== name[namePos]) {
          error = ParseError.UNKNOWN_OP;
          break scan;
        }
        namePos++;
        if (namePos === name.length) {
          runStart = i + 1;
          if (kind === OpKind.PING || kind === OpKind.PONG || kind === OpKind.OK) state = ST_TAIL;
          else if (kind === OpKind.CONNECT || kind === OpKind.INFO) state = ST_SKIP_SPACE;
          else state = ST_NEED_SPACE;
        }
        continue;
      case ST_NEED_SPACE:
        if (b !== SPACE && b !== TAB) {
          error = ParseError.UNKNOWN_OP;
          break scan;
        }
        state = ST_SKIP_SPACE;
        continue;
      case ST_SKIP_SPACE:
        if (b === SPACE || b === TAB) continue;
        // Not in nats-server (which skips any run of blanks): bounds what a reader must buffer.
        if (i - runStart > maxControlLine) {
          error = ParseError.MAX_CONTROL_LINE;
          errorKind = kind;
          break scan;
        }
        // Like nats-server, this first byte is not looked at: "SUB \r\n" has the argument "\r".
        argStart = i;
        drop = 0;
        state = ST_ARG;
        continue;
      case ST_TAIL: {
        if (b !== LF) continue;
        // Not in nats-server (which ignores any tail): bounds what a reader must buffer.
        if (i - runStart > maxControlLine) {
          error = ParseError.MAX_CONTROL_LINE;
          errorKind = kind;
          break scan;
        }
        const rec = HDR_SIZE + count * OP_STRIDE;
        ops[rec] = kind;
        ops[rec + 1] = 0;
        ops[rec + 2] = 0;
        ops[rec + 3] = 0;
        ops[rec + 4] = 0;
        ops[rec + 5] = 0;
        ops[rec + 6] = 0;
        ops[rec + 7] = 0;
        count++;
        state = ST_START;
        if (count === capacity) {
          i++;
          break scan;
        }
        continue;
      }
      case ST_ARG: {
        if (b === CR) {
          drop = 1;
          continue;
        }
        if (b !== LF) continue;
        const lineEnd = i - drop;
        if (lineEnd - argStart > maxControlLine) {
          error = ParseError.MAX_CONTROL_LINE;
          errorKind = kind;
          break scan;
        }
        const rec = HDR_SIZE + count * OP_STRIDE;
        if (kind === OpKind.CONNECT || kind === OpKind.INFO || kind === OpKind.ERR) {
          ops[rec] = kind;
          ops[rec + 1] = argStart;
          ops[rec + 2] = lineEnd - argStart;
          ops[rec + 3] = 0;
          ops[rec + 4] = 0;
          ops[rec + 5] = 0;
          ops[rec + 6] = 0;
          ops[rec + 7] = 0;
          count++;
          state = ST_START;
          if (count === capacity) {
            i++;
            break scan;
          }
          continue;
        }

        // Split the argument like nats-server: PUB/HPUB on blanks only, SUB/UNSUB (splitArg) also
        // on "\r" and "\n". Up to four tokens are kept; `tokens` counts them all.
        const splitOnLineBreaks = kind === OpKind.SUB || kind === OpKind.UNSUB;
        let tokens = 0;
        let tokenStart = -1;
        let s0 = 0, e0 = 0, s1 = 0, e1 = 0, s2 = 0, e2 = 0, s3 = 0, e3 = 0;
        for (let j = argStart; j <= lineEnd; j++) {
          const c = j < lineEnd ? buf[j] : SPACE;
          const separator =
            c === SPACE || c === TAB || (splitOnLineBreaks && (c === CR || c === LF));
          if (!separator) {
            if (tokenStart < 0) tokenStart = j;
            continue;
          }
          if (tokenStart < 0) continue;
          if (tokens === 0) (s0 = tokenStart), (e0 = j);
          else if (tokens === 1) (s1 = tokenStart), (e1 = j);
          else if (tokens === 2) (s2 = tokenStart), (e2 = j);
          else if (tokens === 3) (s3 = tokenStart), (e3 = j);
          tokens++;
          tokenStart = -1;
        }

        if (kind === OpKind.SUB) {
          // SUB <subject> [queue] <sid>
          if (tokens !== 2 && tokens !== 3) {
            error = ParseError.BAD_ARGUMENTS;
            errorKind = kind;
            break scan;
          }
          ops[rec] = OpKind.SUB;
          ops[rec + 1] = s0;
          ops[rec + 2] = e0 - s0;
          ops[rec + 3] = tokens === 3 ? s1 : 0;
          ops[rec + 4] = tokens === 3 ? e1 - s1 : 0;
          ops[rec + 5] = tokens === 3 ? s2 : s1;
          ops[rec + 6] = tokens === 3 ? e2 - s2 : e1 - s1;
          ops[rec + 7] = 0;
          count++;
          state = ST_START;
          if (count === capacity) {
            i++;
            break scan;
          }
          continue;
        }
        if (kind === OpKind.UNSUB) {
          // UNSUB <sid> [max]; an unparsable max counts as absent, as in nats-server.
          if (tokens !== 1 && tokens !== 2) {
            error = ParseError.BAD_ARGUMENTS;
            errorKind = kind;
            break scan;
          }
          ops[rec] = OpKind.UNSUB;
          ops[rec + 1] = 0;
          ops[rec + 2] = 0;
          ops[rec + 3] = 0;
          ops[rec + 4] = 0;
          ops[rec + 5] = s0;
          ops[rec + 6] = e0 - s0;
          ops[rec + 7] = tokens === 2 ? parseSize(buf, s1, e1) : -1;
          count++;
          state = ST_START;
          if (count === capacity) {
            i++;
            break scan;
          }
          continue;
        }

        // PUB <subject> [reply] <size> | HPUB <subject> [reply] <header size> <total size>
        const withReply = kind === OpKind.PUB ? tokens === 3 : tokens === 4;
        if (kind === OpKind.PUB ? tokens !== 2 && tokens !== 3 : tokens !== 3 && tokens !== 4) {
          error = ParseError.BAD_ARGUMENTS;
          errorKind = kind;
          break scan;
        }
        let headerSize = -1;
        let size: number;
        if (kind === OpKind.PUB) {
          size = withReply ? parseSize(buf, s2, e2) : parseSize(buf, s1, e1);
        } else {
          headerSize = withReply ? parseSize(buf, s2, e2) : parseSize(buf, s1, e1);
          size = withReply ? parseSize(buf, s3, e3) : parseSize(buf, s2, e2);
          if (headerSize < 0 || (size >= 0 && headerSize > size)) {
            error = ParseError.BAD_ARGUMENTS;
            errorKind = kind;
            break scan;
          }
        }
        if (size < 0) {
          error = ParseError.BAD_ARGUMENTS;
          errorKind = kind;
          break scan;
        }
        // Checked before any payload byte is read, like nats-server.
        if (size > maxPayload) {
          error = ParseError.MAX_PAYLOAD;
          errorKind = kind;
          break scan;
        }
        const payloadStart = i + 1;
        const trailer = payloadStart + size;
        if (trailer + 1 >= end) {
          // Incomplete, but a wrong first trailer byte already fails, as it does in nats-server.
          if (trailer < end && buf[trailer] !== CR) {
            error = ParseError.UNKNOWN_OP;
            errorKind = kind;
            break scan;
          }
          ops[HDR_COUNT] = count;
          ops[HDR_CONSUMED] = opStart;
          ops[HDR_NEED] = trailer + 2 - opStart;
          return count;
        }
        if (buf[trailer] !== CR || buf[trailer + 1] !== LF) {
          error = ParseError.UNKNOWN_OP;
          errorKind = kind;
          break scan;
        }
        ops[rec] = kind;
        ops[rec + 1] = s0;
        ops[rec + 2] = e0 - s0;
        ops[rec + 3] = withReply ? s1 : 0;
        ops[rec + 4] = withReply ? e1 - s1 : 0;
        ops[rec + 5] = payloadStart;
        ops[rec + 6] = size;
        ops[rec + 7] = headerSize;
        count++;
        state = ST_START;
        i = trailer + 1;
        if (count === capacity) {
          i++;
          break scan;
        }
        continue;
      }
    }
  }

  if (error === 0 && i === end) {
    // The buffer ended inside an op: apply nats-server's split-buffer control line check.
    if (state === ST_ARG && end - argStart - drop > maxControlLine) error = ParseError.MAX_CONTROL_LINE;
    else if ((state === ST_SKIP_SPACE || state === ST_TAIL) && end - runStart > maxControlLine) {
      error = ParseError.MAX_CONTROL_LINE;
    }
    if (error !== 0) errorKind = kind;
  }
  if (error !== 0) {
    const rec = HDR_SIZE + count * OP_STRIDE;
    ops[rec] = OpKind.PARSE_ERROR;
    ops[rec + 1] = error;
    ops[rec + 2] = opStart;
    ops[rec + 3] = errorKind;
    ops[rec + 4] = 0;
    ops[rec + 5] = 0;
    ops[rec + 6] = 0;
    ops[rec + 7] = 0;
    count++;
    ops[HDR_COUNT] = count;
    ops[HDR_CONSUMED] = opStart;
    ops[HDR_NEED] = 0;
    return count;
  }
  ops[HDR_COUNT] = count;
  if (state === ST_START) {
    // Everything consumed, or stopped at an op boundary because `ops` is full.
    ops[HDR_CONSUMED] = i;
    ops[HDR_NEED] = 0;
  } else {
    ops[HDR_CONSUMED] = opStart;
    ops[HDR_NEED] = -1;
  }
  return count;
};
