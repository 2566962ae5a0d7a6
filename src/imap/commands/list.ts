/**
 * LIST (RFC 3501 6.3.8, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS,
 * RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN) and LSUB (RFC 3501 6.3.9).
 *
 * Names that exist only as parents of others ("a" when only "a/b" exists)
 * are listed with \Noselect (\NonExistent in extended LIST) so hierarchies
 * browse with "%".
 */
import type { Mailbox } from '../../store/types.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import { listMatcher, parentsOf, SEPARATOR } from '../names.js';
import type { Session } from '../session.js';
import { parseStatusItems, statusLine, type StatusItem } from './status.js';
import { AUTHENTICATED, command } from './types.js';

interface ListArgs {
  extended: boolean;
  select: Set<string>;
  reference: Buffer;
  patterns: Buffer[];
  ret: Set<string>;
  statusItems: StatusItem[] | null;
}

const SELECT_OPTIONS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const RETURN_OPTIONS = new Set(['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', 'STATUS']);

function parseList(c: Cursor): ListArgs {
  const args: ListArgs = { extended: false, select: new Set(), reference: Buffer.alloc(0), patterns: [], ret: new Set(), statusItems: null };
  c.sp();
  if (c.peek() === 0x28) {
    args.extended = true;
    for (const o of c.list((x) => x.atom('a selection option').toUpperCase())) {
      if (!SELECT_OPTIONS.has(o)) throw new ParseError(`Unknown LIST selection option ${o}`);
      args.select.add(o);
    }
    if (args.select.has('RECURSIVEMATCH') && args.select.size === 1) throw new ParseError('RECURSIVEMATCH needs another selection option');
    c.sp();
  }
  args.reference = c.astring();
  c.sp();
  if (c.peek() === 0x28) {
    args.extended = true;
    args.patterns = c.list((x) => x.listMailbox(), false);
  } else args.patterns = [c.listMailbox()];
  if (c.trySp()) {
    args.extended = true;
    if (!c.tryWord('RETURN')) throw new ParseError('Expected RETURN');
    c.sp();
    c.list((x) => {
      const o = x.atom('a return option').toUpperCase();
      if (!RETURN_OPTIONS.has(o)) throw new ParseError(`Unknown LIST return option ${o}`);
      if (o === 'STATUS') {
        x.sp();
        args.statusItems = parseStatusItems(x);
      }
      args.ret.add(o);
      return o;
    });
  }
  return args;
}

interface Entry {
  name: string;
  mailbox: Mailbox | null;
  subscribed: boolean;
  hasChildren: boolean;
  /** RECURSIVEMATCH: a descendant matches the selection. */
  childSubscribed: boolean;
}

async function list(s: Session, args: ListArgs, lsub: boolean): Promise<void> {
  const user = s.user();
  const verb = lsub ? 'LSUB' : 'LIST';
  const reference = s.mailboxName(args.reference);
  // The empty pattern asks for the hierarchy delimiter (RFC 3501 6.3.8).
  if (!lsub && args.patterns.length === 1 && args.patterns[0]!.length === 0) {
    s.send(`* LIST (\\Noselect) "${SEPARATOR}" ""`);
    return;
  }
  const mailboxes = await s.store.listMailboxes(user.id);
  const subscriptions = new Set(await s.store.listSubscriptions(user.id));
  const byName = new Map(mailboxes.map((m) => [m.name, m]));

  // Every name that exists, plus the parents of every name (real or subscribed).
  const names = new Set<string>(byName.keys());
  for (const n of [...byName.keys()]) for (const p of parentsOf(n)) names.add(p);
  const wantSubscribed = lsub || args.select.has('SUBSCRIBED');
  if (wantSubscribed) for (const n of subscriptions) {
    names.add(n);
    for (const p of parentsOf(n)) names.add(p);
  }
  const hasChild = new Set<string>();
  const hasSubscribedChild = new Set<string>();
  for (const n of byName.keys()) for (const p of parentsOf(n)) hasChild.add(p);
  for (const n of subscriptions) for (const p of parentsOf(n)) hasSubscribedChild.add(p);

  const matchers = args.patterns.map((p) => listMatcher(reference, s.utf8 ? p.toString('utf8') : decodePattern(s, p)));
  const entries: Entry[] = [];
  for (const name of names) {
    if (!matchers.some((m) => m(name))) continue;
    const entry: Entry = {
      name,
      mailbox: byName.get(name) ?? null,
      subscribed: subscriptions.has(name),
      hasChildren: hasChild.has(name),
      childSubscribed: hasSubscribedChild.has(name),
    };
    if (wantSubscribed && !entry.subscribed) {
      // LSUB shows an unsubscribed parent (\Noselect) only when "%" hides a subscribed child
      // (RFC 3501 6.3.9); extended LIST shows it only with RECURSIVEMATCH (RFC 5258).
      const hidden = () => [...subscriptions].some((n) => n.startsWith(name + SEPARATOR) && !matchers.some((m) => m(n)));
      if (lsub ? !(entry.childSubscribed && hidden()) : !(args.select.has('RECURSIVEMATCH') && entry.childSubscribed)) continue;
    }
    if (args.select.has('SPECIAL-USE') && !entry.mailbox?.specialUse) {
      if (!(args.select.has('RECURSIVEMATCH') && [...byName.values()].some((m) => m.specialUse && m.name.startsWith(name + SEPARATOR)))) continue;
    }
    entries.push(entry);
  }
  entries.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  for (const e of entries) {
    const attrs: string[] = [];
    if (lsub) {
      if (!e.subscribed) attrs.push('\\Noselect');
    } else {
      if (!e.mailbox) attrs.push(args.extended ? '\\NonExistent' : '\\Noselect');
      if (e.name === 'INBOX' || e.mailbox) attrs.push(e.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      else if (e.hasChildren) attrs.push('\\HasChildren');
      if (e.subscribed && (args.ret.has('SUBSCRIBED') || args.select.has('SUBSCRIBED'))) attrs.push('\\Subscribed');
      if (e.mailbox?.specialUse) attrs.push(e.mailbox.specialUse);
    }
    let extra = '';
    if (!lsub && args.select.has('RECURSIVEMATCH') && args.select.has('SUBSCRIBED') && e.childSubscribed && !e.subscribed) {
      extra = ' ("CHILDINFO" ("SUBSCRIBED"))';
    }
    s.send(`* ${verb} (${attrs.join(' ')}) "${SEPARATOR}" ${s.quotedMailbox(e.name)}${extra}`);
    if (!lsub && args.statusItems && e.mailbox) s.send(await statusLine(s, e.mailbox, args.statusItems));
  }
}

/** Patterns are mailbox names with wildcards: decode modified UTF-7 the same way. */
function decodePattern(s: Session, raw: Buffer): string {
  if (raw.length === 0) return '';
  // Wildcards are plain ASCII and pass through mUTF-7 decoding untouched.
  return s.mailboxName(raw);
}

export const listCommand = command({
  name: 'LIST',
  states: AUTHENTICATED,
  parse: parseList,
  async run(s, args) {
    if (args.statusItems?.includes('HIGHESTMODSEQ')) s.enabled.add('CONDSTORE');
    await list(s, args, false);
    return { text: 'LIST completed' };
  },
});

export const lsubCommand = command({
  name: 'LSUB',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    const reference = c.astring();
    c.sp();
    return { extended: false, select: new Set<string>(), reference, patterns: [c.listMailbox()], ret: new Set<string>(), statusItems: null };
  },
  async run(s, args) {
    await list(s, args, true);
    return { text: 'LSUB completed' };
  },
});
