/**
 * Client traffic for exercising the parser backends: a seeded PRNG, valid transcripts, mutations
 * and garbage (shared by the parity test and the fuzzer), and the fixed streams of the benchmark.
 */

/** sfc32: small, fast, and good enough that seeds reproduce failures exactly. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream = 0) {
    this.a = seed | 0;
    this.b = stream | 0;
    this.c = 0x9e3779b9;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** Uniform integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.next() / 0x1_0000_0000 < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

const encoder = new TextEncoder();
const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-$';
/** Bytes the parser branches on, weighted up in garbage so it reaches deep states. */
const PROTOCOL_CHARS = ' \t\r\n\r\n0123456789PUBSHINGOCEKTRFpubshingocektrf+-.*>{}"\'';

function token(rng: Prng): string {
  let text = '';
  const length = rng.range(1, 8);
  for (let i = 0; i < length; i++) text += TOKEN_CHARS[rng.int(TOKEN_CHARS.length)];
  return text;
}

function subject(rng: Prng, wildcards: boolean): string {
  const tokens: string[] = [];
  const count = rng.range(1, 5);
  for (let i = 0; i < count; i++) {
    if (wildcards && rng.chance(0.1)) tokens.push(i === count - 1 && rng.chance(0.5) ? '>' : '*');
    else tokens.push(token(rng));
  }
  return tokens.join('.');
}

/** Argument separators: usually one space, sometimes runs of spaces and tabs. */
function gap(rng: Prng): string {
  if (rng.chance(0.8)) return ' ';
  let text = '';
  const length = rng.range(1, 4);
  for (let i = 0; i < length; i++) text += rng.chance(0.5) ? ' ' : '\t';
  return text;
}

function eol(rng: Prng): string {
  return rng.chance(0.9) ? '\r\n' : '\n';
}

function opName(rng: Prng, name: string): string {
  if (rng.chance(0.85)) return name;
  let text = '';
  for (const char of name) text += rng.chance(0.5) ? char.toLowerCase() : char;
  return text;
}

function randomBytesFrom(rng: Prng, length: number, alphabet: string | null): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    bytes[i] = alphabet === null ? rng.int(256) : alphabet.charCodeAt(rng.int(alphabet.length));
  }
  return bytes;
}

function concat(parts: Array<Uint8Array | string>): Uint8Array {
  const encoded = parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  const out = new Uint8Array(encoded.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of encoded) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function payload(rng: Prng, maxLength: number): Uint8Array {
  const length = rng.chance(0.1) ? 0 : rng.range(0, maxLength);
  return randomBytesFrom(rng, length, rng.chance(0.5) ? null : PROTOCOL_CHARS);
}

function headerBlock(rng: Prng): string {
  let text = rng.chance(0.9) ? 'NATS/1.0\r\n' : 'NATS/1.0 503\r\n';
  const count = rng.range(0, 3);
  for (let i = 0; i < count; i++) text += `${token(rng)}: ${token(rng)}\r\n`;
  return `${text}\r\n`;
}

/** One valid client op (as a nats client could send it) followed by its line end. */
export function validOp(rng: Prng, maxPayload = 512): Uint8Array {
  const reply = rng.chance(0.3) ? `${gap(rng)}${subject(rng, false)}` : '';
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2: {
      const body = payload(rng, maxPayload);
      return concat([opName(rng, 'PUB'), gap(rng), subject(rng, false), reply, gap(rng), `${body.length}`, eol(rng), body, '\r\n']);
    }
    case 3: {
      const headers = encoder.encode(headerBlock(rng));
      const body = payload(rng, maxPayload);
      const sizes = `${headers.length}${gap(rng)}${headers.length + body.length}`;
      return concat([opName(rng, 'HPUB'), gap(rng), subject(rng, false), reply, gap(rng), sizes, eol(rng), headers, body, '\r\n']);
    }
    case 4: {
      const queue = rng.chance(0.3) ? `${gap(rng)}${token(rng)}` : '';
      return concat([opName(rng, 'SUB'), gap(rng), subject(rng, true), queue, gap(rng), `${rng.range(1, 100000)}`, eol(rng)]);
    }
    case 5: {
      const max = rng.chance(0.5) ? `${gap(rng)}${rng.range(0, 1000)}` : '';
      return concat([opName(rng, 'UNSUB'), gap(rng), `${rng.range(1, 100000)}`, max, eol(rng)]);
    }
    case 6:
      return concat([opName(rng, rng.chance(0.5) ? 'PING' : 'PONG'), eol(rng)]);
    case 7: {
      const json = JSON.stringify({ verbose: rng.chance(0.5), pedantic: false, name: token(rng), headers: true, protocol: 1 });
      return concat([opName(rng, 'CONNECT'), gap(rng), json, eol(rng)]);
    }
    case 8:
      return concat([opName(rng, 'INFO'), gap(rng), JSON.stringify({ server_id: token(rng), port: rng.int(65536) }), eol(rng)]);
    default:
      return rng.chance(0.5)
        ? concat([opName(rng, '+OK'), eol(rng)])
        : concat([opName(rng, '-ERR'), gap(rng), `'${token(rng)} ${token(rng)}'`, eol(rng)]);
  }
}

export function validTranscript(rng: Prng, opCount: number, maxPayload = 512): Uint8Array {
  const ops: Uint8Array[] = [];
  for (let i = 0; i < opCount; i++) ops.push(validOp(rng, maxPayload));
  return concat(ops);
}

