/**
 * Child process for postgres.test.ts: starts a put() of an endless stream and
 * says "staged" once a few chunks are in the database, then waits to be
 * killed with SIGKILL (a crash in the middle of receiving a message).
 */
import { Readable } from 'node:stream';
import pg from 'pg';
import { createPostgresBlobStore } from './postgres.js';

const url = process.argv[2]!;
const pool = new pg.Pool({ connectionString: url, max: 2 });
const blobs = createPostgresBlobStore(pool, { chunkSize: 4096 });
let sent = 0;
const endless = new Readable({
  read() {
    sent += 4096;
    if (sent === 4096 * 4) process.stdout.write('staged\n');
    setTimeout(() => this.push(Buffer.alloc(4096, sent & 0xff)), sent >= 4096 * 4 ? 60_000 : 0);
  },
});
await blobs.put(endless);
