/**
 * Loads the Rust N-API addon built from native/ by `npm run build:native`
 * (`napi build --release --platform`), which writes `native/natrium.<platform>-<arch>[-<abi>].node`
 * next to native/Cargo.toml, e.g. native/natrium.linux-x64-gnu.node.
 *
 * The project root is the nearest directory above this module holding a package.json, so the same
 * lookup works from src/protocol (ts sources) and dist/src/protocol (compiled). NATRIUM_NATIVE_PATH,
 * when set, names the .node file to load instead.
 *
 * Importing never throws: when the addon is missing or fails to load, `native` is null and
 * `nativeLoadError` says why, and callers fall back to the TypeScript parser.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseFunction } from './ops.js';

declare const acceptorBrand: unique symbol;
declare const connectionBrand: unique symbol;
/** A listening socket the addon polls on the calling thread's loop (see native/src/accept.rs). */
export interface Acceptor {
  readonly [acceptorBrand]: true;
}

/**
 * Gets every connection one wake-up accepted, flat: `[fd, ip, port, fd, ip, port, ...]`; `error`
 * is set when accepting stopped on a failure, after which polling is paused until resumed.
 */
/** A client connection the addon polls (see native/src/connection.rs and transport/native-socket.ts). */
export interface Connection {
  readonly [connectionBrand]: true;
}

/**
 * The events of one wake-up: `[id, kind, data, id, kind, data, ...]`; `kind`: 0 data (a Buffer),
 * 1 end of the peer's stream, 2 error (its text), 3 writable again.
 */
export type OnConnectionEvents = (batch: (number | Buffer | string | undefined)[]) => void;

export type OnAccepted = (batch: (number | string)[], error: string | undefined) => void;

export interface NativeAddon {
  /** The native backend of the parser contract in ops.ts; same results as the TypeScript parser. */
  parse: ParseFunction;
  /** Duplicates a file descriptor (close-on-exec); throws an Error with the errno text and code. */
  dup(fd: number): number;
  /** Closes a file descriptor; throws an Error with the errno text and code. */
  close(fd: number): void;
  /** Hands memory the C allocator keeps free back to the system (glibc's malloc_trim); 1 if any went. */
  trimMemory(): number;
  /** Polls a non-blocking listening socket, which the acceptor owns from now on. */
  acceptConnections(fd: number, onAccepted: OnAccepted): Acceptor;
  /** Polls again after an accept error paused it. */
  resumeAccepting(acceptor: Acceptor): void;
  /** Stops polling and closes the listening socket; idempotent. */
  stopAccepting(acceptor: Acceptor): void;
}

/** Client connections run by the addon (Linux: one epoll set per thread). */
export interface NativeConnections {
  /** Where this thread's connections report their events, all of one wake-up in one call; once per thread. */
  connectionEvents(onEvents: OnConnectionEvents): void;
  /** Takes over an accepted fd (TCP_NODELAY on) and reads from it; events carry `id`. */
  openConnection(fd: number, id: number): Connection;
  /** writev(2) of the buffers in order, as much as the socket takes now: the bytes written; throws on a socket error. */
  writeConnection(connection: Connection, buffers: readonly Uint8Array[]): number;
  /** Reads while `reading`; one writable event once the socket takes bytes again, if `wantWritable`. */
  pollConnection(connection: Connection, reading: boolean, wantWritable: boolean): void;
  /** shutdown(SHUT_WR): the peer sees the end of the stream; reading goes on. */
  shutdownConnection(connection: Connection): void;
  /** Stops polling and closes the fd; idempotent. */
  closeConnection(connection: Connection): void;
}

const ADDON_NAME = 'natrium';

function projectRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** napi-rs's platform suffixes for this process, most specific first. */
function platformSuffixes(): string[] {
  const base = `${process.platform}-${process.arch}`;
  switch (process.platform) {
    case 'linux':
      return [`${base}-gnu`, `${base}-musl`, base];
    case 'win32':
      return [`${base}-msvc`, `${base}-gnu`, base];
    default:
      return [base];
  }
}

function candidatePaths(): string[] {
  const override = process.env.NATRIUM_NATIVE_PATH;
  if (override) return [override];
  const root = projectRoot();
  if (root === null) return [];
  return platformSuffixes().map((suffix) => join(root, 'native', `${ADDON_NAME}.${suffix}.node`));
}

const ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [
  'parse',
  'dup',
  'close',
  'trimMemory',
  'acceptConnections',
  'resumeAccepting',
  'stopAccepting',
];

const CONNECTION_FUNCTIONS: readonly (keyof NativeConnections)[] = [
  'connectionEvents',
  'openConnection',
  'writeConnection',
  'pollConnection',
  'shutdownConnection',
  'closeConnection',
];

/** The addon's client connections where it has them (Linux), else null: clients then run on net.Socket. */
export function nativeConnections(addon: NativeAddon): (NativeAddon & NativeConnections) | null {
  const functions = addon as unknown as Record<string, unknown>;
  return CONNECTION_FUNCTIONS.every((name) => typeof functions[name] === 'function') ? (addon as NativeAddon & NativeConnections) : null;
}

function isNativeAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const addon = value as Record<string, unknown>;
  return ADDON_FUNCTIONS.every((name) => typeof addon[name] === 'function');
}

function load(): { addon: NativeAddon; path: string } | { error: string } {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidatePaths()) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    try {
      const loaded: unknown = require(path);
      if (isNativeAddon(loaded)) return { addon: loaded, path };
      failures.push(`${path}: does not export ${ADDON_FUNCTIONS.join(', ')}`);
    } catch (error) {
      failures.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length === 0) failures.push('no project root (package.json) found above this module');
  return { error: `native addon not loaded (run npm run build:native): ${failures.join('; ')}` };
}

const result = load();

/** The loaded addon, or null when it could not be loaded (see nativeLoadError). */
export const native: NativeAddon | null = 'addon' in result ? result.addon : null;
/** Why the addon is not available, or null when it loaded. */
export const nativeLoadError: string | null = 'error' in result ? result.error : null;
/** The .node file that was loaded, or null. */
export const nativeAddonPath: string | null = 'path' in result ? result.path : null;
