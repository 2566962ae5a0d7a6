/**
 * The byte side of a session: socket in (through COMPRESS's inflater when on)
 * into the CommandReader, responses out (through the deflater) with
 * backpressure. STARTTLS and COMPRESS=DEFLATE swap the stream underneath.
 *
 * Rules: output is buffered per command and flushed before waiting for the
 * client; a write that the socket cannot take waits for 'drain', so a slow
 * reader slows its own FETCH, not the server; reading pauses while the
 * reader holds more than a bound of unread bytes.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import zlib from 'node:zlib';
import { CommandReader, type LineEvent, type ReaderEvent } from './parser/reader.js';
import type { Piece } from './responses/encode.js';

const PAUSE_ABOVE = 1024 * 1024;
const FLUSH_ABOVE = 64 * 1024;

export type InputEvent = ReaderEvent | { kind: 'eof' };

export class Connection {
  /** The stream bytes come from and go to (socket, then TLS socket). */
  private stream: Duplex;
  private inflate: zlib.InflateRaw | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  private out: Buffer[] = [];
  private text = '';
  private outBytes = 0;
  private closed = false;
  private ended = false;
  private wake: (() => void) | null = null;
  private paused = false;
  private drainWaiters: Array<() => void> = [];
  readonly remoteAddress: string;
  secure: boolean;
  compressed = false;
  /** Bytes written and read, for logs. */
  bytesOut = 0;

  constructor(
    socket: Socket | TLSSocket,
    readonly reader: CommandReader,
    secure: boolean,
    private readonly onClose: () => void,
  ) {
    this.stream = socket;
    this.secure = secure;
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.attach(socket);
  }

  private readonly onData = (chunk: Buffer) => {
    if (this.inflate) this.inflate.write(chunk);
    else this.feed(chunk);
  };

  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };

  private readonly onError = () => {
    this.ended = true;
    this.closed = true;
    this.notify();
    for (const w of this.drainWaiters.splice(0)) w();
  };

  private readonly onDrain = () => {
    for (const w of this.drainWaiters.splice(0)) w();
  };

  private readonly onStreamClose = () => {
    this.ended = true;
    this.closed = true;
    this.notify();
    for (const w of this.drainWaiters.splice(0)) w();
    this.onClose();
  };

  private attach(s: Duplex): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('drain', this.onDrain);
    s.on('close', this.onStreamClose);
  }

  private detach(s: Duplex): void {
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('drain', this.onDrain);
    s.off('close', this.onStreamClose);
  }

  private feed(chunk: Buffer): void {
    this.reader.push(chunk);
    if (this.reader.buffered > PAUSE_ABOVE && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private resumeIfDrained(): void {
    if (this.paused && this.reader.buffered < PAUSE_ABOVE / 2) {
      this.paused = false;
      this.stream.resume();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The client will send nothing more (it half-closed or the socket is gone). */
  get inputEnded(): boolean {
    return this.ended || this.closed;
  }

  /** Next reader event, waiting for bytes as needed; 'eof' when the client went away. */
  async next(): Promise<InputEvent> {
    for (;;) {
      const ev = this.reader.next();
      this.resumeIfDrained();
      if (ev) return ev;
      if (this.ended || this.closed) return { kind: 'eof' };
      await this.flush();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Next raw line (AUTHENTICATE responses, IDLE's DONE). */
  async nextLine(): Promise<LineEvent | { kind: 'eof' }> {
    for (;;) {
      const ev = this.reader.nextLine();
      this.resumeIfDrained();
      if (ev) return ev;
      if (this.ended || this.closed) return { kind: 'eof' };
      await this.flush();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Resolves when more input arrives, the connection ends, or poke() is called (IDLE's wait). */
  inputArrived(): Promise<void> {
    if (this.ended || this.closed) return Promise.resolve();
    return new Promise<void>((r) => (this.wake = r));
  }

  /** Interrupts a pending wait (IDLE is woken by a mailbox change, too). */
  poke(): void {
    this.notify();
  }

  write(p: string | Buffer): void {
    if (this.closed) return;
    if (typeof p === 'string') {
      // Text is gathered as one string and encoded once (a FETCH of 100,000 flags is 100,000 lines).
      this.text += p;
      this.outBytes += p.length;
      return;
    }
    this.takeText();
    this.out.push(p);
    this.outBytes += p.length;
  }

  private takeText(): void {
    if (this.text.length === 0) return;
    this.out.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }

  /** Writes pieces; streamed pieces become literals piped from the blob store. */
  async writePieces(pieces: Piece[]): Promise<void> {
    for (const p of pieces) {
      if (typeof p === 'string' || Buffer.isBuffer(p)) this.write(p);
      else {
        this.write(`{${p.size}}\r\n`);
        await this.pipe(await p.open(), p.size);
      }
      if (this.outBytes > FLUSH_ABOVE) await this.flush();
    }
  }

  /** Copies exactly `size` bytes of a stream into the output (a short stream is padded: never desync the client). */
  private async pipe(src: Readable, size: number): Promise<void> {
    let sent = 0;
    try {
      for await (const chunk of src) {
        if (this.closed) return;
        const b = chunk as Buffer;
        const take = b.subarray(0, Math.max(0, size - sent));
        sent += take.length;
        this.write(take);
        if (this.outBytes > FLUSH_ABOVE) await this.flush();
        if (sent >= size) break;
      }
    } finally {
      src.destroy();
    }
    if (sent < size) this.write(Buffer.alloc(size - sent, 0x20));
  }

  /** Flushes once enough output is buffered (long responses go out as they are made). */
  async flushIfFull(): Promise<void> {
    if (this.outBytes > FLUSH_ABOVE) await this.flush();
  }

  /** Sends what is buffered; waits while the socket is full. */
  async flush(): Promise<void> {
    if (this.closed) {
      this.out = [];
      this.text = '';
      this.outBytes = 0;
      return;
    }
    if (this.outBytes === 0) return;
    this.takeText();
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    this.bytesOut += data.length;
    if (this.deflate) {
      const d = this.deflate;
      d.write(data);
      await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      await this.waitDrain(d);
      return;
    }
    this.stream.write(data);
    await this.waitDrain(this.stream);
  }

  /** Waits until the writable can take more (its 'drain' may already have fired: check first). */
  private waitDrain(w: Writable): Promise<void> {
    if (this.closed || !w.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((r) => {
      this.drainWaiters.push(r);
      // Re-check: the event may have fired between the test and the registration.
      if (!w.writableNeedDrain) r();
    });
  }

  /** STARTTLS (RFC 3501 6.2.1): anything the client sent after the command is discarded. */
  async startTls(context: SecureContext): Promise<void> {
    await this.flush();
    const plain = this.stream as Socket;
    this.detach(plain);
    this.reader.reset();
    const tls = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.stream = tls;
    this.attach(tls);
    this.secure = true;
    await new Promise<void>((resolve) => {
      tls.once('secure', () => resolve());
      tls.once('error', () => resolve());
      tls.once('close', () => resolve());
    });
  }

  /** COMPRESS=DEFLATE (RFC 4978): everything after the OK is compressed both ways. */
  startCompression(): void {
    this.compressed = true;
    const inflate = zlib.createInflateRaw();
    const deflate = zlib.createDeflateRaw({ level: 6, windowBits: 15 });
    inflate.on('data', (chunk: Buffer) => this.feed(chunk));
    inflate.on('error', () => this.destroy());
    deflate.on('data', (chunk: Buffer) => {
      if (!this.stream.write(chunk)) {
        deflate.pause();
        this.stream.once('drain', () => deflate.resume());
      }
    });
    deflate.on('drain', this.onDrain);
    deflate.on('error', () => this.destroy());
    // Bytes already read past the COMPRESS command are compressed: pass them through the inflater.
    const pending = this.reader.buffered;
    this.inflate = inflate;
    this.deflate = deflate;
    if (pending > 0) {
      const rest = this.reader.takeBuffered();
      inflate.write(rest);
    }
  }

  setTimeout(ms: number, onTimeout: () => void): void {
    const s = this.stream as Socket;
    s.setTimeout(ms);
    s.removeAllListeners('timeout');
    s.once('timeout', onTimeout);
  }

  /** Flushes and closes the connection. */
  async end(): Promise<void> {
    await this.flush().catch(() => {});
    if (this.closed) return;
    this.closed = true;
    if (this.deflate) {
      this.deflate.end();
      await new Promise<void>((r) => this.deflate!.once('end', () => r()));
    }
    this.stream.end();
    const s = this.stream as Socket;
    setTimeout(() => s.destroy(), 2000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.stream.destroy();
    this.notify();
  }
}
