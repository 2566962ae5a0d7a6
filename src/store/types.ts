/**
 * The Store: every piece of state mailroom keeps, behind one interface.
 *
 * Shape follows Dovecot's lib-storage: mailbox status, a save path that takes an
 * already-written blob plus its delivery-time index and commits it atomically,
 * lazy access to flags and bodies, and a per-mailbox change log (MODSEQ) from
 * which IMAP sessions learn about each other's work.
 *
 * Rules every implementation keeps (the contract suite in store/contract.test.ts
 * checks them on SQLite and PostgreSQL alike):
 * - Every mutation runs in one SQL transaction; a failure leaves nothing half-written.
 * - UIDs in a mailbox strictly increase and are never reused while UIDVALIDITY stays.
 * - Every change to a message (append, flag change, expunge) gets a new MODSEQ,
 *   greater than any before it in that mailbox, recorded in the change log, and
 *   raises the mailbox's HIGHESTMODSEQ to it.
 * - After commit, a MailboxChange event is published on the ChangeBus.
 * - Blob reference counts: every message row and queue entry holding a blob
 *   counts one; a blob at zero may be removed by `collectGarbage()`.
 * - Errors that callers must act on are StoreError with a code (see errors.ts).
 */
import type { Readable } from 'node:stream';
import type { MessageIndex } from '../core/mime/types.js';
import type { SearchKey } from '../core/search-key.js';

export type Id = number;

// ---------------------------------------------------------------- accounts

export interface Domain {
  id: Id;
  name: string; // lower-case, no trailing dot
  createdAt: Date;
}

export interface User {
  id: Id;
  /** Login name; may differ from any address (e.g. "alice" or "alice@example.org"). */
  login: string;
  /** Primary address, lower-case domain. */
  address: string;
  displayName: string;
  /** Bytes; 0 = unlimited. */
  quota: number;
  enabled: boolean;
  isAdmin: boolean;
  /** External or internal addresses every message is forwarded to. */
  forwardTo: string[];
  /** With forwardTo: also keep a copy in INBOX. */
  keepCopy: boolean;
  createdAt: Date;
}

/** Secrets derived from the password; never the password itself (see auth/). */
export interface UserCredentials {
  userId: Id;
  /** argon2id PHC string. */
  passwordHash: string;
  /** SCRAM-SHA-256 "iterations$saltB64$storedKeyB64$serverKeyB64", or null. */
  scramSha256: string | null;
  /**
   * Material for mechanisms that need a password-equivalent (CRAM-MD5, APOP),
   * encrypted with the server's secret key; null unless an administrator enabled them.
   */
  sealedSecret: string | null;
}

export interface NewUser {
  login: string;
  address: string;
  displayName?: string;
  quota?: number;
  isAdmin?: boolean;
  credentials: Omit<UserCredentials, 'userId'>;
}

export interface Alias {
  id: Id;
  /** "local@domain", or "@domain" for the domain's catch-all. */
  address: string;
  /** Each a local or external address. */
  targets: string[];
  createdAt: Date;
}

/** What an address means to this server. */
export type Recipient =
  | { kind: 'user'; user: User; address: string }
  | { kind: 'alias'; alias: Alias; address: string }
  | { kind: 'none' };

// ---------------------------------------------------------------- mailboxes

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface Mailbox {
  id: Id;
  userId: Id;
  /** Full hierarchical name, '/' as separator, UTF-8; "INBOX" is always spelled so. */
  name: string;
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  createdAt: Date;
}

export interface MailboxStatus {
  mailboxId: Id;
  messages: number;
  unseen: number;
  /** Sum of message sizes. */
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
  /** Messages with \Deleted. */
  deleted: number;
}

// ---------------------------------------------------------------- messages

/** A message in a mailbox: what SELECT, FETCH FLAGS and POP3 LIST need. */
export interface MessageMeta {
  uid: number;
  modseq: number;
  /** System flags (\Seen, \Answered, \Flagged, \Deleted, \Draft) and keywords, as given. */
  flags: string[];
  internalDate: Date;
  /** Octets of the stored message (CRLF line ends): RFC822.SIZE and POP3 LIST. */
  size: number;
  blobId: string;
}

