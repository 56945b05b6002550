/**
 * Connection counters shared by the main thread and the workers (one SharedArrayBuffer).
 * Slot 0 holds the live connections of the whole server, for max_connections; then, per
 * worker, the connections it accepted in total and the ones open now.
 */
export const LIVE_TOTAL = 0;
const PER_WORKER = 2;

export function createConnectionCounters(workers: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (1 + PER_WORKER * workers)));
}

export function acceptedSlot(worker: number): number {
  return 1 + PER_WORKER * worker;
}

export function openSlot(worker: number): number {
  return 2 + PER_WORKER * worker;
}

/**
 * Live connections of each operator-mode account (ids 1..accounts), one row per worker, for the
 * account JWT's `limits.conn`: a worker counts in its own row and sums every row, so a dead
 * worker's connections are dropped by clearing its row (`clearWorker`).
 */
export class AccountConnections {
  constructor(
    readonly counts: Int32Array,
    readonly accounts: number,
  ) {}

  static create(workers: number, accounts: number): AccountConnections {
    return new AccountConnections(new Int32Array(new SharedArrayBuffer(4 * Math.max(1, workers * accounts))), accounts);
  }

  /**
   * Counts a connection of `account` on `worker` unless the account would then have more than
   * `max` over all workers. Two workers taking the last place at once may both be refused; the
   * limit is never exceeded.
   */
  tryAdd(worker: number, account: number, max: number): boolean {
    const slot = worker * this.accounts + account - 1;
    Atomics.add(this.counts, slot, 1);
    let total = 0;
    for (let i = account - 1; i < this.counts.length; i += this.accounts) total += Atomics.load(this.counts, i);
    if (total <= max) return true;
    Atomics.sub(this.counts, slot, 1);
    return false;
  }

  remove(worker: number, account: number): void {
    Atomics.sub(this.counts, worker * this.accounts + account - 1, 1);
  }

  clearWorker(worker: number): void {
    for (let account = 0; account < this.accounts; account++) Atomics.store(this.counts, worker * this.accounts + account, 0);
  }
}
