/** Natrium's embedding API: `startServer(options)` runs a NATS-compatible broker in this process. */
export { startServer, type RunningServer } from './server/server.js';
export { DEFAULT_OPTIONS, type ServerOptions, type ParserChoice, type LogLevel } from './server/options.js';
