/**
 * Where a message waits between the end of DATA and its blob: in memory up to
 * a limit, then in a temporary file. It is read twice (once by the SPF/DKIM
 * checks, once into the blob with the headers those checks produced), and a
 * message whose client vanished mid-DATA never gets further than here, so the
 * store sees only whole messages.
 *
 * Not durable and not meant to be: nothing has been acknowledged while a
 * message is in the spool. The file is removed by dispose().
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export class Spool {
  private readonly memory: Buffer[] = [];
  private memoryBytes = 0;
  private file: { dir: string; path: string; handle: FileHandle | null } | null = null;
  size = 0;

  constructor(private readonly memoryLimit = 1024 * 1024) {}

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    if (!this.file && this.memoryBytes + chunk.length <= this.memoryLimit) {
      // Copy: smtp-server may reuse the memory behind its chunks.
      this.memory.push(Buffer.from(chunk));
      this.memoryBytes += chunk.length;
      return;
    }
    if (!this.file) {
      const dir = await mkdtemp(join(tmpdir(), 'mailroom-spool-'));
      const path = join(dir, 'message');
      this.file = { dir, path, handle: await open(path, 'w', 0o600) };
    }
    await this.file.handle!.write(chunk);
  }

  /** Done writing. */
  async end(): Promise<void> {
    if (this.file?.handle) {
      await this.file.handle.close();
      this.file.handle = null;
    }
  }

  /** The message from byte `skip` on, as often as needed (after end()). */
  stream(skip = 0): Readable {
    const memory = this.memory;
    const memoryBytes = this.memoryBytes;
    const path = this.file?.path ?? null;
    return Readable.from(
      (async function* () {
        let left = skip;
        for (const b of memory) {
          if (left >= b.length) {
            left -= b.length;
            continue;
          }
          yield left > 0 ? b.subarray(left) : b;
          left = 0;
        }
        if (path) yield* createReadStream(path, { highWaterMark: 256 * 1024, start: Math.max(0, skip - memoryBytes) });
      })(),
      { objectMode: false },
    );
  }

  /** The whole message in one buffer, when it was small enough to stay in memory; else null. */
  buffer(): Buffer | null {
    return this.file ? null : Buffer.concat(this.memory, this.memoryBytes);
  }

  async dispose(): Promise<void> {
    this.memory.length = 0;
    this.memoryBytes = 0;
    const f = this.file;
    this.file = null;
    if (f) {
      await f.handle?.close().catch(() => undefined);
      await rm(f.dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
