/**
 * Who a fetched message is for: the account's user (single-drop), or the
 * local recipients named in its headers plus the fallback user (multi-drop,
 * see multidrop.ts for the rules).
 *
 * "Local" means what route() means: an address in one of our domains that
 * reaches a user or an alias (sub-addresses and catch-alls included), via the
 * same lookups route() makes (ServiceContext.recipients). Only local addresses are handed to
 * route(): an address in someone else's domain would otherwise be queued for
 * delivery back out, and fetched mail must never leave that way.
 */
import type { Recipients, Resolution } from '../delivery/types.js';
import type { ExternalAccount, Store, User } from '../store/types.js';
import { candidateAddresses, chooseRecipients, recipientTiers, type RecipientChoice } from './multidrop.js';

export interface FetchRecipients {
  /** Addresses for route(), deduplicated; never empty. */
  rcptTo: string[];
  /** The multi-drop decision (null for single-drop), for logs. */
  choice: RecipientChoice | null;
}

export interface AddressResolver {
  /** Whether route() would keep this address here (a user or an alias of ours). */
  isLocal(address: string): Promise<boolean>;
  /** The local users route() would deliver this address to (after aliases and forwards). */
  users(address: string): Promise<User[]>;
}

/** Resolves addresses like route() does, cached for the length of one poll (10,000 messages name few addresses). */
export function createAddressResolver(store: Store, recipients: Recipients): AddressResolver {
  const cache = new Map<string, Promise<Resolution>>();
  const domains = new Map<string, Promise<boolean>>();
  const isLocalDomain = (d: string) => {
    let p = domains.get(d);
    if (!p) {
      p = store.getDomain(d).then((x) => x !== null);
      p.catch(() => domains.delete(d));
      domains.set(d, p);
    }
    return p;
  };
  const resolve = (address: string) => {
    let p = cache.get(address);
    if (!p) {
      p = recipients.resolve(address, { isLocalDomain });
      // A store hiccup must not be remembered as "not local".
      p.catch(() => cache.delete(address));
      cache.set(address, p);
    }
    return p;
  };
  return {
    isLocal: async (address) => (await resolve(address)).kind === 'local',
    users: async (address) => {
      const r = await resolve(address);
      return r.kind === 'local' ? r.users : [];
    },
  };
}

export async function recipientsFor(
  account: ExternalAccount,
  target: User,
  header: Buffer,
  resolver: AddressResolver,
): Promise<FetchRecipients> {
  if (account.mode === 'single') return { rcptTo: [target.address], choice: null };
  const tiers = recipientTiers(header);
  const local = new Set<string>();
  for (const a of candidateAddresses(tiers)) if (await resolver.isLocal(a)) local.add(a);
  const choice = chooseRecipients(tiers, (a) => local.has(a));
  const rcpt = new Set(choice.local);
  if (choice.fallback) rcpt.add(target.address.toLowerCase());
  return { rcptTo: [...rcpt], choice };
}
