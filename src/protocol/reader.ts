/**
 * Turns a connection's stream of read chunks into op batches with any parser backend.
 *
 * Complete ops are parsed in place in the chunk (one parse call per chunk unless it holds more than
 * MAX_OPS_PER_CALL ops). Only an op split across reads is copied: its tail goes into a per-connection
 * carry buffer, the next chunk contributes just the bytes that op still needs (up to the next "\n"
 * while its control line is open, then exactly HDR_NEED bytes), the carry is parsed on its own and
 * parsing resumes in the chunk right after. The ops array may be shared by every connection of a
 * shard: nothing is read from it across feeds.
 */
import {
  HDR_CONSUMED,
  HDR_NEED,
  HDR_SIZE,
  OP_STRIDE,
  OpKind,
  type ParseFunction,
} from './ops.js';

export interface OpSink {
  /**
   * Receives `count` records of `ops` whose offsets index `buf`; both are only valid during the call
   * (`buf` is the read chunk itself, or the reader's reused carry Buffer for an op split across reads).
   * A PARSE_ERROR record is always last and ends the stream. Return false to stop (connection closed).
   */
  onOps(buf: Uint8Array, ops: Int32Array, count: number): boolean;
}

const LF = 10;
const CR = 13;
/** An open control line longer than 2 * maxControlLine + this is always a parse error (see ops.ts). */
const LINE_SLACK = 16;
const MIN_CARRY_CAPACITY = 256;
/** A carry grown beyond this for one large message is dropped once that message is done. */
const KEPT_CARRY_CAPACITY = 64 * 1024;
/** The carry is a Buffer so a sink can treat every batch's `buf` as a Buffer without wrapping it. */
const EMPTY = Buffer.alloc(0);

export class ProtocolReader {
  private carry: Uint8Array = EMPTY;
  private carryLength = 0;
  /** HDR_NEED of the carried op: -1 while its control line is open, else its total length. */
  private carryNeed = -1;
  private stopped = false;
  /** The longest open control line the parser can report without an error, plus one. */
  private readonly lineLimit: number;
  private readonly maxCarry: number;

  constructor(
    private readonly parse: ParseFunction,
    private readonly ops: Int32Array,
    private readonly maxControlLine: number,
    private maxPayload: number,
  ) {
    this.lineLimit = 2 * maxControlLine + LINE_SLACK;
    this.maxCarry = this.lineLimit + maxPayload + 2;
  }

  /** A lower max payload for this connection from now on (a user or account JWT limit). */
  limitPayload(maxPayload: number): void {
    this.maxPayload = Math.min(this.maxPayload, maxPayload);
  }

  /** Bytes of an incomplete op held between feeds. */
  get bufferedBytes(): number {
    return this.carryLength;
  }

  /**
   * Parses one read chunk and hands its ops to `sink`. Returns false once the stream has ended: a
   * parse error was delivered or the sink returned false; later feeds are ignored.
   */
  feed(chunk: Uint8Array, sink: OpSink): boolean {
    if (this.stopped) return false;
    const end = chunk.length;
    let pos = 0;
    if (this.carryLength > 0) {
      pos = this.completeCarry(chunk, sink);
      if (pos < 0) return false;
    }
    const ops = this.ops;
    while (pos < end) {
      const count = this.parse(chunk, pos, end, ops, this.maxControlLine, this.maxPayload);
      const consumed = ops[HDR_CONSUMED];
      const need = ops[HDR_NEED];
      if (count > 0 && !this.deliver(chunk, count, sink)) return false;
      if (consumed === end) return true;
      if (need === 0) {
        // `ops` was full: continue at the next op.
        pos = consumed;
        continue;
      }
      this.ensureCarryCapacity(need > 0 ? need : end - consumed);
      this.carry.set(chunk.subarray(consumed, end), 0);
      this.carryLength = end - consumed;
      this.carryNeed = need;
      return true;
    }
    return true;
  }

  /**
   * Appends to the carried op what the chunk has for it and parses it once complete (or once it can
   * fail). Returns the chunk offset to continue at (the chunk's length if it was all used), or -1 when
   * the stream ended.
   */
  private completeCarry(chunk: Uint8Array, sink: OpSink): number {
    const end = chunk.length;
    const ops = this.ops;
    let pos = 0;
    for (;;) {
      let take: number;
      if (this.carryNeed < 0) {
        const lineEnd = chunk.indexOf(LF, pos);
        take = (lineEnd < 0 ? end : lineEnd + 1) - pos;
        // Past lineLimit the parser reports MAX_CONTROL_LINE, so more bytes are never needed.
        const room = this.lineLimit - this.carryLength;
        if (take > room) take = room;
      } else {
        take = this.carryNeed - this.carryLength;
        if (take > end - pos) take = end - pos;
      }
      this.ensureCarryCapacity(this.carryLength + take);
      this.carry.set(chunk.subarray(pos, pos + take), this.carryLength);
      this.carryLength += take;
      pos += take;
      // A pending payload is only parsed once complete, or once its trailer's first byte is there
      // (a wrong byte fails at once, as in nats-server).
      if (this.carryNeed > 0 && this.carryLength < this.carryNeed - 1) return pos;
      if (this.carryNeed > 0 && this.carryLength === this.carryNeed - 1 && this.carry[this.carryLength - 1] === CR) {
        return pos;
      }

      const count = this.parse(this.carry, 0, this.carryLength, ops, this.maxControlLine, this.maxPayload);
      const need = ops[HDR_NEED];
      if (count > 0) {
        // Only the carried op's bytes were appended, so this is that op (or its parse error).
        if (!this.deliver(this.carry, count, sink)) return -1;
        this.carryLength = 0;
        this.carryNeed = -1;
        if (this.carry.length > KEPT_CARRY_CAPACITY) this.carry = EMPTY;
        return pos;
      }
      this.carryNeed = need;
      if (pos === end) return pos;
    }
  }

  private deliver(buf: Uint8Array, count: number, sink: OpSink): boolean {
    const failed = this.ops[HDR_SIZE + (count - 1) * OP_STRIDE] === OpKind.PARSE_ERROR;
    if (!sink.onOps(buf, this.ops, count) || failed) {
      this.stopped = true;
      this.carryLength = 0;
      this.carry = EMPTY;
      return false;
    }
    return true;
  }

  private ensureCarryCapacity(length: number): void {
    if (length <= this.carry.length) return;
    let capacity = Math.max(MIN_CARRY_CAPACITY, this.carry.length * 2);
    if (capacity > this.maxCarry) capacity = this.maxCarry;
    if (capacity < length) capacity = length;
    const grown = Buffer.allocUnsafe(capacity);
    grown.set(this.carry.subarray(0, this.carryLength), 0);
    this.carry = grown;
  }
}
