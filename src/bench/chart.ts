/**
 * A self-contained SVG bar chart for benchmark results: one group per scenario, one bar per
 * series. Figures differ by orders of magnitude between scenarios, so each group is scaled to its
 * own largest value; every bar carries its absolute figure and every group a note (the ratio).
 */
export interface ChartSeries {
  label: string;
  color: string;
}

export interface ChartGroup {
  label: string;
  /** Unit shown after each value, e.g. "msgs/s" or "µs p99". */
  unit: string;
  /** One per series; NaN = missing. */
  values: number[];
  /** Printed formatted values, one per series. */
  texts: string[];
  /** Right-hand note, e.g. "0.82×". */
  note: string;
  /** Colours the note: true good, false bad, null neutral. */
  good: boolean | null;
}

export interface Chart {
  title: string;
  subtitle: string;
  series: ChartSeries[];
  groups: ChartGroup[];
  footer: string;
}

export const PALETTE = ['#2f6fb0', '#e07b39', '#4a9d5b', '#9c5bb5', '#c94c4c', '#7f7f7f', '#b59a2f', '#3aa6a6'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderChart(chart: Chart): string {
  const width = 900;
  const longest = Math.max(...chart.groups.map((g) => g.label.length), 10);
  const labelWidth = Math.min(360, 24 + Math.ceil(longest * 6.8));
  const noteWidth = 110;
  const barArea = width - labelWidth - noteWidth - 30;
  const barHeight = 16;
  const barGap = 3;
  const groupGap = 14;
  const top = 78;
  const groupHeight = chart.series.length * (barHeight + barGap) - barGap;
  const height = top + chart.groups.length * (groupHeight + groupGap) + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="16" y="26" font-size="17" font-weight="600" fill="#222">${escape(chart.title)}</text>`);
  out.push(`<text x="16" y="46" fill="#555">${escape(chart.subtitle)}</text>`);
  let legendX = 16;
  for (const series of chart.series) {
    out.push(`<rect x="${legendX}" y="56" width="12" height="12" fill="${series.color}"/>`);
    out.push(`<text x="${legendX + 17}" y="66.5" fill="#333">${escape(series.label)}</text>`);
    legendX += 30 + series.label.length * 7;
  }
  chart.groups.forEach((group, g) => {
    const y0 = top + g * (groupHeight + groupGap);
    const max = Math.max(...group.values.filter((v) => Number.isFinite(v)), 0);
    out.push(`<text x="${labelWidth - 10}" y="${y0 + groupHeight / 2 + 4}" text-anchor="end" fill="#222">${escape(group.label)}</text>`);
    group.values.forEach((value, s) => {
      const y = y0 + s * (barHeight + barGap);
      const length = max > 0 && Number.isFinite(value) ? Math.max(1, (value / max) * barArea) : 0;
      out.push(`<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${chart.series[s].color}" rx="2"/>`);
      const text = `${group.texts[s] ?? ''} ${group.unit}`.trim();
      const inside = length > text.length * 6.5 + 10;
      const x = inside ? labelWidth + length - 5 : labelWidth + length + 5;
      out.push(
        `<text x="${x.toFixed(1)}" y="${y + barHeight - 4}" text-anchor="${inside ? 'end' : 'start'}" fill="${inside ? '#fff' : '#333'}">${escape(text)}</text>`,
      );
    });
    const noteColor = group.good === null ? '#333' : group.good ? '#2e7d32' : '#c62828';
    out.push(
      `<text x="${width - 16}" y="${y0 + groupHeight / 2 + 4}" text-anchor="end" font-weight="600" fill="${noteColor}">${escape(group.note)}</text>`,
    );
  });
  out.push(`<text x="16" y="${height - 14}" fill="#777" font-size="11">${escape(chart.footer)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
