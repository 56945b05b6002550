/**
 * A shard's pool of threads for credential checks (piscina). Started on the first check and left
 * to shrink to nothing when idle, so a server without bcrypt or NKey users never starts a thread.
 */
import { Piscina } from 'piscina';
import type { VerifyTask } from './verify-task.js';

const TASK_FILE = new URL('./verify-task.js', import.meta.url).href;
/** Checks queued beyond this are refused at once (a login flood must not grow memory without bound). */
const MAX_QUEUED = 2048;
const IDLE_MS = 30_000;

export class VerifierPool {
  private pool: Piscina | null = null;

  constructor(private readonly threads: number) {}

  /** Resolves true when the credential is good; false when it is bad or the queue is full. */
  async verify(task: VerifyTask): Promise<boolean> {
    this.pool ??= new Piscina({
      filename: TASK_FILE,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_MS,
      maxQueue: MAX_QUEUED,
    });
    try {
      return (await this.pool.run(task)) === true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }
}
