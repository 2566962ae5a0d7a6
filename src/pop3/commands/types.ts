/**
 * What a command sees of its session, and the shape of an entry in the command
 * table. A command either answers through the session or throws a Pop3Error
 * (errors.ts), which the session turns into its -ERR line.
 */
import type { Logger } from 'pino';
import type { LoginContext, LoginFailure } from '../../auth/types.js';
import type { ServiceContext } from '../../service.js';
import type { User } from '../../store/types.js';
import type { Pop3Error } from '../errors.js';
import type { DropMessage } from '../maildrop.js';
import type { ParsedCommand } from '../parser.js';
import type { CommandState, SessionState } from '../state.js';

export interface SessionApi {
  readonly id: string;
  readonly state: SessionState;
  readonly ctx: ServiceContext;
  readonly log: Logger;
  /** Client address and whether TLS is active, for the Authenticator. */
  readonly loginContext: LoginContext;
  /** STLS is possible now (plain connection, TLS configured, not yet upgraded). */
  readonly canStartTls: boolean;
  /** The APOP timestamp of the greeting, or null when APOP is not enabled. */
  readonly apopTimestamp: string | null;

  setState(state: SessionState): void;
  /** "+OK text". */
  ok(text?: string): void;
  /** "+OK head", the lines (dot-stuffed), ".". */
  multiline(head: string, lines: Iterable<string>): void;
  /** A raw line such as a SASL challenge ("+ base64"), CRLF added. */
  sendLine(line: string): void;
  /** "+OK head", message n dot-stuffed (TOP: header + bodyLines lines), ".". */
  sendMessage(n: number, msg: DropMessage, head: string, bodyLines?: number): Promise<void>;
  /** Answer "+OK" and switch the connection to TLS (RFC 2595). */
  startTls(): Promise<void>;
  /** Credentials are good: lock and open the maildrop, enter TRANSACTION, answer. Throws Pop3Error. */
  completeLogin(user: User): Promise<void>;
  /** Credentials are bad: count the failure, return the error to throw. */
  loginFailed(result: LoginFailure): Pop3Error;
  /** QUIT: UPDATE state if in TRANSACTION, answer, close. */
  quit(): Promise<void>;
}

export interface CommandSpec<P> {
  name: string;
  states: readonly CommandState[];
  /** Check the arguments; return them parsed or the error to answer with. */
  parse(cmd: ParsedCommand): P | Pop3Error;
  run(session: SessionApi, args: P): Promise<void> | void;
}

export type AnyCommand = CommandSpec<unknown>;

/** Erase the argument type so commands of different shapes share one table. */
export function command<P>(spec: CommandSpec<P>): AnyCommand {
  return spec as unknown as AnyCommand;
}
