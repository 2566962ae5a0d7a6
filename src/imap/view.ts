/**
 * A session's view of its selected mailbox: the UIDs it has announced, in order,
 * so that sequence number n is uids[n-1]. Kept as a typed array (4 bytes per
 * message) so that thousands of idle sessions on big mailboxes stay small.
 *
 * Rules: the view only changes when the session tells the client (EXISTS adds,
 * EXPUNGE/VANISHED removes); sequence numbers are always answered from it.
 */
import { ParseError } from './parser/cursor.js';
import { normaliseRanges, STAR, type SequenceSet } from './sequence-set.js';

export class MailboxView {
  private uids: Uint32Array;
  private n = 0;

  constructor(uids: ArrayLike<number> = []) {
    this.uids = new Uint32Array(Math.max(16, uids.length + (uids.length >> 3)));
    for (let i = 0; i < uids.length; i++) this.uids[i] = uids[i]!;
    this.n = uids.length;
  }

  get count(): number {
    return this.n;
  }

  get maxUid(): number {
    return this.n > 0 ? this.uids[this.n - 1]! : 0;
  }

  /** UID at sequence number seq (1-based). */
  uidAt(seq: number): number {
    return this.uids[seq - 1]!;
  }

  /** Sequence number of uid, or 0 when absent. */
  seqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i >= 0 ? i + 1 : 0;
  }

  has(uid: number): boolean {
    return this.indexOf(uid) >= 0;
  }

  private indexOf(uid: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** First index whose uid >= uid. */
  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.uids[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Appends UIDs greater than every UID held (new messages). */
  append(uid: number): void {
    if (uid <= this.maxUid) return;
    if (this.n === this.uids.length) {
      const bigger = new Uint32Array(this.uids.length * 2);
      bigger.set(this.uids);
      this.uids = bigger;
    }
    this.uids[this.n++] = uid;
  }

  /** Removes one uid; returns the sequence number it had (0 if absent). */
  remove(uid: number): number {
    const i = this.indexOf(uid);
    if (i < 0) return 0;
    this.uids.copyWithin(i, i + 1, this.n);
    this.n--;
    return i + 1;
  }

  /** All UIDs, ascending (a copy). */
  all(): Uint32Array {
    return this.uids.slice(0, this.n);
  }

  /**
   * UIDs named by a sequence-number set. RFC 9051 6.4 / 9: a number above the
   * message count, including "*" in an empty mailbox, is an error (BAD).
   */
  uidsForSeqSet(set: Array<[number, number]>): number[] {
    if (this.n === 0) throw new ParseError('Invalid sequence set: mailbox is empty');
    const out: number[] = [];
    for (const [a, b] of normaliseRanges(set, this.n)) {
      if (b > this.n) throw new ParseError(`Invalid sequence number ${b} (only ${this.n} messages)`);
      for (let s = a; s <= b; s++) out.push(this.uids[s - 1]!);
    }
    return out;
  }

  /**
   * UIDs in the view named by a UID set. "*" is the highest UID in the view and
   * "n:*" always includes it even when n is larger (RFC 3501 6.4.8).
   */
  uidsForUidSet(set: Array<[number, number]>): number[] {
    const out: number[] = [];
    if (this.n === 0) return out;
    for (const [a, b] of normaliseRanges(set, this.maxUid)) {
      for (let i = this.lowerBound(a); i < this.n && this.uids[i]! <= b; i++) out.push(this.uids[i]!);
    }
    return out;
  }

  /** UID ranges (for a SearchKey) covering a sequence set; out-of-range numbers are an error. */
  uidRangesForSeqSet(set: Array<[number, number]>): Array<[number, number]> {
    if (this.n === 0) {
      if (set.some(([a, b]) => a === STAR || b === STAR || a > 0)) throw new ParseError('Invalid sequence set: mailbox is empty');
      return [];
    }
    const out: Array<[number, number]> = [];
    for (const [a, b] of normaliseRanges(set, this.n)) {
      if (b > this.n) throw new ParseError(`Invalid sequence number ${b} (only ${this.n} messages)`);
      out.push([this.uids[a - 1]!, this.uids[b - 1]!]);
    }
    return out;
  }

  /** Resolves a parsed set to view UIDs, with "$" taken from the saved result. */
  resolve(set: SequenceSet, byUid: boolean, saved: readonly number[] | null): number[] {
    if (set.kind === 'saved') {
      if (!saved) return [];
      return saved.filter((u) => this.has(u));
    }
    return byUid ? this.uidsForUidSet(set.ranges) : this.uidsForSeqSet(set.ranges);
  }
}
