/** Flags and sizes of many messages: one listMessages when many, else getMessages. */
import type { MessageMeta } from '../../store/types.js';
import type { Session } from '../session.js';
import { listAllIsCheaper } from './render.js';

export async function metasFor(s: Session, mailboxId: number, uids: number[]): Promise<MessageMeta[]> {
  if (uids.length === 0) return [];
  const count = s.state.kind === 'selected' && s.state.mailbox.id === mailboxId ? s.state.mailbox.view.count : Infinity;
  if (listAllIsCheaper(s, count, uids.length)) {
    const want = new Set(uids);
    return (await s.store.listMessages(mailboxId)).filter((m) => want.has(m.uid));
  }
  const out: MessageMeta[] = [];
  for (let i = 0; i < uids.length; i += 500) {
    const part = uids.slice(i, i + 500);
    out.push(...(await s.store.getMessageMetas(mailboxId, part)));
  }
  return out;
}
