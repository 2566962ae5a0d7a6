/**
 * Contract: store.search() answers exactly what core/search.ts's matchesSearch
 * says, on hand-picked cases and on generated mailboxes and search keys
 * (fast-check), including short needles, non-ASCII case folding, missing Date
 * headers, day boundaries and MODSEQ.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchesSearch } from '../../core/search.js';
import type { SearchKey } from '../../core/search-key.js';
import { isStoreError } from '../errors.js';
import type { Store } from '../types.js';
import { makeUser, putMessage, type MessageSpec } from './fixtures.js';
import type { ContractContext } from './suite.js';

const WORDS = ['Invoice', 'meeting', 'Straße', 'ÄRGER', 'naïve', 'ΣΟΦΙΑ', 'école', 'x', 'Q4', 'report', 'hello world', 'ab', 'abc%_', 'quote"d', 'año'];
const DAYS = ['2023-12-31', '2024-01-01', '2024-01-02', '2024-01-03'];
// Internal dates around UTC midnights, to catch off-by-one-day errors.
const DATES = [
  Date.UTC(2023, 11, 31, 23, 59, 59, 999),
  Date.UTC(2024, 0, 1, 0, 0, 0, 0),
  Date.UTC(2024, 0, 1, 12, 0, 0),
  Date.UTC(2024, 0, 2, 23, 59, 59),
  Date.UTC(2024, 0, 3, 0, 0, 1),
];
const FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Label1', 'Work', '$Junk'];
const FIELDS = ['subject', 'from', 'to', 'x-tag', 'reply-to'];

interface GenMessage {
  spec: MessageSpec;
  flags: string[];
  date: number;
}

const wordArb = fc.constantFrom(...WORDS);
const phraseArb = fc.array(wordArb, { minLength: 1, maxLength: 4 }).map((w) => w.join(' '));
const messageArb: fc.Arbitrary<GenMessage> = fc.record({
  spec: fc.record({
    subject: phraseArb,
    from: fc.constantFrom('Ann <ann@example.org>', 'BOB@Example.NET', '"Zoë" <zoe@ex.org>'),
    text: fc.array(phraseArb, { maxLength: 5 }).map((l) => l.join('\r\n')),
    headers: fc.oneof(fc.constant([] as Array<[string, string]>), phraseArb.map((p) => [['x-tag', p]] as Array<[string, string]>)),
    sentDay: fc.constantFrom(...DAYS, null),
  }),
  flags: fc.subarray(FLAGS),
  date: fc.constantFrom(...DATES),
});

/** A needle: a piece of a word or phrase, in random case, 0 to 8 characters. */
const needleArb = fc
  .tuple(phraseArb, fc.nat(), fc.integer({ min: 0, max: 8 }), fc.constantFrom('lower', 'upper', 'same'))
  .map(([p, start, len, caseMode]) => {
    const chars = [...p];
    const s = start % Math.max(1, chars.length);
    const piece = chars.slice(s, s + len).join('');
    return caseMode === 'lower' ? piece.toLowerCase() : caseMode === 'upper' ? piece.toUpperCase() : piece;
  });

const flagNameArb = fc.constantFrom(...FLAGS, '\\seen', '\\DELETED', 'work', '$label1', 'Absent');

