/**
 * The live dashboard served at `/` of the monitoring port: one static page, no build step, no CDN.
 * It polls /varz and /workerz once a second and shows rates from the differences. Every figure
 * carries a `data-metric` attribute so tests (and scrapers) can read it.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Natrium</title>
<style>
  :root { --bg: #0f1419; --panel: #182029; --line: #263241; --text: #d8e0e8; --dim: #8a98a8; --in: #4fc3f7; --out: #aed581; --warn: #ffb74d; --bad: #e57373; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 24px; padding: 16px 24px; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 20px; letter-spacing: .5px; }
  header .meta { color: var(--dim); font-size: 13px; }
  #status { margin-left: auto; font-size: 12px; color: var(--dim); }
  #status.stale { color: var(--bad); }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 12px; }
  .tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .tile .label { color: var(--dim); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
  .tile .value { font-size: 26px; font-variant-numeric: tabular-nums; margin-top: 4px; }
  .tile .sub { color: var(--dim); font-size: 12px; font-variant-numeric: tabular-nums; }
  .in { color: var(--in); } .out { color: var(--out); } .warn { color: var(--warn); }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  section h2 { margin: 0 0 8px; font-size: 13px; color: var(--dim); text-transform: uppercase; letter-spacing: .6px; font-weight: 600; }
  canvas { width: 100%; height: 180px; display: block; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  th { color: var(--dim); font-weight: 600; font-size: 12px; }
  .bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; min-width: 80px; }
  .bar > div { height: 100%; background: linear-gradient(90deg, var(--in), var(--out)); }
  .legend { display: flex; gap: 16px; font-size: 12px; color: var(--dim); margin-bottom: 4px; }
  .legend span::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 6px; vertical-align: middle; background: currentColor; }
</style>
</head>
<body>
<header>
  <h1>Natrium</h1>
  <span class="meta" data-metric="server-name">–</span>
  <span class="meta">version <span data-metric="version">–</span></span>
  <span class="meta">up <span data-metric="uptime">–</span></span>
  <span class="meta"><span data-metric="workers">–</span> workers</span>
  <span id="status">connecting…</span>
</header>
<main>
  <div class="tiles">
    <div class="tile"><div class="label">Msgs/s in</div><div class="value in" data-metric="msgs-in-rate">0</div><div class="sub"><span data-metric="in-msgs">0</span> total</div></div>
    <div class="tile"><div class="label">Msgs/s out</div><div class="value out" data-metric="msgs-out-rate">0</div><div class="sub"><span data-metric="out-msgs">0</span> total</div></div>
    <div class="tile"><div class="label">Bytes/s in</div><div class="value in" data-metric="bytes-in-rate">0</div><div class="sub"><span data-metric="in-bytes">0</span> total</div></div>
    <div class="tile"><div class="label">Bytes/s out</div><div class="value out" data-metric="bytes-out-rate">0</div><div class="sub"><span data-metric="out-bytes">0</span> total</div></div>
    <div class="tile"><div class="label">Connections</div><div class="value" data-metric="connections">0</div><div class="sub"><span data-metric="total-connections">0</span> since start</div></div>
    <div class="tile"><div class="label">Subscriptions</div><div class="value" data-metric="subscriptions">0</div></div>
    <div class="tile"><div class="label">Slow consumers</div><div class="value warn" data-metric="slow-consumers">0</div></div>
    <div class="tile"><div class="label">CPU / memory</div><div class="value" data-metric="cpu">0%</div><div class="sub" data-metric="mem">0 B</div></div>
  </div>
  <section>
    <h2>Messages per second</h2>
    <div class="legend"><span class="in">in</span><span class="out">out</span></div>
    <canvas id="chart" width="1200" height="180"></canvas>
  </section>
  <section>
    <h2>Workers</h2>
    <table>
      <thead><tr><th>Worker</th><th>Connections</th><th>Subscriptions</th><th>Msgs/s in</th><th>Msgs/s out</th><th>Msgs in</th><th>Msgs out</th><th>Forwarded to peers</th><th>Slow consumers</th><th>Share of load</th></tr></thead>
      <tbody id="workers"></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const HISTORY = 120;
const history = { in: [], out: [] };
let previous = null;
let previousWorkers = null;

const $ = (metric) => document.querySelector('[data-metric="' + metric + '"]');
const count = (n) => Math.round(n).toLocaleString("en-US");
function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
}
function set(metric, text) { const el = $(metric); if (el && el.textContent !== text) el.textContent = text; }

function rate(now, before, key, seconds) {
  return before && seconds > 0 ? Math.max(0, (now[key] - before[key]) / seconds) : 0;
}

function drawChart() {
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 24;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...history.in, ...history.out);
  ctx.strokeStyle = "#263241"; ctx.fillStyle = "#8a98a8"; ctx.font = "12px system-ui"; ctx.lineWidth = 1; ctx.setLineDash([]);
  for (let i = 0; i <= 4; i++) {
    const y = pad + ((h - 2 * pad) * i) / 4;
    ctx.beginPath(); ctx.moveTo(50, y); ctx.lineTo(w, y); ctx.stroke();
    ctx.fillText(count(max * (1 - i / 4)), 0, y + 4);
  }
  // "out" is dashed: with one subscriber per message it lies exactly on "in".
  const series = [[history.in, "#4fc3f7", []], [history.out, "#aed581", [6, 4]]];
  for (const [values, color, dash] of series) {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash); ctx.beginPath();
    values.forEach((v, i) => {
      const x = 50 + ((w - 50) * (i + HISTORY - values.length)) / (HISTORY - 1);
      const y = pad + (h - 2 * pad) * (1 - v / max);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

function renderWorkers(workerz, seconds) {
  const before = new Map((previousWorkers || []).map((w) => [w.worker, w]));
  const rows = workerz.workers.map((w) => {
    const b = before.get(w.worker);
    return { w, inRate: rate(w, b, "in_msgs", seconds), outRate: rate(w, b, "out_msgs", seconds) };
  });
  const totalLoad = rows.reduce((n, r) => n + r.inRate + r.outRate, 0);
  const body = document.getElementById("workers");
  body.replaceChildren(...rows.map(({ w, inRate, outRate }) => {
    const tr = document.createElement("tr");
    tr.dataset.worker = String(w.worker);
    const share = totalLoad > 0 ? ((inRate + outRate) / totalLoad) * 100 : 0;
    const cells = [
      ["worker", "#" + w.worker], ["connections", count(w.connections)], ["subscriptions", count(w.subscriptions)],
      ["msgs-in-rate", count(inRate)], ["msgs-out-rate", count(outRate)], ["in-msgs", count(w.in_msgs)],
      ["out-msgs", count(w.out_msgs)], ["forwards", count((w.interconnect && w.interconnect.forwards) || 0)],
      ["slow-consumers", count(w.slow_consumers)],
    ];
    for (const [metric, text] of cells) {
      const td = document.createElement("td");
      td.dataset.metric = "worker-" + metric;
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    td.innerHTML = '<div class="bar" title="' + share.toFixed(0) + '%"><div style="width:' + share.toFixed(1) + '%"></div></div>';
    tr.appendChild(td);
    return tr;
  }));
  previousWorkers = workerz.workers;
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [varz, workerz] = await Promise.all([fetch("varz").then((r) => r.json()), fetch("workerz").then((r) => r.json())]);
    const at = Date.parse(varz.now);
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    const inRate = rate(varz, previous && previous.varz, "in_msgs", seconds);
    const outRate = rate(varz, previous && previous.varz, "out_msgs", seconds);
    set("server-name", varz.server_name);
    set("version", varz.version);
    set("uptime", varz.uptime);
    set("workers", String(workerz.num_workers));
    set("msgs-in-rate", count(inRate));
    set("msgs-out-rate", count(outRate));
    set("bytes-in-rate", bytes(rate(varz, previous && previous.varz, "in_bytes", seconds)) + "/s");
    set("bytes-out-rate", bytes(rate(varz, previous && previous.varz, "out_bytes", seconds)) + "/s");
    set("in-msgs", count(varz.in_msgs));
    set("out-msgs", count(varz.out_msgs));
    set("in-bytes", bytes(varz.in_bytes));
    set("out-bytes", bytes(varz.out_bytes));
    set("connections", count(varz.connections));
    set("total-connections", count(varz.total_connections));
    set("subscriptions", count(varz.subscriptions));
    set("slow-consumers", count(varz.slow_consumers));
    set("cpu", varz.cpu.toFixed(1) + "%");
    set("mem", bytes(varz.mem));
    if (previous) {
      history.in.push(inRate); history.out.push(outRate);
      if (history.in.length > HISTORY) { history.in.shift(); history.out.shift(); }
    }
    renderWorkers(workerz, seconds);
    drawChart();
    previous = { varz, at };
    status.textContent = "updated " + new Date(at).toLocaleTimeString();
    status.className = "";
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (error) {
    status.textContent = "no answer from the server";
    status.className = "stale";
  }
  setTimeout(refresh, 1000);
}
refresh();
</script>
</body>
</html>
`;
