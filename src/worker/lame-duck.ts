/**
 * Lame-duck mode on one shard, as nats-server does it: every client gets an INFO with `ldm: true`
 * (clients then reconnect elsewhere at their own pace), and after the grace period the shard closes
 * its clients one after another, spread evenly over the rest of the lame-duck duration.
 */
import { encodeInfo, type ServerInfo } from '../protocol/encoder.js';
import type { Shard } from './shard.js';

export function enterLameDuck(shard: Shard, info: ServerInfo, graceMs: number, durationMs: number, done: () => void): void {
  const clients = [...shard.clients];
  for (const client of clients) {
    client.send(encodeInfo({ ...info, client_id: client.id, client_ip: client.peer.ip, ldm: true }));
  }
  if (clients.length === 0) {
    done();
    return;
  }
  const spreadMs = Math.max(0, durationMs - graceMs);
  // Timers are no finer than a millisecond: close several per tick when there are more clients than ms.
  const perTick = Math.max(1, Math.ceil(clients.length / Math.max(1, spreadMs)));
  const tickMs = spreadMs / Math.ceil(clients.length / perTick);
  let next = 0;
  const closeSome = (): void => {
    for (const end = Math.min(clients.length, next + perTick); next < end; next++) clients[next].close('Server Shutdown');
    if (next < clients.length) setTimeout(closeSome, tickMs);
    else done();
  };
  setTimeout(closeSome, graceMs);
}
