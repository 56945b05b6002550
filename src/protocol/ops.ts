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
 *                     once its control line is complete (payload pending); -1 while the line is open
 *
 * Records follow at ops[HDR_SIZE + i * OP_STRIDE], OP_STRIDE int32 each: [kind, f1 .. f7].
 * All offsets index `buf` itself (zero copy). Field meaning by kind:
 *
 *   PUB      f1,f2 subject off/len  f3,f4 reply off/len (len 0: none)  f5,f6 payload off/len  f7 = -1
 *   HPUB     f1,f2 subject          f3,f4 reply                        f5,f6 header+payload off/total len
 *            f7 = header length (the header block is the first f7 bytes of the payload)
 *   SUB      f1,f2 subject          f3,f4 queue off/len (len 0: none) f5,f6 sid off/len
 *   UNSUB    f5,f6 sid off/len      f7 = max messages, -1 when absent
 *   CONNECT  f1,f2 JSON text off/len (the argument after the op name, trimmed)
 *   INFO     f1,f2 JSON text off/len
 *   ERR      f1,f2 text after "-ERR" (trimmed)
 *   PING, PONG, OK   no fields
 *   PARSE_ERROR f1 = one of the ParseError codes. It is always the last record: parsing stops there.
 *
 * Rules both backends share (nats-server's parser is the reference):
 *   - op names are case-insensitive; arguments are separated by any run of spaces or tabs;
 *     a control line ends with "\n" and an optional "\r" before it is dropped;
 *   - PUB/HPUB payloads are followed by "\r\n"; a payload is only reported once that trailer arrived;
 *   - limits are checked like nats-server: an argument longer than maxControlLine (also while still
 *     incomplete at the end of the buffer) is MAX_CONTROL_LINE; a PUB/HPUB size over maxPayload is
 *     MAX_PAYLOAD, reported as soon as the control line is complete (before any payload is read).
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
