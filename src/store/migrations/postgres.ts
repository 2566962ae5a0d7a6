/**
 * The PostgreSQL schema as an ordered list of migrations, mirroring sqlite.ts
 * version for version (same numbers, names, tables, columns and keys; see
 * README.md in this folder). Never edit a migration that has shipped: append
 * a new one here and in sqlite.ts, in the same commit.
 *
 * Dialect choices:
 * - Ids are BIGINT identities; dates (epoch ms), sizes, counters, UIDs and
 *   MODSEQs are BIGINT (the store parses int8 as a JavaScript number).
 * - Booleans are BOOLEAN; lists (alias targets, forward_to, folders) are jsonb.
 * - index_json stays TEXT: it is parsed in JavaScript anyway, and jsonb would
 *   reorder keys and refuse some escapes.
 * - Substring SEARCH (SQLite: the FTS5 trigram table blob_fts, later
 *   blob_search): a table of the same name holding, per indexed blob, its
 *   header block and body text lower-cased by JavaScript's toLowerCase at
 *   delivery, with pg_trgm GIN indexes on both. A LIKE on those columns
 *   answers exactly what core/search.ts answers (PostgreSQL's lower() depends
 *   on the database's locale and differs, e.g. on final sigma); the GIN
 *   indexes narrow the candidates and LIKE rechecks each one. The table is
 *   apart from blobs so that reference-count updates never rewrite the
 *   trigram index entries.
 * - The search entry is written inside the delivery transaction, so
 *   blobs.search_state (kept for parity with SQLite's background indexer) is
 *   always 1 here.
 * - Names sort with COLLATE "C" in queries, as SQLite's BINARY does.
 */
import type { Migration } from './sqlite.js';

export type { Migration };

export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE domains (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);

CREATE TABLE users (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  login TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL,
  domain_id BIGINT NOT NULL REFERENCES domains(id),
  display_name TEXT NOT NULL DEFAULT '',
  quota BIGINT NOT NULL DEFAULT 0,
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  is_admin BOOLEAN NOT NULL DEFAULT FALSE,
  forward_to JSONB NOT NULL DEFAULT '[]',
  keep_copy BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL
);
CREATE INDEX users_domain ON users(domain_id);

CREATE TABLE credentials (
  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  scram_sha256 TEXT,
  sealed_secret TEXT
);

-- Every address of a user, the primary one included.
CREATE TABLE addresses (
  address TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  domain_id BIGINT NOT NULL REFERENCES domains(id),
  created_at BIGINT NOT NULL
);
CREATE INDEX addresses_user ON addresses(user_id);
CREATE INDEX addresses_domain ON addresses(domain_id);

