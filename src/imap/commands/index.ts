/**
 * The command table (DESIGN.md: a command is an entry in a table). UID forms
 * are their own entries ("UID FETCH"), so dispatch is one map lookup.
 */
import { appendCommand } from './append.js';
import { authenticateCommand } from './authenticate.js';
import { capabilityCommand } from './capability.js';
import { closeCommand, unselectCommand } from './close.js';
import { compressCommand } from './compress.js';
import { copyCommand, moveCommand, uidCopyCommand, uidMoveCommand } from './copy.js';
import { createCommand } from './create.js';
import { deleteCommand } from './delete.js';
import { enableCommand } from './enable.js';
import { expungeCommand, uidExpungeCommand } from './expunge.js';
import { fetchCommand, uidFetchCommand } from './fetch.js';
import { idCommand } from './id.js';
import { idleCommand } from './idle.js';
import { listCommand, lsubCommand } from './list.js';
import { loginCommand } from './login.js';
import { logoutCommand } from './logout.js';
import { namespaceCommand } from './namespace.js';
import { checkCommand, noopCommand } from './noop.js';
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from './quota.js';
import { renameCommand } from './rename.js';
import { searchCommand, uidSearchCommand } from './search.js';
import { examineCommand, selectCommand } from './select.js';
import { sortCommand, uidSortCommand } from './sort.js';
import { starttlsCommand } from './starttls.js';
import { statusCommand } from './status.js';
import { storeCommand, uidStoreCommand } from './store.js';
import { subscribeCommand, unsubscribeCommand } from './subscribe.js';
import { threadCommand, uidThreadCommand } from './thread.js';
import type { Command } from './types.js';

export type { Command, Done } from './types.js';

const all: Array<Command<any>> = [
  capabilityCommand,
  noopCommand,
  logoutCommand,
  starttlsCommand,
  authenticateCommand,
  loginCommand,
  enableCommand,
  idCommand,
  compressCommand,
  selectCommand,
  examineCommand,
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
  listCommand,
  lsubCommand,
  namespaceCommand,
  statusCommand,
  appendCommand,
  checkCommand,
  closeCommand,
  unselectCommand,
  expungeCommand,
  uidExpungeCommand,
  searchCommand,
  uidSearchCommand,
  fetchCommand,
  uidFetchCommand,
  storeCommand,
  uidStoreCommand,
  copyCommand,
  uidCopyCommand,
  moveCommand,
  uidMoveCommand,
  idleCommand,
  sortCommand,
  uidSortCommand,
  threadCommand,
  uidThreadCommand,
  getQuotaRootCommand,
  getQuotaCommand,
  setQuotaCommand,
];

export const commandTable: ReadonlyMap<string, Command<any>> = new Map(all.map((c) => [c.name, c]));
