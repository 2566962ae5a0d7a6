/**
 * What delivery-time indexing (core/mime/index.ts) stores for every message, so
 * that IMAP FETCH ENVELOPE/BODYSTRUCTURE/BODY[section], SEARCH, SORT and THREAD
 * never re-parse a body. Serialised as JSON in the store; keep it plain data.
 */

/** An IMAP address (RFC 3501 7.4.2): raw strings as they stand in the header. */
export interface ImapAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/** IMAP ENVELOPE (RFC 3501 7.4.2); strings are the raw (still encoded-word) header values. */
export interface ImapEnvelope {
  date: string | null;
  subject: string | null;
  from: ImapAddress[] | null;
  sender: ImapAddress[] | null;
  replyTo: ImapAddress[] | null;
  to: ImapAddress[] | null;
  cc: ImapAddress[] | null;
  bcc: ImapAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/**
 * One MIME entity. Offsets are byte positions in the stored message (the blob),
 * so BODY[1.2], BODY[1.2.MIME], BODY[1.2.HEADER] are byte ranges of the blob.
 */
export interface BodyPart {
  /** Lower-case, e.g. "text", "multipart", "message". */
  type: string;
  subtype: string;
  /** Content-Type parameters in order, names lower-case, values decoded (RFC 2231). */
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, lower-case, default "7bit". */
  encoding: string;
  /** Octets of the body (bodyEnd - bodyStart). */
  size: number;
  /** Lines of the body, for text/* and message/rfc822. */
  lines: number | null;
  md5: string | null;
  disposition: { type: string; params: Array<[string, string]> } | null;
  language: string[] | null;
  location: string | null;
  /** message/rfc822: the encapsulated message's envelope and body. */
  envelope?: ImapEnvelope;
  message?: BodyPart;
  /** multipart: the children. */
  parts?: BodyPart[];
  /** Offset of this entity's header (for a top-level message: 0). */
  headerStart: number;
  /** Offset where the body starts (after the blank line). */
  bodyStart: number;
  /** Offset just past the body. */
  bodyEnd: number;
}

export interface MessageIndex {
  /** Bump when the shape changes; old rows are re-indexed lazily. */
  version: 1;
  envelope: ImapEnvelope;
  body: BodyPart;
  /** Decoded values for SEARCH/SORT/THREAD and listing. */
  subject: string;
  /** RFC 5256 base subject, for SORT SUBJECT and THREAD ORDEREDSUBJECT. */
  baseSubject: string;
  /** Display forms: "Name <addr>" decoded; first address's mailbox for SORT. */
  from: string;
  to: string;
  cc: string;
  /** Sort keys (RFC 5256): first address's local part, lower-case. */
  sortFrom: string;
  sortTo: string;
  sortCc: string;
  /** Date header as epoch ms (null when absent or unparsable), and its own day "YYYY-MM-DD". */
  sentDate: number | null;
  sentDay: string | null;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  /** Every header field, name lower-case, value unfolded and decoded (SEARCH HEADER). */
  headers: Array<[string, string]>;
  /** Decoded text of the text/* parts (SEARCH BODY); capped in length. */
  text: string;
  hasAttachments: boolean;
  /** A short plain-text preview (webmail lists, RFC 8970 PREVIEW). */
  preview: string;
}
