/** Helpers shared by the mailbox management commands. */
import type { SpecialUse } from '../../store/types.js';
import { errors, no } from '../errors.js';
import { checkCreatableName, parentsOf, SEPARATOR } from '../names.js';
import type { Session } from '../session.js';

export const SPECIAL_USES: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged'];

export function specialUseOf(flag: string): SpecialUse {
  const found = SPECIAL_USES.find((u) => u.toLowerCase() === flag.toLowerCase());
  if (!found) throw no('USEATTR', `Unsupported special-use attribute ${flag}`);
  return found;
}

/** Creates the missing parents of a name (RFC 3501 6.3.3: the server creates superiors). */
export async function createParents(s: Session, name: string): Promise<void> {
  const user = s.user();
  for (const parent of parentsOf(name)) {
    if (!(await s.store.getMailbox(user.id, parent))) {
      await s.store.createMailbox(user.id, parent).catch((err: unknown) => {
        // Someone else created it meanwhile: fine.
        if (!(err instanceof Error && 'code' in err && (err as { code: string }).code === 'exists')) throw err;
      });
    }
  }
}

/** A name for CREATE/RENAME targets, with a trailing separator dropped (RFC 3501 6.3.3). */
export function creatableName(s: Session, raw: Buffer): string {
  let name = s.mailboxName(raw);
  while (name.endsWith(SEPARATOR)) name = name.slice(0, -1);
  checkCreatableName(name);
  if (name.length === 0) throw errors.badMailboxName('Empty mailbox name');
  return name;
}
