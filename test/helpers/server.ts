/**
 * Starts a Natrium broker for a test through the public embedding API. The worker count and parser
 * backend come from NATRIUM_TEST_WORKERS / NATRIUM_TEST_PARSER so that `npm test` runs every
 * end-to-end test once per combination.
 */
import { startServer, type RunningServer } from '../../src/index.js';
import type { ServerOptions, ParserChoice } from '../../src/server/options.js';

export const TEST_WORKERS = Number(process.env.NATRIUM_TEST_WORKERS ?? '1');
export const TEST_PARSER = (process.env.NATRIUM_TEST_PARSER ?? 'js') as ParserChoice;

export function startTestServer(options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    workers: TEST_WORKERS,
    parser: TEST_PARSER,
    logLevel: (process.env.NATRIUM_TEST_LOG as ServerOptions['logLevel'] | undefined) ?? 'silent',
    ...options,
  });
}
