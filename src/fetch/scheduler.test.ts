import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { ExternalAccount } from '../store/types.js';
import { FetchScheduler, spreadOffset } from './scheduler.js';
import type { PollResult } from './poller.js';

function account(id: number, interval: number, extra: Partial<ExternalAccount> = {}): ExternalAccount {
  return {
    id,
    name: `acct${id}`,
    protocol: 'pop3',
    host: '127.0.0.1',
    port: 110,
    tls: 'none',
    username: 'u',
    sealedPassword: 'x',
    interval,
    folders: [],
    keep: 'keep',
    deleteAfterDays: 0,
    mode: 'single',
    targetUserId: 1,
    enabled: true,
    lastPollAt: null,
    lastError: null,
    lastCount: 0,
    createdAt: new Date(0),
    ...extra,
  };
}

const logger = pino({ level: 'silent' });
const ok = (a: ExternalAccount): PollResult => ({ account: a.name, fetched: 0, failed: 0, deleted: 0, skipped: false, error: null, durationMs: 0 });

/** A poll that finishes when the test says so. */
function gatedPoll() {
  const calls: Array<{ id: number; at: number; finish: () => void }> = [];
  let clock = 0;
  return {
    calls,
    setClock: (t: number) => (clock = t),
    poll: (a: ExternalAccount) =>
      new Promise<PollResult>((resolve) => {
        calls.push({ id: a.id, at: clock, finish: () => resolve(ok(a)) });
      }),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('spreadOffset', () => {
  it('is stable, within the span, and spreads consecutive ids', () => {
    assert.equal(spreadOffset(7, 60_000), spreadOffset(7, 60_000));
    const offsets = Array.from({ length: 100 }, (_, i) => spreadOffset(i + 1, 60_000));
    for (const o of offsets) assert.ok(o >= 0 && o < 60_000);
    // 100 accounts over a minute: no ten-second window holds more than a third of them.
    for (let w = 0; w < 60_000; w += 10_000) assert.ok(offsets.filter((o) => o >= w && o < w + 10_000).length < 34);
    assert.equal(spreadOffset(5, 0), 0);
  });
});

describe('FetchScheduler', () => {
  it('polls each account on its own interval, never twice at once, and retries at the next interval', async () => {
    let now = 1_000_000;
    const g = gatedPoll();
    const accounts = [account(1, 60), account(2, 300)];
    const s = new FetchScheduler({ listAccounts: async () => accounts, poll: (a) => (g.setClock(now), g.poll(a)), concurrency: 4, logger, now: () => now });
    await s.tick();
    const due1 = s.schedule().get(1)!;
    const due2 = s.schedule().get(2)!;
    assert.ok(due1 >= now && due1 < now + 60_000);
    assert.ok(due2 >= now && due2 < now + 60_000);

    now = Math.max(due1, due2);
    await s.tick();
    assert.deepEqual(g.calls.map((c) => c.id).sort(), [1, 2]);

    // Account 1 is due again after 60 s, but its poll is still running: no second poll.
    now += 61_000;
    await s.tick();
    assert.equal(g.calls.length, 2);
    // When it ends (a failure is the same as a success here), the next tick polls it.
    g.calls.find((c) => c.id === 1)!.finish();
    await settle();
    await s.tick();
    assert.equal(g.calls.filter((c) => c.id === 1).length, 2);
    assert.equal(g.calls.filter((c) => c.id === 2).length, 1);
    for (const c of g.calls) c.finish();
    await s.stop();
  });

  it('respects the concurrency limit', async () => {
    let now = 0;
    const g = gatedPoll();
    const accounts = Array.from({ length: 10 }, (_, i) => account(i + 1, 10));
    const s = new FetchScheduler({ listAccounts: async () => accounts, poll: (a) => g.poll(a), concurrency: 3, logger, now: () => now });
    await s.tick();
    now = 60_000;
    await s.tick();
    assert.equal(g.calls.length, 3);
    assert.equal(s.active().length, 3);
    g.calls[0]!.finish();
    await settle();
    await s.tick();
    assert.equal(g.calls.length, 4);
    for (const c of g.calls) c.finish();
    await settle();
    await s.stop();
  });

  it('continues from lastPollAt after a restart, skips disabled accounts, and drops removed ones', async () => {
    let now = 10_000_000;
    const g = gatedPoll();
    let accounts = [account(1, 600, { lastPollAt: new Date(now - 100_000) }), account(2, 60, { enabled: false })];
    const s = new FetchScheduler({ listAccounts: async () => accounts, poll: (a) => g.poll(a), concurrency: 4, logger, now: () => now, refreshMs: 1000 });
    await s.tick();
    assert.equal(s.schedule().get(1), now - 100_000 + 600_000);
    now += 1_000_000;
    await s.tick();
    assert.deepEqual(g.calls.map((c) => c.id), [1]);
    accounts = [];
    now += 2000;
    await s.tick();
    assert.equal(s.schedule().has(1), false);
    for (const c of g.calls) c.finish();
    await s.stop();
  });

  it('stop() signals running polls and waits for them', async () => {
    let now = 0;
    let sawAbort = false;
    const s = new FetchScheduler({
      listAccounts: async () => [account(1, 1)],
      poll: (a, signal) =>
        new Promise<PollResult>((resolve) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            setTimeout(() => resolve(ok(a)), 20);
          });
        }),
      concurrency: 1,
      logger,
      now: () => now,
    });
    await s.tick();
    now = 5000;
    await s.tick();
    assert.equal(s.active().length, 1);
    await s.stop();
    assert.equal(sawAbort, true);
    assert.equal(s.active().length, 0);
  });

  it('keeps going when listing accounts fails once', async () => {
    let now = 0;
    let fail = true;
    const g = gatedPoll();
    const s = new FetchScheduler({
      listAccounts: async () => {
        if (fail) throw new Error('database is locked');
        return [account(1, 1)];
      },
      poll: (a) => g.poll(a),
      concurrency: 1,
      logger,
      now: () => now,
      refreshMs: 0,
    });
    await assert.rejects(s.tick());
    fail = false;
    now = 5000;
    await s.tick();
    now = 10_000;
    await s.tick();
    assert.equal(g.calls.length, 1);
    g.calls[0]!.finish();
    await s.stop();
  });
});
