import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStructured, partInfo, stripComments } from './content.js';
import type { HeaderField } from './header.js';

const fields = (...f: Array<[string, string]>): HeaderField[] => f.map(([name, value]) => ({ name, value, codec: 'latin1' }));

test('parameters: quoting, whitespace, duplicates, garbage', () => {
  assert.deepEqual(parseStructured('text/plain; charset="utf-8"; format=flowed'), { value: 'text/plain', params: [['charset', 'utf-8'], ['format', 'flowed']] });
  assert.deepEqual(parseStructured('a/b; name="x \\"y\\" ; z"; n2=v'), { value: 'a/b', params: [['name', 'x "y" ; z'], ['n2', 'v']] });
  assert.deepEqual(parseStructured('a/b; name=a b c; x="y"').params, [['name', 'a'], ['x', 'y']], 'an unquoted value ends at whitespace');
  assert.deepEqual(parseStructured('multipart/mixed; boundary=abc  (comment) ; Charset = X').params, [['boundary', 'abc'], ['charset', 'X']]);
  assert.deepEqual(parseStructured('a/b; junk; =v; k=1; K=2').params, [['k', '1']], 'no "=", no name, duplicates: first wins');
  assert.deepEqual(parseStructured('a/b; k=').params, [['k', '']]);
  assert.deepEqual(parseStructured('a/b; k="unterminated').params, [['k', 'unterminated']]);
});

test('RFC 2231: extended values, continuations, charsets, precedence', () => {
  assert.deepEqual(parseStructured("a/b; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A").params, [['title', 'This is ***fun***']]);
  assert.deepEqual(
    parseStructured(`a/b; URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"`).params,
    [['url', 'ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar']],
  );
  assert.deepEqual(
    parseStructured(`a/b; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn't it!"`).params,
    [['title', "This is even more ***fun*** isn't it!"]],
  );
  assert.deepEqual(parseStructured("a/b; filename*=iso-8859-1''M%FCller.pdf").params, [['filename', 'Müller.pdf']]);
  assert.deepEqual(parseStructured("a/b; filename*1*=%AC.txt; filename*0*=utf-8''%E2%82").params, [['filename', '€.txt']], 'segments out of order, a character split across them');
  assert.deepEqual(parseStructured("a/b; name=\"plain.txt\"; x=1; name*=utf-8''%C3%A9.txt").params, [['name', 'é.txt'], ['x', '1']], 'the extended form wins, in the first position');
  assert.deepEqual(parseStructured("a/b; name*=''no%20charset").params, [['name', 'no charset']]);
});

test('partInfo: defaults, MIME-Version rule, digest, boundary bytes', () => {
  const none = partInfo([], false);
  assert.deepEqual([none.type, none.subtype, none.params, none.encoding], ['text', 'plain', [['charset', 'us-ascii']], '7bit']);
  const digest = partInfo([], true);
  assert.deepEqual([digest.type, digest.subtype, digest.params], ['message', 'rfc822', []]);

  const textNoCharset = partInfo(fields(['content-type', 'text/html; name=x']), false);
  assert.deepEqual(textNoCharset.params, [['name', 'x'], ['charset', 'us-ascii']], 'default charset goes last');

  const nonMime = fields(['content-transfer-encoding', 'base64'], ['content-disposition', 'attachment']);
  assert.deepEqual([partInfo(nonMime, false, true).encoding, partInfo(nonMime, false, true).disposition], ['7bit', null], 'a message header without MIME-Version or Content-Type');
  assert.equal(partInfo(nonMime, false, false).encoding, 'base64', 'a MIME part header always counts');
  assert.equal(partInfo([...nonMime, { name: 'mime-version', value: '1.0', codec: 'latin1' }], false, true).encoding, 'base64');

  assert.equal(partInfo(fields(['content-transfer-encoding', 'Quoted-Printable (sic)']), false).encoding, 'quoted-printable');
  assert.deepEqual(partInfo(fields(['content-type', 'Multipart/Mixed; Boundary="a b"']), false).delimiter, Buffer.from('--a b'));
  const utf8: HeaderField[] = [{ name: 'content-type', value: 'multipart/mixed; boundary="ü"', codec: 'utf8' }];
  assert.deepEqual(partInfo(utf8, false).delimiter, Buffer.from('--ü', 'utf8'), 'boundary bytes as they stand in the message');
  assert.equal(partInfo(fields(['content-type', 'multipart/mixed; boundary=' + 'x'.repeat(1001)]), false).delimiter, null);
  assert.deepEqual(partInfo(fields(['content-type', 'application/pdf name=x.pdf']), false).subtype, 'pdf');
  assert.deepEqual(partInfo(fields(['content-language', ' en (English) , de ,']), false).language, ['en', 'de']);
});

test('stripComments keeps quoted strings and handles nesting and escapes', () => {
  assert.equal(stripComments('a (b (c) d) e'), 'a  e');
  assert.equal(stripComments('"(not a comment)" x'), '"(not a comment)" x');
  assert.equal(stripComments('a (b \\) c) d'), 'a  d');
  assert.equal(stripComments('a (unterminated'), 'a ');
});
