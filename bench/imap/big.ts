/**
 * One mailbox of 100,000 messages: how long SELECT, UID FETCH 1:* (FLAGS) and
 * a header SEARCH take, on mailroom and on Dovecot, median of 3 rounds.
 * Messages are 2-8 KB here (the count is what these commands scale with).
 */
import { generateCorpus } from '../peers/corpus.js';
import { median } from '../peers/stats.js';
import { BenchClient } from './client.js';
import { startDovecotBench, startMailroomBench, type BenchServer } from './servers.js';

const ROUNDS = 3;

async function time(c: BenchClient, text: string): Promise<number> {
  const t0 = performance.now();
  await c.cmd(text);
  return performance.now() - t0;
}

async function measure(server: BenchServer, needle: string): Promise<Record<string, number>> {
  const c = await BenchClient.connect(server.port);
  await c.cmd(`LOGIN ${server.users[0]} ${server.password}`);
  const select: number[] = [];
  const fetch: number[] = [];
  const search: number[] = [];
  const body: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    select.push(await time(c, 'SELECT INBOX'));
    fetch.push(await time(c, 'UID FETCH 1:* (FLAGS)'));
    search.push(await time(c, `UID SEARCH HEADER SUBJECT "${needle}"`));
    body.push(await time(c, 'UID SEARCH BODY "zebra"'));
    await c.cmd('UNSELECT');
  }
  await c.cmd('LOGOUT').catch(() => {});
  c.close();
  return { select: median(select), fetch: median(fetch), search: median(search), body: median(body) };
}

export async function runBig(opts: { messages: number; workers: number; wantOurs: boolean; wantPeer: boolean; log: (s: string) => void; dir: string }): Promise<void> {
  const { log } = opts;
  log(`IMAP big mailbox: ${opts.messages} messages, 2-8 KB; generating…`);
  const corpus = generateCorpus({ count: opts.messages, seed: 42, minKb: 2, maxKb: 8 });
  // A subject word that occurs in a few messages only.
  const needle = corpus[Math.floor(corpus.length / 2)]!.subject.split(/\s+/).filter((w) => w.length > 4).pop() ?? 'report';
  const raws = corpus.map((m) => m.raw);
  const results: Record<string, Record<string, number>> = {};
  if (opts.wantOurs) {
    const t0 = Date.now();
    const s = await startMailroomBench({ users: 1, messages: raws, workers: opts.workers, log, dir: opts.dir });
    log(`  mailroom loaded in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    try {
      results.mailroom = await measure(s, needle);
    } finally {
      await s.stop();
    }
  }
  if (opts.wantPeer) {
    const t0 = Date.now();
    const s = await startDovecotBench({ users: 1, messages: raws, log });
    log(`  dovecot loaded in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    try {
      results.dovecot = await measure(s, needle);
    } finally {
      await s.stop();
    }
  }
  log('');
  log(latencyTable(
    [
      ['SELECT INBOX', 'select'],
      ['UID FETCH 1:* (FLAGS)', 'fetch'],
      [`UID SEARCH HEADER SUBJECT "${needle}"`, 'search'],
      ['UID SEARCH BODY "zebra"', 'body'],
    ].map(([label, k]) => ({ label: label!, ours: results.mailroom?.[k!] ?? null, theirs: results.dovecot?.[k!] ?? null })),
  ));
}

/** Times in ms, "mailroom | dovecot | dovecot/mailroom" (> 1: mailroom is faster). */
export function latencyTable(rows: Array<{ label: string; ours: number | null; theirs: number | null }>): string {
  const f = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(1));
  const w = Math.max(...rows.map((r) => r.label.length), 10);
  const out = [`${'(ms)'.padEnd(w)}  ${'mailroom'.padStart(9)}  ${'dovecot'.padStart(9)}  dovecot/mailroom`];
  for (const r of rows) {
    const ratio = r.ours && r.theirs ? `${(r.theirs / r.ours).toFixed(2)}x` : '-';
    out.push(`${r.label.padEnd(w)}  ${f(r.ours).padStart(9)}  ${f(r.theirs).padStart(9)}  ${ratio}`);
  }
  return out.join('\n');
}
