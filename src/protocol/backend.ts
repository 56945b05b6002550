import type { ParserChoice } from '../server/options.js';
import type { ParseFunction } from './ops.js';
import { parse as parseJs } from './js-parser.js';
import { native, nativeLoadError } from './native.js';

export interface ParserBackend {
  name: 'native' | 'js';
  parse: ParseFunction;
  /** Why auto fell back to the TypeScript parser, when it did. */
  fallbackReason: string | null;
}

/** Resolves --parser: `auto` takes the native parser when the addon loads; `native` insists on it. */
export function selectParser(choice: ParserChoice): ParserBackend {
  if (choice === 'js') return { name: 'js', parse: parseJs, fallbackReason: null };
  if (native !== null) return { name: 'native', parse: native.parse, fallbackReason: null };
  if (choice === 'native') throw new Error(`--parser native: ${nativeLoadError}`);
  return { name: 'js', parse: parseJs, fallbackReason: nativeLoadError };
}
