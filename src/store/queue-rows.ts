/**
 * What both stores share about the outbound queue that is not SQL: queue ids,
 * the recipient row as both databases return it (BIGINT as numbers, epoch ms),
 * and its mapping to the Store's QueueRecipient.
 */
import { randomBytes } from 'node:crypto';
import type { QueueRecipient, RecipientState } from './types.js';

export interface RecipientRow {
  id: number;
  entry_id: string;
  address: string;
  state: RecipientState;
  attempts: number;
  next_attempt_at: number;
  last_reply: string | null;
  last_host: string | null;
  updated_at: number;
  dsn_notify: string | null;
  dsn_orcpt: string | null;
}

export const RECIPIENT_STATES: ReadonlySet<RecipientState> = new Set<RecipientState>(['queued', 'deferred', 'delivered', 'bounced']);

// Crockford's base32: no I, L, O, U, so ids read aloud or retyped from logs survive.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 12 characters, 60 random bits: short enough for logs, unique enough for a queue. */
export function newQueueId(): string {
  let n = randomBytes(8).readBigUInt64BE();
  let id = '';
  for (let i = 0; i < 12; i++) {
    id += ALPHABET[Number(n & 31n)];
    n >>= 5n;
  }
  return id;
}

export const toRecipient = (r: RecipientRow): QueueRecipient => ({
  id: r.id,
  address: r.address,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: new Date(r.next_attempt_at),
  lastReply: r.last_reply,
  lastHost: r.last_host,
  updatedAt: new Date(r.updated_at),
  dsnNotify: r.dsn_notify,
  dsnOrcpt: r.dsn_orcpt,
});
