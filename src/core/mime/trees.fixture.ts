/**
 * Random MIME trees for property tests (index.property.test.ts) and the
 * comparison with Dovecot (dovecot.test.ts). Test support only: nothing in the
 * server imports it.
 */
import fc from 'fast-check';

export type Node =
  | { kind: 'leaf'; type: string; encoding: string; extra: string[]; lines: string[] }
  | { kind: 'multipart'; subtype: string; children: Node[]; preamble: string[]; epilogue: string[] }
  | { kind: 'message'; subject: string; headers: string[]; child: Node };

/** MIME header fields a leaf may carry besides Content-Type and Content-Transfer-Encoding. */
const LEAF_FIELDS = [
  'Content-Disposition: attachment; filename="a b.txt"; size=12',
  'Content-Disposition: inline',
  'Content-ID: <part.1@example.org>',
  'Content-Description: a few words',
  'Content-Language: en, de',
  'Content-Language: fr',
  'Content-Location: http://example.org/x',
  'Content-MD5: Q2hlY2s=',
];

/** Message header fields an encapsulated message may carry. */
const MESSAGE_FIELDS = [
  'From: "Doe, Jane" <jane@example.org>',
  'From: bob@example.net (Bob B)',
  'To: Team: a@x.org, B <b@x.org>;, c@y.org',
  'Cc: undisclosed-recipients:;',
  'Reply-To: <@relay.example:reply@example.org>',
  'Date: Tue, 2 Jan 2024 10:00:00 +0100',
  'Message-ID: <m1@example.org>',
  'In-Reply-To: <m0@example.org>',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=',
];

const lineArb = fc
  .array(fc.constantFrom('a', 'b', ' ', '=', 'é', '\t', '-', 'x', '3D', '.', 'Zz'), { maxLength: 12 })
  .map((cs) => cs.join(''))
  .filter((l) => !l.startsWith('--'));

const leafArb: fc.Arbitrary<Node> = fc.record({
  kind: fc.constant('leaf' as const),
  type: fc.constantFrom('text/plain; charset=utf-8', 'text/html', 'application/octet-stream'),
  encoding: fc.constantFrom('7bit', '8bit', 'quoted-printable', 'base64'),
  extra: fc.subarray(LEAF_FIELDS, { maxLength: 3 }),
  lines: fc.array(lineArb, { maxLength: 5 }),
});

export const treeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('mixed', 'alternative', 'related', 'digest'),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
      preamble: fc.array(lineArb, { maxLength: 2 }),
      epilogue: fc.array(lineArb, { maxLength: 2 }),
    }),
    fc.record({
      kind: fc.constant('message' as const),
      subject: fc.string({ maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, '')),
      headers: fc.subarray(MESSAGE_FIELDS, { maxLength: 4 }),
      child: tie('node'),
    }),
  ),
})).node;

/** Serialises a tree; boundaries are unique per position so none is a prefix of another. */
export function render(node: Node, nl: string, id = 'r'): string {
  const header = (h: string[]) => h.map((l) => l + nl).join('') + nl;
  switch (node.kind) {
    case 'leaf':
      return header([`Content-Type: ${node.type}`, `Content-Transfer-Encoding: ${node.encoding}`, ...node.extra]) + node.lines.join(nl);
    case 'multipart': {
      const b = `=_${id}_`;
      let s = header([`Content-Type: multipart/${node.subtype}; boundary="${b}"`]);
      s += node.preamble.map((l) => l + nl).join('');
      node.children.forEach((c, i) => {
        s += `--${b}${nl}` + render(c, nl, `${id}.${i}`) + nl;
      });
      s += `--${b}--` + node.epilogue.map((l) => nl + l).join('');
      return s;
    }
    case 'message':
      return (
        header(['Content-Type: message/rfc822']) +
        `Subject: ${node.subject}${nl}` +
        node.headers.filter((h) => !h.startsWith('Subject:')).map((h) => h + nl).join('') +
        render(node.child, nl, `${id}m`)
      );
  }
}
