/**
 * The maildrop as one POP3 session sees it: a snapshot of INBOX taken at login,
 * numbered 1..n, with the session's DELE marks. Pure: the store is touched only
 * by the session, at login and at QUIT.
 *
 * Rules it keeps (RFC 1939):
 * - Messages delivered after login are not in the snapshot; numbers never shift.
 * - DELE only marks; a marked message is invisible to STAT/LIST/UIDL/RETR/TOP
 *   and is removed only when QUIT enters the UPDATE state. RSET unmarks all.
 * - UIDL is derived from the mailbox's UIDVALIDITY and the message's UID, both
 *   of which the store never reuses: the same message has the same id forever.
 */
import type { MessageMeta } from '../store/types.js';

export interface DropMessage {
  uid: number;
  /** Octets of the stored message (CRLF line ends): what LIST reports and RETR sends. */
  size: number;
  blobId: string;
}

export type Lookup = { ok: true; msg: DropMessage } | { ok: false; why: 'noSuchMessage' | 'deleted' };

/** RFC 1939 7: 1-70 characters in 0x21-0x7E. Here 16 hex digits: UIDVALIDITY, then UID. */
export function uidlOf(uidValidity: number, uid: number): string {
  return `${uidValidity.toString(16).padStart(8, '0')}${uid.toString(16).padStart(8, '0')}`;
}

export class Maildrop {
  private readonly deleted = new Set<number>();
  /** UIDs sent whole or in part (RETR, TOP): marked retrieved for retention at the end. */
  readonly retrieved = new Set<number>();
  /** UIDs sent whole by RETR: flagged \Seen at the end, as an IMAP client would see them read. */
  readonly seen = new Set<number>();

  private constructor(
    readonly mailboxId: number,
    readonly uidValidity: number,
    private readonly messages: DropMessage[],
  ) {}

  static fromMeta(mailboxId: number, uidValidity: number, metas: MessageMeta[]): Maildrop {
    const msgs = metas.map((m) => ({ uid: m.uid, size: m.size, blobId: m.blobId })).sort((a, b) => a.uid - b.uid);
    return new Maildrop(mailboxId, uidValidity, msgs);
  }

  /** Messages at login, deleted ones included (the highest valid message number). */
  get total(): number {
    return this.messages.length;
  }

  get(n: number): Lookup {
    const msg = Number.isInteger(n) && n >= 1 ? this.messages[n - 1] : undefined;
    if (!msg) return { ok: false, why: 'noSuchMessage' };
    if (this.deleted.has(n)) return { ok: false, why: 'deleted' };
    return { ok: true, msg };
  }

  /** Count and octets of the messages not marked deleted (STAT, and the PASS greeting). */
  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    this.messages.forEach((m, i) => {
      if (this.deleted.has(i + 1)) return;
      count++;
      size += m.size;
    });
    return { count, size };
  }

  /** Message numbers and messages not marked deleted, in order. */
  *live(): Generator<[number, DropMessage]> {
    for (let i = 0; i < this.messages.length; i++) if (!this.deleted.has(i + 1)) yield [i + 1, this.messages[i]!];
  }

  uidl(msg: DropMessage): string {
    return uidlOf(this.uidValidity, msg.uid);
  }

  /** The first message after n not marked deleted, or null. */
  nextLive(n: number): DropMessage | null {
    for (let i = Math.max(n, 0); i < this.messages.length; i++) if (!this.deleted.has(i + 1)) return this.messages[i]!;
    return null;
  }

  /** Mark for deletion; the caller has checked `get(n)`. */
  delete(n: number): void {
    this.deleted.add(n);
  }

  reset(): void {
    this.deleted.clear();
  }

  /** UIDs to expunge at QUIT. */
  deletedUids(): number[] {
    return [...this.deleted].map((n) => this.messages[n - 1]!.uid).sort((a, b) => a - b);
  }
}
