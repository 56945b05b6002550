import type { Client } from './client.js';

/**
 * How long a publisher is held for a consumer that makes no progress. A consumer whose socket
 * took none of its queued bytes in that time is left to the slow-consumer policy (max_pending,
 * write deadline) and holds publishers no more until it drains: a stalled subscriber costs
 * others at most one such pause. One that is draining, only slower, keeps holding them.
 */
export const STALL_MAX_MS = 250;

/**
 * Backpressure within a shard, like nats-server's stalled-consumer wait: when a delivery leaves a
 * consumer with more than half of max_pending queued, the connection being read (the publisher)
 * is paused until that consumer drains, so a subscriber that keeps reading survives bursts larger
 * than max_pending. Messages from other shards wait in their rings meanwhile (`blocked`), and a
 * ring to a peer that is full holds the publisher until it drains.
 */
export class FlowControl {
  /** The client whose read is being processed; null while draining rings. */
  currentReader: Client | null = null;
  private readonly paused = new Set<Client>();
  /**
   * Consumers over the threshold: their pending bytes when last seen draining, and since when
   * (performance.now()). Each gets its own STALL_MAX_MS, whoever armed the timer.
   */
  private readonly stalling = new Map<Client, { queued: number; since: number }>();
  private ringHold = false;
  private ringHoldSince = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly stallThreshold: number,
    /** Called when held work may go on (the shard resumes draining its rings). */
    private readonly onResume: () => void,
  ) {}

  /** True while a consumer is being waited for: rings from peers are not drained. */
  get blocked(): boolean {
    return this.stalling.size > 0;
  }

  get holdingForRing(): boolean {
    return this.ringHold;
  }

  /** A delivery left `consumer` with more than stallThreshold bytes pending. */
  consumerOverThreshold(consumer: Client): void {
    if (consumer.stallExpired) return;
    if (!this.stalling.has(consumer)) {
      this.stalling.set(consumer, { queued: consumer.pendingBytes(), since: performance.now() });
      this.armTimer(STALL_MAX_MS);
    }
    this.pauseReader(consumer);
  }

  /** The consumer's socket wrote everything queued (or it closed). */
  consumerDrained(consumer: Client): void {
    consumer.stallExpired = false;
    if (this.stalling.delete(consumer) && this.stalling.size === 0 && !this.ringHold) this.resume();
  }

  /** A ring to a peer is full: hold the publisher until the overflow moved into the ring. */
  ringFull(): void {
    if (!this.ringHold) {
      this.ringHold = true;
      this.ringHoldSince = performance.now();
      this.armTimer(STALL_MAX_MS);
    }
    this.pauseReader(null);
  }

  ringsDrained(): void {
    this.ringHold = false;
    if (this.stalling.size === 0) this.resume();
  }

  private pauseReader(consumer: Client | null): void {
    const reader = this.currentReader;
    if (reader === null || reader === consumer || reader.closed || this.paused.has(reader)) return;
    reader.socket.pause();
    this.paused.add(reader);
  }

  private armTimer(delay: number): void {
    if (this.timer === null) this.timer = setTimeout(this.expire, delay);
  }

  private readonly expire = (): void => {
    this.timer = null;
    const now = performance.now();
    let next = Infinity;
    for (const [consumer, stall] of this.stalling) {
      const queued = consumer.pendingBytes();
      if (queued < stall.queued) {
        stall.queued = queued;
        stall.since = now;
      } else if (now - stall.since >= STALL_MAX_MS) {
        consumer.stallExpired = true;
        this.stalling.delete(consumer);
        continue;
      }
      next = Math.min(next, stall.since + STALL_MAX_MS);
    }
    if (this.ringHold) {
      if (now - this.ringHoldSince >= STALL_MAX_MS) this.ringHold = false;
      else next = Math.min(next, this.ringHoldSince + STALL_MAX_MS);
    }
    if (next === Infinity) this.resume();
    else this.armTimer(Math.max(1, next - now));
  };

  private resume(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const reader of this.paused) if (!reader.closed) reader.socket.resume();
    this.paused.clear();
    this.onResume();
  }
}
