/**
 * The monitoring endpoints after known traffic, in every worker/parser combination: exact counters
 * summed over workers, nats-server's field names, types and units, query options and errors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, nkeyAuthenticator, nkeys, type ConnectionOptions, type NatsConnection } from 'nats';
import type { RunningServer } from '../../src/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, TEST_WORKERS } from '../helpers/server.js';
import { signal, within } from './broker.js';
import { onBothBrokers, type ConfiguredBroker } from './auth-reference.js';

const GUARD_MS = 10_000;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UPTIME = /^(\d+d)?(\d+h)?(\d+m)?\d+s$/;
const MESSAGES = 10;
const PAYLOAD = 100;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let server: RunningServer;
let sub: NatsConnection;
let pub: NatsConnection;
let closedCid = 0;

async function get(path: string): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(`${server.monitorUrl}${path}`);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

async function json(path: string): Promise<Json> {
  const { status, type, body } = await get(path);
  assert.equal(status, 200, `${path}: ${body}`);
  assert.equal(type, 'application/json');
  return JSON.parse(body) as Json;
}

/** Re-reads an endpoint until `accept` holds: the server learns of a client's close asynchronously. */
async function until(path: string, accept: (body: Json) => boolean): Promise<Json> {
  return within(
    (async () => {
      for (;;) {
        const body = await json(path);
        if (accept(body)) return body;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    GUARD_MS,
    `${path} to reach the expected state`,
  );
}

before(async () => {
  server = await startTestServer({ httpPort: -1 });
  sub = await connect({ servers: server.url, name: 'sub', reconnect: false });
  pub = await connect({ servers: server.url, name: 'pub', reconnect: false });
  const received = signal();
  let count = 0;
  sub.subscribe('foo.>', {
    callback: () => {
      if (++count === MESSAGES) received.resolve();
    },
  });
  sub.subscribe('bar', { queue: 'q1', callback: () => {} });
  await sub.flush();
  // The subscriptions may live on another worker: wait until the server counts them.
  await until('/varz', (v) => v.subscriptions === 2);
  for (let i = 0; i < MESSAGES; i++) pub.publish('foo.x', new Uint8Array(PAYLOAD));
  await pub.flush();
  await within(received.promise, GUARD_MS, 'the messages to arrive');
  const closer = await connect({ servers: server.url, name: 'closer', reconnect: false });
  closedCid = closer.info!.client_id;
  await closer.close();
  await until('/connz?state=closed', (c) => c.total === 1);
});

after(async () => {
  await Promise.all([sub?.close(), pub?.close()]);
  await server?.close();
});

test('monitorUrl is there only when http_port asks for it', async () => {
  assert.match(server.monitorUrl!, /^http:\/\/127\.0\.0\.1:\d+$/);
  const plain = await startTestServer();
  try {
    assert.equal(plain.monitorUrl, undefined);
  } finally {
    await plain.close();
  }
});

test('/varz: settings in nats-server units, counters exact over all workers', async () => {
  const v = await json('/varz');
  assert.equal(v.server_id, server.serverId);
  assert.equal(v.server_name, server.serverId);
  assert.equal(v.version, '2.9.10');
  assert.equal(v.proto, 1);
  assert.equal(v.host, '127.0.0.1');
  assert.equal(v.port, server.port);
  assert.equal(v.http_host, '127.0.0.1');
  assert.equal(v.http_port, Number(new URL(server.monitorUrl!).port));
  assert.equal(v.max_connections, 65536);
  assert.equal(v.ping_interval, 120_000_000_000, 'nanoseconds');
  assert.equal(v.write_deadline, 10_000_000_000, 'nanoseconds');
  assert.equal(v.ping_max, 2);
  assert.equal(v.max_payload, 1048576);
  assert.equal(v.max_control_line, 4096);
  assert.equal(v.max_pending, 67108864);
  assert.match(v.start, RFC3339);
  assert.match(v.now, RFC3339);
  assert.match(v.config_load_time, RFC3339);
  assert.match(v.uptime, UPTIME);
  assert.equal(typeof v.mem, 'number');
  assert.equal(typeof v.cpu, 'number');
  assert.equal(v.gomaxprocs, TEST_WORKERS);
  assert.equal(v.connections, 2);
  assert.equal(v.total_connections, 3);
  assert.equal(v.in_msgs, MESSAGES);
  assert.equal(v.out_msgs, MESSAGES);
  assert.equal(v.in_bytes, MESSAGES * PAYLOAD);
  assert.equal(v.out_bytes, MESSAGES * PAYLOAD);
  assert.equal(v.slow_consumers, 0);
  assert.equal(v.subscriptions, 2);
  assert.equal(v.routes, 0);
  assert.ok(v.http_req_stats['/varz'] >= 1);
  for (const block of ['cluster', 'gateway', 'leaf', 'mqtt', 'websocket', 'jetstream']) assert.deepEqual(v[block], {});
});

test('/connz: open connections with nats-server fields, sorted by cid', async () => {
  const c = await json('/connz');
  assert.equal(c.server_id, server.serverId);
  assert.match(c.now, RFC3339);
  assert.deepEqual([c.num_connections, c.total, c.offset, c.limit], [2, 2, 0, 1024]);
  const [s, p] = c.connections;
  assert.deepEqual(
    c.connections.map((x: Json) => x.name),
    ['sub', 'pub'],
  );
  assert.ok(s.cid < p.cid);
  assert.deepEqual(Object.keys(s), [
    'cid', 'kind', 'type', 'ip', 'port', 'start', 'last_activity', 'rtt', 'uptime', 'idle', 'pending_bytes',
    'in_msgs', 'out_msgs', 'in_bytes', 'out_bytes', 'subscriptions', 'name', 'lang', 'version',
  ]);
  assert.deepEqual([s.kind, s.type, s.ip, s.lang], ['Client', 'nats', '127.0.0.1', 'nats.js']);
  assert.equal(typeof s.port, 'number');
  assert.match(s.start, RFC3339);
  assert.match(s.last_activity, RFC3339);
  assert.match(s.uptime, UPTIME);
  assert.match(s.idle, UPTIME);
  assert.deepEqual([s.in_msgs, s.out_msgs, s.in_bytes, s.out_bytes, s.subscriptions], [0, MESSAGES, 0, MESSAGES * PAYLOAD, 2]);
  assert.deepEqual([p.in_msgs, p.out_msgs, p.in_bytes, p.out_bytes, p.subscriptions], [MESSAGES, 0, MESSAGES * PAYLOAD, 0, 0]);
  assert.equal(s.pending_bytes, 0);
});

test('/connz rtt: the round trip the server\'s PING timed (its first about 2 s after connect), sortable', async () => {
  const timed = await until('/connz?sort=rtt', (c) => c.connections.every((x: Json) => x.rtt !== '0s'));
  const micros = (rtt: string): number => {
    const [, value, unit] = /^(\d+(?:\.\d+)?)(ns|µs|ms)$/.exec(rtt) ?? assert.fail(`rtt ${rtt}`);
    return Number(value) * { ns: 1e-3, µs: 1, ms: 1e3 }[unit as 'ns' | 'µs' | 'ms'];
  };
  const rtts = timed.connections.map((x: Json) => micros(x.rtt));
  assert.ok(rtts.every((r: number) => r > 0 && r < 1e6), `loopback round trips: ${rtts}`);
  assert.deepEqual(rtts, [...rtts].sort((a, b) => b - a), 'sort=rtt: longest first');
});

test('/connz: subs=1 and subs=detail list subscriptions', async () => {
  const list = await json('/connz?subs=1');
  assert.deepEqual(list.connections[0].subscriptions_list.sort(), ['bar', 'foo.>']);
  assert.equal(list.connections[1].subscriptions_list, undefined, 'no list for a connection without subscriptions');
  const detail = await json('/connz?subs=detail');
  const entries = detail.connections[0].subscriptions_list_detail.sort((a: Json, b: Json) => a.subject.localeCompare(b.subject));
  const cid = detail.connections[0].cid;
  assert.deepEqual(entries, [
    { subject: 'bar', qgroup: 'q1', sid: entries[0].sid, msgs: 0, cid },
    { subject: 'foo.>', sid: entries[1].sid, msgs: MESSAGES, cid },
  ]);
  const { body } = await get('/connz?subs=1');
  assert.match(body, /"foo\.\\u003e"/, 'Go escapes > in JSON');
});

test('/connz: sort, limit, offset, cid', async () => {
  assert.deepEqual((await json('/connz?sort=msgs_from')).connections.map((x: Json) => x.name), ['pub', 'sub']);
  assert.deepEqual((await json('/connz?sort=msgs_to')).connections.map((x: Json) => x.name), ['sub', 'pub']);
  assert.deepEqual((await json('/connz?sort=bytes_from')).connections.map((x: Json) => x.name), ['pub', 'sub']);
  assert.deepEqual((await json('/connz?sort=subs')).connections.map((x: Json) => x.name), ['sub', 'pub']);
  const page = await json('/connz?limit=1&offset=1');
  assert.deepEqual([page.num_connections, page.total, page.offset, page.limit], [1, 2, 1, 1]);
  assert.equal(page.connections[0].name, 'pub');
  const all = await json('/connz');
  const one = await json(`/connz?cid=${all.connections[1].cid}`);
  assert.deepEqual([one.num_connections, one.total, one.limit], [1, 2, 1]);
  assert.equal(one.connections[0].name, 'pub');
});

test('/connz: state=closed keeps closed connections with their close reason', async () => {
  const closed = await json('/connz?state=closed');
  assert.deepEqual([closed.num_connections, closed.total], [1, 1]);
  const [c] = closed.connections;
  assert.equal(c.cid, closedCid);
  assert.equal(c.name, 'closer');
  assert.equal(c.reason, 'Client Closed');
  assert.match(c.stop, RFC3339);
  assert.deepEqual(Object.keys(c).slice(0, 9), ['cid', 'kind', 'type', 'ip', 'port', 'start', 'last_activity', 'stop', 'reason']);
  const any = await json('/connz?state=any');
  assert.equal(any.total, 3);
  assert.deepEqual((await json('/connz?state=closed&sort=stop')).connections.map((x: Json) => x.cid), [closedCid]);
  // By id, as nats-server: that connection, limit 1, and the total of the state asked for.
  const byId = await json(`/connz?state=closed&cid=${closedCid}`);
  assert.deepEqual([byId.num_connections, byId.total, byId.limit, byId.connections[0].name], [1, 1, 1, 'closer']);
  const anyById = await json(`/connz?state=any&cid=${closedCid}`);
  assert.deepEqual([anyById.num_connections, anyById.total, anyById.connections[0].reason], [1, 3, 'Client Closed']);
  const openById = await json(`/connz?cid=${closedCid}`);
  assert.deepEqual([openById.num_connections, openById.total], [0, 2], 'not among the open ones');
  const openCid = (await json('/connz')).connections[0].cid;
  assert.deepEqual((await json(`/connz?cid=${openCid}`)).num_connections, 1);
  const anyOpen = await json(`/connz?state=any&cid=${openCid}`);
  assert.deepEqual([anyOpen.num_connections, anyOpen.total], [0, 3], 'nats-server 2.9 looks among the closed ones only');
});

test('/connz: bad options are refused with nats-server\'s texts', async () => {
  assert.deepEqual(await get('/connz?sort=bogus'), { status: 400, type: 'text/plain; charset=utf-8', body: 'invalid sorting option: bogus' });
  assert.equal((await get('/connz?sort=stop')).body, 'sort by stop only valid on closed connections');
  assert.deepEqual(await get('/connz?state=maybe'), { status: 400, type: 'text/plain; charset=utf-8', body: 'Error decoding state for maybe' });
  // nats-server's texts from strconv (checked against nats-server 2.9.10).
  assert.equal((await get('/connz?auth=xyz')).body, 'Error decoding boolean for \'auth\': strconv.ParseBool: parsing "xyz": invalid syntax');
  assert.equal((await get('/connz?limit=1.5')).body, 'Error decoding int for \'limit\': strconv.Atoi: parsing "1.5": invalid syntax');
  assert.equal((await get('/connz?cid=-1')).body, 'Error decoding uint64 for \'cid\': strconv.ParseUint: parsing "-1": invalid syntax');
  assert.equal((await get('/subsz?subs=2')).status, 400);
});

test('/subsz: sublist figures; subs=1 lists every subscription; test= filters by a subject', async () => {
  const plain = await json('/subsz');
  assert.deepEqual(Object.keys(plain), ['num_subscriptions', 'num_cache', 'num_inserts', 'num_removes', 'num_matches', 'cache_hit_rate', 'max_fanout', 'avg_fanout']);
  assert.equal(plain.num_subscriptions, 2);
  assert.equal(plain.num_inserts, 2);
  const list = await json('/subsz?subs=1');
  assert.equal(list.server_id, server.serverId);
  assert.deepEqual([list.total, list.offset, list.limit], [2, 0, 1024]);
  assert.deepEqual(
    list.subscriptions_list.map((s: Json) => [s.account, s.subject, s.qgroup, s.msgs]).sort(),
    [['$G', 'bar', 'q1', 0], ['$G', 'foo.>', undefined, MESSAGES]],
  );
  const tested = await json('/subsz?subs=1&test=foo.bar.baz');
  assert.deepEqual(tested.subscriptions_list.map((s: Json) => s.subject), ['foo.>']);
  assert.equal((await json('/subsz?test=nothing')).total, 0);
});

test('/healthz and /accountz', async () => {
  assert.deepEqual(await get('/healthz'), { status: 200, type: 'application/json', body: '{"status":"ok"}' });
  const accounts = await json('/accountz');
  assert.deepEqual(accounts.accounts, ['$G']);
  const detail = (await json('/accountz?acc=$G')).account_detail;
  assert.equal(detail.account_name, '$G');
  assert.equal(detail.client_connections, 2);
  assert.equal(detail.subscriptions, 2);
  assert.equal(detail.sublist_stats.num_subscriptions, 2);
  assert.deepEqual(await get('/accountz?acc=nope'), { status: 400, type: 'text/plain; charset=utf-8', body: 'Account nope does not exist' });
});

test('/accstatz: the global account\'s traffic', async () => {
  const [stat] = (await json('/accstatz')).account_statz;
  assert.deepEqual(stat, {
    acc: '$G',
    conns: 2,
    leafnodes: 0,
    total_conns: 2,
    sent: { msgs: MESSAGES, bytes: MESSAGES * PAYLOAD },
    received: { msgs: MESSAGES, bytes: MESSAGES * PAYLOAD },
    slow_consumers: 0,
  });
});

test('/routez, /gatewayz, /leafz, /jsz answer as nats-server does with those features off', async () => {
  const routez = await json('/routez');
  assert.deepEqual([routez.num_routes, routez.routes], [0, []]);
  const gatewayz = await json('/gatewayz');
  assert.deepEqual([gatewayz.outbound_gateways, gatewayz.inbound_gateways], [{}, {}]);
  const leafz = await json('/leafz');
  assert.deepEqual([leafz.leafnodes, leafz.leafs], [0, null]);
  const jsz = await json('/jsz');
  assert.equal(jsz.disabled, true);
  assert.equal(jsz.server_id, server.serverId);
});

test('/workerz: one entry per worker; the figures add up to /varz', async () => {
  const w = await json('/workerz');
  assert.equal(w.num_workers, TEST_WORKERS);
  assert.deepEqual(w.workers.map((x: Json) => x.worker), [...Array(TEST_WORKERS).keys()]);
  const total = (key: string): number => w.workers.reduce((n: number, x: Json) => n + x[key], 0);
  assert.equal(total('connections'), 2);
  assert.equal(total('total_connections'), 3);
  assert.equal(total('in_msgs'), MESSAGES);
  assert.equal(total('out_msgs'), MESSAGES);
  assert.equal(total('in_bytes'), MESSAGES * PAYLOAD);
  assert.equal(total('subscriptions'), 2);
  assert.equal(total('slow_consumers'), 0);
  for (const worker of w.workers) {
    assert.equal(typeof worker.interconnect.forwards, 'number');
    assert.equal(typeof worker.interconnect.dropped, 'number');
  }
  // With one worker nothing crosses; with more, the publisher's worker forwards to the subscriber's.
  const forwards = w.workers.reduce((n: number, x: Json) => n + x.interconnect.forwards, 0);
  if (TEST_WORKERS === 1) assert.equal(forwards, 0);
});

test('many concurrent requests are all answered with the same counters', async () => {
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => json(i % 2 === 0 ? '/varz' : '/workerz')));
  for (const [i, answer] of answers.entries()) {
    const inMsgs = i % 2 === 0 ? answer.in_msgs : answer.workers.reduce((n: number, w: Json) => n + w.in_msgs, 0);
    assert.equal(inMsgs, MESSAGES);
  }
});

test('a busy monitoring port fails the start and leaves nothing running', async () => {
  const busyPort = Number(new URL(server.monitorUrl!).port);
  await assert.rejects(startTestServer({ httpPort: busyPort }), /EADDRINUSE/);
});

test('unknown paths are 404; / serves the dashboard', async () => {
  assert.equal((await get('/nope')).status, 404);
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.type!, /^text\/html/);
});

