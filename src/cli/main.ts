#!/usr/bin/env node
/** The `natrium` command: flags as nats-server's; SIGINT/SIGTERM stop promptly and free the port. */
import { parseFlags, USAGE } from '../config/flags.js';
import { startServer } from '../server/server.js';
import { NATRIUM_VERSION, NATS_PROTOCOL_VERSION } from '../server/version.js';

async function main(): Promise<void> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`natrium: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(1);
  }
  if (flags.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (flags.kind === 'version') {
    process.stdout.write(`natrium: v${NATRIUM_VERSION} (nats protocol ${NATS_PROTOCOL_VERSION})\n`);
    return;
  }
  let server;
  try {
    server = await startServer(flags.options);
  } catch (error) {
    process.stderr.write(`natrium: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
