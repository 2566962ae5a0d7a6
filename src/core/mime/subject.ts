/**
 * RFC 5256 section 2.1: the base subject, used by SORT SUBJECT and by THREAD
 * (ORDEREDSUBJECT, REFERENCES). "All servers and disconnected clients MUST use
 * exactly this algorithm", so the steps below follow the RFC's numbering.
 *
 *   subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 *   subj-blob    = "[" *BLOBCHAR "]" *WSP
 *   subj-leader  = (*subj-blob subj-refwd) / WSP
 *   subj-trailer = "(fwd)" / WSP
 *   subj-fwd-hdr = "[fwd:"   subj-fwd-trl = "]"
 *
 * The result keeps its case: SORT compares it with i;unicode-casemap.
 */

/** Length of the subj-blob at `i` ("[" *BLOBCHAR "]" *WSP), or 0. */
function blobAt(s: string, i: number): number {
  if (s[i] !== '[') return 0;
  let j = i + 1;
  while (j < s.length && s[j] !== '[' && s[j] !== ']') j++;
  if (s[j] !== ']') return 0;
  j++;
  while (s[j] === ' ' || s[j] === '\t') j++;
  return j - i;
}

/** Length of the subj-refwd at `i` (("re" / "fw" ["d"]) *WSP [subj-blob] ":"), or 0. */
function refwdAt(s: string, i: number): number {
  const two = s.slice(i, i + 2).toLowerCase();
  let j: number;
  if (two === 're') j = i + 2;
  else if (two === 'fw') j = s[i + 2] === 'd' || s[i + 2] === 'D' ? i + 3 : i + 2;
  else return 0;
  while (s[j] === ' ' || s[j] === '\t') j++;
  j += blobAt(s, j);
  return s[j] === ':' ? j + 1 - i : 0;
}

export interface BaseSubject {
  base: string;
  /** A subj-refwd, a "(fwd)" trailer or a [fwd: ...] wrapper was removed (RFC 5256 section 2.1, THREAD REFERENCES). */
  isReplyOrForward: boolean;
}

/** `subject` is the decoded Subject (encoded-words already turned into text). */
export function extractBaseSubject(subject: string): BaseSubject {
  let flag = false;
  // (1) continuations and tabs become spaces, runs of spaces one space.
  let s = subject
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[\t\r\n]/g, ' ')
    .replace(/ {2,}/g, ' ');
  for (;;) {
    // (2) remove subj-trailer text, repeatedly.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.length >= 5 && s.slice(-5).toLowerCase() === '(fwd)') {
        s = s.slice(0, -5);
        flag = true;
      } else break;
    }
    // (3) subj-leader, (4) a subj-blob that leaves a non-empty base, (5) repeat.
    // Blobs parse without ambiguity, so one greedy pass over the leading blobs decides
    // both steps: "*subj-blob subj-refwd" matches exactly when a subj-refwd follows
    // them; if none follows, step 4 would drop the blobs one by one (no subj-leader
    // can appear in between), as long as something is left.
    for (;;) {
      const ws = /^[ \t]+/.exec(s);
      if (ws !== null) s = s.slice(ws[0].length);
      const ends: number[] = [];
      let i = 0;
      for (let n = blobAt(s, i); n > 0; n = blobAt(s, i)) ends.push((i += n));
      const r = refwdAt(s, i);
      if (r > 0) {
        s = s.slice(i + r);
        flag = true;
        continue;
      }
      let last = s.length - 1; // the last non-blank character must stay
      while (last >= 0 && (s[last] === ' ' || s[last] === '\t')) last--;
      let cut = 0;
      for (const e of ends) if (e <= last) cut = e;
      if (cut === 0) break;
      s = s.slice(cut);
    }
    // (6) "[fwd: ... ]" wrapper: remove it and go back to (2).
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      flag = true;
      continue;
    }
    break;
  }
  // (7)
  return { base: s, isReplyOrForward: flag };
}

export function baseSubject(subject: string): string {
  return extractBaseSubject(subject).base;
}
