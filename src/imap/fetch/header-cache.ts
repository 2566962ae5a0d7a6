/**
 * Recently fetched message headers, by blob id, bounded in bytes. Mail clients
 * fetch the same headers again and again (every folder open, every sync);
 * Dovecot answers those from its cache file, we answer them from here. Blobs
 * are immutable, so an entry never goes stale.
 */
export class HeaderCache {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get(blobId: string): Buffer | undefined {
    const b = this.map.get(blobId);
    if (b) {
      // Refresh: Map keeps insertion order, the oldest entry is evicted first.
      this.map.delete(blobId);
      this.map.set(blobId, b);
    }
    return b;
  }

  set(blobId: string, header: Buffer): void {
    if (header.length > this.maxBytes / 64 || this.map.has(blobId)) return;
    const copy = Buffer.from(header); // never pin a whole message's buffer
    this.map.set(blobId, copy);
    this.bytes += copy.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  get size(): number {
    return this.map.size;
  }
}
