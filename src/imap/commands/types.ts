/**
 * The shape of a command table entry (DESIGN.md: `{ name, states, parse, run }`).
 * The session checks `states` once; `parse` reads the arguments from a Cursor
 * (ParseError → BAD); `run` does the work and returns the tagged completion.
 */
import type { Status } from '../errors.js';
import type { Cursor } from '../parser/cursor.js';
import type { Session, StateKind } from '../session.js';

export interface Done {
  status?: Status;
  code?: string | undefined;
  text: string;
  /** The command already sent its tagged reply (STARTTLS, COMPRESS switch streams right after it). */
  silent?: boolean;
}

export interface Command<A = unknown> {
  name: string;
  states: readonly StateKind[];
  parse(c: Cursor, s: Session): A;
  run(s: Session, args: A, tag: string): Promise<Done | void>;
  /** May EXPUNGE responses go out when it completes? No for FETCH/STORE/SEARCH by sequence number (RFC 3501 7.4.1). */
  expungeOk?: boolean;
  /** Send mailbox updates before completing (default true). */
  syncAfter?: boolean;
}

export const ANY: readonly StateKind[] = ['notAuthenticated', 'authenticated', 'selected'];
export const NOT_AUTHENTICATED: readonly StateKind[] = ['notAuthenticated'];
export const AUTHENTICATED: readonly StateKind[] = ['authenticated', 'selected'];
export const SELECTED: readonly StateKind[] = ['selected'];

export function command<A>(c: Command<A>): Command<A> {
  return c;
}

/** For commands without arguments. */
export const noArgs = (): null => null;
