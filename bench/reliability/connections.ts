/**
 * 10 000 concurrent connections, each with one subscription of its own, held while the broker
 * PINGs them (ping_interval 5s, the same config file for both brokers) and they answer; then every
 * connection is PINGed and every subscription gets one message. Reports the broker's resident
 * memory (whole process) idle and holding them, Natrium beside nats-server.
 *
 *   node dist/bench/reliability/connections.js [--connections 10000] [--hold 12] [--brokers natrium,nats-server]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from 'nats';
import { brokerLabel, hostLine, mib, monitor, parseOptions, sleep, startBroker, type BrokerSpec, type Json } from './common.js';
import { ensureOpenFiles, openFleet } from './fleet.js';
import { parseBrokers } from './slow-consumer.js';

const IN_FLIGHT = 200;
const PING_INTERVAL = '5s';
const SETTLE_MS = 2_000;

export interface ConnectionsRow {
  broker: string;
  connections: number;
  failures: number;
  openSeconds: number;
  idleRss: number;
  heldRss: number;
  peakRss: number;
  /** Every connection PINGed at once: until the last PONG. */
  pingAllMs: number;
  /** Server PINGs answered over all connections during the hold. */
  serverPings: number;
  /** Connections that got their one message. */
  delivered: number;
  closedByBroker: number;
  /** Natrium: V8 heap in use and ArrayBuffer bytes over its workers (0 for nats-server). */
  workersHeap: number;
  workersArrayBuffers: number;
}

export async function measureConnections(spec: BrokerSpec, count: number, holdSeconds: number, print: (line: string) => void): Promise<ConnectionsRow> {
  const dir = mkdtempSync(join(tmpdir(), 'natrium-connections-'));
  const config = join(dir, 'broker.conf');
  writeFileSync(config, `ping_interval: "${PING_INTERVAL}"\nmax_connections: ${count + 100}\n`);
  const broker = await startBroker({ ...spec, args: ['-c', config] });
  try {
    await sleep(SETTLE_MS);
    const idleRss = broker.rssBytes();
    const fleet = await openFleet(broker.port, count, IN_FLIGHT, (i) => `fleet.${i}`);
    print(`  ${fleet.connections.length} connected in ${fleet.seconds.toFixed(1)} s, ${fleet.failures.length} failures${fleet.failures.length ? ` (${fleet.failures[0]})` : ''}`);
    // Hold: the broker PINGs every connection each interval, and each answers.
    await sleep(holdSeconds * 1000);
    const pingStart = Date.now();
    await Promise.all(fleet.connections.map((c) => c.ping()));
    const pingAllMs = Date.now() - pingStart;
    // One message to each connection's own subject, from a real client.
    const publisher = await connect({ servers: broker.url, name: 'fleet-publisher' });
    for (let i = 0; i < count; i++) publisher.publish(`fleet.${i}`, 'x');
    await publisher.flush();
    await publisher.close();
    await Promise.all(fleet.connections.map((c) => c.ping()));
    await sleep(SETTLE_MS);
    const heldRss = broker.rssBytes();
    const varz = await monitor(broker, '/varz');
    // Natrium's own breakdown: V8 heaps and ArrayBuffers (socket and outbound buffers) per worker.
    const workers = spec.kind === 'natrium' ? ((await monitor(broker, '/workerz')).workers as Json[]) : [];
    const row: ConnectionsRow = {
      broker: broker.label,
      connections: varz.connections,
      failures: fleet.failures.length,
      openSeconds: fleet.seconds,
      idleRss,
      heldRss,
      peakRss: broker.peakRssBytes(),
      pingAllMs,
      serverPings: fleet.connections.reduce((n, c) => n + c.serverPings, 0),
      delivered: fleet.connections.filter((c) => c.messages === 1).length,
      closedByBroker: fleet.connections.filter((c) => c.closed).length,
      workersHeap: workers.reduce((n, w) => n + w.heap_used, 0),
      workersArrayBuffers: workers.reduce((n, w) => n + w.array_buffers, 0),
    };
    print(
      `  ${row.connections} held (/varz), rss idle ${mib(idleRss)}, holding ${mib(heldRss)} (peak ${mib(row.peakRss)}), ` +
        `${row.serverPings} server PINGs answered, all PINGed in ${pingAllMs} ms, ${row.delivered} got their message, ${row.closedByBroker} closed by the broker` +
        (workers.length > 0 ? `; workers' heap ${mib(row.workersHeap)}, array buffers ${mib(row.workersArrayBuffers)}` : ''),
    );
    for (const c of fleet.connections) c.destroy();
    return row;
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const TABLE_HEADER =
  '| broker | connections held | failures | idle RSS | RSS holding them | per connection | server PINGs answered | PING all, last PONG after | messages delivered |\n|---|---|---|---|---|---|---|---|---|';

export function formatRow(r: ConnectionsRow): string {
  const perConnection = ((r.heldRss - r.idleRss) / r.connections / 1024).toFixed(1);
  return `| ${r.broker} | ${r.connections.toLocaleString('en-US')} | ${r.failures} | ${mib(r.idleRss)} | **${mib(r.heldRss)}** | ${perConnection} KiB | ${r.serverPings.toLocaleString('en-US')} | ${r.pingAllMs} ms | ${r.delivered.toLocaleString('en-US')} |`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseOptions(process.argv.slice(2), { connections: 10_000, hold: 12, brokers: 'natrium,nats-server', out: '' });
  const rerun = ensureOpenFiles(options.connections + 512);
  if (rerun !== null) process.exit(rerun);
  console.log(`${options.connections} connections, one subscription each, ${IN_FLIGHT} handshakes in flight, held ${options.hold} s with ping_interval ${PING_INTERVAL}; ${hostLine()}`);
  const rows: ConnectionsRow[] = [];
  for (const spec of parseBrokers(options.brokers)) {
    console.log(`${brokerLabel(spec)}:`);
    rows.push(await measureConnections(spec, options.connections, options.hold, (line) => console.log(line)));
  }
  console.log(`\n${TABLE_HEADER}\n${rows.map(formatRow).join('\n')}`);
  if (options.out !== '') {
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, JSON.stringify({ date: new Date().toISOString(), host: hostLine(), options, rows }, null, 2) + '\n');
  }
  const reference = rows.find((r) => r.broker === 'nats-server');
  const bad = rows.filter(
    (r) =>
      r.failures > 0 ||
      r.connections < options.connections ||
      r.delivered < options.connections ||
      r.closedByBroker > 0 ||
      r.serverPings < options.connections ||
      (reference !== undefined && r.broker.startsWith('natrium') && r.heldRss > reference.heldRss),
  );
  for (const r of bad) console.log(`FAILED: ${r.broker}`);
  process.exit(bad.length === 0 ? 0 : 1);
}
