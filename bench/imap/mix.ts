/**
 * The realistic mix one bench client runs against a server for a fixed time:
 * what a mail client does all day. Each client has its own user and INBOX.
 *
 *   fetch headers of a page of 50  30%   fetch one whole message   20%
 *   store a flag                   15%   search (subject/unseen/from) 10%
 *   append a message                7%   delete+expunge an appended 6%
 *   IDLE briefly                    5%   NOOP                       4%
 *   re-SELECT INBOX                 3%
 */
import { seededRandom } from '../peers/corpus.js';
import { BenchClient } from './client.js';

export type Op = 'headers' | 'body' | 'store' | 'search' | 'append' | 'expunge' | 'idle' | 'noop' | 'select';

const WEIGHTS: Array<[Op, number]> = [
  ['headers', 30],
  ['body', 20],
  ['store', 15],
  ['search', 10],
  ['append', 7],
  ['expunge', 6],
  ['idle', 5],
  ['noop', 4],
  ['select', 3],
];

export interface MixResult {
  commands: number;
  byOp: Record<Op, { count: number; ms: number[] }>;
  errors: string[];
}

const SEARCH_WORDS = ['meeting', 'report', 'invoice', 'project', 'update', 'lunch', 'review', 'plan'];

function pick(rand: () => number): Op {
  let r = rand() * 100;
  for (const [op, w] of WEIGHTS) {
    if ((r -= w) < 0) return op;
  }
  return 'noop';
}

export async function runMix(opts: {
  port: number;
  user: string;
  password: string;
  seconds: number;
  seed: number;
  appendMessage: Buffer;
}): Promise<MixResult> {
  const rand = seededRandom(opts.seed);
  const byOp = Object.fromEntries(WEIGHTS.map(([op]) => [op, { count: 0, ms: [] as number[] }])) as MixResult['byOp'];
  const result: MixResult = { commands: 0, byOp, errors: [] };
  const c = await BenchClient.connect(opts.port);
  try {
    await c.cmd(`LOGIN ${opts.user} ${opts.password}`);
    await c.cmd('SELECT INBOX');
    const all = await c.cmd('UID SEARCH ALL', true);
    let uids = (all.lines.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2).map(Number);
    const appended: number[] = [];
    const deadline = Date.now() + opts.seconds * 1000;
    const any = () => uids[Math.floor(rand() * uids.length)]!;
    while (Date.now() < deadline) {
      const op = pick(rand);
      const t0 = performance.now();
      let n = 1;
      try {
        switch (op) {
          case 'headers': {
            const start = Math.floor(rand() * Math.max(1, uids.length - 50));
            const a = uids[start]!;
            const b = uids[Math.min(uids.length - 1, start + 49)]!;
            await c.cmd(`UID FETCH ${a}:${b} (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)])`);
            break;
          }
          case 'body':
            await c.cmd(`UID FETCH ${any()} (BODY.PEEK[])`);
            break;
          case 'store':
            await c.cmd(`UID STORE ${any()} ${rand() < 0.5 ? '+' : '-'}FLAGS.SILENT (${rand() < 0.7 ? '\\Seen' : '\\Flagged'})`);
            break;
          case 'search': {
            const r = rand();
            if (r < 0.5) await c.cmd(`UID SEARCH SUBJECT ${SEARCH_WORDS[Math.floor(rand() * SEARCH_WORDS.length)]}`);
            else if (r < 0.8) await c.cmd('UID SEARCH UNSEEN');
            else await c.cmd('UID SEARCH FROM example');
            break;
          }
          case 'append': {
            const status = await c.append('INBOX', opts.appendMessage);
            const m = /APPENDUID \d+ (\d+)/.exec(status);
            if (m) appended.push(Number(m[1]));
            break;
          }
          case 'expunge': {
            const u = appended.shift();
            if (u === undefined) {
              await c.cmd('NOOP');
              break;
            }
            await c.cmd(`UID STORE ${u} +FLAGS.SILENT (\\Deleted)`);
            await c.cmd(`UID EXPUNGE ${u}`);
            n = 2;
            break;
          }
          case 'idle':
            await c.idle(20);
            break;
          case 'noop':
            await c.cmd('NOOP');
            break;
          case 'select': {
            await c.cmd('SELECT INBOX');
            const again = await c.cmd('UID SEARCH ALL', true);
            uids = (again.lines.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2).map(Number);
            n = 2;
            break;
          }
        }
      } catch (err) {
        if (result.errors.length < 5) result.errors.push(`${op}: ${(err as Error).message}`);
        // Only completed commands count; a lost connection ends this client.
        if (/connection closed/.test((err as Error).message)) break;
        continue;
      }
      result.commands += n;
      byOp[op].count += n;
      byOp[op].ms.push(performance.now() - t0);
    }
    // Leave the mailbox as it was.
    try {
      await c.cmd('SELECT INBOX');
      for (const u of appended) {
        await c.cmd(`UID STORE ${u} +FLAGS.SILENT (\\Deleted)`);
        await c.cmd(`UID EXPUNGE ${u}`);
      }
    } catch (err) {
      result.errors.push(`cleanup: ${(err as Error).message}`);
    }
    await c.cmd('LOGOUT').catch(() => {});
  } finally {
    c.close();
  }
  return result;
}
