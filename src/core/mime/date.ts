/**
 * The Date header (RFC 5322 section 3.3, with the obsolete forms of 4.3) as an
 * instant and as its own calendar day.
 *
 * SEARCH SENTBEFORE/SENTON/SENTSINCE compare the date "disregarding time and
 * timezone" (RFC 3501 section 6.4.4), i.e. the day written in the header, which
 * is not the UTC day of the instant: "Mon, 1 Jan 2024 23:30 -0500" is sent on
 * 2024-01-01 although it is 2024-01-02 in UTC. So the day is taken from the text.
 */
import { stripComments } from './content.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** RFC 5322 obs-zone; military letters are "-0000" (unknown) per section 4.3. */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -5 * 60,
  edt: -4 * 60,
  cst: -6 * 60,
  cdt: -5 * 60,
  mst: -7 * 60,
  mdt: -6 * 60,
  pst: -8 * 60,
  pdt: -7 * 60,
};

export interface MailDate {
  /** Epoch milliseconds. */
  ms: number;
  /** "YYYY-MM-DD" as written in the header. */
  day: string;
}

export function parseMailDate(value: string | null | undefined): MailDate | null {
  if (value === null || value === undefined) return null;
  const text = stripComments(value).trim();
  if (text === '') return null;
  return parseTokens(text) ?? parseFallback(text);
}

function parseTokens(text: string): MailDate | null {
  const tokens = text
    .replace(/,/g, ' ')
    .split(/\s+/)
    .flatMap((t) => (/^\d{1,2}-[A-Za-z]{3}-\d{2,4}$/.test(t) ? t.split('-') : [t])) // "5-Jan-2024"
    .filter((t) => t !== '');
  let day: number | null = null;
  let month: number | null = null;
  let year: number | null = null;
  let h = 0;
  let mi = 0;
  let s = 0;
  let zone: number | null = null;
  let sawTime = false;
  for (const tok of tokens) {
    const lower = tok.toLowerCase();
    const time = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?$/.exec(tok);
    if (time !== null && !sawTime) {
      sawTime = true;
      h = Number(time[1]);
      mi = Number(time[2]);
      s = time[3] === undefined ? 0 : Number(time[3]);
      continue;
    }
    const numZone = /^([+-])(\d{2})(\d{2})$/.exec(tok);
    if (numZone !== null && sawTime && zone === null) {
      const minutes = Number(numZone[2]) * 60 + Number(numZone[3]);
      zone = numZone[1] === '-' ? -minutes : minutes;
      continue;
    }
    if (/^[a-z]+$/.test(lower)) {
      if (month === null && lower.length >= 3 && MONTHS.includes(lower.slice(0, 3)) && !DAYS.includes(lower.slice(0, 3))) {
        month = MONTHS.indexOf(lower.slice(0, 3));
        continue;
      }
      if (zone === null && sawTime && lower in ZONES) {
        zone = ZONES[lower]!;
        continue;
      }
      if (zone === null && sawTime && lower.length === 1) {
        zone = 0;
        continue;
      }
      continue; // day names and other words
    }
    if (/^\d+$/.test(tok)) {
      if (day === null && tok.length <= 2 && year === null) {
        day = Number(tok);
      } else if (year === null) {
        year = Number(tok);
        if (tok.length <= 2) year += year < 50 ? 2000 : 1900;
        else if (tok.length === 3) year += 1900;
      }
      continue;
    }
  }
  if (day === null || month === null || year === null) return null;
  if (day < 1 || day > 31 || year < 1 || year > 9999 || h > 23 || mi > 59 || s > 60) return null;
  const local = Date.UTC(year, month, day, h, mi, Math.min(s, 59));
  const check = new Date(local);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month) return null; // 30 Feb
  const ms = local - (zone ?? 0) * 60_000;
  return { ms, day: ymd(year, month + 1, day) };
}

/** Some software writes ISO 8601 ("2024-01-05T10:00:00Z"); its own day is the one written. */
function parseFallback(text: string): MailDate | null {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]|$)/.exec(text);
  if (m === null) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return null;
  return { ms, day: ymd(y, mo, d) };
}

function ymd(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
