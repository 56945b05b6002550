/**
 * Differential transcripts: raw client bytes played against a broker, with the replies recorded
 * step by step so that nats-server's and Natrium's can be compared exactly.
 *
 * A transcript file (transcripts/*.json) holds an array of transcripts:
 *   { "name": "...", "options": { "maxPayload": 16 }, "split": true, "steps": [
 *       { "conn": "sub", "send": "SUB foo 1\r\nPING\r\n", "until": "PONG\r\n" },
 *       { "conn": "pub", "send": "PUB foo 2\r\nhi\r\n", "until": "<close>" } ] }
 * Strings are bytes (each char code 0..255). `conn` defaults to "a"; a connection opens on its first
 * step and its INFO greeting is recorded in normalised form. `until` is a string the replies must
 * reach, or "<close>" to read until the server closes; a step without `until` only sends. A step
 * with "hangup": true closes the connection from the client side. After the last step every
 * connection still open sends PING and reads until PONG, so trailing output and "still open" are
 * part of every comparison.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../helpers/raw-client.js';
import type { ReferenceOptions } from '../helpers/nats-server.js';

export const CLOSE = '<close>';
const STEP_TIMEOUT_MS = 3_000;

export interface Step {
  conn?: string;
  send?: string;
  until?: string;
  hangup?: boolean;
}

export interface Transcript {
  name: string;
  /** Broker limits both servers run with (a group of transcripts shares a server pair). */
  options?: ReferenceOptions;
  /** Also play it with every send split at each offset and byte by byte. */
  split?: boolean;
  steps: Step[];
  /** The file it came from (set by loadTranscripts). */
  file?: string;
}

/** How each step's bytes are written. */
export type SendMode =
  | { kind: 'whole' }
  | { kind: 'bytewise' }
  | { kind: 'splitAt'; at: number }
  /** Cut into pieces of 1..24 bytes drawn from a seeded generator (reproducible). */
  | { kind: 'chunks'; seed: number };

/** INFO keys whose values must be identical on both brokers. */
const INFO_VALUES_THAT_MATCH = new Set([
  'proto',
  'headers',
  'max_payload',
  'host',
  'client_ip',
  'auth_required',
  'tls_required',
  'tls_available',
  'jetstream',
  'ldm',
]);

export function transcriptsDir(): string {
  // Compiled to dist/test/differential/; the JSON stays in the source tree.
  return fileURLToPath(new URL('../../../test/differential/transcripts/', import.meta.url));
}

export function loadTranscripts(dir = transcriptsDir()): Transcript[] {
  const all: Transcript[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const list = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Transcript[];
    for (const transcript of list) all.push({ ...transcript, file });
  }
  const names = new Set<string>();
  for (const t of all) {
    if (names.has(t.name)) throw new Error(`duplicate transcript name: ${t.name}`);
    names.add(t.name);
  }
  return all;
}

/** The longest single send of a transcript (the split offsets to try). */
export function longestSend(transcript: Transcript): number {
  return Math.max(0, ...transcript.steps.map((s) => (s.send ?? '').length));
}

/**
 * Plays a transcript against the broker on `port` and returns one rendered line per recorded event:
 *   `sub greeting: INFO {...normalised...} \r\n`
 *   `pub step 2: "-ERR 'Maximum Payload Violation'\r\n" [closed]`
 */
