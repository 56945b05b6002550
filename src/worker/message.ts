/**
 * One message as the delivery path sees it: offsets into `bytes`, which is the publisher's read
 * buffer or a ring's data area, valid only while the message is being handled. Each shard reuses
 * one instance per source (see InboundMessage and RingRecord), so nothing is allocated per message.
 */
export interface MessageView {
  /** Account id (0 = $G): subject spaces of accounts are disjoint. */
  readonly account: number;
  readonly bytes: Buffer;
  readonly subjectOffset: number;
  readonly subjectLength: number;
  /** replyLength 0: no reply subject. */
  readonly replyOffset: number;
  readonly replyLength: number;
  /** -1: no headers; otherwise the first headerLength payload bytes are the header block. */
  readonly headerLength: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

/** The message a client's PUB/HPUB described, refilled for every op. */
export class InboundMessage implements MessageView {
  account = 0;
  bytes: Buffer = Buffer.alloc(0);
  subjectOffset = 0;
  subjectLength = 0;
  replyOffset = 0;
  replyLength = 0;
  headerLength = -1;
  payloadOffset = 0;
  payloadLength = 0;

  /** Takes another view's fields, so the delivery path sees one class (its property accesses stay monomorphic). */
  copyFrom(view: MessageView): this {
    this.account = view.account;
    this.bytes = view.bytes;
    this.subjectOffset = view.subjectOffset;
    this.subjectLength = view.subjectLength;
    this.replyOffset = view.replyOffset;
    this.replyLength = view.replyLength;
    this.headerLength = view.headerLength;
    this.payloadOffset = view.payloadOffset;
    this.payloadLength = view.payloadLength;
    return this;
  }
}
