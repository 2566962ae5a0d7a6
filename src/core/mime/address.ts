/**
 * Address lists (RFC 5322 section 3.4) parsed into IMAP address structures
 * (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2).
 *
 * The strings stay raw: encoded-words are not decoded (the client does that),
 * only quoting is removed from display names. Group syntax becomes the IMAP
 * group markers: a start (mailbox = group name, host = NIL) and an end (all NIL).
 * Parsing is lenient in the way Dovecot is: a bare comment after an addr-spec
 * becomes the name, a missing local part or domain becomes MISSING_MAILBOX or
 * MISSING_DOMAIN (a NIL host would read as a group marker), garbage never throws.
 * Where Dovecot stops at a syntax error and drops the rest of the field ("a@b c@d",
 * "g: a;x@y"), we keep reading, so no recipient is hidden.
 */
import type { ImapAddress } from './types.js';
import { decodeWords } from './header.js';

export const MISSING_HOST = 'MISSING_DOMAIN';
export const MISSING_MAILBOX = 'MISSING_MAILBOX';

type TokenKind = 'atom' | 'quoted' | 'comment' | 'literal' | 'special';

interface Token {
  kind: TokenKind;
  /** For quoted strings and comments: the content without quoting; otherwise the raw text. */
  text: string;
  /** The raw source text (quoted strings with their quotes). */
  raw: string;
  /** Whitespace (or a comment) stood before it. */
  space: boolean;
}

const SPECIALS = new Set(['<', '>', '@', ',', ';', ':', '.']);

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let space = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      space = true;
      i++;
      continue;
    }
    if (c === '(') {
      let depth = 1;
      let text = '';
      i++;
      while (i < s.length && depth > 0) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < s.length) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        text += d;
        i++;
      }
      out.push({ kind: 'comment', text, raw: text, space });
      space = true;
      continue;
    }
    if (c === '"') {
      let text = '';
      const start = i;
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        text += s[i];
        i++;
      }
      i++; // closing quote (or past the end)
      out.push({ kind: 'quoted', text, raw: s.slice(start, Math.min(i, s.length)), space });
      space = false;
      continue;
    }
    if (c === '[') {
      const end = s.indexOf(']', i);
      const raw = end === -1 ? s.slice(i) : s.slice(i, end + 1);
      i += raw.length;
      out.push({ kind: 'literal', text: raw, raw, space });
      space = false;
      continue;
    }
    if (SPECIALS.has(c)) {
      out.push({ kind: 'special', text: c, raw: c, space });
      space = false;
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && !SPECIALS.has(s[j]!) && !' \t\r\n("['.includes(s[j]!)) j++;
    out.push({ kind: 'atom', text: s.slice(i, j), raw: s.slice(i, j), space });
    space = false;
    i = j;
  }
  return out;
}

/** Display-name words joined as they stood: one space where there was whitespace. */
function phrase(tokens: Token[]): string | null {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'comment') continue;
    if (out !== '' && t.space) out += ' ';
    out += t.text;
  }
  out = out.trim();
  return out === '' ? null : out;
}

/** An addr-spec's raw text: local-part (quoted strings keep their quotes) and domain. */
function addrSpec(tokens: Token[]): { mailbox: string | null; host: string | null } {
  const parts = tokens.filter((t) => t.kind !== 'comment');
  let at = -1;
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i]!.kind === 'special' && parts[i]!.text === '@') {
      at = i;
      break;
    }
  }
  const join = (ts: Token[]) => ts.map((t) => t.raw).join('');
  if (at === -1) {
    const mailbox = join(parts);
    return { mailbox: mailbox === '' ? null : mailbox, host: null };
  }
  const mailbox = join(parts.slice(0, at));
  const host = join(parts.slice(at + 1));
  return { mailbox: mailbox === '' ? null : mailbox, host: host === '' ? null : host };
}

interface Pending {
  tokens: Token[];
  angle: { adl: string | null; mailbox: string | null; host: string | null } | null;
}

