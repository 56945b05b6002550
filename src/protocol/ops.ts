/**
 * The contract between the protocol parser backends (TypeScript and Rust) and the shard.
 *
 * A backend implements one pure function, `parse(buf, start, end, ops, maxControlLine, maxPayload)`,
 * called once per read buffer (never per message). It scans complete client ops in buf[start, end)
 * and writes them into the preallocated Int32Array `ops`:
 *
 *   ops[HDR_COUNT]    number of op records written
 *   ops[HDR_CONSUMED] offset of the first byte not consumed: `end`, or the start of an incomplete op
 *                     (or of the op that did not fit in `ops`, or of the op that failed)
 *   ops[HDR_NEED]     when an op is incomplete: the total bytes that op needs counted from its start,
 *                     once its control line is complete (payload pending); -1 while the line is open;
 *                     0 when nothing is pending (all consumed, a PARSE_ERROR, or parsing stopped at an
 *                     op boundary because `ops` was full: call again from HDR_CONSUMED)
 *
 * Records follow at ops[HDR_SIZE + i * OP_STRIDE], OP_STRIDE int32 each: [kind, f1 .. f7].
 * All offsets index `buf` itself (zero copy). Fields a kind does not use are written as 0, so two
 * backends produce identical arrays. Field meaning by kind:
 *
 *   PUB      f1,f2 subject off/len  f3,f4 reply off/len (len 0: none)  f5,f6 payload off/len  f7 = -1
 *   HPUB     f1,f2 subject          f3,f4 reply                        f5,f6 header+payload off/total len
 *            f7 = header length (the header block is the first f7 bytes of the payload)
 *   SUB      f1,f2 subject          f3,f4 queue off/len (len 0: none) f5,f6 sid off/len
 *   UNSUB    f5,f6 sid off/len      f7 = max messages, -1 when absent
 *   CONNECT  f1,f2 JSON text off/len: the argument after the op name, leading blanks skipped, up to
 *            the line end (exactly nats-server's bytes: not JSON-validated, trailing blanks kept)
 *   INFO     f1,f2 JSON text off/len (same rules)
 *   ERR      f1,f2 text after "-ERR " (same rules)
 *   PING, PONG, OK   no fields (anything between the name and "\n" is ignored: "PING x", "PINGX")
 *   PARSE_ERROR f1 = one of the ParseError codes, f2 = offset of the failed op's first byte,
 *            f3 = the OpKind whose arguments or payload failed, 0 when the op name itself was not
 *            recognised (lets the shard answer like nats-server when auth is pending or when an
 *            HPUB comes from a client without headers support). Always the last record.
 *
 * Rules both backends share (nats-server's parser is the reference):
 *   - op names are case-insensitive; arguments are separated by any run of spaces or tabs
 *     (SUB/UNSUB also split on "\r", like nats-server's splitArg);
 *     a control line ends with "\n"; if the argument contains any "\r", the byte before "\n" is
 *     dropped (nats-server's `drop` flag: normally that is the "\r" of "\r\n");
 *   - PUB/HPUB/SUB/UNSUB with the wrong number of arguments, a size that is not 1..9 digits, or an
 *     HPUB header size above its total size are BAD_ARGUMENTS; an UNSUB max that is not 1..9 digits
 *     is reported as -1 (absent), like nats-server;
 *   - PUB/HPUB payloads are followed by "\r\n"; a payload is only reported once that trailer arrived;
 *   - limits are checked like nats-server: an argument longer than maxControlLine (also while still
 *     incomplete at the end of the buffer) is MAX_CONTROL_LINE; a PUB/HPUB size over maxPayload is
 *     MAX_PAYLOAD, reported as soon as the control line is complete (before any payload is read);
 *   - beyond nats-server (which buffers nothing there, so needs no limit): a run of blanks before
 *     the argument, or a PING/PONG/+OK tail, longer than maxControlLine is MAX_CONTROL_LINE too, so
 *     that an incomplete op is never longer than 2 * maxControlLine + 16 bytes before its payload;
 *   - a byte other than "\r\n" right after a payload is UNKNOWN_OP, detected as soon as it arrives;
 *   - MSG, HMSG and route/leaf ops from a client are UNKNOWN_OP (nats-server quirk not reproduced:
 *     it silently ignores "HMSG <anything>\r\n\r\n" when that arrives within one read);
 *   - every check is made on the bytes seen so far, so the outcome does not depend on how the input
 *     was split into buffers (a reader re-parses an incomplete op from its first byte).
 */
export const HDR_COUNT = 0;
export const HDR_CONSUMED = 1;
export const HDR_NEED = 2;
export const HDR_SIZE = 4;
export const OP_STRIDE = 8;
/** Records per parse call; a longer buffer is parsed in several calls. */
export const MAX_OPS_PER_CALL = 1024;
export const OPS_ARRAY_LENGTH = HDR_SIZE + MAX_OPS_PER_CALL * OP_STRIDE;

export const enum OpKind {
  PING = 1,
  PONG = 2,
  CONNECT = 3,
  PUB = 4,
  HPUB = 5,
  SUB = 6,
  UNSUB = 7,
  INFO = 8,
  OK = 9,
  ERR = 10,
  PARSE_ERROR = 11,
}

/** Fatal parse errors: the connection is closed after the reply nats-server gives for each. */
export const enum ParseError {
  /** -ERR 'Unknown Protocol Operation', then close. */
  UNKNOWN_OP = 1,
  /** -ERR 'maximum control line exceeded', then close. */
  MAX_CONTROL_LINE = 2,
  /** -ERR 'Maximum Payload Violation', then close. */
  MAX_PAYLOAD = 3,
  /** Malformed PUB/HPUB/SUB/UNSUB arguments: nats-server closes without any -ERR. */
  BAD_ARGUMENTS = 4,
}

/** The function signature both backends export. Returns the number of records written. */
export type ParseFunction = (
  buf: Uint8Array,
  start: number,
  end: number,
  ops: Int32Array,
  maxControlLine: number,
  maxPayload: number,
) => number;
