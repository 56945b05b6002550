/**
 * WebSocket clients in a worker. The worker adopts the TCP connection like any other, runs the
 * HTTP upgrade itself (an unbound http.Server parses the request, `ws` in noServer mode answers
 * it), and hands the shard a WebSocketDuplex: a stream over the WebSocket's messages with the
 * socket methods a Client uses, so the protocol code is the same for TCP, TLS and WebSocket.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WebSocketConfig } from './config.js';

/**
 * Bytes in both directions travel as binary messages; one write is one message. Inbound messages
 * are concatenated into the read stream, so a protocol op may span messages.
 */
export class WebSocketDuplex extends Duplex {
  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Socket,
  ) {
    super({ allowHalfOpen: false, readableHighWaterMark: 64 * 1024 });
    ws.on('message', (data: Buffer) => {
      // Past the high-water mark the reader is not keeping up: stop reading the TCP socket.
      if (!this.push(data)) ws.pause();
    });
    ws.once('close', () => {
      this.push(null);
      this.destroy();
    });
    ws.once('error', (error) => this.destroy(error));
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.ws.send(chunk, { binary: true }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // A normal close frame; the peer's answering close ends the stream.
    this.ws.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate();
    callback(error);
  }

  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.raw.remotePort;
  }

  setNoDelay(noDelay?: boolean): this {
    this.raw.setNoDelay(noDelay);
    return this;
  }

  setTimeout(ms: number, onTimeout?: () => void): this {
    this.raw.setTimeout(ms);
    if (onTimeout !== undefined) this.raw.once('timeout', onTimeout);
    return this;
  }

  /** The TLS socket under a wss:// connection, else null. */
  tlsSocket(): TLSSocket | null {
    return this.raw instanceof TLSSocket ? this.raw : null;
  }

  /** The Client is written against net.Socket; this stream provides every member it uses. */
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** One per worker: upgrades adopted connections (plain or already TLS) to WebSocket clients. */
export class WebSocketUpgrader {
  private readonly server: WebSocketServer;
  private readonly http = http.createServer();
  private readonly pending = new WeakMap<object, (duplex: WebSocketDuplex) => void>();

  constructor(private readonly config: WebSocketConfig) {
    this.server = new WebSocketServer({
      noServer: true,
      perMessageDeflate: config.compression ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : false,
    });
    this.http.on('upgrade', (request: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const onOpen = this.pending.get(socket);
      if (onOpen === undefined) {
        socket.destroy();
        return;
      }
      this.pending.delete(socket);
      this.server.handleUpgrade(request, socket, head, (ws) => onOpen(new WebSocketDuplex(ws, socket)));
    });
    // A request that is not an upgrade gets nats-server's answer to it.
    this.http.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => {
      response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Sec-Websocket-Version': '13', 'X-Content-Type-Options': 'nosniff' });
      response.end('Bad Request\n');
    });
    this.http.on('clientError', (_error, socket: Socket) => socket.destroy());
  }

  /**
   * Reads the HTTP upgrade request from `socket`; `onOpen` gets the WebSocket stream. A connection
   * that does not complete the upgrade within the handshake timeout is closed.
   */
  upgrade(socket: Socket, onOpen: (duplex: WebSocketDuplex) => void): void {
    const timer = setTimeout(() => socket.destroy(), this.config.handshakeTimeout);
    socket.once('close', () => clearTimeout(timer));
    this.pending.set(socket, (duplex) => {
      clearTimeout(timer);
      onOpen(duplex);
    });
    this.http.emit('connection', socket);
  }
}