/** A message with its delivery-time index: what ENVELOPE, BODYSTRUCTURE, SORT need. */
export interface MessageRecord extends MessageMeta {
  index: MessageIndex;
}

export interface BlobRef {
  /** sha256 hex of the stored bytes. */
  id: string;
  size: number;
}

export interface AppendInput {
  blob: BlobRef;
  index: MessageIndex;
  flags?: string[];
  internalDate?: Date;
}

export interface AppendResult {
  mailboxId: Id;
  uid: number;
  modseq: number;
  uidValidity: number;
}

/** One target of a delivery: a user's mailbox (INBOX when mailbox is omitted). */
export interface DeliveryTarget {
  userId: Id;
  mailbox?: string;
  flags?: string[];
}

export type DeliveryOutcome =
  | { ok: true; result: AppendResult }
  | { ok: false; code: 'overQuota' | 'noSuchUser' | 'noSuchMailbox' | 'disabled'; message: string };

export type FlagOperation = 'add' | 'remove' | 'replace';

export interface FlagUpdate {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface StoreFlagsResult {
  updated: FlagUpdate[];
  /** UIDs whose modseq was above unchangedSince (CONDSTORE MODIFIED). */
  modified: number[];
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs in source order: [sourceUid, destUid]. */
  mapping: Array<[number, number]>;
}

export type ChangeKind = 'append' | 'flags' | 'expunge';

export interface MailboxChangeRecord {
  modseq: number;
  uid: number;
  kind: ChangeKind;
}

/** Published on the bus after a committed change. */
export interface MailboxChange {
  mailboxId: Id;
  userId: Id;
  highestModseq: number;
  kind: ChangeKind | 'mailbox';
}

export interface ChangeBus {
  publish(change: MailboxChange): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: (change: MailboxChange) => void): () => void;
  close(): Promise<void>;
}

export interface Quota {
  userId: Id;
  /** Bytes used over all mailboxes. */
  used: number;
  /** 0 = unlimited. */
  limit: number;
  messages: number;
}

// ---------------------------------------------------------------- policy

export type AccessRuleKind =
  | 'allowIp' // CIDR or address; when any exist, only these may connect
  | 'denyIp' // CIDR or address refused at connect
  | 'blockSender' // sender address refused at MAIL FROM
  | 'blockSenderDomain' // sender domain refused at MAIL FROM
  | 'blockHost'; // client hostname (HELO or reverse DNS), suffix match

export interface AccessRule {
  id: Id;
  kind: AccessRuleKind;
  value: string;
  note: string;
  createdAt: Date;
}

export type RelayRuleKind =
  | 'trustedIp' // CIDR or address that may relay without auth
  | 'domain' // recipient domain we relay for (backup MX style)
  | 'address'; // recipient address we relay for

export interface RelayRule {
  id: Id;
  kind: RelayRuleKind;
  value: string;
  note: string;
  createdAt: Date;
}

// ---------------------------------------------------------------- outbound queue

export type RecipientState = 'queued' | 'deferred' | 'delivered' | 'bounced';

export interface QueueRecipient {
  id: Id;
  address: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: Date;
  lastReply: string | null;
  /** Remote host that answered last, for logs and `queue show`. */
  lastHost: string | null;
  updatedAt: Date;
  /** RFC 3461 ORCPT and NOTIFY, kept for DSNs. */
  dsnNotify: string | null;
  dsnOrcpt: string | null;
}

export interface QueueEntry {
  id: string; // short, log-friendly queue id
  sender: string; // '' for the null sender
  blob: BlobRef;
  createdAt: Date;
  held: boolean;
  /** Set after the delay warning was sent. */
  warnedAt: Date | null;
  /** RFC 3461 RET and ENVID. */
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
  recipients: QueueRecipient[];
  /** Origin, for logs: 'smtp', 'submission', 'forward', 'bounce', ... */
  source: string;
}

