/**
 * The command table: one entry per command, each declaring the states it is
 * valid in; the session checks the state once, then calls parse and run.
 */
import { apop } from './apop.js';
import { auth } from './auth.js';
import { capa } from './capa.js';
import { dele } from './dele.js';
import { list, uidl } from './list.js';
import { quit } from './quit.js';
import { retr, top } from './retr.js';
import { noop, rset, stat } from './stat.js';
import { stls } from './stls.js';
import type { AnyCommand } from './types.js';
import { pass, user } from './user-pass.js';

export const commandTable: ReadonlyMap<string, AnyCommand> = new Map(
  [capa, stls, user, pass, apop, auth, stat, list, uidl, retr, top, dele, noop, rset, quit].map((c) => [c.name, c]),
);

export { continueSasl } from './auth.js';
export type { AnyCommand, SessionApi } from './types.js';
