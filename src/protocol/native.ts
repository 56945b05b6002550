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

export interface NativeAddon {
  /** The native backend of the parser contract in ops.ts; same results as the TypeScript parser. */
  parse: ParseFunction;
  /** Duplicates a file descriptor (close-on-exec); throws an Error with the errno text and code. */
  dup(fd: number): number;
  /** Closes a file descriptor; throws an Error with the errno text and code. */
  close(fd: number): void;
  /** Hands memory the C allocator keeps free back to the system (glibc's malloc_trim); 1 if any went. */
  trimMemory(): number;
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

function isNativeAddon(value: unknown): value is NativeAddon {
  const addon = value as Partial<NativeAddon> | null;
  return (
    typeof addon === 'object' &&
    addon !== null &&
    typeof addon.parse === 'function' &&
    typeof addon.dup === 'function' &&
    typeof addon.close === 'function' &&
    typeof addon.trimMemory === 'function'
  );
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
      failures.push(`${path}: does not export parse, dup, close and trimMemory`);
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
