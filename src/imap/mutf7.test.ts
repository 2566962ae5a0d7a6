import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMutf7, encodeMutf7, Utf7Error } from './mutf7.js';

describe('modified UTF-7', () => {
  it('encodes the RFC 3501 examples', () => {
    assert.equal(encodeMutf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
    assert.equal(encodeMutf7('A&B'), 'A&-B');
    assert.equal(encodeMutf7('INBOX'), 'INBOX');
  });

  it('decodes them back', () => {
    assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
    assert.equal(decodeMutf7('Entw&APw-rfe'), 'Entwürfe');
    assert.equal(decodeMutf7('A&-B'), 'A&B');
  });

  it('round-trips any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), (s) => assert.equal(decodeMutf7(encodeMutf7(s)), s)));
  });

  it('rejects what is not modified UTF-7', () => {
    for (const bad of ['&U,BTFw', '&Jjo!-', 'caf\u00e9', '&AGE-' /* encoded "a" */, '&2D0-' /* half a surrogate pair */, '&U,BTF-' /* pad bits */, '&AAA-' /* NUL */, '&AA-' /* odd bytes */]) {
      assert.throws(() => decodeMutf7(bad), Utf7Error, bad);
    }
  });
});
