/**
 * Raw NATS client protocol for the load generator: a handshake, a PUB batch builder and an inbound
 * scanner that counts MSG frames without parsing them into objects. A generator that decodes every
 * delivery (as a general-purpose client must) would measure itself instead of the broker.
 */
import net from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

/** `nats://host:port`, `host:port` or `port`; the scheme and any credentials are ignored. */
export function parseUrl(url: string): Endpoint {
  const stripped = url.replace(/^[a-z]+:\/\//i, '').replace(/^[^@/]*@/, '').replace(/\/.*$/, '');
  const colon = stripped.lastIndexOf(':');
  if (colon < 0) {
    return /^\d+$/.test(stripped) ? { host: '127.0.0.1', port: Number(stripped) } : { host: stripped, port: 4222 };
  }
  const port = Number(stripped.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad port in URL "${url}"`);
  return { host: stripped.slice(0, colon).replace(/^\[|\]$/g, '') || '127.0.0.1', port };
}

/** Monotonic nanoseconds, comparable across the threads of one process. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

const LF = 10;
const CR = 13;

/**
 * Splits the inbound stream into frames. MSG/HMSG frames are counted (and optionally handed to
 * `onMessage` with the control line's position); their payloads are skipped, even when split across
 * reads. PING is answered through `onPing`; PONG and -ERR go to their callbacks.
 */
export class InboundScanner {
  /** MSG and HMSG frames seen so far. */
  messages = 0;
  /** Payload bytes (and the trailing CRLF) of the current frame still to arrive. */
  private skip = 0;
  /** A control line split across reads. */
  private partial: Buffer | null = null;
  onPing: () => void = () => {};
  onPong: () => void = () => {};
  onInfo: (line: string) => void = () => {};
  onError: (text: string) => void = () => {};
  /** Called for every MSG/HMSG; `lineEnd` is the index of the control line's CR. */
  onMessage: ((buf: Buffer, lineStart: number, lineEnd: number) => void) | null = null;

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = this.skipPayload(chunk, 0);
    if (pos < 0) return;
    if (this.partial !== null) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) {
        this.partial = Buffer.concat([this.partial, chunk.subarray(pos)]);
        if (this.partial.length > 1 << 20) throw new Error('control line longer than 1 MiB');
        return;
      }
      const line = Buffer.concat([this.partial, chunk.subarray(pos, nl + 1)]);
      this.partial = null;
      this.control(line, 0, line.length - 1);
      pos = this.skipPayload(chunk, nl + 1);
      if (pos < 0) return;
    }
    const counting = this.onMessage === null;
    while (pos < len) {
      let nl = pos;
      while (nl < len && chunk[nl] !== LF) nl++;
      if (nl === len) {
        this.partial = Buffer.from(chunk.subarray(pos));
        return;
      }
      // The common case, inline: a MSG frame whose payload we only need to step over.
      if (counting && chunk[pos] === 0x4d /* M */) {
        this.messages++;
        pos = nl + 1 + lastNumber(chunk, nl) + 2;
        if (pos > len) {
          this.skip = pos - len;
          return;
        }
        continue;
      }
      this.control(chunk, pos, nl);
      pos = this.skipPayload(chunk, nl + 1);
      if (pos < 0) return;
    }
  }

  /**
   * Steps over what is left of the current frame's payload from `pos`: returns where the next
   * frame starts, or -1 when the payload goes on past this chunk.
   */
  private skipPayload(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    if (this.skip > available) {
      this.skip -= available;
      return -1;
    }
    pos += this.skip;
    this.skip = 0;
    return pos;
  }

  /** One control line `buf[start..nl]` (nl is the LF). */
  private control(buf: Buffer, start: number, nl: number): void {
    const first = buf[start] | 0x20;
    if (first === 0x6d /* m */ || first === 0x68 /* h: HMSG, the last number is the total size */) {
      this.messages++;
      this.skip = lastNumber(buf, nl) + 2;
      const end = buf[nl - 1] === CR ? nl - 1 : nl;
      this.onMessage?.(buf, start, end);
    } else if (first === 0x70 /* p */) {
      if ((buf[start + 1] | 0x20) === 0x69 /* PING */) this.onPing();
      else this.onPong();
    } else if (first === 0x2d /* -ERR */) {
      this.onError(buf.toString('latin1', start, nl).trim());
    } else if (first === 0x69 /* INFO */) {
      this.onInfo(buf.toString('utf8', start, nl).trim());
    }
  }
}

/** The decimal number that ends the control line whose LF is at `nl`. */
function lastNumber(buf: Buffer, nl: number): number {
  let i = nl - 1;
  if (buf[i] === CR) i--;
  let value = 0;
  let scale = 1;
  while (i >= 0) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) break;
    value += digit * scale;
    scale *= 10;
    i--;
  }
  return value;
}

/** One PUB frame, repeated `frames` times: the unit a publisher writes. */
export function pubBatch(subject: string, payloadSize: number, frames: number): { batch: Buffer; frameLength: number } {
  const head = Buffer.from(`PUB ${subject} ${payloadSize}\r\n`, 'latin1');
  const frameLength = head.length + payloadSize + 2;
  const batch = Buffer.allocUnsafe(frameLength * frames);
  for (let f = 0; f < frames; f++) {
    const at = f * frameLength;
    head.copy(batch, at);
    for (let i = 0; i < payloadSize; i++) batch[at + head.length + i] = 0x61 + (i % 26);
    batch[at + frameLength - 2] = CR;
    batch[at + frameLength - 1] = LF;
  }
  return { batch, frameLength };
}

/** Frames per batch so that one write carries about `targetBytes` (at least one frame). */
export function framesPerWrite(frameLength: number, targetBytes = 64 * 1024): number {
  return Math.max(1, Math.floor(targetBytes / frameLength));
}

/** An open, greeted connection and its scanner; `roundTrip()` is PING→PONG (nats.go's Flush). */
export class RawConnection {
  readonly scanner = new InboundScanner();
  private pongWaiters: Array<() => void> = [];
  private closedError: Error | null = null;
  errors: string[] = [];

  private constructor(readonly socket: net.Socket) {
    this.scanner.onPing = () => socket.write('PONG\r\n');
    this.scanner.onPong = () => this.pongWaiters.shift()?.();
    this.scanner.onError = (text) => this.errors.push(text);
    socket.on('data', (chunk: Buffer) => this.scanner.push(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects, waits for INFO, sends CONNECT (verbose off) and returns after the first PONG. */
  static async open(endpoint: Endpoint, name: string): Promise<RawConnection> {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const connection = new RawConnection(socket);
    const greeted = new Promise<void>((resolve, reject) => {
      connection.scanner.onInfo = () => resolve();
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`connection to ${endpoint.host}:${endpoint.port} closed before INFO`)));
    });
    await greeted;
    connection.scanner.onInfo = () => {};
    const connect = {
      verbose: false,
      pedantic: false,
      tls_required: false,
      name,
      lang: 'natrium-bench',
      version: '1',
      protocol: 1,
      echo: true,
      headers: false,
      no_responders: false,
    };
    socket.write(`CONNECT ${JSON.stringify(connect)}\r\n`);
    await connection.roundTrip();
    return connection;
  }

  /** PING, resolved by the PONG; rejects if the connection closes or `timeoutMs` passes first. */
  roundTrip(timeoutMs = 30_000): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const onClose = (): void => {
        clearTimeout(timer);
        reject(this.closedError ?? new Error('connection closed'));
      };
      const timer = setTimeout(() => {
        this.socket.off('close', onClose);
        reject(new Error(`no PONG within ${timeoutMs} ms`));
      }, timeoutMs);
      this.socket.once('close', onClose);
      this.pongWaiters.push(() => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        resolve();
      });
      this.socket.write('PING\r\n');
    });
  }

  get closed(): Error | null {
    return this.closedError;
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = this.errors.length > 0 ? new Error(`${error.message} (${this.errors.join('; ')})`) : error;
  }

  close(): void {
    this.socket.destroy();
  }
}
