/**
 * nats-server's configuration syntax (its conf package): `key = value`, `key: value` or `key value`;
 * `{}` maps and `[]` arrays; `#` and `//` comments; `,` `;` or new lines between items; `include`;
 * `$VAR` from an enclosing map of the file or, failing that, the environment; single-quoted (raw),
 * double-quoted (escapes) and bare strings; booleans true/false, yes/no, on/off; integers with size
 * suffixes; floats; Zulu datetimes; `( ... )` blocks. Every key keeps its file and line, so callers
 * can name them in errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type ConfValue = string | number | boolean | Date | ConfValue[] | ConfMap;
export type ConfMap = Map<string, ConfEntry>;

export interface ConfEntry {
  value: ConfValue;
  file: string;
  line: number;
  column: number;
  /** Referenced as `$key` somewhere; nats-server does not call such a key unknown. */
  usedAsVariable: boolean;
}

/** The name of a value's type in "expects …, got <type>" messages. */
export function confTypeName(value: ConfValue): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (value instanceof Date) return 'datetime';
  if (Array.isArray(value)) return 'array';
  return 'map';
}

/** A syntax error, or an include or variable that cannot be resolved, at file:line:column. */
export class ConfSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${reason}`);
  }
}

/** Size suffixes, as nats-server: k/m/g/t/p/e are powers of 1000, with b, i or ib powers of 1024. */
const SUFFIX_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

function applySuffix(digits: number, suffix: string): number | null {
  if (suffix === '') return digits;
  const power = SUFFIX_POWER[suffix[0]];
  if (power === undefined) return null;
  const rest = suffix.slice(1);
  if (rest === '') return digits * 1000 ** power;
  if (rest === 'b' || rest === 'i' || rest === 'ib') return digits * 1024 ** power;
  return null;
}

const BOOLEANS: Record<string, boolean> = { true: true, yes: true, on: true, false: false, no: false, off: false };
/** nats-server leaves bare bcrypt hashes ($2a$...) alone instead of reading them as variables. */
const BCRYPT_PREFIX = '2a$';
const ENV_KEY = 'pk';

const isBlank = (c: string): boolean => c === ' ' || c === '\t';
const isNewline = (c: string): boolean => c === '\n' || c === '\r';
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isKeySeparator = (c: string): boolean => c === '=' || c === ':';
/** What ends a bare string value. */
const endsBareString = (c: string): boolean =>
  c === '' || isNewline(c) || isBlank(c) || c === ';' || c === ',' || c === ']' || c === '}';

interface ParseContext {
  file: string;
  env: NodeJS.ProcessEnv;
  /** Files being parsed, to refuse include cycles. */
  including: readonly string[];
}

class Parser {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  /** Maps being built, innermost last: variables resolve through them before the environment. */
  private readonly scopes: ConfMap[] = [];

  constructor(
    private readonly text: string,
    private readonly ctx: ParseContext,
  ) {}

  parseDocument(): ConfMap {
    const root: ConfMap = new Map();
    this.scopes.push(root);
    for (;;) {
      this.skipSpaceAndComments();
      const c = this.peek();
      if (c === '') break;
      // A document may be wrapped in braces, as nats-server allows.
      if (c === '{' || c === '}') {
        this.pos++;
        continue;
      }
      this.parseEntry(root);
      this.expectEntryEnd('top');
    }
    return root;
  }

  private fail(reason: string, line = this.line, column = this.pos - this.lineStart + 1): never {
    throw new ConfSyntaxError(this.ctx.file, line, column, reason);
  }

  private peek(offset = 0): string {
    return this.text[this.pos + offset] ?? '';
  }

  private advance(): string {
    const c = this.text[this.pos++] ?? '';
    if (c === '\n') {
      this.line++;
      this.lineStart = this.pos;
    }
    return c;
  }

  private skipComment(): boolean {
    const c = this.peek();
    if (c === '#' || (c === '/' && this.peek(1) === '/')) {
      while (this.pos < this.text.length && !isNewline(this.peek())) this.pos++;
      return true;
    }
    return false;
  }

  private skipSpaceAndComments(): void {
    for (;;) {
      if (isSpace(this.peek())) this.advance();
      else if (!this.skipComment()) return;
    }
  }

  private skipBlanks(): void {
    while (isBlank(this.peek())) this.pos++;
  }

  /** After a value: blanks and a comment, then a new line, `,`, `;`, or the closing brace. */
  private expectEntryEnd(where: 'top' | 'map'): void {
    this.skipBlanks();
    this.skipComment();
    const c = this.peek();
    if (c === '' || isNewline(c) || c === ',' || c === ';') {
      if (c !== '') this.advance();
      return;
    }
    if (c === '}') {
      if (where === 'top') this.advance();
      return;
    }
    if (where === 'top') {
      this.fail(`Expected a top-level value to end with a new line, comment or EOF, but got '${c}' instead.`);
    }
    this.fail(`Expected a map value terminator ',' or a map terminator '}', but got '${c}' instead.`);
  }

  /** `key [=|:] value` or `include path`, stored into `into`. */
  private parseEntry(into: ConfMap): void {
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const c = this.peek();
    let key: string;
    if (isKeySeparator(c)) this.fail(`Unexpected key separator '${c}'`);
    if (c === '"' || c === "'") {
      this.advance();
      const end = this.text.indexOf(c, this.pos);
      if (end < 0) this.fail('Unexpected EOF.');
      key = this.text.slice(this.pos, end);
      while (this.pos <= end) this.advance();
    } else {
      const start = this.pos;
      while (this.pos < this.text.length && !isSpace(this.peek()) && !isKeySeparator(this.peek())) this.pos++;
      key = this.text.slice(start, this.pos);
      if (key.toLowerCase() === 'include' && isSpace(this.peek())) {
        this.parseInclude(into);
        return;
      }
    }
    // Between key and value: any space, new lines included, and at most one separator.
    while (isSpace(this.peek())) this.advance();
    if (isKeySeparator(this.peek())) this.advance();
    if (this.peek() === '') this.fail('Unexpected EOF.');
    const value = this.parseValue();
    into.set(key, { value, file: this.ctx.file, line, column, usedAsVariable: false });
  }

  private parseInclude(into: ConfMap): void {
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    this.skipBlanks();
    const c = this.peek();
    let target: string;
    if (c === '"' || c === "'") {
      this.advance();
      const end = this.text.indexOf(c, this.pos);
      if (end < 0) this.fail('Unexpected EOF.');
      target = this.text.slice(this.pos, end);
      this.pos = end + 1;
    } else {
      if (c === '' || isNewline(c)) this.fail('Expected include value but found new line');
      if (c === '[' || c === '{' || c === '(') this.fail(`Expected include value but found start of ${c === '[' ? 'an array' : c === '{' ? 'a map' : 'a block'}`);
      if (isDigit(c) || c === '-') this.fail('Expected include value but found start of a number');
      const start = this.pos;
      while (!endsBareString(this.peek()) && this.peek() !== "'") this.pos++;
      target = this.text.slice(start, this.pos);
    }
    // Joined as Go's filepath.Join does, so an absolute path also lands under this file's directory.
    const file = path.join(path.dirname(this.ctx.file), target);
    if (this.ctx.including.includes(path.resolve(file))) this.fail(`include cycle through '${target}'`, line, column);
    let included: ConfMap;
    try {
      included = parseConfFile(file, this.ctx.env, [...this.ctx.including, path.resolve(this.ctx.file)]);
    } catch (error) {
      if (error instanceof ConfSyntaxError) throw error;
      this.fail(`error parsing include file '${target}', ${(error as Error).message}`, line, column);
    }
    for (const [key, entry] of included) into.set(key, entry);
  }

  private parseValue(): ConfValue {
    this.skipBlanks();
    const c = this.peek();
    if (c === '[') return this.parseArray();
    if (c === '{') return this.parseMap();
    if (c === "'") return this.parseRawString();
    if (c === '"') return this.parseQuotedString();
    if (c === '(') return this.parseBlock();
    if (c === '-' || isDigit(c)) return this.parseNumberLike();
    if (c === '.') this.fail('Floats must start with a digit');
    if (isNewline(c)) this.fail('Expected value but found new line');
    return this.parseBareString(this.pos);
  }

  private parseArray(): ConfValue[] {
    this.advance(); // [
    const values: ConfValue[] = [];
    for (;;) {
      this.skipSpaceAndComments();
      const c = this.peek();
      if (c === ']') {
        this.advance();
        return values;
      }
      if (c === ',') this.fail("Unexpected array value terminator ','.");
      if (c === '') this.fail('Unexpected EOF.');
      values.push(this.parseValue());
      this.skipBlanks();
      this.skipComment();
      const end = this.peek();
      if (end === ',' || isNewline(end)) {
        this.advance();
      } else if (end !== ']') {
        this.fail(`Expected an array value terminator ',' or an array terminator ']', but got '${end === '' ? 'EOF' : end}' instead.`);
      }
    }
  }

  private parseMap(): ConfMap {
    this.advance(); // {
    const map: ConfMap = new Map();
    this.scopes.push(map);
    for (;;) {
      this.skipSpaceAndComments();
      const c = this.peek();
      if (c === '}') {
        this.advance();
        break;
      }
      if (c === '') this.fail('Unexpected EOF.');
      if (c === ']') this.fail(`Unexpected array end ']' processing map.`);
      this.parseEntry(map);
      this.expectEntryEnd('map');
    }
    this.scopes.pop();
    return map;
  }

  private parseRawString(): string {
    this.advance(); // '
    const end = this.text.indexOf("'", this.pos);
    if (end < 0) this.fail('Unexpected EOF.');
    const value = this.text.slice(this.pos, end);
    while (this.pos <= end) this.advance();
    return value;
  }

  private parseQuotedString(): string {
    this.advance(); // "
    let value = '';
    for (;;) {
      const c = this.advance();
      if (c === '') this.fail('Unexpected EOF.');
      if (c === '"') return value;
      value += c === '\\' ? this.parseEscape() : c;
    }
  }

  /** After a backslash: \xXX, \t, \n, \r, \" or \\. */
  private parseEscape(): string {
    const c = this.advance();
    switch (c) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'x': {
        const hex = this.text.slice(this.pos, this.pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail(`Expected two hexadecimal digits after '\\x', but got '${hex}'`);
        this.pos += 2;
        return String.fromCharCode(parseInt(hex, 16));
      }
    }
    this.fail(`Invalid escape character '${c}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\", \\\\.`);
  }

  /** `( ... )` with the closing parenthesis alone on its line. */
  private parseBlock(): string {
    this.advance(); // (
    const start = this.pos;
    const close = /\n\)(?=\r?\n|$)/g;
    close.lastIndex = start;
    const match = close.exec(this.text);
    if (match === null) this.fail('Unexpected EOF.');
    while (this.pos < match.index + match[0].length) this.advance();
    return this.text.slice(start, match.index);
  }

  /** An integer (maybe with a size suffix), a float, a datetime, an IP address, or a string starting with digits. */
  private parseNumberLike(): ConfValue {
    const start = this.pos;
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const negative = this.peek() === '-';
    if (negative) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail(this.peek() === '.' ? "Floats must start with a digit, not '.'." : `Expected a digit but got '${this.peek()}'.`);
    }
    while (isDigit(this.peek())) this.pos++;
    const c = this.peek();
    if (c === '-' && !negative) {
      if (this.pos - start !== 4) this.fail('All ISO8601 dates must be in full Zulu form.');
      const match = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/.exec(this.text.slice(start));
      if (match === null) this.fail('Expected a Zulu formatted DateTime (YYYY-MM-DDTHH:MM:SSZ).');
      this.pos = start + match[0].length;
      return new Date(match[0]);
    }
    if (c === '.') {
      this.pos++;
      if (!isDigit(this.peek())) this.fail(`Floats must have a digit after the '.', but got '${this.peek()}' instead.`);
      while (isDigit(this.peek())) this.pos++;
      if (this.peek() === '.') {
        // An IP address (and maybe a port): a string.
        while (/[0-9.:-]/.test(this.peek())) this.pos++;
        return this.text.slice(start, this.pos);
      }
      return Number(this.text.slice(start, this.pos));
    }
    const digitsEnd = this.pos;
    if ('kKmMgGtTpPeE'.includes(c) && c !== '') {
      this.pos++;
      while ('bBiI'.includes(this.peek()) && this.peek() !== '') this.pos++;
    }
    const next = this.peek();
    if (endsBareString(next) || isDigit(next)) {
      const digits = Number(this.text.slice(start, digitsEnd));
      const suffix = this.text.slice(digitsEnd, this.pos).toLowerCase();
      const value = applySuffix(digits, suffix);
      if (value === null) this.fail(`Invalid size suffix '${this.text.slice(digitsEnd, this.pos)}'`, line, column);
      if (!Number.isSafeInteger(value)) this.fail(`Integer '${this.text.slice(start, this.pos)}' is out of the range.`, line, column);
      return value;
    }
    // Starts with digits but goes on with something else (e.g. `10s`): a bare string.
    return this.parseBareString(start);
  }

  /** A bare string from `start`: booleans and `$variables` are recognised here. */
  private parseBareString(start: number): ConfValue {
    let value = '';
    let escaped = false;
    let chunkStart = start;
    this.pos = start;
    for (;;) {
      const c = this.peek();
      if (c === '\\') {
        value += this.text.slice(chunkStart, this.pos);
        this.pos++;
        value += this.parseEscape();
        escaped = true;
        chunkStart = this.pos;
        continue;
      }
      if (endsBareString(c) || c === "'") break;
      this.pos++;
    }
    value += this.text.slice(chunkStart, this.pos);
    if (this.peek() === "'") this.pos++; // nats-server ends a bare string at a quote and drops it
    if (escaped) return value;
    const bool = BOOLEANS[value.toLowerCase()];
    if (bool !== undefined) return bool;
    if (value.startsWith('$')) return this.resolveVariable(value.slice(1));
    return value;
  }

  private resolveVariable(name: string): ConfValue {
    if (name.startsWith(BCRYPT_PREFIX)) return '$' + name;
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const entry = this.scopes[i].get(name);
      if (entry !== undefined) {
        entry.usedAsVariable = true;
        return entry.value;
      }
    }
    const fromEnv = this.ctx.env[name];
    if (fromEnv !== undefined) {
      // An environment value is read as a value of the file would be (numbers, sizes, booleans).
      try {
        const parsed = new Parser(`${ENV_KEY}=${fromEnv}`, { ...this.ctx, file: `$${name}` }).parseDocument().get(ENV_KEY);
        if (parsed !== undefined) return parsed.value;
      } catch {
        // nats-server treats an environment value it cannot parse as missing.
      }
    }
    this.fail(`variable reference for '${name}' on line ${this.line} can not be found`);
  }
}

/** Parses configuration text; `file` names it in errors and anchors relative includes. */
export function parseConf(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ConfMap {
  return new Parser(text, { file, env, including: [] }).parseDocument();
}

/** Reads and parses a configuration file (and what it includes). */
export function parseConfFile(file: string, env: NodeJS.ProcessEnv = process.env, including: readonly string[] = []): ConfMap {
  const text = readFileSync(file, 'utf8');
  return new Parser(text, { file, env, including }).parseDocument();
}
