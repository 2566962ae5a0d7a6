/**
 * The substring search index: one trigram FTS5 row per indexed blob
 * (blob_search, rowid = blobs.seq) holding the lower-cased header block and
 * body text, without positions. It only narrows candidates: search.ts checks
 * every candidate's stored text exactly, so the index may lag behind
 * deliveries (search_state = 0 rows are scanned instead) without changing any
 * answer.
 *
 * Indexing costs about as much CPU as parsing the message, so by default it
 * runs off the delivery path: a background pass indexes pending blobs in
 * batches (one transaction each) while the process is otherwise idle. Several
 * processes may run it at once: each batch re-reads search_state inside its
 * IMMEDIATE transaction, so no blob is indexed twice.
 */
import type { Ctx } from './db.js';

/**
 * Body text beyond this many characters is not indexed (indexing costs CPU in
 * proportion to the text); such blobs get search_state 2 and their text is
 * checked by scanning, like blobs not indexed yet, so answers stay exact.
 */
export const INDEXED_TEXT_CHARS = 64 * 1024;

/**
 * What goes into the index: the distinct whitespace-separated words of the
 * lower-cased text, once each. Tokenising is most of the cost and a word that
 * recurs adds nothing; trigrams that span words are lost, so searches only
 * look up trigrams within the needle's words (search.ts: trigramQuery) and the
 * exact check does the rest.
 */
export function searchIndexText(hdrs: string, body: string): string {
  const words = new Set(`${hdrs}\n${body}`.toLowerCase().split(/\s+/));
  words.delete('');
  return [...words].join(' ');
}

/** search_state: 0 = not indexed yet, 1 = fully indexed, 2 = indexed up to INDEXED_TEXT_CHARS. */
export function indexBlobText(ctx: Ctx, seq: number, hdrs: string, body: string): void {
  const partial = body.length > INDEXED_TEXT_CHARS;
  const text = partial ? body.slice(0, INDEXED_TEXT_CHARS) : body;
  ctx.stmt('INSERT INTO blob_search (rowid, text) VALUES (?, ?)').run(seq, searchIndexText(hdrs, text));
  ctx.stmt('UPDATE blobs SET search_state = ? WHERE seq = ?').run(partial ? 2 : 1, seq);
}

/**
 * Indexes pending blobs in one transaction until `limit` blobs or `budgetMs`
 * of work; returns how many. The index is derived data (a crash loses at most
 * entries that are then simply pending again, atomically with their
 * search_state), so these commits skip the fsync: synchronous=NORMAL for the
 * indexing transaction only; the next delivery's FULL commit makes it durable.
 */
export function indexPending(ctx: Ctx, limit: number, budgetMs = Infinity): number {
  const start = performance.now();
  ctx.db.pragma('synchronous = NORMAL');
  try {
    return ctx.write(() => {
      const rows = ctx
        .stmt(
          `SELECT b.seq, x.hdrs_text, x.body_text FROM blobs b JOIN blob_index x ON x.seq = b.seq
           WHERE b.search_state = 0 AND b.indexed = 1 ORDER BY b.seq LIMIT ?`,
        )
        .all(limit) as Array<{ seq: number; hdrs_text: string; body_text: string }>;
      let n = 0;
      for (const r of rows) {
        indexBlobText(ctx, r.seq, r.hdrs_text, r.body_text);
        n++;
        if (performance.now() - start > budgetMs) break;
      }
      return n;
    });
  } finally {
    ctx.db.pragma('synchronous = FULL');
  }
}

export function pendingCount(ctx: Ctx): number {
  return (ctx.stmt('SELECT count(*) AS n FROM blobs WHERE search_state = 0 AND indexed = 1').get() as { n: number }).n;
}

export interface SearchIndexer {
  /** `count` blobs were delivered: index them soon. */
  poke(count?: number): void;
  /** Index everything pending now; resolves with the number indexed. */
  drain(): Promise<number>;
  stop(): void;
}

/**
 * Background indexing. Small transactions make FTS5 flush and merge tiny
 * segments, so the indexer waits for work to gather: it runs when at least
 * `minBatch` deliveries are waiting, or once deliveries pause for `settleMs`.
 * Each run indexes for at most `sliceMs` (one transaction), then yields to the
 * event loop so that sessions and deliveries go first, and goes on while a
 * backlog remains. A slow timer picks up blobs that another process delivered.
 */
export function startSearchIndexer(ctx: Ctx, opts: { sliceMs?: number; minBatch?: number; settleMs?: number; idleMs?: number } = {}): SearchIndexer {
  const sliceMs = opts.sliceMs ?? 25;
  const minBatch = opts.minBatch ?? 32;
  const settleMs = opts.settleMs ?? 100;
  const batch = 256;
  let waiting = 0;
  let immediate: NodeJS.Immediate | null = null;
  let settle: NodeJS.Timeout | null = null;
  let stopped = false;

  const pass = () => {
    immediate = null;
    if (stopped) return;
    waiting = 0;
    let n = 0;
    try {
      n = indexPending(ctx, batch, sliceMs);
    } catch {
      return; // busy or closing: the idle timer tries again later
    }
    // Stopped by the time budget or the batch size: more may be waiting.
    if (n > 0) runSoon();
  };
  const runSoon = () => {
    if (!immediate && !stopped) immediate = setImmediate(pass);
  };
  const timer = setInterval(runSoon, opts.idleMs ?? 5000);
  timer.unref();

  return {
    poke(count = 1) {
      if (stopped) return;
      waiting += count;
      if (waiting >= minBatch) return runSoon();
      if (settle) clearTimeout(settle);
      settle = setTimeout(runSoon, settleMs);
      settle.unref();
    },
    async drain() {
      let total = 0;
      for (let n = batch; n === batch; total += n) n = indexPending(ctx, batch);
      return total;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      if (immediate) clearImmediate(immediate);
      if (settle) clearTimeout(settle);
      immediate = null;
      settle = null;
    },
  };
}
