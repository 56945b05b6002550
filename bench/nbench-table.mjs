// Medians per scenario from nbench RESULT lines of two brokers, and their ratio (first / second).
//   node bench/nbench-table.mjs bench/results/nbench-A.txt bench/results/nbench-B.txt
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
const files = process.argv.slice(2);
const [nameA, nameB] = files.map((file) => basename(file, '.txt').replace(/^nbench-/, ''));
const [a, b] = files.map((file) => {
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
console.log(`| scenario | ${nameA} msgs/s | ${nameB} msgs/s | ratio | ${nameA} p50/p99 µs | ${nameB} p50/p99 µs | p99 ratio | lost |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, runs] of a) {
  const other = b.get(name) ?? [];
  const rate = (rs) => median(rs.map((r) => Number(r.msgs_per_s)));
  const lat = (rs, k) => median(rs.map((r) => Number(r[k])));
  const isReq = runs[0].mode === 'req';
  const lost = runs.some((r) => r.status !== 'ok') ? 'yes' : '0';
  console.log(`| ${name} | ${fmt(rate(runs))} | ${fmt(rate(other))} | ${(rate(runs) / rate(other)).toFixed(2)}× | ${isReq ? `${lat(runs, 'p50_us')}/${lat(runs, 'p99_us')}` : ''} | ${isReq ? `${lat(other, 'p50_us')}/${lat(other, 'p99_us')}` : ''} | ${isReq ? (lat(runs, 'p99_us') / lat(other, 'p99_us')).toFixed(2) + '×' : ''} | ${lost} |`);
}
