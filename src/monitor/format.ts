/** Go's renderings that nats-server's monitoring JSON uses, so tools parse Natrium's alike. */

/** nats-server's uptime format: `1y2d3h4m5s`, leading zero units left out, seconds always shown. */
export function formatUptime(ms: number): string {
  const secs = Math.floor(Math.max(0, ms) / 1000);
  const mins = Math.floor(secs / 60);
  const hours = Math.floor(mins / 60);
  const days = Math.floor(hours / 24);
  const years = Math.floor(days / 365);
  if (years > 0) return `${years}y${days % 365}d${hours % 24}h${mins % 60}m${secs % 60}s`;
  if (days > 0) return `${days}d${hours % 24}h${mins % 60}m${secs % 60}s`;
  if (hours > 0) return `${hours}h${mins % 60}m${secs % 60}s`;
  if (mins > 0) return `${mins}m${secs % 60}s`;
  return `${secs}s`;
}

/** RFC 3339 in UTC with trailing zeros of the fraction dropped, as Go's time.RFC3339Nano. */
export function formatTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return iso.replace(/\.?0*Z$/, 'Z');
}

/** Milliseconds to nanoseconds, the unit of Go's time.Duration in JSON. */
export function nanoseconds(ms: number): number {
  return Math.round(ms * 1e6);
}

/** Go's time.Duration.String() for a duration in milliseconds: `0s`, `791µs`, `6.5ms`, `2m0s`. */
export function formatDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const abs = Math.abs(ns);
  const trim = (value: number, decimals: number): string => value.toFixed(decimals).replace(/\.?0+$/, '');
  if (abs < 1e3) return `${sign}${abs}ns`;
  if (abs < 1e6) return `${sign}${trim(abs / 1e3, 3)}µs`;
  if (abs < 1e9) return `${sign}${trim(abs / 1e6, 6)}ms`;
  const totalSeconds = abs / 1e9;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trim(totalSeconds % 60, 9);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** Indented JSON with `<`, `>` and `&` escaped, as Go's encoding/json writes it. */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}
