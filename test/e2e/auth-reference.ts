/**
 * Both brokers from one nats-server config text, for the security tests: nats-server reads the
 * file itself, Natrium reads it through its config reader (so the file's meaning is tested too).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigFile } from '../../src/config/config-file.js';
import { assertNatsServerInstalled, NATS_SERVER_BIN } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { reloadChanges } from '../../src/server/signals.js';
import { RawClient } from '../helpers/raw-client.js';

export interface ConfiguredBroker {
  port: number;
  url: string;
  /**
   * Replaces the config text and reloads it (nats-server: SIGHUP); resolves once applied, rejects
   * with the reason when the broker refuses it.
   */
  reload(conf: string): Promise<void>;
  close(): Promise<void>;
}

function writeConf(text: string): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'natrium-auth-'));
  const file = path.join(dir, 'auth.conf');
  writeFileSync(file, text);
  return { file, dir };
}

function readConf(conf: string): Partial<ServerOptions> {
  const { file, dir } = writeConf(conf);
  try {
    return loadConfigFile(file, {}).options;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Natrium with the options of `conf` (plus test overrides such as workers and parser); a reload
 * reads the new text and applies what differs, as SIGHUP does.
 */
export async function startNatriumWithConf(conf: string, extra: Partial<ServerOptions> = {}): Promise<ConfiguredBroker> {
  let options = readConf(conf);
  const server = await startTestServer({ ...options, ...extra });
  return {
    port: server.port,
    url: server.url,
    async reload(text) {
      const next = readConf(text);
      await server.reload(reloadChanges({ ...options, ...extra }, { ...next, ...extra }));
      options = next;
    },
    close: () => server.close(),
  };
}

/** nats-server with `conf`, on 127.0.0.1 and a port it picks. */
export async function startReferenceWithConf(conf: string): Promise<ConfiguredBroker> {
  assertNatsServerInstalled();
  const { file, dir } = writeConf(conf);
  const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', '-1', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 10_000);
    child.stderr!.on('data', () => {
      const match = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    reload(text) {
      writeFileSync(file, text);
      const from = log.length;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nats-server did not reload:\n${log.slice(from)}`)), 10_000);
        const check = (): void => {
          const outcome = /Reloaded server configuration|Failed to reload server configuration: (.*)/.exec(log.slice(from));
          if (outcome === null) return;
          clearTimeout(timer);
          child.stderr!.off('data', check);
          if (outcome[1] === undefined) resolve();
          else reject(new Error(outcome[1]));
        };
        child.stderr!.on('data', check);
        child.kill('SIGHUP');
      });
    },
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw client that sent `connect` and got the PONG of a PING after it. */
export async function rawLogin(port: number, connect: object): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  await raw.send(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
  const reply = (await raw.readUntil('PONG\r\n')).toString();
  if (!reply.endsWith('PONG\r\n')) throw new Error(`login failed: ${reply}`);
  return raw;
}

/** Sends `ops` then PING; returns everything up to and including the PONG. */
export async function exchange(raw: RawClient, ops: string): Promise<string> {
  await raw.send(`${ops}PING\r\n`);
  return (await raw.readUntil('PONG\r\n')).toString();
}
