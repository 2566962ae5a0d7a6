/**
 * THREAD (RFC 5256 section 4): ORDEREDSUBJECT and REFERENCES over messages'
 * delivery-time index. Pure. The result is a forest of message ids; the IMAP
 * layer formats it as "(1 2 (3)(4))".
 *
 * REFERENCES follows the RFC's steps (Zawinski's algorithm) literally: link by
 * References (In-Reply-To when there are none), never making loops; gather
 * the roots; prune dummies; sort roots by date; merge roots by base subject;
 * sort every set of siblings by date. Dates are sent dates (internal date when
 * missing); ties go to mailbox order (the input order).
 */

export interface ThreadItem {
  id: number;
  /** Epoch ms of the Date header, or null. */
  sentDate: number | null;
  arrival: number;
  subject: string;
  baseSubject: string;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
}

export interface ThreadNode {
  /** null for a dummy (a thread whose first message is absent: "((3)(5))"). */
  id: number | null;
  children: ThreadNode[];
}

interface Container {
  item: ThreadItem | null;
  order: number;
  parent: Container | null;
  children: Container[];
}

function dateOf(item: ThreadItem): number {
  return item.sentDate ?? item.arrival;
}

// ---------------------------------------------------------------- ORDEREDSUBJECT

export function threadOrderedSubject(items: readonly ThreadItem[]): ThreadNode[] {
  const withOrder = items.map((item, order) => ({ item, order }));
  withOrder.sort((a, b) => {
    const s = compare(foldSubject(a.item.baseSubject), foldSubject(b.item.baseSubject));
    if (s !== 0) return s;
    return dateOf(a.item) - dateOf(b.item) || a.order - b.order;
  });
  const threads: Array<{ first: { item: ThreadItem; order: number }; node: ThreadNode }> = [];
  let current: (typeof threads)[number] | null = null;
  for (const entry of withOrder) {
    if (current && foldSubject(current.first.item.baseSubject) === foldSubject(entry.item.baseSubject)) {
      // Every later message of a thread is a child of its first message (no grandchildren).
      current.node.children.push({ id: entry.item.id, children: [] });
    } else {
      current = { first: entry, node: { id: entry.item.id, children: [] } };
      threads.push(current);
    }
  }
  threads.sort((a, b) => dateOf(a.first.item) - dateOf(b.first.item) || a.first.order - b.first.order);
  return threads.map((t) => t.node);
}

// ---------------------------------------------------------------- REFERENCES

/** RFC 5256: msg-ids compare after removing quoting, so <"a"@b> equals <a@b>. */
export function normaliseMessageId(id: string): string {
  let s = id.trim();
  if (s.startsWith('<')) s = s.slice(1);
  if (s.endsWith('>')) s = s.slice(0, -1);
  const at = s.lastIndexOf('@');
  const local = (at >= 0 ? s.slice(0, at) : s).replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1');
  const domain = at >= 0 ? s.slice(at + 1) : '';
  return at >= 0 ? `${local}@${domain.toLowerCase()}` : local;
}

function isDescendant(node: Container, of: Container): boolean {
  for (let p: Container | null = node; p; p = p.parent) if (p === of) return true;
  return false;
}

function unlink(c: Container): void {
  if (!c.parent) return;
  const sibs = c.parent.children;
  const i = sibs.indexOf(c);
  if (i >= 0) sibs.splice(i, 1);
  c.parent = null;
}

function link(child: Container, parent: Container): void {
  unlink(child);
  child.parent = parent;
  parent.children.push(child);
}

function isReplyOrForward(item: ThreadItem): boolean {
  const s = item.subject.trim();
  return /^(\s*\[[^\]]*\]\s*)*(re|fwd?)\s*(\[[^\]]*\])?\s*:/i.test(s) || /\(fwd\)\s*$/i.test(s);
}

