/**
 * DESIGN.md's dependency rules, checked on the source: dependencies run
 * downward only; a protocol module never imports another protocol module or a
 * concrete store; core/ does no I/O.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve('src');
const PROTOCOLS = ['smtp', 'pop3', 'imap', 'fetch', 'web', 'delivery'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The top folder under src/ that a relative import lands in ('' for src/ itself). */
function target(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const abs = resolve(dirname(file), spec);
  return relative(SRC, abs);
}

const area = (file: string) => relative(SRC, file).split('/')[0]!;

describe('architecture (DESIGN.md)', () => {
  const all = files(SRC);

  it('protocol modules import no other protocol module and no concrete store', () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = area(f);
      if (!PROTOCOLS.includes(from)) continue;
      for (const spec of imports(f)) {
        const t = target(f, spec);
        if (t === null) continue;
        const to = t.split('/')[0]!;
        // delivery/types.ts is a shared contract (Route, MailEnvelope, Recipients), not a module.
        if (/^delivery\/types(\.js)?$/.test(t)) continue;
        if (PROTOCOLS.includes(to) && to !== from) bad.push(`${relative(SRC, f)} → ${spec}`);
        if (/^store\/(sqlite|postgres|blobs)\b/.test(t)) bad.push(`${relative(SRC, f)} → ${spec}`);
        if (/^(server|services|cli)\b/.test(t)) bad.push(`${relative(SRC, f)} → ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('core/ imports nothing that does I/O', () => {
    const io = /^(node:)?(fs|fs\/promises|net|tls|dns|dns\/promises|http|https|child_process|cluster|dgram)$|^(pg|better-sqlite3|pino|smtp-server|nodemailer|imapflow)$/;
    const bad: string[] = [];
    for (const f of all) {
      if (area(f) !== 'core') continue;
      for (const spec of imports(f)) {
        const t = target(f, spec);
        if (io.test(spec)) bad.push(`${relative(SRC, f)} → ${spec}`);
        if (t !== null && !/^core\b/.test(t)) {
          // core may use the shared type contracts only
          if (!/^(store\/types|store\/errors|delivery\/types|config\/schema)(\.js)?$/.test(t)) bad.push(`${relative(SRC, f)} → ${spec}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('only server.ts, store/open.ts and the CLI name concrete stores', () => {
    const bad: string[] = [];
    for (const f of all) {
      const rel = relative(SRC, f);
      if (rel === 'server.ts' || rel.startsWith('cli/') || rel.startsWith('store/')) continue;
      for (const spec of imports(f)) {
        const t = target(f, spec);
        if (t && /^store\/(sqlite|postgres)\b/.test(t)) bad.push(`${rel} → ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
