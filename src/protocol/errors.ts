/**
 * The -ERR lines nats-server sends to clients (texts from its source: server/errors.go,
 * server/client.go, server/parser.go), pre-encoded. Whether the connection then closes is noted
 * on each; the shard acts accordingly.
 */
import { ParseError } from './ops.js';
import type { CloseReason } from '../worker/client.js';

function errLine(text: string): Buffer {
  return Buffer.from(`-ERR '${text}'\r\n`);
}

/** Closes. */
export const ERR_UNKNOWN_OP = errLine('Unknown Protocol Operation');
/** Closes. */
export const ERR_MAX_CONTROL_LINE = errLine('maximum control line exceeded');
/** Closes. */
export const ERR_MAX_PAYLOAD = errLine('Maximum Payload Violation');
/** Stays open; pedantic mode only; the message is still delivered. */
export const ERR_INVALID_PUBLISH_SUBJECT = errLine('Invalid Publish Subject');
/** Stays open; nothing is subscribed. */
export const ERR_INVALID_SUBJECT = errLine('Invalid Subject');
/** Closes, right after INFO. */
export const ERR_MAX_CONNECTIONS = errLine('maximum connections exceeded');
/** Stays open; nothing is subscribed. */
export const ERR_MAX_SUBSCRIPTIONS = errLine('maximum subscriptions exceeded');
/** Closes. */
export const ERR_STALE_CONNECTION = errLine('Stale Connection');
/** Closes. */
export const ERR_NO_RESPONDERS_REQUIRES_HEADERS = errLine('no responders requires headers support');

/** What nats-server sends for each fatal parse error (null: nothing) and the close reason. */
export function parseErrorReply(code: number): { bytes: Buffer | null; reason: CloseReason } {
  switch (code as ParseError) {
    case ParseError.MAX_CONTROL_LINE:
      return { bytes: ERR_MAX_CONTROL_LINE, reason: 'Maximum Control Line Exceeded' };
    case ParseError.MAX_PAYLOAD:
      return { bytes: ERR_MAX_PAYLOAD, reason: 'Maximum Payload Exceeded' };
    case ParseError.BAD_ARGUMENTS:
      return { bytes: null, reason: 'Protocol Violation' };
    default:
      return { bytes: ERR_UNKNOWN_OP, reason: 'Parse Error' };
  }
}