export async function playTranscript(port: number, transcript: Transcript, mode: SendMode): Promise<string[]> {
  const lines: string[] = [];
  const conns = new Map<string, RawClient>();
  const closedByServer = new Set<string>();
  try {
    for (const [index, step] of transcript.steps.entries()) {
      const name = step.conn ?? 'a';
      let client = conns.get(name);
      if (!client) {
        client = await RawClient.connect(port, { readInfo: false });
        conns.set(name, client);
        const greeting = await readOrClose(client, '\r\n');
        lines.push(`${name} greeting: ${normaliseGreeting(greeting.text, port)}${greeting.closed ? ' [closed]' : ''}`);
        if (greeting.closed) closedByServer.add(name);
      }
      if (step.send !== undefined) await sendWithMode(client, step.send, mode);
      if (step.until !== undefined) {
        const result = await readOrClose(client, step.until);
        lines.push(`${name} step ${index}: ${result.text}${result.closed ? ' [closed]' : ''}`);
        if (result.closed) closedByServer.add(name);
      }
      if (step.hangup) await client.close();
    }
    for (const [name, client] of conns) {
      if (closedByServer.has(name) || client.closed) continue;
      await client.send('PING\r\n');
      const result = await readOrClose(client, 'PONG\r\n');
      lines.push(`${name} final PING: ${result.text}${result.closed ? ' [closed]' : ''}`);
    }
  } finally {
    await Promise.all([...conns.values()].map((c) => c.close()));
  }
  return lines;
}

async function sendWithMode(client: RawClient, data: string, mode: SendMode): Promise<void> {
  if (mode.kind === 'bytewise') return client.sendBytewise(data);
  if (mode.kind === 'splitAt') return client.send(data, [mode.at]);
  if (mode.kind === 'chunks') return client.send(data, randomCuts(data.length, mode.seed));
  return client.send(data);
}

function randomCuts(length: number, seed: number): number[] {
  // mulberry32: a tiny deterministic generator, so a failing seed can be replayed.
  let state = (seed ^ Math.imul(length, 0x9e3779b1)) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const cuts: number[] = [];
  for (let at = 1 + Math.floor(next() * 24); at < length; at += 1 + Math.floor(next() * 24)) cuts.push(at);
  return cuts;
}

async function readOrClose(client: RawClient, until: string): Promise<{ text: string; closed: boolean }> {
  try {
    const result = until === CLOSE
      ? { data: await client.expectClosed(STEP_TIMEOUT_MS), closed: true }
      : await client.readUntilOrClose(until, STEP_TIMEOUT_MS);
    return { text: JSON.stringify(result.data.toString('latin1')), closed: result.closed };
  } catch (err) {
    // A timeout is an outcome to compare, not a crash: the line carries what did arrive.
    return { text: `TIMEOUT waiting for ${JSON.stringify(until)}; unread ${JSON.stringify(client.unread.toString('latin1'))}`, closed: false };
  }
}

/** Splits an INFO line into its framing and parsed JSON, or returns null when it is not one. */
export function parseInfoLine(raw: string): { info: Record<string, unknown>; framing: string } | null {
  const match = /^INFO (\{.*\})(\s*\r\n)$/s.exec(raw);
  if (!match) return null;
  try {
    return { info: JSON.parse(match[1]!) as Record<string, unknown>, framing: `INFO <json>${match[2]}` };
  } catch {
    return null;
  }
}

/**
 * Reduces an INFO greeting to what both brokers must share: the framing around the JSON
 * ("INFO " ... " \r\n") byte for byte, the values in INFO_VALUES_THAT_MATCH, and whether "port" is
 * the listening port. The key set is compared once, by its own test (infoShape), so a missing or
 * extra key does not fail every transcript.
 */
export function normaliseGreeting(text: string, port: number): string {
  const parsed = parseInfoLine(JSON.parse(text) as string);
  if (!parsed) return text;
  const shown: Record<string, unknown> = {};
  for (const key of Object.keys(parsed.info).sort()) {
    if (INFO_VALUES_THAT_MATCH.has(key)) shown[key] = parsed.info[key];
  }
  shown['port'] = parsed.info['port'] === port ? '<the listening port>' : parsed.info['port'];
  return JSON.stringify(`${parsed.framing} ${JSON.stringify(shown)}`);
}

/** The INFO key set, each with the type of its value (the values themselves identify a server). */
export function infoShape(info: Record<string, unknown>): Record<string, string> {
  const shape: Record<string, string> = {};
  for (const key of Object.keys(info).sort()) shape[key] = typeof info[key];
  return shape;
}
