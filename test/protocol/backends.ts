/**
 * The parser backends every protocol test runs against, and a decoder that turns op records into
 * plain objects for assertions. The native backend is included whenever its addon loads.
 */
import { HDR_SIZE, OP_STRIDE, OpKind, type ParseFunction } from '../../src/protocol/ops.js';
import { parse as jsParse } from '../../src/protocol/js-parser.js';
import { native } from '../../src/protocol/native.js';

export interface Backend {
  name: string;
  parse: ParseFunction;
}

export const backends: Backend[] = [
  { name: 'js', parse: jsParse },
  // native.test.ts fails when the addon is not built, so leaving it out here hides nothing.
  ...(native ? [{ name: 'native', parse: native.parse }] : []),
];

/** One op as a test sees it; byte fields decoded as latin1 so binary payloads survive. */
export type DecodedOp =
  | { op: 'PING' | 'PONG' | 'OK' }
  | { op: 'PUB'; subject: string; reply: string; payload: string }
  | { op: 'HPUB'; subject: string; reply: string; headerSize: number; payload: string }
  | { op: 'SUB'; subject: string; queue: string; sid: string }
  | { op: 'UNSUB'; sid: string; max: number }
  | { op: 'CONNECT' | 'INFO' | 'ERR'; text: string }
  | { op: 'PARSE_ERROR'; code: number; failedKind: number };

export function latin1(bytes: Uint8Array, offset: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).toString('latin1');
}

export function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Decodes records [0, count) of `ops`, whose offsets index `buf`. */
export function decodeOps(buf: Uint8Array, ops: Int32Array, count: number): DecodedOp[] {
  const out: DecodedOp[] = [];
  for (let k = 0; k < count; k++) {
    const r = HDR_SIZE + k * OP_STRIDE;
    const f = (n: number) => ops[r + n];
    const text = (off: number, len: number) => latin1(buf, f(off), f(len));
    switch (ops[r] as OpKind) {
      case OpKind.PING:
        out.push({ op: 'PING' });
        break;
      case OpKind.PONG:
        out.push({ op: 'PONG' });
        break;
      case OpKind.OK:
        out.push({ op: 'OK' });
        break;
      case OpKind.PUB:
        out.push({ op: 'PUB', subject: text(1, 2), reply: text(3, 4), payload: text(5, 6) });
        break;
      case OpKind.HPUB:
        out.push({ op: 'HPUB', subject: text(1, 2), reply: text(3, 4), headerSize: f(7), payload: text(5, 6) });
        break;
      case OpKind.SUB:
        out.push({ op: 'SUB', subject: text(1, 2), queue: text(3, 4), sid: text(5, 6) });
        break;
      case OpKind.UNSUB:
        out.push({ op: 'UNSUB', sid: text(5, 6), max: f(7) });
        break;
      case OpKind.CONNECT:
        out.push({ op: 'CONNECT', text: text(1, 2) });
        break;
      case OpKind.INFO:
        out.push({ op: 'INFO', text: text(1, 2) });
        break;
      case OpKind.ERR:
        out.push({ op: 'ERR', text: text(1, 2) });
        break;
      case OpKind.PARSE_ERROR:
        out.push({ op: 'PARSE_ERROR', code: f(1), failedKind: f(3) });
        break;
      default:
        throw new Error(`record ${k}: unknown kind ${ops[r]}`);
    }
  }
  return out;
}
