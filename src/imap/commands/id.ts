/** ID (RFC 2971): logs what the client says it is, tells it what we are. */
import { ParseError } from '../parser/cursor.js';
import { quote } from '../responses/encode.js';
import { ANY, command } from './types.js';

export const idCommand = command({
  name: 'ID',
  states: ANY,
  parse(c) {
    c.sp();
    if (c.tryWord('NIL')) return null;
    const fields: Record<string, string | null> = {};
    const items = c.list((x) => {
      const v = x.nstring();
      return v === null ? null : v.toString('utf8');
    });
    if (items.length % 2 !== 0 || items.length > 60) throw new ParseError('ID takes field/value pairs (at most 30)');
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (k === null || k === undefined) throw new ParseError('ID field names are strings');
      fields[k.slice(0, 30)] = items[i + 1]?.slice(0, 1024) ?? null;
    }
    return fields;
  },
  async run(s, fields) {
    if (fields) s.log.info({ client: fields }, 'imap client id');
    s.send(`* ID (${quote('name')} ${quote('mailroom')} ${quote('vendor')} ${quote('mailroom')})`);
    return { text: 'ID completed' };
  },
});
