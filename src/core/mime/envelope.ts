/**
 * IMAP ENVELOPE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) from a
 * message's header fields. Strings are the raw header values (unfolded, not
 * decoded); absent fields are NIL; Sender and Reply-To default to From when
 * absent or empty, as the RFC requires. A field that should occur once but is
 * repeated reads as Dovecot reads it: the last one for strings, all of them
 * (concatenated) for address lists, so no From: is hidden.
 */
import { parseAddressList } from './address.js';
import type { HeaderField } from './header.js';
import type { ImapAddress, ImapEnvelope } from './types.js';

export function buildEnvelope(fields: HeaderField[]): ImapEnvelope {
  const str = (name: string): string | null => {
    let v: string | null = null;
    for (const f of fields) if (f.name === name) v = f.value;
    return v;
  };
  const addrs = (name: string): ImapAddress[] | null => {
    const list: ImapAddress[] = [];
    for (const f of fields) if (f.name === name) list.push(...parseAddressList(f.value));
    return list.length === 0 ? null : list;
  };
  const from = addrs('from');
  return {
    date: str('date'),
    subject: str('subject'),
    from,
    sender: addrs('sender') ?? from,
    replyTo: addrs('reply-to') ?? from,
    to: addrs('to'),
    cc: addrs('cc'),
    bcc: addrs('bcc'),
    inReplyTo: str('in-reply-to'),
    messageId: str('message-id'),
  };
}

/** All NIL: the envelope of a message with no header fields. */
export function emptyEnvelope(): ImapEnvelope {
  return {
    date: null,
    subject: null,
    from: null,
    sender: null,
    replyTo: null,
    to: null,
    cc: null,
    bcc: null,
    inReplyTo: null,
    messageId: null,
  };
}