test('a slow consumer is counted and kept as closed with its reason', async () => {
  const slow = await startTestServer({ httpPort: -1, maxPending: 64 * 1024, writeDeadline: 1000 });
  const varzOf = async (): Promise<Json> => (await fetch(`${slow.monitorUrl}/varz`)).json() as Promise<Json>;
  try {
    const reader = await RawClient.connect(slow.port);
    await reader.send('CONNECT {"verbose":false,"name":"slowpoke"}\r\nSUB big 1\r\nPING\r\n');
    await reader.readUntil('PONG\r\n');
    reader.pauseReading();
    const writer = await connect({ servers: slow.url, reconnect: false });
    const payload = new Uint8Array(100 * 1024);
    // Publish until the server gives up on the reader (pending bytes or write deadline).
    await within(
      (async () => {
        for (;;) {
          for (let i = 0; i < 20; i++) writer.publish('big', payload);
          await writer.flush();
          if ((await varzOf()).slow_consumers >= 1) return;
        }
      })(),
      GUARD_MS,
      'the slow consumer to be cut off',
    );
    reader.resumeReading();
    await reader.expectClosed(GUARD_MS);
    await writer.close();
    assert.equal((await varzOf()).slow_consumers, 1);
    const closed = (await (await fetch(`${slow.monitorUrl}/connz?state=closed`)).json()) as Json;
    const entry = closed.connections.find((c: Json) => c.name === 'slowpoke');
    assert.match(entry.reason, /^Slow Consumer \((Pending Bytes|Write Deadline)\)$/);
    const workerz = (await (await fetch(`${slow.monitorUrl}/workerz`)).json()) as Json;
    assert.equal(workerz.workers.reduce((n: number, w: Json) => n + w.slow_consumers, 0), 1);
  } finally {
    await slow.close();
  }
});

