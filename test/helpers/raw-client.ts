/**
 * A raw TCP client for exact-bytes protocol tests. Everything received is kept (`received`), and a
 * read cursor lets a test consume it step by step with `readUntil`. Waiting is always driven by
 * socket events; timeouts only turn a hang into a failure with the bytes seen so far.
 */
import net from 'node:net';

export const DEFAULT_TIMEOUT_MS = 5_000;

/** Returns how many unread bytes complete the match (or true for all of them), else false/-1. */
export type ReadPredicate = (unread: Buffer) => number | boolean;

export interface RawConnectOptions {
  host?: string;
  /** Wait for and parse the server's INFO line before resolving (default true). */
  readInfo?: boolean;
  timeoutMs?: number;
}

export interface ReadResult {
  data: Buffer;
  /** True when the server closed the connection before the predicate matched. */
  closed: boolean;
}

export class RawClient {
  /** The INFO line as received, without its CRLF (empty when readInfo was false). */
  infoLine = '';
  info: Record<string, unknown> = {};
  /** Everything received so far (the INFO line included). */
  received: Buffer = Buffer.alloc(0);
  /** Offset in `received` of the first byte not yet returned by a read. */
  cursor = 0;
  closed = false;
  /** The socket error that preceded the close, if any (e.g. ECONNRESET). */
  socketError: Error | null = null;

  private readonly socket: net.Socket;
  private readonly waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('error', (err) => {
      this.socketError = err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number, options: RawConnectOptions = {}): Promise<RawClient> {
    const host = options.host ?? '127.0.0.1';
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const client = new RawClient(socket);
    if (options.readInfo ?? true) {
      const line = (await client.readUntil('\r\n', options.timeoutMs)).toString('latin1');
      if (!line.startsWith('INFO ')) throw new Error(`expected INFO first, got ${JSON.stringify(line)}`);
      client.infoLine = line.slice(0, -2);
      client.info = JSON.parse(client.infoLine.slice(5)) as Record<string, unknown>;
    }
    return client;
  }

  /** Bytes received and not yet consumed by a read. */
  get unread(): Buffer {
    return this.received.subarray(this.cursor);
  }

  /**
   * Sends data. With `splitAt`, the data is cut at those offsets and each part is written only after
   * the previous one was handed to the kernel, so the server is likely to see separate reads.
   */
  async send(data: string | Uint8Array, splitAt: readonly number[] = []): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    let start = 0;
    for (const cut of [...splitAt, bytes.length]) {
      if (cut <= start || cut > bytes.length) continue;
      await this.write(bytes.subarray(start, cut));
      start = cut;
    }
  }

  /** Sends data one byte per write, each awaited. */
  async sendBytewise(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    for (let i = 0; i < bytes.length; i++) await this.write(bytes.subarray(i, i + 1));
  }

  /** Writes and waits until the data left Node's buffers (or the socket failed). */
  write(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      // A write error (the server closed on us) is not a send failure: the reads tell the story.
      this.socket.write(bytes, () => resolve());
    });
  }

  /**
   * Waits until the unread bytes satisfy `until` (a string that must appear, or a predicate), then
   * consumes and returns them up to the end of the match. Rejects on close or timeout, quoting the
   * unread bytes.
   */
  async readUntil(until: string | ReadPredicate, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const result = await this.readUntilOrClose(until, timeoutMs);
    if (result.closed) {
      throw new Error(`connection closed while waiting for ${describe(until)}; unread: ${quote(result.data)}`);
    }
    return result.data;
  }

  /**
   * Like readUntil, but a close is a result rather than an error: on close, returns every unread byte
   * with closed = true. Rejects only on timeout.
   */
  readUntilOrClose(until: string | ReadPredicate, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReadResult> {
    const match = toPredicate(until);
    return this.waitFor(() => {
      const unread = this.unread;
      const matched = match(unread);
      if (matched !== false && matched !== -1) {
        const end = matched === true ? unread.length : matched;
        this.cursor += end;
        return { data: unread.subarray(0, end), closed: false };
      }
      if (this.closed) {
        this.cursor = this.received.length;
        return { data: unread, closed: true };
      }
      return undefined;
    }, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${describe(until)}; unread: ${quote(this.unread)}`);
  }

  /** Waits for the server to close the connection; returns the unread bytes received until then. */
  expectClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    return this.waitFor(() => {
      if (!this.closed) return undefined;
      const rest = this.unread;
      this.cursor = this.received.length;
      return rest;
    }, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for the server to close; unread: ${quote(this.unread)}`);
  }

  /** Stops reading from the socket so the server's writes back up (slow consumer tests). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /**
   * Closes from our side and waits for the server's FIN, so the server has dropped this
   * connection's subscriptions before the next test step (a queue member left behind would
   * take messages). A server that does not answer within a second is cut.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const gone = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    const timer = setTimeout(() => this.socket.destroy(), 1000);
    this.socket.end();
    await gone;
    clearTimeout(timer);
  }

  private waitFor<T>(check: () => T | undefined, timeoutMs: number, onTimeout: () => string): Promise<T> {
    const immediate = check();
    if (immediate !== undefined) return Promise.resolve(immediate);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const value = check();
        if (value === undefined) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(onTimeout()));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function toPredicate(until: string | ReadPredicate): ReadPredicate {
  if (typeof until !== 'string') return until;
  const needle = Buffer.from(until, 'latin1');
  return (unread) => {
    const at = unread.indexOf(needle);
    return at < 0 ? false : at + needle.length;
  };
}

function describe(until: string | ReadPredicate): string {
  return typeof until === 'string' ? JSON.stringify(until) : 'predicate';
}

/** Renders bytes as a JSON string (latin1), truncated, for failure messages. */
export function quote(bytes: Uint8Array, limit = 2_000): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, limit)).toString('latin1');
  return JSON.stringify(text) + (bytes.length > limit ? `... (${bytes.length} bytes)` : '');
}

/** Counts non-overlapping occurrences of `needle` in `haystack`. */
export function countOccurrences(haystack: Uint8Array, needle: string): number {
  const buf = Buffer.from(haystack.buffer, haystack.byteOffset, haystack.length);
  const pattern = Buffer.from(needle, 'latin1');
  let count = 0;
  for (let at = buf.indexOf(pattern); at >= 0; at = buf.indexOf(pattern, at + pattern.length)) count++;
  return count;
}
