/**
 * Every `mailroom` sub-command group registers itself here; cli/main.ts walks this list.
 * A command file exports `register(program: Command, cli: CliContext): void`.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerFetchCommands } from './fetch.js';
import { registerPolicyCommands } from './policy.js';
import { registerQueueCommands } from './queue.js';
import { registerDkimCommands } from './dkim.js';
import { registerPop3Commands } from './pop3.js';

export type RegisterCommands = (program: Command, cli: CliContext) => void;

export const commandGroups: RegisterCommands[] = [
  registerQueueCommands,
  registerDkimCommands,
  registerFetchCommands,
  registerPolicyCommands,
  registerPop3Commands,
];