const keyArb: fc.Arbitrary<SearchKey> = fc.letrec<{ key: SearchKey }>((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<SearchKey>({ op: 'all' }),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 14 })), { maxLength: 3 }).map((ranges): SearchKey => ({ op: 'uid', ranges })),
    fc.record({ flag: flagNameArb, set: fc.boolean() }).map(({ flag, set }): SearchKey => ({ op: 'flag', flag, set })),
    fc.record({ cmp: fc.constantFrom('before' as const, 'on' as const, 'since' as const), day: fc.constantFrom(...DAYS) }).map((x): SearchKey => ({ op: 'internalDate', ...x })),
    fc.record({ cmp: fc.constantFrom('before' as const, 'on' as const, 'since' as const), day: fc.constantFrom(...DAYS) }).map((x): SearchKey => ({ op: 'sentDate', ...x })),
    fc.record({ cmp: fc.constantFrom('larger' as const, 'smaller' as const), bytes: fc.integer({ min: 250, max: 500 }) }).map((x): SearchKey => ({ op: 'size', ...x })),
    fc.record({ field: fc.constantFrom(...FIELDS, 'SUBJECT', 'X-Tag'), value: fc.oneof(needleArb, fc.constant('')) }).map((x): SearchKey => ({ op: 'header', ...x })),
    needleArb.map((value): SearchKey => ({ op: 'body', value })),
    needleArb.map((value): SearchKey => ({ op: 'text', value })),
    fc.integer({ min: 0, max: 40 }).map((min): SearchKey => ({ op: 'modseq', min })),
    fc.record({ cmp: fc.constantFrom('older' as const, 'younger' as const), seconds: fc.constantFrom(60, 10 ** 10) }).map((x): SearchKey => ({ op: 'age', ...x })),
    fc.array(tie('key'), { maxLength: 3 }).map((keys): SearchKey => ({ op: 'and', keys })),
    fc.array(tie('key'), { maxLength: 3 }).map((keys): SearchKey => ({ op: 'or', keys })),
    tie('key').map((key): SearchKey => ({ op: 'not', key })),
  ),
})).key;

let boxCounter = 0;

async function fillMailbox(s: Store, userId: number, msgs: GenMessage[], flagOps: Array<[number, string[]]>) {
  const box = await s.createMailbox(userId, `search-${++boxCounter}`);
  for (const g of msgs) {
    const m = await putMessage(s, g.spec);
    await s.append(box.id, { blob: m.blob, index: m.index, flags: g.flags, internalDate: new Date(g.date) });
  }
  // Some flag changes, so that MODSEQs differ between messages.
  for (const [uid, flags] of flagOps) await s.storeFlags(box.id, [uid], 'replace', flags);
  return box;
}

async function expected(s: Store, mailboxId: number, key: SearchKey): Promise<number[]> {
  const all = await s.listMessages(mailboxId);
  const recs = await s.getMessages(
    mailboxId,
    all.map((m) => m.uid),
  );
  return recs.filter((r) => matchesSearch(key, r)).map((r) => r.uid);
}

