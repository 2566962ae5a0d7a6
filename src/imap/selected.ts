/**
 * The selected mailbox of one session and how it learns of other sessions'
 * work (RFC 3501 5.2, 7.4.1; RFC 7162 3.2.10 VANISHED).
 *
 * Rules kept:
 * - The view (sequence number → UID) changes only when the client is told:
 *   EXPUNGE/VANISHED removes, EXISTS adds. Sequence numbers never go stale.
 * - EXPUNGE is never sent while a FETCH, STORE or SEARCH (by sequence number)
 *   is answered, nor when no command runs; such expunges wait in `pending`
 *   (the message keeps its sequence number until then).
 * - What this session changed itself was already reported in its own
 *   responses and is not reported twice.
 * - Progress is a MODSEQ: everything up to `knownModseq` is reflected.
 */
import type { Mailbox, MailboxChange, Store } from '../store/types.js';
import { compressNumbers } from './sequence-set.js';
import { MailboxView } from './view.js';

export interface SyncOptions {
  /** Whether EXPUNGE/VANISHED may be sent now. */
  expunges: boolean;
  condstore: boolean;
  qresync: boolean;
  /** Write an untagged response line (without CRLF). */
  send: (line: string) => void;
  /** Flags formatted for a FETCH response. */
  formatFlags: (flags: string[], uid: number) => string;
  /** IMAP4rev1 sends RECENT; IMAP4rev2 does not. */
  sendRecent: boolean;
}

export class SelectedMailbox {
  readonly id: number;
  readonly name: string;
  readonly uidValidity: number;
  readonly view: MailboxView;
  knownModseq: number;
  /** The bus said something changed since the last sync. */
  dirty = false;
  /** Expunged by others, not yet announced (UIDs, ascending). */
  private pending: number[] = [];
  /** UID → MODSEQ of flag changes this session made and already reported. */
  private own = new Map<number, number>();
  /** UIDs at or above this are \Recent to this session. */
  readonly recentFrom: number;
  recentCount = 0;
  /** SEARCHRES (RFC 5182): the saved result, as UIDs. */
  saved: number[] | null = null;
  unwatch: () => void = () => {};

  constructor(
    mailbox: Mailbox,
    uids: ArrayLike<number>,
    modseq: number,
    readonly readOnly: boolean,
    uidNext: number,
  ) {
    this.id = mailbox.id;
    this.name = mailbox.name;
    this.uidValidity = mailbox.uidValidity;
    this.view = new MailboxView(uids);
    this.knownModseq = modseq;
    this.recentFrom = uidNext;
  }

  onChange(change: MailboxChange): void {
    if (change.highestModseq > this.knownModseq || change.kind === 'mailbox') this.dirty = true;
  }

  /** Remembers flag changes this session reported itself. */
  noteOwn(uid: number, modseq: number): void {
    this.own.set(uid, modseq);
  }

  isPending(uid: number): boolean {
    return this.pending.length > 0 && this.pending.includes(uid);
  }

  /** Whether a sync has anything to do. */
  get needsSync(): boolean {
    return this.dirty || this.pending.length > 0;
  }

  /**
   * Brings the view up to date and writes the untagged responses the client
   * must hear: EXPUNGE/VANISHED (when allowed), EXISTS (and RECENT), FETCH FLAGS.
   */
  async sync(store: Store, opts: SyncOptions, force = false): Promise<void> {
    if (!force && !this.needsSync) return;
    this.dirty = false;
    const changes = await store.changesSince(this.id, this.knownModseq);
    const expunged = new Set<number>();
    const appended: number[] = [];
    const flagged = new Set<number>();
    let top = this.knownModseq;
    for (const ch of changes) {
      if (ch.modseq > top) top = ch.modseq;
      if (ch.kind === 'expunge') {
        expunged.add(ch.uid);
        flagged.delete(ch.uid);
      } else if (ch.kind === 'append') {
        if (ch.uid > this.view.maxUid) appended.push(ch.uid);
      } else if (this.own.get(ch.uid) !== ch.modseq) {
        flagged.add(ch.uid);
      }
    }
    this.knownModseq = top;
    this.own.clear();

    // Expunges of messages in the view: announce now, or keep for later.
    const already = new Set(this.pending);
    for (const uid of expunged) if (this.view.has(uid) && !already.has(uid)) this.pending.push(uid);
    this.pending.sort((a, b) => a - b);
    if (opts.expunges && this.pending.length > 0) {
      const gone = this.pending;
      this.pending = [];
      if (opts.qresync) {
        for (const uid of gone) this.view.remove(uid);
        opts.send(`* VANISHED ${compressNumbers(gone)}`);
      } else {
        for (const uid of gone) {
          const seq = this.view.remove(uid);
          if (seq > 0) opts.send(`* ${seq} EXPUNGE`);
        }
      }
      if (this.saved) this.saved = this.saved.filter((u) => this.view.has(u));
    }

    // New messages (appended and not already gone again).
    appended.sort((a, b) => a - b);
    let added = 0;
    for (const uid of appended) {
      if (expunged.has(uid)) continue;
      this.view.append(uid);
      added++;
    }
    if (added > 0) {
      this.recentCount += added;
      opts.send(`* ${this.view.count} EXISTS`);
      if (opts.sendRecent) opts.send(`* ${this.recentCount} RECENT`);
    }

    // Flag changes by others, for messages the client knows of.
    const pending = new Set(this.pending);
    const fresh = new Set(appended);
    const uids = [...flagged].filter((u) => this.view.has(u) && !pending.has(u) && !fresh.has(u));
    if (uids.length > 0) {
      for (let i = 0; i < uids.length; i += 500) {
        const part = uids.slice(i, i + 500);
        const metas = await store.getMessageMetas(this.id, part);
        for (const m of metas) {
          const seq = this.view.seqOf(m.uid);
          if (seq === 0) continue;
          const parts = [];
          if (opts.qresync) parts.push(`UID ${m.uid}`);
          parts.push(`FLAGS ${opts.formatFlags(m.flags, m.uid)}`);
          if (opts.condstore) parts.push(`MODSEQ (${m.modseq})`);
          opts.send(`* ${seq} FETCH (${parts.join(' ')})`);
        }
      }
    }
  }
}
