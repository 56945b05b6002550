/** The main thread's side of the stats request/response with the workers (postMessage). */
import type { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../worker/worker-main.js';
import type { StatsQuery, WorkerSnapshot } from '../worker/stats.js';

/** A worker busy for longer than this fails the request instead of hanging it. */
const ANSWER_TIMEOUT_MS = 5000;

export class WorkerQuery {
  private nextId = 1;
  /** Per request id, what to do with each worker's answer. */
  private readonly pending = new Map<number, (snapshot: WorkerSnapshot) => void>();
  /** One message listener per worker (a respawned worker is a new object), however many requests. */
  private readonly listening = new WeakSet<Worker>();

  constructor(private readonly workers: () => readonly Worker[]) {}

  private readonly onMessage = (message: FromWorker): void => {
    if (message.type === 'stats') this.pending.get(message.id)?.(message.snapshot);
  };

  /** One snapshot per worker, in worker order. */
  query(query: StatsQuery): Promise<WorkerSnapshot[]> {
    const workers = this.workers();
    const id = this.nextId++;
    const snapshots = new Array<WorkerSnapshot>(workers.length);
    let missing = workers.length;
    return new Promise<WorkerSnapshot[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const silent = workers.map((_, index) => index).filter((index) => snapshots[index] === undefined);
        reject(new Error(`worker ${silent.join(', ')} did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(id, (snapshot) => {
        if (snapshots[snapshot.worker] !== undefined) return;
        snapshots[snapshot.worker] = snapshot;
        if (--missing > 0) return;
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(snapshots);
      });
      const request: ToWorker = { type: 'stats', id, query };
      for (const worker of workers) {
        if (!this.listening.has(worker)) {
          this.listening.add(worker);
          worker.on('message', this.onMessage);
        }
        worker.postMessage(request);
      }
    });
  }
}
