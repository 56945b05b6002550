/**
 * Connection storm: 10 000 connections with 200 handshakes in flight, each CONNECT + PING until
 * the PONG, on a fresh broker; rounds alternate between Natrium and nats-server and the median
 * rate counts. The generator is `storm-generator/main.go` (built on first use; Go's standard
 * library only), or with `--generator node` the raw sockets of fleet.ts in this process, which
 * saturate their one core first. Then a restart: real `nats` clients (nats.js, reconnecting as configured by
 * default apart from a shorter wait) each with a subscription of its own; the broker is stopped and
 * started again on the same port; every client must reconnect, and every subscription must get a
 * message again.
 *
 *   node dist/bench/reliability/storm.js [--connections 10000] [--in-flight 200] [--rounds 3] [--clients 100] [--brokers natrium,nats-server] [--generator go|node]
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, Events, type NatsConnection } from 'nats';
import { brokerLabel, freePort, hostLine, parseOptions, sleep, startBroker, type BrokerSpec } from './common.js';
import { ensureOpenFiles, openFleet } from './fleet.js';
import { parseBrokers } from './slow-consumer.js';

const RESTART_TIMEOUT_MS = 30_000;

/** Who opens the connections: the Go generator's binary, or fleet.ts in this process. */
export type StormGenerator = { kind: 'go'; binary: string } | { kind: 'node' };

/** The Go generator's source, beside this script's TypeScript source (this file runs from dist/). */
const GENERATOR_SOURCE = fileURLToPath(new URL('../../../bench/reliability/storm-generator/', import.meta.url));

/** Builds the Go generator (standard library only, no network). */
export function buildStormGenerator(): StormGenerator {
  const binary = join(tmpdir(), 'natrium-storm-generator');
  const build = spawnSync('go', ['build', '-o', binary, '.'], { cwd: GENERATOR_SOURCE, env: { ...process.env, GO111MODULE: 'off', GOPROXY: 'off', GOFLAGS: '' }, encoding: 'utf8' });
  if (build.error !== undefined) throw new Error(`the storm generator needs Go (apt-get install -y golang-go), or use --generator node: ${build.error.message}`);
  if (build.status !== 0) throw new Error(`go build of ${GENERATOR_SOURCE} failed: ${build.stderr}`);
  return { kind: 'go', binary };
}

/** What a generator reports of one storm (the Go one prints it as JSON). */
interface FleetFigures {
  connected: number;
  failures: number;
  seconds: number;
  firstFailure: string;
}

/** One storm against `port` from the generator chosen. */
async function runGenerator(generator: StormGenerator, port: number, count: number, inFlight: number): Promise<FleetFigures> {
  if (generator.kind === 'node') {
    const fleet = await openFleet(port, count, inFlight, null);
    for (const c of fleet.connections) c.destroy();
    return { connected: fleet.connections.length, failures: fleet.failures.length, seconds: fleet.seconds, firstFailure: fleet.failures[0] ?? '' };
  }
  const { stdout } = await promisify(execFile)(generator.binary, ['-addr', `127.0.0.1:${port}`, '-n', String(count), '-k', String(inFlight)]);
  return JSON.parse(stdout) as FleetFigures;
}

export interface StormRun extends FleetFigures {
  broker: string;
  perSecond: number;
}

export interface RestartResult {
  broker: string;
  clients: number;
  /** From the restarted broker's "ready" to the last client's reconnect. */
  reconnectMs: number;
  reconnected: number;
  /** Clients whose subscription got a message after the restart. */
  resumed: number;
}

export async function storm(spec: BrokerSpec, count: number, inFlight: number, generator: StormGenerator): Promise<StormRun> {
  const broker = await startBroker(spec);
  try {
    const fleet = await runGenerator(generator, broker.port, count, inFlight);
    return { broker: broker.label, ...fleet, perSecond: fleet.connected / fleet.seconds };
  } finally {
    await broker.close();
  }
}

/** Resolves once every client got one message on `subject` + its index. */
async function everyoneHears(clients: NatsConnection[], received: number[], publisher: NatsConnection): Promise<number> {
  const before = [...received];
  // Each SUB travels on its own connection: the broker must have it before the publisher's messages.
  await Promise.all(clients.map((nc) => nc.flush()));
  for (let i = 0; i < clients.length; i++) publisher.publish(`restart.${i}`, 'hello');
  await publisher.flush();
  await Promise.all(clients.map((nc) => nc.flush()));
  return received.filter((n, i) => n > before[i]).length;
}

