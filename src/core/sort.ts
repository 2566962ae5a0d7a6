/**
 * SORT (RFC 5256 section 3, with RFC 5957 DISPLAYFROM/DISPLAYTO): orders
 * messages by a list of criteria from their delivery-time index. Pure.
 *
 * Rules kept: string keys compare after case folding (i;unicode-casemap
 * approximated by NFKD + upper case, as I18NLEVEL=1 asks); DATE is the sent
 * date in UTC, falling back to the internal date when the Date header is
 * missing or unparsable (2.2); ties, and equal keys of every criterion, are
 * broken by sequence order (the order of the input).
 */

export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export const SORT_KEYS: readonly SortKey[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}

export interface SortItem {
  /** What the caller gets back (a UID or sequence number). */
  id: number;
  /** Internal date, epoch ms. */
  arrival: number;
  size: number;
  /** Date header, epoch ms; null when absent or unparsable. */
  sentDate: number | null;
  /** RFC 5256 2.1 base subject. */
  baseSubject: string;
  /** addr-mailbox of the first address (RFC 5256 3). */
  sortFrom: string;
  sortTo: string;
  sortCc: string;
  /** RFC 5957: display name of the first address, else its addr-spec. */
  displayFrom?: string;
  displayTo?: string;
}

/** Case-folded comparison form of a string key. */
export function collationKey(s: string): string {
  return s.normalize('NFKD').toUpperCase();
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sentOrArrival(m: Pick<SortItem, 'sentDate' | 'arrival'>): number {
  return m.sentDate ?? m.arrival;
}

export function sortMessages(items: readonly SortItem[], criteria: readonly SortCriterion[]): number[] {
  // Precompute folded keys once per item, not per comparison.
  const rows = items.map((m, order) => ({
    m,
    order,
    keys: criteria.map((c): string | number => {
      switch (c.key) {
        case 'ARRIVAL':
          return m.arrival;
        case 'SIZE':
          return m.size;
        case 'DATE':
          return sentOrArrival(m);
        case 'SUBJECT':
          return collationKey(m.baseSubject);
        case 'FROM':
          return collationKey(m.sortFrom);
        case 'TO':
          return collationKey(m.sortTo);
        case 'CC':
          return collationKey(m.sortCc);
        case 'DISPLAYFROM':
          return collationKey(m.displayFrom ?? m.sortFrom);
        case 'DISPLAYTO':
          return collationKey(m.displayTo ?? m.sortTo);
      }
    }),
  }));
  rows.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.keys[i]!;
      const y = b.keys[i]!;
      const d = typeof x === 'number' ? x - (y as number) : compareStrings(x, y as string);
      if (d !== 0) return criteria[i]!.reverse ? -d : d;
    }
    return a.order - b.order;
  });
  return rows.map((r) => r.m.id);
}
