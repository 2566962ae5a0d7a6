/**
 * IP addresses and CIDR ranges, for access lists (allow/deny at connect) and
 * relay trust (hosts that may relay without authentication).
 *
 * Pure: no sockets, no DNS. Addresses are compared as byte arrays; an
 * IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack socket reports
 * for an IPv4 client) is treated as the IPv4 address it carries, so a rule
 * written "192.0.2.0/24" matches it.
 */

export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface Cidr {
  family: 4 | 6;
  /** Network bytes, host bits cleared. */
  bytes: Uint8Array;
  prefix: number;
  /** Canonical text, e.g. "192.0.2.0/24". */
  text: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(s: string): Uint8Array | null {
  if (!IPV4.test(s)) return null;
  return Uint8Array.from(s.split('.').map((p) => Number(p)));
}

function parseIPv6(s: string): Uint8Array | null {
  // Zone ids (fe80::1%eth0) name an interface, not part of the address.
  const text = s.replace(/%[^%]*$/, '');
  if (!text.includes(':')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (last && i === items.length - 1 && item.includes('.')) {
        // An IPv4 tail (::ffff:192.0.2.1) is the last two groups.
        const v4 = parseIPv4(item);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (HEX_GROUP.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parse(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1]!, true) : [];
  if (!head || !tail) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function isMappedV4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Parse an IPv4 or IPv6 address (brackets and "IPv6:" prefixes allowed); null if it is not one. */
export function parseIp(input: string): IpAddress | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (/^ipv6:/i.test(s)) s = s.slice(5);
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(s);
  if (!v6) return null;
  if (isMappedV4(v6)) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first if tied.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parse "addr" or "addr/prefix"; a bare address is a /32 or /128. Null if invalid. */
export function parseCidr(input: string): Cidr | null {
  const s = input.trim();
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    // "::ffff:10.0.0.0/104" is written against the mapped form: shift into IPv4 terms.
    const mapped = ip.family === 4 && !IPV4.test(addrText.replace(/^\[|\]$/g, ''));
    if (mapped) prefix -= 96;
    if (prefix < 0 || prefix > max) return null;
  }
  const bytes = ip.bytes.slice();
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const text = `${formatIp({ family: ip.family, bytes })}/${prefix}`;
  return { family: ip.family, bytes, prefix, text };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (ip.bytes[full]! & mask) === cidr.bytes[full];
}

/** A list of ranges to test client addresses against; invalid entries are skipped and reported. */
export class CidrSet {
  readonly ranges: Cidr[] = [];
  readonly invalid: string[] = [];

  constructor(entries: Iterable<string> = []) {
    for (const e of entries) {
      const c = parseCidr(e);
      if (c) this.ranges.push(c);
      else this.invalid.push(e);
    }
  }

  get size(): number {
    return this.ranges.length;
  }

  /** True if the address (text or parsed) falls in any range; false for anything unparsable. */
  has(ip: string | IpAddress | null | undefined): boolean {
    const parsed = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!parsed) return false;
    return this.ranges.some((c) => cidrContains(c, parsed));
  }
}

const LOOPBACK = new CidrSet(['127.0.0.0/8', '::1/128']);

export function isLoopback(ip: string): boolean {
  return LOOPBACK.has(ip);
}