export async function restart(spec: BrokerSpec, clientCount: number): Promise<RestartResult> {
  const port = await freePort();
  let broker = await startBroker({ ...spec, port });
  const clients: NatsConnection[] = [];
  try {
    const received = new Array<number>(clientCount).fill(0);
    for (let i = 0; i < clientCount; i++) {
      const nc = await connect({ servers: `127.0.0.1:${port}`, name: `restart-${i}`, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 50 });
      nc.subscribe(`restart.${i}`, { callback: () => received[i]++ });
      clients.push(nc);
    }
    const before = await everyoneHears(clients, received, clients[0]);
    if (before !== clientCount) throw new Error(`only ${before} of ${clientCount} clients heard before the restart`);
    const reconnected = new Set<number>();
    let allBack: () => void = () => {};
    const back = new Promise<void>((resolve) => (allBack = resolve));
    clients.forEach(async (nc, i) => {
      for await (const status of nc.status()) {
        if (status.type === Events.Reconnect) {
          reconnected.add(i);
          if (reconnected.size === clientCount) allBack();
          return;
        }
      }
    });
    await broker.close();
    broker = await startBroker({ ...spec, port });
    const readyAt = Date.now();
    await Promise.race([back, sleep(RESTART_TIMEOUT_MS)]);
    const reconnectMs = Date.now() - readyAt;
    const resumed = await everyoneHears(clients, received, clients[0]);
    return { broker: broker.label, clients: clientCount, reconnectMs, reconnected: reconnected.size, resumed };
  } finally {
    await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
    await broker.close();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseOptions(process.argv.slice(2), { connections: 10_000, inFlight: 200, rounds: 3, clients: 100, brokers: 'natrium,nats-server', generator: 'go', out: '' });
  if (options.generator !== 'go' && options.generator !== 'node') throw new Error(`--generator: go or node, not ${options.generator}`);
  const generator: StormGenerator = options.generator === 'node' ? { kind: 'node' } : buildStormGenerator();
  const rerun = ensureOpenFiles(options.connections + 512);
  if (rerun !== null) process.exit(rerun);
  const specs = parseBrokers(options.brokers);
  console.log(`storm: ${options.connections} connections, ${options.inFlight} in flight, CONNECT + PING until PONG, ${options.rounds} rounds, ${options.generator} generator; ${hostLine()}`);
  const runs: StormRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const spec of specs) {
      const run = await storm(spec, options.connections, options.inFlight, generator);
      runs.push(run);
      console.log(`  round ${round} ${run.broker}: ${run.connected} in ${run.seconds.toFixed(2)} s = ${Math.round(run.perSecond)} connections/s, ${run.failures} failures ${run.firstFailure}`);
    }
  }
  const restarts: RestartResult[] = [];
  for (const spec of specs) {
    const result = await restart(spec, options.clients);
    restarts.push(result);
    console.log(`  restart ${result.broker}: ${result.reconnected}/${result.clients} nats.js clients reconnected ${result.reconnectMs} ms after the broker was back; ${result.resumed} subscriptions got a message again`);
  }
  const medianRate = (label: string): number => median(runs.filter((r) => r.broker === label).map((r) => r.perSecond));
  console.log('\n| broker | connections/s (median) | failures | nats.js clients back after restart | subscriptions resumed |\n|---|---|---|---|---|');
  for (const spec of specs) {
    const label = brokerLabel(spec);
    const mine = runs.filter((r) => r.broker === label);
    const r = restarts.find((x) => x.broker === label)!;
    console.log(
      `| ${label} | **${Math.round(medianRate(label)).toLocaleString('en-US')}** (${mine.map((x) => Math.round(x.perSecond)).join(', ')}) | ${mine.reduce((n, x) => n + x.failures, 0)} | ` +
        `${r.reconnected}/${r.clients} in ${r.reconnectMs} ms | ${r.resumed}/${r.clients} |`,
    );
  }
  if (options.out !== '') {
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, JSON.stringify({ date: new Date().toISOString(), host: hostLine(), options, runs, restarts }, null, 2) + '\n');
  }
  // The target: no failure, every client back, and at least nats-server's rate (when it ran).
  const natriumLabels = specs.filter((spec) => spec.kind === 'natrium').map(brokerLabel);
  const natsRate = specs.some((spec) => spec.kind === 'nats-server') ? medianRate('nats-server') : 0;
  const slower = natriumLabels.filter((label) => medianRate(label) < natsRate);
  for (const label of slower) console.log(`${label}: ${(medianRate(label) / natsRate).toFixed(2)}x nats-server's rate: target missed`);
  const natriumFailed =
    slower.length > 0 || runs.some((r) => r.broker.startsWith('natrium') && r.failures > 0) || restarts.some((r) => r.reconnected < r.clients || r.resumed < r.clients);
  process.exit(natriumFailed ? 1 : 0);
}
