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

const LEADER = /^(?:\[[^[\]]*\][ \t]*)*(?:re|fwd?)[ \t]*(?:\[[^[\]]*\][ \t]*)?:/i;
const BLOB = /^\[[^[\]]*\][ \t]*/;

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
    for (let found = true; found; ) {
      found = false;
      for (;;) {
        if (s.startsWith(' ') || s.startsWith('\t')) {
          s = s.replace(/^[ \t]+/, '');
          found = true;
          continue;
        }
        const m = LEADER.exec(s);
        if (m === null) break;
        s = s.slice(m[0].length);
        flag = true;
        found = true;
      }
      const b = BLOB.exec(s);
      if (b !== null && s.slice(b[0].length).trim() !== '') {
        s = s.slice(b[0].length);
        found = true;
      }
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
