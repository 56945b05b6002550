/** The main thread's side of the stats request/response with the workers (postMessage). */
import type { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../worker/worker-main.js';
import type { StatsQuery, WorkerSnapshot } from '../worker/stats.js';

/** A worker busy for longer than this fails the request instead of hanging it. */
const ANSWER_TIMEOUT_MS = 5000;

export class WorkerQuery {
  private nextId = 1;

  constructor(private readonly workers: () => readonly Worker[]) {}

  /** One snapshot per worker, in worker order. */
  query(query: StatsQuery): Promise<WorkerSnapshot[]> {
    const id = this.nextId++;
    return Promise.all(this.workers().map((worker, index) => ask(worker, index, id, query)));
  }
}

function ask(worker: Worker, index: number, id: number, query: StatsQuery): Promise<WorkerSnapshot> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromWorker): void => {
      if (message.type !== 'stats' || message.id !== id) return;
      done();
      resolve(message.snapshot);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`worker ${index} did not answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    const done = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
    };
    worker.on('message', onMessage);
    const request: ToWorker = { type: 'stats', id, query };
    worker.postMessage(request);
  });
}
