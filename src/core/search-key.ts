/**
 * The search AST shared by IMAP SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4),
 * webmail search and the Store's search(). IMAP parses its syntax into this;
 * the store answers it from stored indexes (core/search.ts matches it in memory).
 *
 * Sequence numbers never reach this layer: the IMAP session turns them into UID
 * ranges first. Dates are "YYYY-MM-DD"; comparisons disregard time and zone
 * (RFC 3501): internal date by its UTC day, sent date by the Date header's own day.
 */
export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; keys: SearchKey[] }
  | { op: 'not'; key: SearchKey }
  /** Inclusive UID ranges. */
  | { op: 'uid'; ranges: Array<[number, number]> }
  /** A system flag ("\\Seen") or keyword; set=false means "does not have". */
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'internalDate'; cmp: 'before' | 'on' | 'since'; day: string }
  | { op: 'sentDate'; cmp: 'before' | 'on' | 'since'; day: string }
  | { op: 'size'; cmp: 'larger' | 'smaller'; bytes: number }
  /** Header field contains value (case-insensitive substring; "" = field present). */
  | { op: 'header'; field: string; value: string }
  /** Decoded body text contains value. */
  | { op: 'body'; value: string }
  /** Headers or body contain value. */
  | { op: 'text'; value: string }
  /** MODSEQ >= min (RFC 7162). */
  | { op: 'modseq'; min: number }
  /** RFC 8514 SAVEDBEFORE etc. are not supported; OLDER/YOUNGER (RFC 5032) in seconds. */
  | { op: 'age'; cmp: 'older' | 'younger'; seconds: number };