/** Parses an address-list header value (raw, unfolded). Returns [] for nothing usable. */
export function parseAddressList(value: string): ImapAddress[] {
  const tokens = tokenize(value);
  const out: ImapAddress[] = [];
  let inGroup = false;
  let cur: Pending = { tokens: [], angle: null };

  const flush = () => {
    const p = cur;
    cur = { tokens: [], angle: null };
    if (p.angle !== null) {
      const name = phrase(p.tokens);
      out.push({
        name,
        adl: p.angle.adl,
        mailbox: p.angle.mailbox ?? MISSING_MAILBOX,
        host: p.angle.host ?? MISSING_HOST,
      });
      return;
    }
    if (p.tokens.length === 0) return; // nothing between two commas
    const spec = addrSpec(p.tokens);
    const hasWords = p.tokens.some((t) => t.kind !== 'comment');
    // A comment names an addr-spec ("a@b (Name)"); on its own it names nothing.
    const comments = hasWords ? p.tokens.filter((t) => t.kind === 'comment' && t.text.trim() !== '') : [];
    out.push({
      name: comments.length > 0 ? comments[comments.length - 1]!.text.trim() : null,
      adl: null,
      mailbox: spec.mailbox ?? MISSING_MAILBOX,
      host: spec.host ?? MISSING_HOST,
    });
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'special') {
      if (t.text === ',') {
        flush();
        continue;
      }
      if (t.text === ';') {
        flush();
        if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
        continue;
      }
      if (t.text === ':' && !inGroup && cur.angle === null) {
        const name = phrase(cur.tokens);
        cur = { tokens: [], angle: null };
        out.push({ name: null, adl: null, mailbox: name ?? '', host: null });
        inGroup = true;
        continue;
      }
      if (t.text === '<') {
        if (cur.angle !== null) flush();
        const inner: Token[] = [];
        i++;
        while (i < tokens.length && !(tokens[i]!.kind === 'special' && tokens[i]!.text === '>')) {
          inner.push(tokens[i]!);
          i++;
        }
        cur.angle = angleAddr(inner);
        continue;
      }
      if (t.text === '>') continue;
    }
    if (cur.angle !== null && t.kind !== 'comment') {
      // Words after "<addr>" without a comma: a new address began without its separator.
      flush();
    }
    cur.tokens.push(t);
  }
  flush();
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

/** Inside "<...>": an optional source route "@a,@b:" then an addr-spec. */
function angleAddr(inner: Token[]): Pending['angle'] & object {
  let adl: string | null = null;
  let rest = inner.filter((t) => t.kind !== 'comment');
  if (rest.length > 0 && rest[0]!.kind === 'special' && rest[0]!.text === '@') {
    const colon = rest.findIndex((t) => t.kind === 'special' && t.text === ':');
    if (colon !== -1) {
      adl = rest
        .slice(0, colon)
        .map((t) => t.raw)
        .join('');
      rest = rest.slice(colon + 1);
    }
  }
  const spec = addrSpec(rest);
  return { adl, mailbox: spec.mailbox, host: spec.host };
}

/** The real mailboxes of a list (group markers and the MISSING_MAILBOX fillers left out). */
export function mailboxes(list: ImapAddress[] | null): ImapAddress[] {
  return (list ?? []).filter((a) => a.host !== null && a.mailbox !== MISSING_MAILBOX);
}

/** "Name <local@domain>, other@domain" with encoded-words decoded, for display and search. */
export function formatAddresses(list: ImapAddress[] | null): string {
  return mailboxes(list)
    .map((a) => {
      const addr = `${a.mailbox ?? ''}@${a.host ?? ''}`;
      const name = a.name === null ? '' : decodeWords(a.name).trim();
      return name === '' ? addr : `${name} <${addr}>`;
    })
    .join(', ');
}

/** RFC 5256 sort key: the addr-mailbox of the first address, lower-case ("" when none). */
export function sortKey(list: ImapAddress[] | null): string {
  const first = mailboxes(list)[0];
  return first?.mailbox?.toLowerCase() ?? '';
}
