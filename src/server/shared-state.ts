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
