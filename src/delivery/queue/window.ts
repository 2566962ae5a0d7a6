/**
 * Connection windows: outbound delivery only while a cron-style schedule is
 * open ("* 8-18 * * 1-5": weekdays 8:00-18:59, server local time), for a site
 * that is online only at certain times. "always" (the default) never closes.
 *
 * A minute is open when the pattern matches it. `mailroom queue flush` opens
 * the window once, until the queue has been run through (see runner.ts).
 * Local mail never goes through the queue, so it is never held.
 */
import { Cron } from 'croner';

export interface DeliveryWindow {
  readonly pattern: string;
  isOpen(now: Date): boolean;
  /** When the window opens next (now if open; null if never). */
  nextOpen(now: Date): Date | null;
}

export function parseWindow(pattern: string): DeliveryWindow {
  const p = pattern.trim();
  if (p === '' || p.toLowerCase() === 'always') {
    return { pattern: 'always', isOpen: () => true, nextOpen: (now) => now };
  }
  let cron: Cron;
  try {
    cron = new Cron(p, { paused: true });
  } catch (err) {
    throw new Error(`queue.window: "${pattern}" is not a cron pattern (${(err as Error).message}); write e.g. "* 8-18 * * 1-5" or "always"`);
  }
  const minuteStart = (d: Date) => {
    const m = new Date(d.getTime());
    m.setSeconds(0, 0);
    return m;
  };
  const isOpen = (now: Date) => {
    const start = minuteStart(now);
    const next = cron.nextRun(new Date(start.getTime() - 1000));
    return next !== null && next.getTime() === start.getTime();
  };
  return {
    pattern: p,
    isOpen,
    nextOpen: (now) => (isOpen(now) ? now : cron.nextRun(now)),
  };
}