/** Numbers that probe size parsing: overflow, signs, leading zeros, the int32 edge. */
const TRICKY_NUMBERS = ['0', '00', '007', '-1', '+5', '2147483647', '2147483648', '4294967296', '99999999999999999999', '1e3', '0x10', ''];

function replaceRange(bytes: Uint8Array, from: number, to: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - (to - from) + insert.length);
  out.set(bytes.subarray(0, from), 0);
  out.set(insert, from);
  out.set(bytes.subarray(to), from + insert.length);
  return out;
}

/** Applies 1..4 random edits: byte flips, insertions, deletions, duplications, odd numbers, truncation. */
export function mutate(rng: Prng, input: Uint8Array): Uint8Array {
  let bytes = input;
  const edits = rng.range(1, 4);
  for (let edit = 0; edit < edits; edit++) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(8)) {
      case 0:
        if (at < bytes.length) {
          bytes = bytes.slice();
          bytes[at] = rng.chance(0.5) ? rng.int(256) : PROTOCOL_CHARS.charCodeAt(rng.int(PROTOCOL_CHARS.length));
        }
        break;
      case 1:
        bytes = replaceRange(bytes, at, at, randomBytesFrom(rng, rng.range(1, 8), PROTOCOL_CHARS));
        break;
      case 2:
        bytes = replaceRange(bytes, at, Math.min(bytes.length, at + rng.range(1, 16)), new Uint8Array(0));
        break;
      case 3: {
        const to = Math.min(bytes.length, at + rng.range(1, 64));
        bytes = replaceRange(bytes, to, to, bytes.slice(at, to));
        break;
      }
      case 4: {
        // Replace the next run of digits with a tricky number.
        let from = at;
        while (from < bytes.length && !(bytes[from]! >= 48 && bytes[from]! <= 57)) from++;
        let to = from;
        while (to < bytes.length && bytes[to]! >= 48 && bytes[to]! <= 57) to++;
        bytes = replaceRange(bytes, from, to, encoder.encode(rng.pick(TRICKY_NUMBERS)));
        break;
      }
      case 5:
        bytes = replaceRange(bytes, at, at, encoder.encode(rng.pick([' ', '\t', '  \t ', '\r', '\n', '\r\n', '\r\r\n'])));
        break;
      case 6:
        bytes = bytes.slice(0, at);
        break;
      default:
        bytes = replaceRange(bytes, at, Math.min(bytes.length, at + 1), validOp(rng, 64));
    }
  }
  return bytes;
}

/** Garbage: uniform bytes, or bytes from the protocol's alphabet so that deep states are reached. */
export function garbage(rng: Prng, length: number): Uint8Array {
  const prefix = rng.chance(0.5) ? encoder.encode(rng.pick(['PUB ', 'HPUB ', 'SUB ', 'UNSUB ', 'CONNECT ', 'PING', '-ERR ', 'INFO '])) : new Uint8Array(0);
  return concat([prefix, randomBytesFrom(rng, length, rng.chance(0.3) ? null : PROTOCOL_CHARS)]);
}

/** Sorted cut points in (0, length) splitting a stream into reads; mostly small reads, some tiny. */
export function randomCuts(rng: Prng, length: number): number[] {
  const cuts: number[] = [];
  const typical = rng.pick([1, 3, 16, 64, 512, 4096]);
  for (let at = rng.range(1, typical); at < length; at += rng.range(1, typical * 2)) cuts.push(at);
  return cuts;
}

export interface ParserCase {
  bytes: Uint8Array;
  maxControlLine: number;
  maxPayload: number;
}

/** Case `index` of the stream of cases for `seed`; the same pair always yields the same case. */
export function fuzzCase(seed: number, index: number): ParserCase {
  const rng = new Prng(seed, index);
  const maxControlLine = rng.pick([16, 64, 256, 4096]);
  const maxPayload = rng.pick([0, 8, 100, 1024, 1 << 20]);
  let bytes: Uint8Array;
  switch (rng.int(4)) {
    case 0:
      bytes = validTranscript(rng, rng.range(1, 12), 200);
      break;
    case 1:
    case 2:
      bytes = mutate(rng, validTranscript(rng, rng.range(1, 8), 100));
      break;
    default:
      bytes = garbage(rng, rng.range(0, 300));
  }
  return { bytes, maxControlLine, maxPayload };
}

// ---- Fixed streams for the benchmark ----

/** `count` copies of one PUB with a `payloadSize`-byte payload, as a typical client sends them. */
export function pubStream(payloadSize: number, count: number): Uint8Array {
  const body = 'x'.repeat(payloadSize);
  return encoder.encode(`PUB orders.eu.created _INBOX.a1b2c3 ${payloadSize}\r\n${body}\r\n`.repeat(count));
}

export function hpubStream(payloadSize: number, count: number): Uint8Array {
  const headers = 'NATS/1.0\r\nNats-Msg-Id: 8f2b61c7\r\nTrace: on\r\n\r\n';
  const body = 'x'.repeat(payloadSize);
  return encoder.encode(`HPUB orders.eu.created ${headers.length} ${headers.length + payloadSize}\r\n${headers}${body}\r\n`.repeat(count));
}

/** Control traffic: subscriptions coming and going, with keep-alives. `count` ops in all. */
export function mixedControlStream(count: number): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; lines.length < count; i++) {
    lines.push(`SUB orders.${i % 50}.* ${i}\r\n`, `SUB jobs.> workers ${i + 1_000_000}\r\n`, `UNSUB ${i} 10\r\n`, 'PING\r\n', 'PONG\r\n');
  }
  return encoder.encode(lines.slice(0, count).join(''));
}
