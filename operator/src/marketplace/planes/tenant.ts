// What every Marketplace plane is given: the tenant, its names, the credentials chosen
// for it before any plane runs (kept from their Secrets, or generated), and the Secrets
// already listed in its namespace; and how a plane applies what it owns.
import type { Marketplace } from '../../api/types.js';
import { applySet, type ApplySetResult, type KindRef } from '../../clients/apply.js';
import type { KubeObject } from '../../clients/kube.js';
import type { OperatorClients } from '../../manager.js';
import type { Plane } from '../../runtime/plan.js';
import type { KeyPair } from '../../secrets.js';
import type { TenantNames } from '../names.js';
import type { TenantObjects } from '../owned.js';

export interface MarketplaceDeps extends OperatorClients {
  /** The informer's copy, to save a read per reconcile. */
  cached: (name: string) => Marketplace | undefined;
  /** Every Marketplace the informer knows (this operator's selector), e.g. to compare hosts. */
  marketplaces: () => Iterable<Marketplace>;
  /**
   * The informer caches of the tenants' objects (owned.ts): read instead of lists. Absent,
   * the planes list (and, without Deployment events, poll while a rollout runs).
   */
  owned?: Pick<TenantObjects, 'listed' | 'namespace'>;
}

export interface TenantCredentials {
  databasePassword: string;
  brokerPassword: string;
  cachePassword: string;
  adminPassword: string;
  signingKey: KeyPair;
  /** The HMAC key of checkout's and orders' request fingerprints. */
  idempotencyKey: string;
  smtpUrl: string;
}

export interface Tenant {
  deps: MarketplaceDeps;
  mp: Marketplace;
  names: TenantNames;
  credentials: TenantCredentials;
  /** The namespace's Secrets as listed before the planes ran. */
  secrets: readonly KubeObject[];
}

export interface TenantPlane<C extends string> extends Plane<C, Tenant> {
  /**
   * Deletion with deletionPolicy Delete, before anything is dropped: stop what would
   * write to the data the planes drop. Returns what still runs (empty once stopped).
   */
  stop?: (deps: MarketplaceDeps, mp: Marketplace) => Promise<string[]>;
  /** Deletion with deletionPolicy Delete: drop what this plane made outside Kubernetes. */
  drop?: (deps: MarketplaceDeps, names: TenantNames) => Promise<void>;
}

/**
 * Applies `objects` in the tenant's namespace, pruning what the tenant owns of the
 * `prune` kinds but no longer wants. Secrets are compared with the list already made,
 * the other kinds with the informers' caches.
 */
export function applyOwned(
  tenant: Tenant,
  objects: readonly KubeObject[],
  prune: readonly KindRef[] = [],
): Promise<ApplySetResult> {
  const { deps, names } = tenant;
  const listed = new Map<string, readonly KubeObject[]>(deps.owned?.listed(names.namespace));
  listed.set('v1/Secret', tenant.secrets);
  return applySet(
    deps.kube,
    names.namespace,
    objects,
    prune,
    ['gorten.io/marketplace', tenant.mp.metadata.name],
    listed,
  );
}
