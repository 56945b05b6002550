/**
 * One load-generator thread. It owns a few connections of one role (publishers, subscribers, or
 * requesters with the responder) so that publishing and counting run on separate event loops.
 * Progress goes through a shared board the coordinator polls; results come back as one message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Board } from './board.js';
import { framesPerWrite, nowNs, pubBatch, RawConnection, type Endpoint } from './wire.js';

interface Common {
  endpoint: Endpoint;
  subject: string;
  size: number;
  board: SharedArrayBuffer;
  boardShape: { publishers: number; subscribers: number; requesters: number };
  /** Index of this thread's first connection within its role. */
  first: number;
}

export type LoadTask = Common &
  (
    | { role: 'pub'; counts: number[]; writeBytes: number; idleMs: number }
    | { role: 'sub'; connections: number; queue: string | null }
    | { role: 'requester'; counts: number[]; timeoutMs: number; respond: boolean }
  );

export type ToLoadWorker = { type: 'go'; deadlineNs: number } | { type: 'close' };

export type FromLoadWorker =
  | { type: 'ready' }
  | { type: 'published'; sent: number[]; endNs: number[]; errors: string[] }
  | { type: 'latencies'; samplesUs: Float64Array; errors: string[] }
  | { type: 'failed'; message: string };

const task = workerData as LoadTask;
const port = parentPort!;
const board = new Board(task.board, task.boardShape);
const connections: RawConnection[] = [];
/** Requesters: one request function per connection. */
const requests: Array<() => Promise<void>> = [];

