/**
 * Stream imports between accounts, as a shard routes them: a message published in an exporting
 * account also goes, renamed by the import (prefix or `to`), into each importing account. The
 * routes of each source account are a subject index, so a publish in an account nobody imports
 * from costs one array read.
 */
import { Sublist } from '../sublist/sublist.js';
import { InboundMessage, type MessageView } from '../worker/message.js';
import type { AccountConfig } from './options.js';

interface ImportRoute {
  /** The imported subject (pattern) in the exporting account. */
  readonly subject: string;
  readonly queue: null;
  /** Account id that receives the message. */
  readonly target: number;
  /** 'prefix.' bytes, empty for none. */
  readonly prefix: Buffer;
  /** Literal subject replacing the original; null to keep it. */
  readonly to: Buffer | null;
}

const EMPTY = Buffer.alloc(0);

export class StreamImports {
  /** By exporting account id: the imports from it. */
  private readonly bySource: (Sublist<ImportRoute> | undefined)[] = [];
  /** The renamed message; its bytes are a scratch buffer reused for every routed message. */
  private readonly message = new InboundMessage();
  private scratch = Buffer.alloc(1024);

  private constructor(accounts: readonly AccountConfig[]) {
    const ids = new Map(accounts.map((account, i) => [account.name, i + 1]));
    accounts.forEach((account, i) => {
      for (const entry of account.imports) {
        const source = ids.get(entry.account);
        // The config reader refuses such imports; options given through the API may still have them.
        if (source === undefined) continue;
        const routes = (this.bySource[source] ??= new Sublist<ImportRoute>({ cacheMax: 256, cacheSweep: 128 }));
        routes.insert({
          subject: entry.subject,
          queue: null,
          target: i + 1,
          prefix: entry.prefix === '' ? EMPTY : Buffer.from(`${entry.prefix}.`, 'latin1'),
          to: entry.to === '' ? null : Buffer.from(entry.to, 'latin1'),
        });
      }
    });
  }

  static from(accounts: readonly AccountConfig[]): StreamImports | null {
    return accounts.some((account) => account.imports.length > 0) ? new StreamImports(accounts) : null;
  }

  /** Hands `deliver` the message once per import that takes it, renamed and in the importing account. */
  route(msg: MessageView, deliver: (imported: MessageView) => void): void {
    const routes = this.bySource[msg.account];
    if (routes === undefined) return;
    const matched = routes.matchBytes(msg.bytes, msg.subjectOffset, msg.subjectLength).plain;
    for (let i = 0; i < matched.length; i++) {
      const route = matched[i];
      const subjectLength = route.to !== null ? route.to.length : route.prefix.length + msg.subjectLength;
      const size = subjectLength + msg.replyLength + msg.payloadLength;
      if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2));
      const out = this.scratch;
      if (route.to !== null) {
        route.to.copy(out, 0);
      } else {
        route.prefix.copy(out, 0);
        msg.bytes.copy(out, route.prefix.length, msg.subjectOffset, msg.subjectOffset + msg.subjectLength);
      }
      msg.bytes.copy(out, subjectLength, msg.replyOffset, msg.replyOffset + msg.replyLength);
      msg.bytes.copy(out, subjectLength + msg.replyLength, msg.payloadOffset, msg.payloadOffset + msg.payloadLength);
      const imported = this.message;
      imported.account = route.target;
      imported.bytes = out;
      imported.subjectOffset = 0;
      imported.subjectLength = subjectLength;
      imported.replyOffset = subjectLength;
      imported.replyLength = msg.replyLength;
      imported.headerLength = msg.headerLength;
      imported.payloadOffset = subjectLength + msg.replyLength;
      imported.payloadLength = msg.payloadLength;
      deliver(imported);
    }
  }
}