export interface EnqueueInput {
  sender: string;
  blob: BlobRef;
  recipients: Array<{ address: string; dsnNotify?: string | null; dsnOrcpt?: string | null }>;
  source: string;
  held?: boolean;
  dsnRet?: 'FULL' | 'HDRS' | null;
  dsnEnvid?: string | null;
}

/** A batch of due recipients claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL). */
export interface QueueClaim {
  entry: QueueEntry;
  /** The recipients claimed now (due, not held, not final). */
  recipients: QueueRecipient[];
  leaseUntil: Date;
}

export interface RecipientResult {
  recipientId: Id;
  state: RecipientState;
  reply: string;
  host: string | null;
  /** For 'deferred': when to try again. */
  nextAttemptAt?: Date;
}

// ---------------------------------------------------------------- external accounts (fetch)

export interface ExternalAccount {
  id: Id;
  name: string;
  protocol: 'pop3' | 'imap';
  host: string;
  port: number;
  tls: 'none' | 'starttls' | 'implicit';
  username: string;
  /** Encrypted with the server's secret key (auth/secrets.ts); never plaintext. */
  sealedPassword: string;
  /** Seconds between polls. */
  interval: number;
  folders: string[];
  /** What happens on the remote side after local delivery. */
  keep: 'keep' | 'delete' | 'deleteAfterDays';
  deleteAfterDays: number;
  mode: 'single' | 'multi';
  /** single: the local user; multi: the fallback user for non-local recipients. */
  targetUserId: Id;
  /** multi-drop: only these domains count as local (empty = all our domains). */
  enabled: boolean;
  lastPollAt: Date | null;
  lastError: string | null;
  lastCount: number;
  createdAt: Date;
}

export type NewExternalAccount = Omit<ExternalAccount, 'id' | 'lastPollAt' | 'lastError' | 'lastCount' | 'createdAt'>;

// ---------------------------------------------------------------- blobs

export interface BlobStore {
  /**
   * Write a message body. Resolves only after the bytes are durable (fsync of the
   * file and its directory, or a committed transaction). Content-addressed: the
   * same bytes give the same id and are stored once.
   */
  put(data: Readable | Buffer): Promise<BlobRef>;
  /**
   * Stream the bytes; rejects with StoreError 'notFound'. range: start inclusive,
   * end exclusive (like BodyPart offsets); clamped to the blob's size.
   */
  open(id: string, range?: { start: number; end: number }): Promise<Readable>;
  read(id: string): Promise<Buffer>;
  has(id: string): Promise<boolean>;
  delete(id: string): Promise<void>;
  /** Ids of blobs written before `olderThan` (for GC of orphans). */
  list(olderThan?: Date): AsyncIterable<string>;
  /** Bytes on disk (for `status`). */
  usage(): Promise<number>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the Store

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly blobs: BlobStore;
  readonly bus: ChangeBus;

  /** Run pending migrations; returns the schema version. Idempotent. */
  migrate(): Promise<number>;
  close(): Promise<void>;

  // domains
  addDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  getDomain(name: string): Promise<Domain | null>;
  /** Refuses (StoreError 'inUse') while users or aliases of the domain exist, unless force. */
  removeDomain(name: string, opts?: { force?: boolean }): Promise<void>;

  // users
  /** Creates the user, their primary address and their special-use mailboxes. */
  addUser(input: NewUser): Promise<User>;
  getUser(id: Id): Promise<User | null>;
  getUserByLogin(login: string): Promise<User | null>;
  listUsers(domain?: string): Promise<User[]>;
  updateUser(id: Id, patch: Partial<Pick<User, 'displayName' | 'quota' | 'enabled' | 'isAdmin' | 'forwardTo' | 'keepCopy'>>): Promise<User>;
  removeUser(id: Id): Promise<void>;
  getCredentials(userId: Id): Promise<UserCredentials | null>;
  setCredentials(userId: Id, creds: Omit<UserCredentials, 'userId'>): Promise<void>;
  /** Extra addresses of a user (the primary one is included in listAddresses). */
  addAddress(userId: Id, address: string): Promise<void>;
  removeAddress(address: string): Promise<void>;
  listAddresses(userId: Id): Promise<string[]>;