function post(message: FromLoadWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * Resolves when the socket's write buffer drains; rejects if the connection closes first or the
 * broker stops reading until `giveUpNs`.
 */
function drained(connection: RawConnection, giveUpNs: number): Promise<void> {
  if (connection.closed) return Promise.reject(connection.closed);
  const socket = connection.socket;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => finish();
    const onClose = (): void => finish(connection.closed ?? new Error('connection closed'));
    const timer = setTimeout(() => finish(new Error('the broker stopped reading')), Math.max(0, (giveUpNs - nowNs()) / 1e6));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

async function publishAll(deadlineNs: number): Promise<void> {
  if (task.role !== 'pub') return;
  const frameLength = `PUB ${task.subject} ${task.size}\r\n`.length + task.size + 2;
  const { batch } = pubBatch(task.subject, task.size, framesPerWrite(frameLength, task.writeBytes));
  const frames = batch.length / frameLength;
  const sent = task.counts.map(() => 0);
  const endNs = task.counts.map(() => 0);
  const errors: string[] = [];
  await Promise.all(
    connections.map(async (connection, i) => {
      const socket = connection.socket;
      const count = task.counts[i];
      const slot = task.first + i;
      let done = 0;
      try {
        while (done < count) {
          const n = Math.min(frames, count - done);
          const ok = socket.write(n === frames ? batch : batch.subarray(0, n * frameLength));
          done += n;
          board.published[slot] = done;
          if (!ok) await drained(connection, deadlineNs + task.idleMs * 1e6);
          if (nowNs() > deadlineNs) break;
        }
        await connection.roundTrip(task.idleMs);
      } catch (error) {
        errors.push(`publisher ${slot}: ${(error as Error).message}`);
      }
      sent[i] = done;
      endNs[i] = nowNs();
    }),
  );
  post({ type: 'published', sent, endNs, errors });
}

async function requestAll(deadlineNs: number): Promise<void> {
  if (task.role !== 'requester') return;
  const samples: number[] = [];
  const errors: string[] = [];
  await Promise.all(
    connections.map(async (connection, i) => {
      const slot = task.first + i;
      const request = requests[i];
      let answered = 0;
      for (let k = 0; k < task.counts[i]; k++) {
        const start = nowNs();
        try {
          await request();
        } catch (error) {
          errors.push(`requester ${slot}: ${(error as Error).message}`);
          if (connection.closed) break;
          continue;
        }
        samples.push((nowNs() - start) / 1e3);
        board.requested[slot] = ++answered;
        if ((k & 255) === 255 && nowNs() > deadlineNs) break;
      }
    }),
  );
  const samplesUs = Float64Array.from(samples);
  post({ type: 'latencies', samplesUs, errors }, [samplesUs.buffer]);
}

/**
 * A function that sends one request from requester `slot` and resolves on its reply. One data
 * listener and one watchdog per connection, not per request: the generator's own overhead would
 * otherwise show up as broker latency.
 */
function requestSender(slot: number, connection: RawConnection): () => Promise<void> {
  if (task.role !== 'requester') throw new Error('not a requester');
  const head = `PUB ${task.subject} ${inboxOf(slot)}.1 ${task.size}\r\n`;
  const frame = Buffer.concat([Buffer.from(head, 'latin1'), payloadWithCrlf(task.size)]);
  const timeoutMs = task.timeoutMs;
  const timeoutNs = timeoutMs * 1e6;
  const scanner = connection.scanner;
  let expected = 0;
  let sentNs = 0;
  let settle: ((error?: Error) => void) | null = null;
  connection.socket.on('data', () => {
    if (settle !== null && scanner.messages >= expected) {
      const done = settle;
      settle = null;
      done();
    }
  });
  const watchdog = setInterval(() => {
    if (settle !== null && (connection.closed || nowNs() - sentNs > timeoutNs)) {
      const done = settle;
      settle = null;
      done(connection.closed ?? new Error(`no reply within ${timeoutMs} ms`));
    }
  }, 100);
  watchdog.unref();
  return () =>
    new Promise<void>((resolve, reject) => {
      expected = scanner.messages + 1;
      sentNs = nowNs();
      settle = (error) => (error ? reject(error) : resolve());
      connection.socket.write(frame);
    });
}

function inboxOf(slot: number): string {
  return `_INBOX.bench${process.pid}x${slot}`;
}

/** `size` payload bytes followed by CRLF, the tail of every PUB frame. */
function payloadWithCrlf(size: number): Buffer {
  const { batch, frameLength } = pubBatch('x', size, 1);
  return batch.subarray(frameLength - size - 2);
}

/**
 * The echoing side of request/reply: answers each request with `size` bytes to its reply subject.
 * It shares the requesters' thread: a hop between threads would add a wake-up to every round trip.
 */
async function openResponder(endpoint: Endpoint): Promise<void> {
  const connection = await RawConnection.open(endpoint, 'bench-responder');
  const socket = connection.socket;
  const tail = Buffer.from(` ${task.size}\r\n`, 'latin1');
  const payload = payloadWithCrlf(task.size);
  const pending: Buffer[] = [];
  connection.scanner.onMessage = (buf, lineStart, lineEnd) => {
    // MSG <subject> <sid> <reply> <size>: the reply is the fourth of five tokens.
    let spaces = 0;
    let replyStart = -1;
    let replyEnd = -1;
    for (let i = lineStart; i < lineEnd; i++) {
      if (buf[i] !== 0x20) continue;
      spaces++;
      if (spaces === 3) replyStart = i + 1;
      else if (spaces === 4) replyEnd = i;
    }
    if (replyEnd < 0) return;
    pending.push(Buffer.from('PUB '), Buffer.from(buf.subarray(replyStart, replyEnd)), tail, payload);
  };
  // Registered after the scanner's listener: one write per read, carrying every reply it produced.
  socket.on('data', () => {
    if (pending.length === 0) return;
    socket.write(Buffer.concat(pending));
    pending.length = 0;
  });
  socket.write(`SUB ${task.subject} 1\r\n`);
  await connection.roundTrip();
  connections.push(connection);
}

async function setUp(): Promise<void> {
  switch (task.role) {
    case 'pub':
      for (let i = 0; i < task.counts.length; i++) {
        connections.push(await RawConnection.open(task.endpoint, `bench-pub-${task.first + i}`));
      }
      break;
    case 'sub':
      for (let i = 0; i < task.connections; i++) {
        const slot = task.first + i;
        const connection = await RawConnection.open(task.endpoint, `bench-sub-${slot}`);
        const scanner = connection.scanner;
        // Registered after the scanner's listener: the count is current when the clock is read.
        connection.socket.on('data', () => {
          board.setDelivered(slot, scanner.messages, nowNs());
        });
        connection.socket.on('close', () => board.markFailed(slot));
        connection.socket.write(`SUB ${task.subject}${task.queue ? ` ${task.queue}` : ''} 1\r\n`);
        await connection.roundTrip();
        connections.push(connection);
      }
      break;
    case 'requester':
      if (task.respond) await openResponder(task.endpoint);
      for (let i = 0; i < task.counts.length; i++) {
        const slot = task.first + i;
        const connection = await RawConnection.open(task.endpoint, `bench-requester-${slot}`);
        connection.socket.write(`SUB ${inboxOf(slot)}.* 1\r\n`);
        await connection.roundTrip();
        const request = requestSender(slot, connection);
        // Warm-up: one round trip through the responder before the clock starts.
        await request();
        connections.push(connection);
        requests.push(request);
      }
      break;
  }
}

port.on('message', (message: ToLoadWorker) => {
  if (message.type === 'go') {
    const run = task.role === 'pub' ? publishAll(message.deadlineNs) : requestAll(message.deadlineNs);
    run.catch((error: Error) => post({ type: 'failed', message: error.message }));
  } else {
    for (const connection of connections) connection.close();
    port.close();
  }
});

setUp().then(
  () => post({ type: 'ready' }),
  (error: Error) => post({ type: 'failed', message: error.message }),
);
