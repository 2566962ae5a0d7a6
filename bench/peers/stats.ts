/**
 * Small helpers every bench uses to report: medians over rounds, rates, a
 * side-by-side table with the ratio, and CPU time of a process tree.
 */
import { readFileSync } from 'node:fs';

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * CPU seconds (user + system) used so far by these processes and their reaped
 * children (Linux /proc): a Dovecot pop3 process that exited after its session
 * is counted in its parent's cutime/cstime. Compare two readings for a delta.
 */
export function cpuSeconds(pids: number[]): number {
  const hz = 100; // USER_HZ is 100 on every Linux these benches run on
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime (fields 14-17)
    } catch {
      // gone
    }
  }
  return ticks / hz;
}

export interface Row {
  label: string;
  ours: number;
  theirs: number | null;
  unit: string;
}

/** A table of "mailroom | peer | ratio" rows; ratio = ours / theirs (> 1: mailroom is ahead, for rates). */
export function formatTable(peerName: string, rows: Row[]): string {
  const fmt = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const lines = [['', 'mailroom', peerName, 'ratio'], ...rows.map((r) => [
    `${r.label} (${r.unit})`,
    fmt(r.ours),
    fmt(r.theirs),
    r.theirs ? `${(r.ours / r.theirs).toFixed(2)}x` : '-',
  ])];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
