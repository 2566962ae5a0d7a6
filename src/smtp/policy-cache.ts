/**
 * The store's access rules, relay rules and domain list, compiled and kept for
 * a few seconds, so that each connection and each RCPT costs no query. A
 * change made with the CLI takes effect within `ttlMs` on every node.
 *
 * Refreshes are single-flight; if the store fails, the last good view is used
 * (and the first load's failure propagates, so the caller answers 4xx).
 */
import { compileAccessPolicy, compileRelayPolicy, type AccessPolicy, type RelayPolicy } from '../core/policy.js';
import type { Store } from '../store/types.js';

export interface PolicyView {
  access: AccessPolicy;
  relay: RelayPolicy;
  /** Our domains, normalised. */
  domains: Set<string>;
  loadedAt: number;
}

export class PolicyCache {
  private view: PolicyView | null = null;
  private loading: Promise<PolicyView> | null = null;

  constructor(
    private readonly store: Store,
    private readonly opts: { relayAuthenticated: boolean; ttlMs?: number; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  async get(): Promise<PolicyView> {
    const v = this.view;
    if (v && this.now() - v.loadedAt < (this.opts.ttlMs ?? 5000)) return v;
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    try {
      return await this.loading;
    } catch (err) {
      if (v) return v;
      throw err;
    }
  }

  /** Forget the cached view (tests, or after a local change). */
  invalidate(): void {
    this.view = null;
  }

  /** A domain added since the last refresh is found too (a miss asks the store). */
  async isLocalDomain(domain: string): Promise<boolean> {
    if ((await this.get()).domains.has(domain)) return true;
    return (await this.store.getDomain(domain)) !== null;
  }

  private async load(): Promise<PolicyView> {
    const [accessRules, relayRules, domains] = await Promise.all([this.store.listAccessRules(), this.store.listRelayRules(), this.store.listDomains()]);
    const view: PolicyView = {
      access: compileAccessPolicy(accessRules),
      relay: compileRelayPolicy(relayRules, { authenticated: this.opts.relayAuthenticated }),
      domains: new Set(domains.map((d) => d.name.toLowerCase())),
      loadedAt: this.now(),
    };
    this.view = view;
    return view;
  }
}