export function searchContract(t: ContractContext): void {
  describe('search', () => {
    it('hand-picked keys', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await fillMailbox(
        s,
        u.id,
        [
          { spec: { subject: 'Quarterly Invoice', text: 'Please pay the STRASSE fee', sentDay: '2024-01-01' }, flags: ['\\Seen'], date: DATES[1]! },
          { spec: { subject: 'Lunch?', text: 'Straße café at noon', headers: [['x-tag', 'Work']], sentDay: null }, flags: ['Work'], date: DATES[2]! },
          { spec: { subject: 'ab', text: 'tiny', sentDay: '2024-01-03' }, flags: ['\\Deleted', '\\Seen'], date: DATES[4]! },
        ],
        [],
      );
      const q = (key: SearchKey) => s.search(box.id, key);
      assert.deepEqual(await q({ op: 'all' }), [1, 2, 3]);
      assert.deepEqual(await q({ op: 'header', field: 'Subject', value: 'invoice' }), [1]);
      assert.deepEqual(await q({ op: 'header', field: 'subject', value: 'AB' }), [3], 'a two-character needle');
      assert.deepEqual(await q({ op: 'header', field: 'x-tag', value: '' }), [2], 'HEADER f "" = field present');
      assert.deepEqual(await q({ op: 'header', field: 'to', value: 'invoice' }), [], 'the needle must be in that field');
      assert.deepEqual(await q({ op: 'body', value: 'STRAßE' }), [2], 'Unicode case-insensitive');
      assert.deepEqual(await q({ op: 'body', value: 'strasse' }), [1]);
      assert.deepEqual(await q({ op: 'text', value: 'lunch' }), [2]);
      assert.deepEqual(await q({ op: 'text', value: 'x-tag: w' }), [2], 'TEXT sees header names too');
      assert.deepEqual(await q({ op: 'flag', flag: '\\seen', set: true }), [1, 3]);
      assert.deepEqual(await q({ op: 'flag', flag: 'WORK', set: true }), [2]);
      assert.deepEqual(await q({ op: 'flag', flag: '\\Deleted', set: false }), [1, 2]);
      assert.deepEqual(await q({ op: 'internalDate', cmp: 'on', day: '2024-01-01' }), [1, 2]);
      assert.deepEqual(await q({ op: 'internalDate', cmp: 'before', day: '2024-01-01' }), []);
      assert.deepEqual(await q({ op: 'internalDate', cmp: 'since', day: '2024-01-03' }), [3]);
      assert.deepEqual(await q({ op: 'sentDate', cmp: 'on', day: '2024-01-01' }), [1, 2], 'no Date header: the internal date counts');
      assert.deepEqual(await q({ op: 'uid', ranges: [[3, 2]] }), [2, 3]);
      assert.deepEqual(await q({ op: 'or', keys: [] }), []);
      assert.deepEqual(await q({ op: 'and', keys: [] }), [1, 2, 3]);
      assert.deepEqual(await q({ op: 'not', key: { op: 'or', keys: [{ op: 'uid', ranges: [[1, 1]] }, { op: 'body', value: 'tiny' }] } }), [2]);
      const sizes = (await s.listMessages(box.id)).map((m) => m.size);
      assert.deepEqual(await q({ op: 'size', cmp: 'larger', bytes: Math.min(...sizes) }), [1, 2, 3].filter((_, i) => sizes[i]! > Math.min(...sizes)));
      const hm = (await s.mailboxStatus(box.id)).highestModseq;
      assert.deepEqual(await q({ op: 'modseq', min: hm }), [3]);
      assert.deepEqual(await q({ op: 'age', cmp: 'older', seconds: 60 }), [1, 2, 3]);
      await assert.rejects(q({ op: 'internalDate', cmp: 'on', day: '2024-13-45' }), (e) => isStoreError(e, 'invalid'));
      // A client listing thousands of single UIDs (and overlapping ranges) is answered, not refused.
      const many: Array<[number, number]> = Array.from({ length: 20_000 }, (_, i) => [2 * i + 1, 2 * i + 1]);
      assert.deepEqual(await q({ op: 'uid', ranges: many }), [1, 3]);
      assert.deepEqual(await q({ op: 'uid', ranges: [...many, [2, 2], [1, 2]] }), [1, 2, 3]);
      // Nesting: 40 levels are answered; absurd depth is refused as invalid, never an internal error.
      let deep: SearchKey = { op: 'all' };
      for (let i = 0; i < 40; i++) deep = { op: 'not', key: deep };
      assert.deepEqual(await q(deep), [1, 2, 3]);
      for (let i = 0; i < 5000; i++) deep = { op: 'not', key: deep };
      await assert.rejects(q(deep), (e) => isStoreError(e, 'invalid'));
      await assert.rejects(s.search(99999999, { op: 'all' }), (e) => isStoreError(e, 'notFound'));
    });

    it('matches core/search.ts on generated mailboxes and keys', async () => {
      const s = t.store();
      const u = await makeUser(s);
      await fc.assert(
        fc.asyncProperty(
          fc.array(messageArb, { minLength: 1, maxLength: 12 }),
          fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.subarray(FLAGS)), { maxLength: 4 }),
          fc.array(keyArb, { minLength: 1, maxLength: 8 }),
          async (msgs, flagOps, keys) => {
            const box = await fillMailbox(s, u.id, msgs, flagOps);
            for (const key of keys) {
              const got = await s.search(box.id, key);
              const want = await expected(s, box.id, key);
              assert.deepEqual(got, want, `search ${JSON.stringify(key)}`);
            }
            await s.deleteMailbox(box.id);
          },
        ),
        { numRuns: Number(process.env.STORE_CONTRACT_RUNS ?? 40) },
      );
    });
  });
}
