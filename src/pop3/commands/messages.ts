/** Argument checks shared by the TRANSACTION commands. */
import { errors, type Pop3Error } from '../errors.js';
import type { DropMessage } from '../maildrop.js';
import { parseNumber } from '../parser.js';
import type { SessionApi } from './types.js';

/** A message-number argument (syntax only; existence is checked at run time). */
export function messageNumber(arg: string): number | Pop3Error {
  return parseNumber(arg) ?? errors.badNumber(arg);
}

/** The maildrop of a session in TRANSACTION (the table guarantees the state). */
export function maildropOf(s: SessionApi) {
  if (s.state.kind !== 'transaction') throw errors.internal();
  return s.state.maildrop;
}

/** Message n, or the -ERR for a number out of range or marked deleted. */
export function messageAt(s: SessionApi, n: number): DropMessage {
  const found = maildropOf(s).get(n);
  if (found.ok) return found.msg;
  throw found.why === 'deleted' ? errors.deleted(n) : errors.noSuchMessage(n);
}
