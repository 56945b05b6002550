// Medians per scenario from nbench RESULT lines of two brokers, and their ratio (first / second).
import { readFileSync } from 'node:fs';
const [a, b] = process.argv.slice(2).map((file) => {
  const byName = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('RESULT')) continue;
    const fields = Object.fromEntries(line.split(' ').slice(1).map((kv) => kv.split('=')));
    if (!byName.has(fields.name)) byName.set(fields.name, []);
    byName.get(fields.name).push(fields);
  }
  return byName;
});
const median = (values) => { const s = [...values].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n.toFixed(0)}`);
console.log('| scenario | natrium msgs/s | nats-server msgs/s | ratio | natrium p50/p99 µs | nats-server p50/p99 µs | p99 ratio | lost |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, runs] of a) {
  const other = b.get(name) ?? [];
  const rate = (rs) => median(rs.map((r) => Number(r.msgs_per_s)));
  const lat = (rs, k) => median(rs.map((r) => Number(r[k])));
  const isReq = runs[0].mode === 'req';
  const lost = runs.some((r) => r.status !== 'ok') ? 'yes' : '0';
  console.log(`| ${name} | ${fmt(rate(runs))} | ${fmt(rate(other))} | ${(rate(runs) / rate(other)).toFixed(2)}× | ${isReq ? `${lat(runs, 'p50_us')}/${lat(runs, 'p99_us')}` : ''} | ${isReq ? `${lat(other, 'p50_us')}/${lat(other, 'p99_us')}` : ''} | ${isReq ? (lat(runs, 'p99_us') / lat(other, 'p99_us')).toFixed(2) + '×' : ''} | ${lost} |`);
}
