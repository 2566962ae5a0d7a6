/**
 * What the poller needs from a remote mailbox, whatever the protocol: list the
 * messages of a folder with stable ids, retrieve them one after another, and
 * delete some. POP3 (pop3-source.ts) has one folder, "INBOX", and ids are
 * UIDLs; IMAP (imap-source.ts) has the account's folders, and ids are
 * "UIDVALIDITY:UID", so a recreated folder never passes for the old one.
 */
import type { Readable } from 'node:stream';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { ExternalAccount } from '../store/types.js';

export interface RemoteMessage {
  /** Stable id remembered in the store (UIDL, or "uidvalidity:uid"). */
  id: string;
  /** Octets as the server reports them (for progress and buffering decisions). */
  size: number;
  /** Protocol handle: POP3 message number, IMAP UID. */
  ref: number;
}

export interface Retrieved {
  message: RemoteMessage;
  /**
   * The whole message (small ones), or a stream that must be read to its end
   * (or destroyed) before the next item is asked for.
   */
  body: Buffer | Readable;
}

export interface RemoteSource {
  readonly protocol: 'pop3' | 'imap';
  /** Folders this account polls, in order. */
  readonly folders: string[];
  /** Selects the folder and lists every message in it. */
  list(folder: string): Promise<RemoteMessage[]>;
  /** Retrieves the given messages of the folder last listed, in order. */
  retrieve(messages: RemoteMessage[]): AsyncIterable<Retrieved>;
  /** Deletes messages of the folder last listed (POP3: applied at close()). */
  delete(messages: RemoteMessage[]): Promise<void>;
  /** Ends the session cleanly (POP3 QUIT applies deletions); throws if the server refuses. */
  close(): Promise<void>;
  /** Drops the connection (no deletions applied on POP3). */
  abort(): void;
}

export interface SourceOptions {
  account: ExternalAccount;
  password: string;
  tlsOptions: tls.ConnectionOptions;
  timeoutMs: number;
  logger?: Logger;
}

/** Messages up to this size are read whole, so the next can be fetched while one is stored. */
export const BUFFER_LIMIT = 1024 * 1024;
