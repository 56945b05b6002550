#!/usr/bin/env node
/**
 * The `natrium` command: flags and config file as nats-server's. SIGINT/SIGTERM stop promptly and
 * free the port; SIGHUP reloads the config file; `--signal` signals another natrium process.
 */
import { runSubcommand } from '../bench/cli.js';
import { ConfigFileError, loadConfigFile } from '../config/config-file.js';
import { parseFlags, USAGE } from '../config/flags.js';
import { createLogger } from '../server/logger.js';
import { cliDefaultWorkers, DEFAULT_OPTIONS, type ServerOptions } from '../server/options.js';
import { startServer } from '../server/server.js';
import { manageProcess, sendSignal } from '../server/signals.js';
import { NATRIUM_VERSION, NATS_PROTOCOL_VERSION } from '../server/version.js';

function fail(message: string): never {
  process.stderr.write(`natrium: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const subcommand = process.argv[2];
  if (subcommand === 'bench' || subcommand === 'tune') {
    process.exitCode = await runSubcommand(subcommand, process.argv.slice(3));
    return;
  }
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
  if (flags.kind === 'signal') {
    try {
      sendSignal(flags.signal, flags.pidOrFile);
    } catch (error) {
      fail((error as Error).message);
    }
    return;
  }
  let fileOptions: Partial<ServerOptions> = {};
  let warnings: string[] = [];
  if (flags.configFile !== null) {
    try {
      ({ options: fileOptions, warnings } = loadConfigFile(flags.configFile));
    } catch (error) {
      const problems = error instanceof ConfigFileError ? error.problems : [(error as Error).message];
      fail(problems.join('\nnatrium: '));
    }
  }
  if (flags.testConfig) {
    // Like nats-server -t, warnings fail the test too.
    if (warnings.length > 0) fail(warnings.join('\nnatrium: '));
    process.stdout.write(`natrium: configuration file ${flags.configFile} is valid\n`);
    return;
  }
  const options: ServerOptions = { ...DEFAULT_OPTIONS, workers: cliDefaultWorkers(), ...fileOptions, ...flags.options };
  const log = createLogger(options);
  for (const warning of warnings) log.warn(warning);
  let server;
  try {
    server = await startServer(options);
  } catch (error) {
    fail((error as Error).message);
  }
  manageProcess({
    server,
    options,
    configFile: flags.configFile,
    fileOptions,
    flagOptions: flags.options,
    log,
    exit: (code) => process.exit(code),
  });
}

void main();
