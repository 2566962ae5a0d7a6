/** Telling the client about messages this session removed (EXPUNGE, UID EXPUNGE, MOVE). */
import { compressNumbers } from '../sequence-set.js';
import type { Session } from '../session.js';

export function reportExpunged(s: Session, uids: number[]): void {
  const mb = s.selected();
  const gone = uids.filter((u) => mb.view.has(u)).sort((a, b) => a - b);
  if (gone.length === 0) return;
  if (s.qresync) {
    for (const u of gone) mb.view.remove(u);
    s.send(`* VANISHED ${compressNumbers(gone)}`);
  } else {
    for (const u of gone) {
      const seq = mb.view.remove(u);
      if (seq > 0) s.send(`* ${seq} EXPUNGE`);
    }
  }
  if (mb.saved) mb.saved = mb.saved.filter((u) => mb.view.has(u));
}