CREATE TABLE aliases (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,          -- "local@domain" or "@domain" (catch-all)
  domain_id BIGINT NOT NULL REFERENCES domains(id),
  targets JSONB NOT NULL,                -- array of addresses
  created_at BIGINT NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

-- Counters (messages, unseen, deleted, size) are kept up to date by every
-- mutation, so STATUS and quota never scan messages. The row is what
-- concurrent writers lock (FOR NO KEY UPDATE) to allocate UIDs and MODSEQs.
CREATE TABLE mailboxes (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  special_use TEXT,
  uid_validity BIGINT NOT NULL,
  uid_next BIGINT NOT NULL DEFAULT 1,
  highest_modseq BIGINT NOT NULL DEFAULT 1,
  messages BIGINT NOT NULL DEFAULT 0,
  unseen BIGINT NOT NULL DEFAULT 0,
  deleted BIGINT NOT NULL DEFAULT 0,
  size BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  UNIQUE (user_id, name)
);

CREATE TABLE subscriptions (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
);

-- One row per distinct message body. refs = message rows + queue entries that
-- hold it; released_at = when refs last fell to 0 (GC waits a grace period).
-- index_json is the MessageIndex without "text" (kept in body_text, read lazily);
-- hdrs_text is the header block as "name: value" lines for SEARCH.
CREATE TABLE blobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  size BIGINT NOT NULL,
  refs BIGINT NOT NULL DEFAULT 0,
  released_at BIGINT,
  index_json TEXT,
  body_text TEXT,
  hdrs_text TEXT,
  sent_day TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX blobs_released ON blobs(released_at) WHERE refs <= 0;

-- Substring search (SEARCH HEADER/BODY/TEXT): the texts lower-cased by the
-- code, trigram GIN indexes; written once per blob, removed with it.
CREATE TABLE blob_fts (
  seq BIGINT PRIMARY KEY REFERENCES blobs(seq) ON DELETE CASCADE,
  hdrs TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX blob_fts_hdrs ON blob_fts USING gin (hdrs gin_trgm_ops);
CREATE INDEX blob_fts_body ON blob_fts USING gin (body gin_trgm_ops);

-- flags: bitmask of system flags (1 \\Seen, 2 \\Answered, 4 \\Flagged, 8 \\Deleted, 16 \\Draft);
-- keywords: space-separated, as given. blob_id is not a foreign key: blobs.refs counts it.
CREATE TABLE messages (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id),
  uid BIGINT NOT NULL,
  modseq BIGINT NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0,
  keywords TEXT NOT NULL DEFAULT '',
  internal_date BIGINT NOT NULL,
  size BIGINT NOT NULL,
  blob_id TEXT NOT NULL,
  retrieved_at BIGINT,
  PRIMARY KEY (mailbox_id, uid)
);

-- The change log (CONDSTORE/QRESYNC, and how sessions learn of each other's
-- work): the latest change of each kind per message; an expunge replaces the
-- message's other rows and stays for VANISHED.
CREATE TABLE changes (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid BIGINT NOT NULL,
  kind TEXT NOT NULL,                    -- 'append' | 'flags' | 'expunge'
  modseq BIGINT NOT NULL,
  PRIMARY KEY (mailbox_id, uid, kind)
);
CREATE INDEX changes_modseq ON changes(mailbox_id, modseq);

CREATE TABLE queue (
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  blob_size BIGINT NOT NULL,
  source TEXT NOT NULL,
  held BOOLEAN NOT NULL DEFAULT FALSE,
  warned_at BIGINT,
  dsn_ret TEXT,
  dsn_envid TEXT,
  lease_owner TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL
);

CREATE TABLE queue_recipients (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entry_id TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  state TEXT NOT NULL,                   -- queued | deferred | delivered | bounced
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_reply TEXT,
  last_host TEXT,
  updated_at BIGINT NOT NULL,
  dsn_notify TEXT,
  dsn_orcpt TEXT
);
CREATE INDEX queue_recipients_entry ON queue_recipients(entry_id);
CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt_at) WHERE state IN ('queued', 'deferred');

CREATE TABLE access_rules (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  UNIQUE (kind, value)
);

CREATE TABLE relay_rules (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  UNIQUE (kind, value)
);

CREATE TABLE external_accounts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  protocol TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  tls TEXT NOT NULL,
  username TEXT NOT NULL,
  sealed_password TEXT NOT NULL,
  interval INTEGER NOT NULL,
  folders JSONB NOT NULL,
  keep TEXT NOT NULL,
  delete_after_days INTEGER NOT NULL,
  mode TEXT NOT NULL,
  target_user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  enabled BOOLEAN NOT NULL,
  last_poll_at BIGINT,
  last_error TEXT,
  last_count INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE remote_seen (
  account_id BIGINT NOT NULL REFERENCES external_accounts(id) ON DELETE CASCADE,
  folder TEXT NOT NULL,
  remote_id TEXT NOT NULL,
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, folder, remote_id)
);

CREATE TABLE locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Monotonic counters (e.g. the last UIDVALIDITY handed out).
CREATE TABLE sequences (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'search index without positions',
    // SQLite swapped its positional FTS table for a smaller one (blob_search)
    // and added search_state for a background indexer. GIN trigram indexes
    // hold no positions already, so here the table is only renamed, and the
    // column mirrored (always 1: every blob is searchable at commit).
    sql: `
ALTER TABLE blob_fts RENAME TO blob_search;
ALTER INDEX blob_fts_hdrs RENAME TO blob_search_hdrs;
ALTER INDEX blob_fts_body RENAME TO blob_search_body;
ALTER TABLE blobs ADD COLUMN search_state INTEGER NOT NULL DEFAULT 1;
`,
  },
  {
    version: 3,
    name: 'blob texts in their own table',
    // SQLite moved index_json/hdrs_text/body_text out of blobs because reading
    // a column stored after them walked the row's overflow pages. PostgreSQL
    // moves large values out of line (TOAST) by itself and reads them only
    // when the column is selected, so the split would buy nothing here and
    // the texts stay in blobs. Only SQLite's new blobs.indexed column is
    // mirrored, derived from index_json so that no write path can let the
    // two disagree.
    sql: `
ALTER TABLE blobs ADD COLUMN indexed BOOLEAN GENERATED ALWAYS AS (index_json IS NOT NULL) STORED;
`,
  },
];
