import type { Socket } from 'node:net';
import { NO_RESPONDERS_HEADER, writeDecimal } from '../protocol/encoder.js';
import type { MessageView } from './message.js';
import { copyBytes, dataViewOf } from './copy-bytes.js';

/** Small, so 10 000 idle connections hold little; a busy client grows it once and keeps the size. */
const INITIAL_SIZE = 2 * 1024;
/** A client that once needed more starts its next buffers no larger than this. */
const MAX_KEPT_SIZE = 1024 * 1024;
/** An idle client keeps a buffer up to this size between flushes; a larger one is let go. */
const MAX_IDLE_SIZE = 64 * 1024;
const MSG_PREFIX = 0x4d53_4720; // "MSG "
const EMPTY_VIEW = dataViewOf(new Uint8Array(0));

/**
 * One client's outbound bytes between flushes. Deliveries append into a single buffer that is
 * written with one socket.write per flush; when the kernel took everything synchronously the
 * buffer is reused, otherwise it is handed to the socket and a fresh one is started.
 */
export class Outbound {
  private buf: Buffer | null = null;
  /** dataViewOf(buf), for copyBytes. */
  private view = EMPTY_VIEW;
  length = 0;
  /** Size of the next fresh buffer: what the last flush needed, so a busy client does not regrow. */
  private nextSize = INITIAL_SIZE;

  private reserve(n: number): Buffer {
    let buf = this.buf;
    if (buf === null) {
      buf = this.buf = Buffer.allocUnsafe(Math.max(this.nextSize, n));
      this.view = dataViewOf(buf);
    } else if (this.length + n > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, this.length + n));
      buf.copy(grown, 0, 0, this.length);
      buf = this.buf = grown;
      this.view = dataViewOf(buf);
    }
    return buf;
  }

  append(bytes: Buffer): void {
    const buf = this.reserve(bytes.length);
    this.length += bytes.copy(buf, this.length);
  }

  /**
   * `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, or `HMSG` with `<hdr> <total>` for a
   * message with headers to a client that takes them (one that does not gets the payload after
   * the header block). Subject, reply and payload are copied straight from the message's bytes.
   */
  appendMsg(msg: MessageView, sid: Uint8Array, withHeaders: boolean): void {
    const hasHeaders = msg.headerLength >= 0;
    const skip = hasHeaders && !withHeaders ? msg.headerLength : 0;
    this.appendFrame(msg.bytes, msg.subjectOffset, msg.subjectLength, sid, msg.bytes, msg.replyOffset, msg.replyLength,
      hasHeaders && withHeaders ? msg.headerLength : -1, msg.bytes, msg.payloadOffset + skip, msg.payloadLength - skip);
  }

  /** nats-server's no-responders status to a requester: `HMSG <reply> <sid> 16 16` + `NATS/1.0 503`. */
  appendNoResponders(reply: Uint8Array, replyOffset: number, replyLength: number, sid: Uint8Array): void {
    this.appendFrame(reply, replyOffset, replyLength, sid, reply, 0, 0,
      NO_RESPONDERS_HEADER.length, NO_RESPONDERS_HEADER, 0, NO_RESPONDERS_HEADER.length);
  }

  private appendFrame(
    src: Uint8Array,
    subjectOff: number,
    subjectLen: number,
    sid: Uint8Array,
    replySrc: Uint8Array,
    replyOff: number,
    replyLen: number,
    hdrLen: number,
    payloadSrc: Uint8Array,
    payloadOff: number,
    payloadLen: number,
  ): void {
    const buf = this.reserve(subjectLen + sid.length + replyLen + payloadLen + 36);
    const view = this.view;
    let o = this.length;
    if (hdrLen >= 0) buf[o++] = 0x48; // 'H'
    buf.writeUInt32BE(MSG_PREFIX, o);
    o += 4;
    copyBytes(buf, view, o, src, subjectOff, subjectLen);
    o += subjectLen;
    buf[o++] = 0x20;
    copyBytes(buf, view, o, sid, 0, sid.length);
    o += sid.length;
    buf[o++] = 0x20;
    if (replyLen > 0) {
      copyBytes(buf, view, o, replySrc, replyOff, replyLen);
      o += replyLen;
      buf[o++] = 0x20;
    }
    if (hdrLen >= 0) {
      o = writeDecimal(buf, o, hdrLen);
      buf[o++] = 0x20;
    }
    o = writeDecimal(buf, o, payloadLen);
    buf[o++] = 0x0d;
    buf[o++] = 0x0a;
    copyBytes(buf, view, o, payloadSrc, payloadOff, payloadLen);
    o += payloadLen;
    buf[o++] = 0x0d;
    buf[o++] = 0x0a;
    this.length = o;
  }

  /** Writes everything pending to the socket. */
  flushTo(socket: Socket): void {
    const buf = this.buf;
    if (buf === null || this.length === 0) return;
    if (socket.writableLength !== 0) {
      // Backed up: queue an exact copy and keep the buffer. Handing over the whole buffer would
      // let a slow socket pin megabytes for the few bytes each flush holds.
      socket.write(Buffer.from(buf.subarray(0, this.length)));
      this.length = 0;
      return;
    }
    socket.write(buf.subarray(0, this.length));
    this.nextSize = Math.max(INITIAL_SIZE, Math.min(buf.length, MAX_KEPT_SIZE));
    this.length = 0;
    // A synchronous, complete write leaves nothing queued: the buffer is ours again.
    if (socket.writableLength !== 0 || buf.length > MAX_IDLE_SIZE) this.buf = null;
  }

  discard(): void {
    this.buf = null;
    this.length = 0;
  }
}
