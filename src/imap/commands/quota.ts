/** QUOTA (RFC 9208): one quota root "" per user, STORAGE in KiB from the user's quota. */
import { errors, no } from '../errors.js';
import { quote } from '../responses/encode.js';
import type { Session } from '../session.js';
import { AUTHENTICATED, command } from './types.js';

async function quotaLine(s: Session): Promise<string | null> {
  const q = await s.store.quota(s.user().id);
  if (q.limit === 0) return null;
  return `* QUOTA "" (STORAGE ${Math.ceil(q.used / 1024)} ${Math.floor(q.limit / 1024)})`;
}

export const getQuotaRootCommand = command({
  name: 'GETQUOTAROOT',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    return c.astring();
  },
  async run(s, raw) {
    const name = s.mailboxName(raw);
    if (!(await s.getMailbox(name))) throw errors.nonexistent();
    const line = await quotaLine(s);
    s.send(`* QUOTAROOT ${s.quotedMailbox(name)}${line ? ' ""' : ''}`);
    if (line) s.send(line);
    return { text: 'GETQUOTAROOT completed' };
  },
});

export const getQuotaCommand = command({
  name: 'GETQUOTA',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    return c.astring().toString('utf8');
  },
  async run(s, root) {
    const line = root === '' ? await quotaLine(s) : null;
    if (!line) throw errors.nonexistent(`No quota root ${quote(root)}`);
    s.send(line);
    return { text: 'GETQUOTA completed' };
  },
});

export const setQuotaCommand = command({
  name: 'SETQUOTA',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    c.astring();
    c.sp();
    c.list((x) => {
      const r = x.atom('a resource');
      x.sp();
      x.number();
      return r;
    });
    return null;
  },
  async run() {
    throw no('NOPERM', 'Quotas are set by the administrator');
  },
});