const ACCOUNTS_CONF = (nkey: string): string => `
http_port: -1
accounts {
  A {
    users = [ {user: a, password: p}, {nkey: ${nkey}} ]
    exports = [ {stream: "news.>"}, {stream: "priv.>", accounts: [B]}, {service: "help.>"}, {service: "svc.x", response_type: stream, accounts: [B]} ]
  }
  B {
    users = [ {user: b, password: p} ]
    imports = [
      {stream: {account: A, subject: "news.>"}, prefix: "a"}, {stream: {account: A, subject: "priv.x"}, to: "px"}
      {service: {account: A, subject: "help.>"}}, {service: {account: A, subject: "svc.x"}, to: "ask"}
    ]
  }
}
authorization { users = [ {user: g, password: p} ] }
no_auth_user: g
`;

/** What each client of accountsView subscribes to ('px' as queue q). */
const SUBSCRIBED: Record<string, string[]> = { a: ['news.>'], n: ['help.x'], b: ['a.news.x', 'px'], anon: ['g.x'] };

/**
 * What the monitoring endpoints say about accounts and users after the same clients did the same
 * things, with what only nats-server has left out: its system account `$SYS`, the subscriptions
 * and imports it gives every account, and connection ids (clients are named instead).
 */
async function accountsView(broker: ConfiguredBroker, seed: Uint8Array): Promise<Json> {
  const get = async (path: string): Promise<Json> => (await fetch(`${broker.monitorUrl}${path}`)).json() as Promise<Json>;
  const open = (name: string, options: Partial<ConnectionOptions>) => connect({ servers: broker.url, name, reconnect: false, ...options });
  const clients = {
    a: await open('a', { user: 'a', pass: 'p' }),
    n: await open('n', { authenticator: nkeyAuthenticator(seed) }),
    b: await open('b', { user: 'b', pass: 'p' }),
    anon: await open('anon', {}),
  };
  for (const [name, subjects] of Object.entries(SUBSCRIBED)) {
    for (const subject of subjects) clients[name as keyof typeof clients].subscribe(subject, subject === 'px' ? { queue: 'q' } : {});
  }
  await Promise.all(Object.values(clients).map((nc) => nc.flush()));
  const gone = await open('gone', { user: 'b', pass: 'p' });
  await gone.close();
  try {
    const named = (connz: Json): Json[] => (connz.connections ?? []).map((c: Json) => ({ name: c.name, user: c.authorized_user, account: c.account, issuer: c.issuer_key, reason: c.reason }));
    const byName = (a: Json, b: Json): number => String(a.name).localeCompare(String(b.name));
    const closed = await within((async () => {
      for (;;) {
        const connz = await get('/connz?state=closed&auth=1');
        if (connz.connections.some((c: Json) => c.name === 'gone')) return connz;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(), GUARD_MS, 'the closed connection to be kept');
    const auth = await get('/connz?auth=1');
    const cids = new Map<number, string>(auth.connections.map((c: Json) => [c.cid, c.name]));
    // nats-server also lists the shadow subscriptions a stream import makes in the exporting
    // account, under the importing client; only what the clients subscribed to is compared.
    const clientSubs = async (path: string): Promise<Json[]> =>
      ((await get(path)).subscriptions_list ?? [])
        .filter((s: Json) => cids.has(s.cid) && SUBSCRIBED[cids.get(s.cid)!].includes(s.subject))
        .map((s: Json) => ({ client: cids.get(s.cid), account: s.account, subject: s.subject, qgroup: s.qgroup }))
        .sort((x: Json, y: Json) => `${x.client} ${x.subject}`.localeCompare(`${y.client} ${y.subject}`));
    const detail = async (account: string): Promise<Json> => {
      const { update_time: _time, subscriptions: _subs, sublist_stats: _stats, imports, exports, ...rest } = (await get(`/accountz?acc=${account}`)).account_detail;
      // nats-server lists service exports and service imports in its maps' order.
      const ordered = (list: Json[]): Json[] => list.sort((x: Json, y: Json) => `${x.type} ${x.subject}`.localeCompare(`${y.type} ${y.subject}`));
      const own = ordered((imports ?? []).filter((i: Json) => i.account !== '$SYS'));
      return { ...rest, ...(exports ? { exports: ordered(exports) } : {}), ...(own.length > 0 ? { imports: own } : {}) };
    };
    const { now: _now, ...unknownAccount } = await get('/connz?acc=nope&auth=1');
    const withoutAuth = await get('/connz');
    return {
      auth: named(auth).sort(byName),
      withoutAuth: named(withoutAuth).sort(byName),
      accountA: { total: (await get('/connz?acc=A')).total, names: named(await get('/connz?acc=A&auth=1')).map((c) => c.name).sort() },
      // The total is every open connection's: nats-server counts before it filters by user.
      userB: { total: (await get('/connz?user=b&auth=1')).total, clients: named(await get('/connz?user=b&auth=1&state=any')).sort(byName) },
      // nats-server's readiness probe (no name) is among its closed connections too.
      closed: named(closed).filter((c) => c.name !== undefined),
      unknownAccount,
      accounts: (await get('/accountz')).accounts.filter((name: string) => name !== '$SYS').sort(),
      noSystemAccount: (await get('/accountz')).system_account === undefined,
      details: { A: await detail('A'), B: await detail('B'), $G: await detail('$G') },
      subs: await clientSubs('/subsz?subs=1'),
      subsB: await clientSubs('/subsz?subs=1&acc=B'),
      subsNone: (await get('/subsz?acc=nope')).num_subscriptions,
      // Counts that include nats-server's internal subscriptions: compared apart.
      counts: {
        subscriptionsB: (await get('/subsz?acc=B')).num_subscriptions,
        accountA: [(await get('/accountz?acc=A')).account_detail.client_connections, (await get('/accountz?acc=A')).account_detail.subscriptions],
      },
    };
  } finally {
    await Promise.all(Object.values(clients).map((nc) => nc.close()));
  }
}

test('accounts and users: /connz auth=1 (user, account, key), its user and acc filters, /accountz and /subsz over every account, as nats-server', { timeout: 60_000 }, async () => {
  const user = nkeys.createUser();
  const conf = ACCOUNTS_CONF(user.getPublicKey());
  const { expected, actual: view } = await onBothBrokers(conf, (broker) => accountsView(broker, user.getSeed()));
  // nats-server has a system account; Natrium has none and leaves the field out, as Go does then.
  assert.equal(expected.noSystemAccount, false);
  expected.noSystemAccount = true;
  const { counts, ...actual } = view;
  const { counts: referenceCounts, ...comparable } = expected;
  assert.deepEqual(actual, comparable);
  // Natrium has no internal subscriptions: B's are b's two, A has a and n with one each.
  assert.deepEqual(counts, { subscriptionsB: 2, accountA: [2, 2] });
  assert.equal(referenceCounts.accountA[0], 2);
  assert.deepEqual(actual.auth.find((c: Json) => c.name === 'n'), { name: 'n', user: user.getPublicKey(), account: 'A', issuer: 'A', reason: undefined });
  assert.deepEqual(actual.auth.find((c: Json) => c.name === 'anon'), { name: 'anon', user: 'g', account: undefined, issuer: undefined, reason: undefined });
  assert.deepEqual(actual.closed, [{ name: 'gone', user: 'b', account: 'B', issuer: undefined, reason: 'Client Closed' }]);
  assert.deepEqual(actual.accounts, ['$G', 'A', 'B']);
});
