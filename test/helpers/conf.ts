/** Configuration text read the way Natrium reads a config file, for tests of what a file means. */
import assert from 'node:assert/strict';
import { parseConf } from '../../src/config/conf-parser.js';
import { ConfigFileError, optionsFromConf, type ConfigFileResult } from '../../src/config/config-file.js';

/** Reads texts as the file `file`, the name their problems start with (`file:line:column: ...`). */
export function confReader(file: string) {
  const load = (text: string, env: NodeJS.ProcessEnv = {}): ConfigFileResult => optionsFromConf(parseConf(text, file, env));
  /** What reading `text` refuses it for; [] when it is accepted. */
  const problems = (text: string): string[] => {
    try {
      load(text);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      return error.problems;
    }
  };
  return { load, problems };
}
