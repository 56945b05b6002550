import type { Socket } from 'node:net';
import { NO_RESPONDERS_HEADER, writeDecimal } from '../protocol/encoder.js';
import type { MessageView } from './message.js';
import { copyBytes, dataViewOf } from './copy-bytes.js';

/** Small, so 10 000 idle connections hold little (a busy client adds chunks, nothing is copied to grow). */
const INITIAL_SIZE = 512;
/** A client that once needed more starts its next buffers no larger than this. */
const MAX_KEPT_SIZE = 1024 * 1024;
/** An idle client keeps a buffer up to this size between flushes; a larger one is let go. */
const MAX_IDLE_SIZE = 64 * 1024;
const MSG_PREFIX = 0x4d53_4720; // "MSG "
const EMPTY_VIEW = dataViewOf(new Uint8Array(0));

/**
 * One client's outbound bytes between flushes. Deliveries append into the current buffer; when it
 * is full it joins the list of full chunks and a larger one is started (nothing is copied to
 * grow), and a flush writes them all in one corked write. A buffer the kernel took synchronously
 * is reused; one still queued in the socket is left to it and a fresh one is started.
 */
export class Outbound {
  private buf: Buffer | null = null;
  /** dataViewOf(buf), for copyBytes. */
  private view = EMPTY_VIEW;
  /** Bytes used in buf. */
  private used = 0;
  /** Filled buffers written before buf at the next flush. */
  private chunks: Buffer[] = [];
  /** Bytes waiting for the next flush, in chunks and buf. */
  length = 0;
  /** Size of the next fresh buffer: what the last flush needed, so a busy client does not regrow. */
  private nextSize = INITIAL_SIZE;

  private reserve(n: number): Buffer {
    let buf = this.buf;
    if (buf === null) {
      buf = this.start(Math.max(this.nextSize, n));
    } else if (this.used + n > buf.length) {
      if (this.used > 0) this.chunks.push(buf.subarray(0, this.used));
      buf = this.start(Math.max(Math.min(buf.length * 2, MAX_KEPT_SIZE), n));
    }
    return buf;
  }

  private start(size: number): Buffer {
    const buf = (this.buf = Buffer.allocUnsafe(size));
    this.view = dataViewOf(buf);
    this.used = 0;
    return buf;
  }

  append(bytes: Buffer): void {
    const buf = this.reserve(bytes.length);
    const n = bytes.copy(buf, this.used);
    this.used += n;
    this.length += n;
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
    let o = this.used;
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
    this.length += o - this.used;
    this.used = o;
  }

  /** Writes everything pending to the socket. */
  flushTo(socket: Socket): void {
    const buf = this.buf;
    if (buf === null || this.length === 0) return;
    const backedUp = socket.writableLength !== 0;
    const chunks = this.chunks;
    if (chunks.length > 0) {
      socket.cork();
      for (let i = 0; i < chunks.length; i++) socket.write(chunks[i]);
      this.chunks = [];
    }
    this.nextSize = Math.max(INITIAL_SIZE, Math.min(this.length, MAX_KEPT_SIZE));
    this.length = 0;
    if (this.used > 0) {
      if (backedUp && this.used < buf.length >> 1) {
        // A slow socket would pin the whole buffer for the few bytes it holds: queue an exact copy.
        socket.write(Buffer.from(buf.subarray(0, this.used)));
        this.used = 0;
      } else {
        socket.write(buf.subarray(0, this.used));
        this.used = 0;
        // Complete synchronously with nothing queued: the buffer is ours again.
        if (backedUp || socket.writableLength !== 0 || buf.length > MAX_IDLE_SIZE) this.buf = null;
      }
    }
    if (chunks.length > 0) socket.uncork();
  }

  discard(): void {
    this.buf = null;
    this.chunks = [];
    this.used = 0;
    this.length = 0;
  }
}