export function threadReferences(items: readonly ThreadItem[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const all: Container[] = [];
  let synthetic = 0;
  const container = (id: string): Container => {
    let c = byId.get(id);
    if (!c) {
      c = { item: null, order: Number.MAX_SAFE_INTEGER, parent: null, children: [] };
      byId.set(id, c);
      all.push(c);
    }
    return c;
  };

  // Step 1: containers by Message-ID, linked along References.
  items.forEach((item, order) => {
    let mid = item.messageId ? normaliseMessageId(item.messageId) : '';
    // A missing or duplicate Message-ID gets a unique one (1.A).
    if (!mid || byId.get(mid)?.item) mid = `\u0000unique-${synthetic++}`;
    const self = container(mid);
    self.item = item;
    self.order = order;

    let refs = item.references.map(normaliseMessageId).filter(Boolean);
    if (refs.length === 0 && item.inReplyTo) {
      const first = /<[^>]*>/.exec(item.inReplyTo)?.[0] ?? item.inReplyTo;
      refs = [normaliseMessageId(first)].filter(Boolean);
    }
    for (let i = 0; i + 1 < refs.length; i++) {
      const parent = container(refs[i]!);
      const child = container(refs[i + 1]!);
      // Only link when the child has no parent yet and no loop would form.
      if (child.parent === null && parent !== child && !isDescendant(parent, child)) link(child, parent);
    }
    // 1.B: the last reference is the parent, replacing any earlier guess.
    const last = refs.length > 0 ? container(refs[refs.length - 1]!) : null;
    if (last && last !== self && !isDescendant(last, self)) link(self, last);
    else if (!last) unlink(self);
  });

  // Step 2: the roots.
  const root: Container = { item: null, order: -1, parent: null, children: [] };
  for (const c of all) if (c.parent === null) link(c, root);

  // Step 3: prune dummies.
  prune(root, true);

  // Step 4: sort the roots by date (a dummy by its first child after sorting its children).
  sortSiblings(root, false);

  // Step 5: merge roots by base subject.
  mergeBySubject(root);

  // Step 6: sort every set of siblings, youngest level first.
  sortSiblings(root, true);

  return root.children.map(toNode);
}

function prune(parent: Container, isRoot: boolean): void {
  for (let i = 0; i < parent.children.length; ) {
    const c = parent.children[i]!;
    prune(c, false);
    if (c.item === null) {
      if (c.children.length === 0) {
        parent.children.splice(i, 1);
        c.parent = null;
        continue;
      }
      // Promote the children unless that makes several of them roots.
      if (!isRoot || c.children.length === 1) {
        const kids = c.children;
        parent.children.splice(i, 1, ...kids);
        for (const k of kids) k.parent = parent;
        c.children = [];
        c.parent = null;
        continue;
      }
    }
    i++;
  }
}

function sortKey(c: Container): [number, number] {
  if (c.item) return [dateOf(c.item), c.order];
  const first = c.children[0];
  return first ? sortKey(first) : [0, Number.MAX_SAFE_INTEGER];
}

function sortSiblings(c: Container, recursive: boolean): void {
  for (const k of c.children) {
    if (recursive || k.item === null) sortSiblings(k, recursive);
  }
  c.children.sort((a, b) => {
    const [da, oa] = sortKey(a);
    const [db, ob] = sortKey(b);
    return da - db || oa - ob;
  });
}

function subjectOf(c: Container): ThreadItem | null {
  return c.item ?? c.children[0]?.item ?? null;
}

function mergeBySubject(root: Container): void {
  const table = new Map<string, Container>();
  // B: one container per subject.
  for (const c of root.children) {
    const item = subjectOf(c);
    if (!item) continue;
    const subject = foldSubject(item.baseSubject);
    if (!subject) continue;
    const old = table.get(subject);
    if (!old) {
      table.set(subject, c);
      continue;
    }
    const oldItem = old.item;
    if (oldItem && (c.item === null || (isReplyOrForward(oldItem) && c.item && !isReplyOrForward(c.item)))) {
      table.set(subject, c);
    }
  }
  // C: merge.
  for (const c of [...root.children]) {
    if (c.parent !== root) continue;
    const item = subjectOf(c);
    if (!item) continue;
    const subject = foldSubject(item.baseSubject);
    if (!subject) continue;
    const main = table.get(subject);
    if (!main || main === c) continue;
    if (main.item === null && c.item === null) {
      for (const k of [...c.children]) link(k, main);
      unlink(c);
    } else if (main.item === null) {
      link(c, main);
    } else if (c.item !== null && isReplyOrForward(c.item) && !isReplyOrForward(main.item)) {
      link(c, main);
    } else {
      const dummy: Container = { item: null, order: Number.MAX_SAFE_INTEGER, parent: null, children: [] };
      const at = root.children.indexOf(main);
      link(main, dummy);
      link(c, dummy);
      dummy.parent = root;
      root.children.splice(Math.max(0, at), 0, dummy);
      table.set(subject, dummy);
    }
  }
}

function toNode(c: Container): ThreadNode {
  return { id: c.item ? c.item.id : null, children: c.children.map(toNode) };
}

function foldSubject(s: string): string {
  return s.normalize('NFKD').toUpperCase();
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "(1 2 (3)(4))": a single child is written inline, several each in parentheses. */
export function formatThreads(threads: readonly ThreadNode[]): string {
  return threads.map((t) => `(${formatNode(t)})`).join('');
}

function formatNode(n: ThreadNode): string {
  if (n.id === null) return n.children.map((k) => `(${formatNode(k)})`).join('');
  let s = String(n.id);
  let cur = n;
  while (cur.children.length === 1 && cur.children[0]!.id !== null) {
    cur = cur.children[0]!;
    s += ' ' + cur.id;
  }
  if (cur.children.length > 0) s += ' ' + cur.children.map((k) => `(${formatNode(k)})`).join('');
  return s;
}
