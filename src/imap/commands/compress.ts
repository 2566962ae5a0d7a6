/** COMPRESS DEFLATE (RFC 4978): raw deflate both ways from right after the OK. */
import { no } from '../errors.js';
import { ParseError } from '../parser/cursor.js';
import { AUTHENTICATED, command } from './types.js';

export const compressCommand = command({
  name: 'COMPRESS',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    const alg = c.atom('an algorithm').toUpperCase();
    if (alg !== 'DEFLATE') throw new ParseError(`Unknown compression algorithm ${alg}`);
    return alg;
  },
  async run(s, _alg, tag) {
    if (s.conn.compressed) throw no('COMPRESSIONACTIVE', 'Compression is already active');
    // Pending mailbox updates go out before the switch, uncompressed.
    if (s.state.kind === 'selected') await s.sync(true);
    s.send(`${tag} OK DEFLATE active`);
    await s.conn.flush();
    s.conn.startCompression();
    return { text: '', silent: true };
  },
});
