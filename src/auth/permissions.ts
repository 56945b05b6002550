/**
 * Per-user publish/subscribe permissions, matched as nats-server matches them (server/client.go:
 * canSubscribe, pubAllowedFullCheck, checkDenySub). Each list is a subject index with its own
 * match cache, compiled once per user and shared by that user's connections on a shard.
 */
import { Sublist } from '../sublist/sublist.js';
import { subjectHasWildcard, subjectIsSubsetMatch } from './subjects.js';
import type { Permissions, ResponsePermission, SubjectPermission } from './options.js';

interface PermissionEntry {
  readonly subject: string;
  readonly queue: string | null;
}

/** Allow/deny lists of subscribe permissions may name a queue: "foo.* workers". */
function splitSubjectQueue(text: string): PermissionEntry {
  const fields = text.trim().split(/\s+/);
  return fields.length === 2 ? { subject: fields[0], queue: fields[1] } : { subject: text, queue: null };
}

function index(subjects: readonly string[], withQueues: boolean): Sublist<PermissionEntry> {
  const list = new Sublist<PermissionEntry>();
  for (const subject of subjects) list.insert(withQueues ? splitSubjectQueue(subject) : { subject, queue: null });
  return list;
}

/** A queue-qualified rule applies when its queue name is the one asked for (or a pattern covering it). */
function queueMatches(queue: string, groups: readonly (readonly PermissionEntry[])[]): boolean {
  if (groups.length === 0) return true;
  for (const group of groups) {
    const name = group[0].queue!;
    if (queue === name || (subjectHasWildcard(name) && subjectIsSubsetMatch(queue, name))) return true;
  }
  return false;
}

export class CompiledPermissions {
  readonly publishAllow: Sublist<PermissionEntry> | null;
  readonly publishDeny: Sublist<PermissionEntry> | null;
  readonly subscribeAllow: Sublist<PermissionEntry> | null;
  readonly subscribeDeny: Sublist<PermissionEntry> | null;
  /** Subscribe deny rules as written, to tell whether a wildcard subscription reaches one. */
  readonly subscribeDenySubjects: readonly string[];
  readonly response: ResponsePermission | null;
  /** False when publishing is not restricted at all (no allow and no deny list). */
  readonly checksPublish: boolean;

  constructor(perms: Permissions) {
    const pub: SubjectPermission | null = perms.publish;
    const sub: SubjectPermission | null = perms.subscribe;
    // An empty publish allow list allows nothing; an empty subscribe list is no list (nats-server).
    this.publishAllow = pub?.allow != null ? index(pub.allow, false) : null;
    this.publishDeny = pub?.deny != null ? index(pub.deny, false) : null;
    this.subscribeAllow = sub?.allow != null && sub.allow.length > 0 ? index(sub.allow, true) : null;
    this.subscribeDeny = sub?.deny != null && sub.deny.length > 0 ? index(sub.deny, true) : null;
    this.subscribeDenySubjects = this.subscribeDeny === null ? [] : sub!.deny!.map((text) => splitSubjectQueue(text).subject);
    this.response = perms.response;
    this.checksPublish = this.publishAllow !== null || this.publishDeny !== null;
  }

  /** Allow and deny lists only; replies allowed by `allow_responses` are the connection's business. */
  publishAllowed(buf: Uint8Array, off: number, len: number): boolean {
    if (this.publishAllow !== null && this.publishAllow.matchBytes(buf, off, len).plain.length === 0) return false;
    return this.publishDeny === null || this.publishDeny.matchBytes(buf, off, len).plain.length === 0;
  }

  subscribeAllowed(subject: string, queue: string | null): boolean {
    let allowed = true;
    if (this.subscribeAllow !== null) {
      const result = this.subscribeAllow.match(subject);
      allowed = result.plain.length > 0;
      if (queue !== null && result.queues.length > 0) allowed = queueMatches(queue, result.queues);
    }
    if (allowed && this.subscribeDeny !== null) {
      const result = this.subscribeDeny.match(subject);
      allowed = result.plain.length === 0;
      if (queue !== null && result.queues.length > 0) allowed = !queueMatches(queue, result.queues);
    }
    return allowed;
  }

  /** True when a wildcard subscription to `subject` could receive a subject the deny list names. */
  reachesDenied(subject: string): boolean {
    if (this.subscribeDenySubjects.length === 0 || !subjectHasWildcard(subject)) return false;
    return this.subscribeDenySubjects.some((denied) => subjectIsSubsetMatch(denied, subject));
  }

  /** Delivery filter: the subject is on the subscribe deny list. */
  deliveryDenied(buf: Uint8Array, off: number, len: number): boolean {
    return this.subscribeDeny !== null && this.subscribeDeny.matchBytes(buf, off, len).plain.length > 0;
  }
}

/** Replies a connection with `allow_responses` may still send, are pruned past this many. */
const REPLY_PRUNE_AT = 4096;

interface AllowedReply {
  sent: number;
  at: number;
}

/** One connection's view of its user's permissions, with the reply subjects it was given. */
export class ConnectionPermissions {
  /** Set once a wildcard subscription reaches a denied subject: deliveries are then filtered. */
  filtersDelivery = false;
  private readonly replies: Map<string, AllowedReply> | null;

  constructor(readonly rules: CompiledPermissions) {
    this.replies = rules.response === null ? null : new Map();
  }

  canPublish(buf: Uint8Array, off: number, len: number): boolean {
    if (this.rules.publishAllowed(buf, off, len)) return true;
    const replies = this.replies;
    if (replies === null) return false;
    const subject = Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('latin1');
    const reply = replies.get(subject);
    if (reply === undefined) return false;
    const limits = this.rules.response!;
    reply.sent++;
    if ((limits.maxMsgs > 0 && reply.sent > limits.maxMsgs) || (limits.expires > 0 && Date.now() - reply.at > limits.expires)) {
      replies.delete(subject);
      return false;
    }
    return true;
  }

  canSubscribe(subject: string, queue: string | null): boolean {
    if (!this.rules.subscribeAllowed(subject, queue)) return false;
    if (!this.filtersDelivery && this.rules.reachesDenied(subject)) this.filtersDelivery = true;
    return true;
  }

  /** A message with a reply subject was delivered to this connection: it may answer it. */
  noteReply(buf: Uint8Array, off: number, len: number): void {
    const replies = this.replies;
    if (replies === null) return;
    if (replies.size >= REPLY_PRUNE_AT) this.pruneReplies();
    replies.set(Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('latin1'), { sent: 0, at: Date.now() });
  }

  private pruneReplies(): void {
    const limits = this.rules.response!;
    const now = Date.now();
    for (const [subject, reply] of this.replies!) {
      if ((limits.maxMsgs > 0 && reply.sent >= limits.maxMsgs) || (limits.expires > 0 && now - reply.at > limits.expires)) {
        this.replies!.delete(subject);
      }
    }
    // Still full of live replies: forget the oldest half rather than grow without bound.
    if (this.replies!.size >= REPLY_PRUNE_AT) {
      let drop = this.replies!.size >> 1;
      for (const subject of this.replies!.keys()) {
        if (drop-- <= 0) break;
        this.replies!.delete(subject);
      }
    }
  }
}