  // aliases
  addAlias(address: string, targets: string[]): Promise<Alias>;
  listAliases(domain?: string): Promise<Alias[]>;
  removeAlias(address: string): Promise<void>;

  /**
   * Exact lookup of a full address (lower-cased domain): a user's address, then
   * an alias, then the domain's catch-all. Sub-addressing (+tag) is the caller's
   * business (delivery/), so this does no stripping.
   */
  resolveAddress(address: string): Promise<Recipient>;

  // mailboxes
  listMailboxes(userId: Id): Promise<Mailbox[]>;
  getMailbox(userId: Id, name: string): Promise<Mailbox | null>;
  getMailboxById(id: Id): Promise<Mailbox | null>;
  /** StoreError 'exists' if present. */
  createMailbox(userId: Id, name: string, specialUse?: SpecialUse | null): Promise<Mailbox>;
  /** Deletes the mailbox and its messages (not its children). INBOX: StoreError 'invalid'. */
  deleteMailbox(id: Id): Promise<void>;
  /**
   * Renames the mailbox and its children (name prefix "old/"). Renaming INBOX moves
   * its messages into a new mailbox and leaves INBOX empty (RFC 3501 6.3.5).
   * StoreError 'exists' if the new name exists.
   */
  renameMailbox(id: Id, newName: string): Promise<Mailbox>;
  setSpecialUse(id: Id, specialUse: SpecialUse | null): Promise<void>;
  listSubscriptions(userId: Id): Promise<string[]>;
  subscribe(userId: Id, name: string): Promise<void>;
  unsubscribe(userId: Id, name: string): Promise<void>;
  mailboxStatus(id: Id): Promise<MailboxStatus>;
  quota(userId: Id): Promise<Quota>;

  // messages
  /** All messages in UID order: the view a session builds at SELECT. */
  listMessages(mailboxId: Id): Promise<MessageMeta[]>;
  /** Messages with their index, for the given UIDs (any order in, UID order out). */
  getMessages(mailboxId: Id, uids: number[]): Promise<MessageRecord[]>;
  /**
   * Like getMessages without the index (any order in, UID order out, missing
   * UIDs skipped), for FETCH FLAGS / UID / RFC822.SIZE / INTERNALDATE /
   * MODSEQ and header-only FETCH, which need no JSON parsing of the index.
   */
  getMessageMetas(mailboxId: Id, uids: number[]): Promise<MessageMeta[]>;
  /**
   * Append one message to one mailbox (IMAP APPEND, webmail Sent/Drafts).
   * Enforces quota: StoreError 'overQuota'.
   */
  append(mailboxId: Id, input: AppendInput): Promise<AppendResult>;
  /**
   * Deliver one message to many users at once, in one transaction: the index is
   * stored once, each target gets its own UID. Each target has its own outcome
   * (quota is checked per user); targets that fail do not stop the others.
   */
  deliver(blob: BlobRef, index: MessageIndex, targets: DeliveryTarget[]): Promise<DeliveryOutcome[]>;
  storeFlags(mailboxId: Id, uids: number[], op: FlagOperation, flags: string[], opts?: { unchangedSince?: number }): Promise<StoreFlagsResult>;
  /** Removes the messages (all with \Deleted when uids is omitted); returns the UIDs removed. */
  expunge(mailboxId: Id, uids?: number[]): Promise<{ uids: number[]; modseq: number }>;
  copy(mailboxId: Id, uids: number[], destMailboxId: Id): Promise<CopyResult>;
  /** Copy then expunge in one transaction (RFC 6851). */
  move(mailboxId: Id, uids: number[], destMailboxId: Id): Promise<CopyResult & { expungeModseq: number }>;
  /** Changes with modseq > sinceModseq, in modseq order (expunges included: QRESYNC VANISHED). */
  changesSince(mailboxId: Id, sinceModseq: number): Promise<MailboxChangeRecord[]>;
  /** UIDs (ascending) of messages matching the key, from stored indexes. */
  search(mailboxId: Id, key: SearchKey): Promise<number[]>;
  /** POP3: remember that these messages were retrieved (for retention). */
  markRetrieved(mailboxId: Id, uids: number[], at?: Date): Promise<void>;
  /** POP3 retention: UIDs retrieved before `before`. */
  listRetrievedBefore(mailboxId: Id, before: Date): Promise<number[]>;

