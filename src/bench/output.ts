/** Result files of the bench tools. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Writes `text` to `file`, creating its directory; returns the path as given. */
export function writeResult(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** The command as a user would type it. */
export function commandLine(): string {
  return `natrium ${process.argv.slice(2).join(' ')}`;
}
