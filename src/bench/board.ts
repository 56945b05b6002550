/**
 * Counters shared between the load-generator threads and their coordinator. Each slot has one
 * writer (the thread owning that connection), written once per socket read or write batch, so the
 * coordinator can show progress and detect completion without any message traffic.
 */
export interface BoardShape {
  publishers: number;
  subscribers: number;
  requesters: number;
}

export class Board {
  /** Messages handed to the socket, per publisher. */
  readonly published: Int32Array;
  /** Messages received, per subscriber. */
  readonly delivered: Int32Array;
  /** Monotonic ns of each subscriber's latest read. */
  readonly lastDeliveryNs: Float64Array;
  /** 1 once a subscriber's connection closed. */
  readonly failed: Int32Array;
  /** Completed round trips, per requester. */
  readonly requested: Int32Array;

  static create(shape: BoardShape): Board {
    return new Board(new SharedArrayBuffer(Board.bytes(shape)), shape);
  }

  private static bytes(shape: BoardShape): number {
    return 8 * shape.subscribers + 4 * (shape.publishers + 2 * shape.subscribers + shape.requesters) + 8;
  }

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly shape: BoardShape,
  ) {
    let at = 0;
    this.lastDeliveryNs = new Float64Array(buffer, at, shape.subscribers);
    at += 8 * shape.subscribers;
    this.published = new Int32Array(buffer, at, shape.publishers);
    at += 4 * shape.publishers;
    this.delivered = new Int32Array(buffer, at, shape.subscribers);
    at += 4 * shape.subscribers;
    this.failed = new Int32Array(buffer, at, shape.subscribers);
    at += 4 * shape.subscribers;
    this.requested = new Int32Array(buffer, at, shape.requesters);
  }

  setDelivered(slot: number, count: number, atNs: number): void {
    this.lastDeliveryNs[slot] = atNs;
    Atomics.store(this.delivered, slot, count);
  }

  markFailed(slot: number): void {
    Atomics.store(this.failed, slot, 1);
  }

  sum(counters: Int32Array): number {
    let sum = 0;
    for (let i = 0; i < counters.length; i++) sum += Atomics.load(counters, i);
    return sum;
  }
}