  // advisory locks with expiry (POP3 maildrop, fetch polls); across processes and nodes
  /** True if acquired (or already held by owner); false if someone else holds it. */
  tryLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock(name: string, owner: string): Promise<void>;

  // policy
  addAccessRule(kind: AccessRuleKind, value: string, note?: string): Promise<AccessRule>;
  listAccessRules(kind?: AccessRuleKind): Promise<AccessRule[]>;
  removeAccessRule(id: Id): Promise<void>;
  addRelayRule(kind: RelayRuleKind, value: string, note?: string): Promise<RelayRule>;
  listRelayRules(kind?: RelayRuleKind): Promise<RelayRule[]>;
  removeRelayRule(id: Id): Promise<void>;

  // outbound queue
  enqueue(input: EnqueueInput): Promise<QueueEntry>;
  getQueueEntry(id: string): Promise<QueueEntry | null>;
  listQueue(opts?: { state?: RecipientState | 'active'; limit?: number }): Promise<QueueEntry[]>;
  /** Claim up to `limit` entries with due recipients for `leaseMs`; each claimed once across nodes. */
  claimQueue(owner: string, now: Date, limit: number, leaseMs: number): Promise<QueueClaim[]>;
  /** Record the outcome of an attempt for some recipients and release the lease. */
  recordAttempt(entryId: string, owner: string, results: RecipientResult[]): Promise<void>;
  /**
   * Optional (the queue runner uses it when present, else recordAttempt per entry):
   * record the outcomes of several entries' attempts in ONE transaction, each
   * exactly as recordAttempt would (results recorded, the owner's lease released),
   * so a runner finishing many deliveries at once pays one commit (fsync) for
   * all of them. All or nothing: on error nothing of the batch is recorded.
   */
  recordAttempts?(owner: string, batch: Array<{ entryId: string; results: RecipientResult[] }>): Promise<void>;
  releaseClaim(entryId: string, owner: string): Promise<void>;
  setQueueHeld(entryId: string | 'all', held: boolean): Promise<number>;
  /** Make deferred recipients due now (flush/retry). */
  rescheduleQueue(entryId: string | 'all', at: Date): Promise<number>;
  markWarned(entryId: string, at: Date): Promise<void>;
  /** Removes the entry and releases its blob reference. */
  deleteQueueEntry(entryId: string): Promise<void>;

  // external accounts
  addExternalAccount(input: NewExternalAccount): Promise<ExternalAccount>;
  listExternalAccounts(): Promise<ExternalAccount[]>;
  getExternalAccount(idOrName: Id | string): Promise<ExternalAccount | null>;
  removeExternalAccount(id: Id): Promise<void>;
  recordPoll(id: Id, at: Date, result: { error: string | null; count: number }): Promise<void>;
  /** Remote message ids (UIDL, or "uidvalidity:uid") already delivered, with when. */
  seenRemoteIds(accountId: Id, folder: string): Promise<Map<string, Date>>;
  markRemoteSeen(accountId: Id, folder: string, remoteId: string, at?: Date): Promise<void>;
  forgetRemoteSeen(accountId: Id, folder: string, remoteIds: string[]): Promise<void>;

  // small settings (server-wide key/value)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  /** Remove blobs no message or queue entry refers to (orphans older than graceMs). */
  collectGarbage(graceMs?: number): Promise<{ removed: number }>;
  /** Rows and bytes, for `mailroom status`. */
  stats(): Promise<{ domains: number; users: number; messages: number; blobBytes: number; queue: number }>;
}
