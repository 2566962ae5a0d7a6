/**
 * Client addresses as auth/ sees them: which ones are loopback (where
 * plaintext logins may be allowed without TLS), and the key failures are
 * counted under (an IPv6 client owns a whole /64, so it is counted as one).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** "::ffff:1.2.3.4" → "1.2.3.4"; anything else unchanged. */
export function unmapIPv4(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopback(ip: string): boolean {
  // A socket that closed early has no remote address; never treat that as loopback.
  const v = unmapIPv4(String(ip ?? '').trim());
  if (isIPv4(v)) return v.startsWith('127.');
  if (isIPv6(v)) return expandIPv6(v) === '0000:0000:0000:0000:0000:0000:0000:0001';
  return false;
}

/** The key under which failures from this client are counted: the IPv4 address, or the IPv6 /64. */
export function throttleKeyForIp(ip: string): string {
  const v = unmapIPv4(String(ip ?? '').trim().toLowerCase());
  if (isIPv6(v)) {
    const full = expandIPv6(v);
    if (full) return full.split(':').slice(0, 4).join(':') + '::/64';
  }
  return v;
}

/** Eight groups of four hex digits, or '' if it is not an IPv6 address. */
function expandIPv6(ip: string): string {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!isIPv6(s)) return '';
  // An embedded IPv4 tail becomes two hex groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array<string>(8 - h.length - t.length).fill('0') : [];
  const groups = [...h, ...fill, ...t];
  if (groups.length !== 8) return '';
  return groups.map((g) => g.padStart(4, '0')).join(':');
}
