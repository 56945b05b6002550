/**
 * Both brokers from one nats-server config text, for the security tests: nats-server reads the
 * file itself, Natrium reads it through its config reader (so the file's meaning is tested too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigFile } from '../../src/config/config-file.js';
import { startNatsServerWithConf } from '../helpers/nats-server.js';
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
  /** When the config has `http_port`. */
  monitorUrl?: string;
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
    monitorUrl: server.monitorUrl,
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
  const server = await startNatsServerWithConf(conf);
  return {
    port: server.port,
    url: server.url,
    monitorUrl: server.monitorUrl,
    reload(text) {
      writeFileSync(server.configFile, text);
      const from = server.log.length;
      const logSince = (): string => server.log.slice(from).join('\n');
      const stderr = server.process.stderr!;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          stderr.off('data', check);
          reject(new Error(`nats-server did not reload:\n${logSince()}`));
        }, 10_000);
        // The server's own reader (registered first) has added the chunk's lines by now.
        const check = (): void => {
          const outcome = /Reloaded server configuration|Failed to reload server configuration: (.*)/.exec(logSince());
          if (outcome === null) return;
          clearTimeout(timer);
          stderr.off('data', check);
          if (outcome[1] === undefined) resolve();
          else reject(new Error(outcome[1]));
        };
        stderr.on('data', check);
        server.process.kill('SIGHUP');
      });
    },
    close: () => server.close(),
  };
}

/**
 * Runs `body` on nats-server, then on Natrium, each started with `conf` and closed after (a function
 * gives each broker a fresh text, e.g. with JWTs that expire soon after the start).
 */
export async function onBothBrokers<T>(conf: string | (() => string), body: (broker: ConfiguredBroker) => Promise<T>): Promise<{ expected: T; actual: T }> {
  const confText = (): string => (typeof conf === 'string' ? conf : conf());
  const reference = await startReferenceWithConf(confText());
  let expected: T;
  try {
    expected = await body(reference);
  } finally {
    await reference.close();
  }
  const natrium = await startNatriumWithConf(confText());
  try {
    return { expected, actual: await body(natrium) };
  } finally {
    await natrium.close();
  }
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
