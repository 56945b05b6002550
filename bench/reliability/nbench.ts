/**
 * Runs nbench (../shared/tools/nbench: a Go load generator on the official nats.go client) and
 * reads its RESULT line. Go drives the load so that the node side only watches.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const NBENCH = process.env.NBENCH ?? '/tmp/nbench/nbench';

export interface NbenchResult {
  status: string;
  sent: number;
  delivered: number;
  pubPerSecond: number;
  subPerSecond: number;
  perSubMin: number;
  perSubMax: number;
}

export function assertNbench(): void {
  if (!existsSync(NBENCH)) throw new Error(`nbench not found at ${NBENCH}: build it with ../shared/tools/nbench/build.sh (or set NBENCH)`);
}

export async function nbench(args: string[]): Promise<NbenchResult> {
  const child = spawn(NBENCH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  const line = /^RESULT (.*)$/m.exec(out)?.[1];
  if (line === undefined) throw new Error(`nbench ${args.join(' ')} gave no RESULT:\n${out}${err}`);
  const fields = Object.fromEntries(line.split(' ').map((pair) => pair.split('=')));
  return {
    status: fields.status,
    sent: Number(fields.sent),
    delivered: Number(fields.delivered),
    pubPerSecond: Number(fields.pub_msgs_per_s),
    subPerSecond: Number(fields.sub_msgs_per_s),
    perSubMin: Number(fields.per_sub_min),
    perSubMax: Number(fields.per_sub_max),
  };
}
