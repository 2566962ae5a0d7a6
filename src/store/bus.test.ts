import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus } from './bus.js';
import type { MailboxChange } from './types.js';

const change = (mailboxId: number): MailboxChange => ({ mailboxId, userId: 1, highestModseq: 5, kind: 'append' });

describe('LocalBus', () => {
  it('delivers each change synchronously to every subscriber', () => {
    const bus = new LocalBus();
    const a: number[] = [];
    const b: number[] = [];
    bus.subscribe((c) => a.push(c.mailboxId));
    bus.subscribe((c) => b.push(c.mailboxId));
    bus.publish(change(1));
    bus.publish(change(2));
    assert.deepEqual(a, [1, 2]);
    assert.deepEqual(b, [1, 2]);
  });

  it('unsubscribe stops delivery, also from inside a listener', () => {
    const bus = new LocalBus();
    const seen: number[] = [];
    const off = bus.subscribe((c) => {
      seen.push(c.mailboxId);
      off();
    });
    bus.publish(change(1));
    bus.publish(change(2));
    assert.deepEqual(seen, [1]);
    assert.equal(bus.size, 0);
  });

  it('a throwing listener does not break publish or the other listeners', () => {
    const errors: unknown[] = [];
    const bus = new LocalBus((err) => errors.push(err));
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('boom');
    });
    bus.subscribe((c) => seen.push(c.mailboxId));
    assert.doesNotThrow(() => bus.publish(change(3)));
    assert.deepEqual(seen, [3]);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /boom/);
  });

  it('even a throwing error handler does not break publish', () => {
    const bus = new LocalBus(() => {
      throw new Error('handler boom');
    });
    let got = 0;
    bus.subscribe(() => {
      throw new Error('x');
    });
    bus.subscribe(() => got++);
    assert.doesNotThrow(() => bus.publish(change(1)));
    assert.equal(got, 1);
  });

  it('the same function subscribed twice is two subscriptions; close drops all', async () => {
    const bus = new LocalBus();
    let n = 0;
    const f = () => n++;
    const off1 = bus.subscribe(f);
    bus.subscribe(f);
    bus.publish(change(1));
    assert.equal(n, 2);
    off1();
    bus.publish(change(1));
    assert.equal(n, 3);
    await bus.close();
    bus.publish(change(1));
    assert.equal(n, 3);
    assert.equal(bus.size, 0);
  });
});
