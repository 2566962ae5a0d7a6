/**
 * A POP3 session's state (RFC 1939 3), as a discriminated union: what each state
 * holds is only reachable in that state.
 *
 *   authorization --USER/PASS, APOP, AUTH--> transaction --QUIT--> update --> closed
 *        |  AUTH with a challenge: sasl (lines are SASL responses, not commands)
 *        `--QUIT / drop / timeout--> closed (nothing is changed in the store)
 */
import type { SaslExchange } from '../auth/types.js';
import type { User } from '../store/types.js';
import type { Maildrop } from './maildrop.js';

export type SessionState =
  /** `user`: the name given by USER, waiting for PASS. */
  | { kind: 'authorization'; user: string | null }
  /**
   * In a SASL exchange (RFC 5034). `succeeded`: the mechanism already accepted and
   * sent its additional data as a last challenge; the client's (empty) answer ends it.
   */
  | { kind: 'sasl'; exchange: SaslExchange; succeeded: User | null }
  | { kind: 'transaction'; user: User; maildrop: Maildrop }
  /** QUIT in TRANSACTION: applying deletions; no more commands are read. */
  | { kind: 'update' }
  | { kind: 'closed' };

/** The states a command can be valid in. */
export type CommandState = 'authorization' | 'transaction';
