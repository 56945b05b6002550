/**
 * A plain TCP client connection run by the addon (native/src/connection.rs) instead of a
 * net.Socket: reads arrive as Buffers straight from a uv_poll, writes are writev(2) calls, and
 * what the socket does not take now waits here until it is writable again. It has the members
 * and events of net.Socket a Client uses ('data', 'end', 'error', 'drain', 'close', 'timeout').
 * Half-open as the Client's sockets are: after the peer's FIN, pending bytes still go out.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Connection, NativeConnections } from '../protocol/native.js';

/** The `kind` of an addon connection event. */
const EVENT_DATA = 0;
const EVENT_END = 1;
const EVENT_ERROR = 2;
const EVENT_WRITABLE = 3;

/** The error of a failed read or write, with Node's `code` ("ECONNRESET: connection reset by peer"). */
function socketError(text: string): Error {
  const error = new Error(text) as NodeJS.ErrnoException;
  error.code = text.slice(0, text.indexOf(':'));
  return error;
}

export class NativeSocket extends EventEmitter {
  destroyed = false;
  /** Bytes written by the Client that the socket has not taken yet. */
  writableLength = 0;
  private readonly pending: Buffer[] = [];
  private corks = 0;
  private reading = true;
  private waitingWritable = false;
  /** A write was held back: 'drain' once everything is out. */
  private needDrain = false;
  private ending = false;
  private readEnded = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sockets: NativeSockets,
    private readonly connection: Connection,
    readonly id: number,
  ) {
    super();
  }

  /** TCP_NODELAY is on from the start (openConnection). */
  setNoDelay(): this {
    return this;
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || this.ending) return false;
    const chunk = data as Buffer;
    this.pending.push(chunk);
    this.writableLength += chunk.length;
    if (this.corks === 0 && !this.waitingWritable) this.flush();
    if (this.writableLength === 0) return true;
    this.needDrain = true;
    return false;
  }

  cork(): void {
    this.corks++;
  }

  uncork(): void {
    if (this.corks > 0 && --this.corks === 0 && !this.waitingWritable && this.pending.length > 0) this.flush();
  }

  pause(): this {
    if (this.reading && !this.destroyed) {
      this.reading = false;
      this.sockets.native.pollConnection(this.connection, false, this.waitingWritable);
    }
    return this;
  }

  resume(): this {
    if (!this.reading && !this.destroyed && !this.readEnded) {
      this.reading = true;
      this.sockets.native.pollConnection(this.connection, true, this.waitingWritable);
    }
    return this;
  }

  /** Ends the sending side once everything pending is written; closes when the peer ended too. */
  end(): this {
    if (this.destroyed || this.ending) return this;
    this.ending = true;
    if (this.pending.length === 0) this.finishEnd();
    return this;
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.pending.length = 0;
    this.writableLength = 0;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.sockets.release(this);
    this.sockets.native.closeConnection(this.connection);
    process.nextTick(() => {
      if (error !== undefined && this.listenerCount('error') > 0) this.emit('error', error);
      this.emit('close', error !== undefined);
    });
    return this;
  }

  /** net.Socket's idle timeout: 'timeout' after `ms` without reads or writes (0: none). */
  setTimeout(ms: number, onTimeout?: () => void): this {
    if (onTimeout !== undefined) this.once('timeout', onTimeout);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = ms > 0 && !this.destroyed ? setTimeout(() => this.emit('timeout'), ms) : null;
    return this;
  }

  /** The Client is written against net.Socket; this provides every member it uses. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** An event from the addon for this connection. */
  onEvent(kind: number, data: Buffer | string | undefined): void {
    if (this.destroyed) return;
    switch (kind) {
      case EVENT_DATA:
        this.touch();
        this.emit('data', data as Buffer);
        break;
      case EVENT_END:
        this.readEnded = true;
        this.reading = false;
        this.emit('end');
        if (this.ending && this.pending.length === 0) this.destroy();
        break;
      case EVENT_ERROR:
        this.destroy(socketError(data as string));
        break;
      case EVENT_WRITABLE:
        this.waitingWritable = false;
        this.flush();
        break;
    }
  }

  private touch(): void {
    if (this.idleTimer !== null) this.idleTimer.refresh();
  }

  /** Writes what the socket takes; waits for writability for the rest. */
  private flush(): void {
    let written: number;
    try {
      written = this.sockets.native.writeConnection(this.connection, this.pending);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    if (written > 0) this.touch();
    this.writableLength -= written;
    let drop = 0;
    while (written > 0) {
      const first = this.pending[drop];
      if (written >= first.length) {
        written -= first.length;
        drop++;
      } else {
        this.pending[drop] = first.subarray(written);
        written = 0;
      }
    }
    if (drop > 0) this.pending.splice(0, drop);
    if (this.pending.length > 0) {
      this.waitingWritable = true;
      this.sockets.native.pollConnection(this.connection, this.reading, true);
      return;
    }
    if (this.ending) this.finishEnd();
    if (this.needDrain && !this.destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  private finishEnd(): void {
    if (this.readEnded) {
      this.destroy();
      return;
    }
    this.sockets.native.shutdownConnection(this.connection);
  }
}

/** A worker's native connections, by the id their events carry. */
export class NativeSockets {
  private readonly open = new Map<number, NativeSocket>();
  private nextId = 1;

  constructor(readonly native: NativeConnections) {
    native.connectionEvents((batch) => {
      for (let i = 0; i < batch.length; i += 3) this.open.get(batch[i] as number)?.onEvent(batch[i + 1] as number, batch[i + 2] as Buffer | string | undefined);
    });
  }

  /** Takes over an accepted (non-blocking) fd. */
  adopt(fd: number): NativeSocket {
    const id = this.nextId;
    // Ids are int32 in the addon; a worker never holds 2^31 connections at once.
    this.nextId = this.nextId === 0x7fffffff ? 1 : this.nextId + 1;
    const socket = new NativeSocket(this, this.native.openConnection(fd, id), id);
    this.open.set(id, socket);
    return socket;
  }

  release(socket: NativeSocket): void {
    this.open.delete(socket.id);
  }
}
