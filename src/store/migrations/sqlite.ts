/**
 * The SQLite schema as an ordered list of migrations. Never edit a migration
 * that has shipped: append a new one. postgres.ts mirrors this list version for
 * version (see README.md in this folder).
 *
 * Conventions: dates are epoch milliseconds (INTEGER); booleans 0/1; lists are
 * JSON text; addresses, domains and logins are stored lower-case.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE domains (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  login TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL,
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  display_name TEXT NOT NULL DEFAULT '',
  quota INTEGER NOT NULL DEFAULT 0,
  enabled INTEGER NOT NULL DEFAULT 1,
  is_admin INTEGER NOT NULL DEFAULT 0,
  forward_to TEXT NOT NULL DEFAULT '[]',
  keep_copy INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX users_domain ON users(domain_id);

CREATE TABLE credentials (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  scram_sha256 TEXT,
  sealed_secret TEXT
);

-- Every address of a user, the primary one included.
CREATE TABLE addresses (
  address TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  created_at INTEGER NOT NULL
);
CREATE INDEX addresses_user ON addresses(user_id);
CREATE INDEX addresses_domain ON addresses(domain_id);

CREATE TABLE aliases (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,          -- "local@domain" or "@domain" (catch-all)
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  targets TEXT NOT NULL,                 -- JSON array of addresses
  created_at INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

-- Counters (messages, unseen, deleted, size) are kept up to date by every
-- mutation, so STATUS and quota never scan messages.
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  special_use TEXT,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  messages INTEGER NOT NULL DEFAULT 0,
  unseen INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (user_id, name)
);

CREATE TABLE subscriptions (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
);

-- One row per distinct message body. refs = message rows + queue entries that
-- hold it; released_at = when refs last fell to 0 (GC waits a grace period).
-- index_json is the MessageIndex without "text" (kept in body_text, read lazily);
-- hdrs_text is the header block as "name: value" lines for SEARCH.
CREATE TABLE blobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0,
  released_at INTEGER,
  index_json TEXT,
  body_text TEXT,
  hdrs_text TEXT,
  sent_day TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX blobs_released ON blobs(released_at) WHERE refs <= 0;

-- Substring search (SEARCH HEADER/BODY/TEXT): lower-cased text, trigram index,
-- rowid = blobs.seq. Contentless: the text itself lives in blobs.
CREATE VIRTUAL TABLE blob_fts USING fts5(
  hdrs, body,
  tokenize = 'trigram case_sensitive 1',
  content = '', contentless_delete = 1
);

-- flags: bitmask of system flags (1 \\Seen, 2 \\Answered, 4 \\Flagged, 8 \\Deleted, 16 \\Draft);
-- keywords: space-separated, as given. blob_id is not a foreign key: blobs.refs counts it.
CREATE TABLE messages (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0,
  keywords TEXT NOT NULL DEFAULT '',
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  retrieved_at INTEGER,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

-- The change log (CONDSTORE/QRESYNC, and how sessions learn of each other's
-- work): the latest change of each kind per message; an expunge replaces the
-- message's other rows and stays for VANISHED.
CREATE TABLE changes (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  kind TEXT NOT NULL,                    -- 'append' | 'flags' | 'expunge'
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid, kind)
) WITHOUT ROWID;
CREATE INDEX changes_modseq ON changes(mailbox_id, modseq);

CREATE TABLE queue (
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  blob_size INTEGER NOT NULL,
  source TEXT NOT NULL,
  held INTEGER NOT NULL DEFAULT 0,
  warned_at INTEGER,
  dsn_ret TEXT,
  dsn_envid TEXT,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE queue_recipients (
  id INTEGER PRIMARY KEY,
  entry_id TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  state TEXT NOT NULL,                   -- queued | deferred | delivered | bounced
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_reply TEXT,
  last_host TEXT,
  updated_at INTEGER NOT NULL,
  dsn_notify TEXT,
  dsn_orcpt TEXT
);
CREATE INDEX queue_recipients_entry ON queue_recipients(entry_id);
CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt_at) WHERE state IN ('queued', 'deferred');

CREATE TABLE access_rules (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (kind, value)
);

CREATE TABLE relay_rules (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (kind, value)
);

CREATE TABLE external_accounts (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  protocol TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  tls TEXT NOT NULL,
  username TEXT NOT NULL,
  sealed_password TEXT NOT NULL,
  interval INTEGER NOT NULL,
  folders TEXT NOT NULL,                 -- JSON array
  keep TEXT NOT NULL,
  delete_after_days INTEGER NOT NULL,
  mode TEXT NOT NULL,
  target_user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  enabled INTEGER NOT NULL,
  last_poll_at INTEGER,
  last_error TEXT,
  last_count INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE remote_seen (
  account_id INTEGER NOT NULL REFERENCES external_accounts(id) ON DELETE CASCADE,
  folder TEXT NOT NULL,
  remote_id TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, folder, remote_id)
) WITHOUT ROWID;

CREATE TABLE locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Monotonic counters (e.g. the last UIDVALIDITY handed out).
CREATE TABLE sequences (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'search index without positions',
    // The positional trigram index (detail=full) cost ~40 KB and several ms of
    // CPU per 20 KB message. Without positions it is ~1 KB and narrows the
    // candidates of a substring search to messages holding all its trigrams;
    // the store then checks each candidate's text exactly. search_state says
    // whether a blob's text is in blob_search yet (0 = not yet: searched by
    // scanning its text), so indexing can run outside the delivery transaction.
    sql: `
DROP TABLE blob_fts;
CREATE VIRTUAL TABLE blob_search USING fts5(
  text,
  tokenize = 'trigram case_sensitive 1',
  content = '', contentless_delete = 1, detail = none
);
ALTER TABLE blobs ADD COLUMN search_state INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blobs_search_pending ON blobs(seq) WHERE search_state = 0 AND index_json IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'blob texts in their own table',
    // A blobs row held the index JSON and the whole decoded text, so reading
    // any column after them (search_state, sent_day) walked the row's overflow
    // pages: a SEARCH over 100k messages read gigabytes. Now blobs rows are a
    // few dozen bytes and the large values live in blob_index, read only for
    // the messages that need them. indexed = a blob_index row exists.
    sql: `
CREATE TABLE blob_index (
  seq INTEGER PRIMARY KEY,               -- blobs.seq
  hdrs_text TEXT NOT NULL,
  index_json TEXT NOT NULL,
  body_text TEXT NOT NULL
);
INSERT INTO blob_index (seq, hdrs_text, index_json, body_text)
  SELECT seq, coalesce(hdrs_text, ''), index_json, coalesce(body_text, '') FROM blobs WHERE index_json IS NOT NULL;
CREATE TABLE blobs_v3 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0,
  released_at INTEGER,
  indexed INTEGER NOT NULL DEFAULT 0,
  search_state INTEGER NOT NULL DEFAULT 0,
  sent_day TEXT,
  created_at INTEGER NOT NULL
);
INSERT INTO blobs_v3 (seq, id, size, refs, released_at, indexed, search_state, sent_day, created_at)
  SELECT seq, id, size, refs, released_at, index_json IS NOT NULL, search_state, sent_day, created_at FROM blobs;
DROP TABLE blobs;
ALTER TABLE blobs_v3 RENAME TO blobs;
CREATE INDEX blobs_released ON blobs(released_at) WHERE refs <= 0;
CREATE INDEX blobs_search_pending ON blobs(seq) WHERE search_state = 0 AND indexed = 1;
`,
  },
];
