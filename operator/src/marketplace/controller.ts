// The Marketplace controller: one reconcile per tenant (reconcile.ts), its planes timed
// and counted per plane, and the tenants' conditions in the gorten_operator_marketplaces metric.
// The tenants' objects are watched too (owned.ts): the planes read them from the caches,
// and a rollout's end queues its tenant.
import { API_VERSION, type Marketplace } from '../api/types.js';
import type { Manager } from '../manager.js';
import type { Controller } from '../runtime/controller.js';
import { TenantObjects } from './owned.js';
import { MARKETPLACE_CONDITIONS, reconcileMarketplace } from './reconcile.js';

const NAME = 'marketplace';
/** A tenant's Deployment events within this long of the first make one reconcile. */
const ROLLOUT_SETTLE_MS = 1_000;

export function setup(manager: Manager): Controller<Marketplace> {
  const { clients } = manager;
  const planes = manager.metrics.planeObserver(NAME);
  // Started before the controller (added first), so its first reconciles find the cache full.
  const owned = new TenantObjects(
    manager.kube,
    manager.kc,
    (name) => {
      if (marketplaces.informer.cache.has(name)) marketplaces.enqueueSoon(name, ROLLOUT_SETTLE_MS);
    },
    manager.log,
  );
  manager.run(owned);
  const marketplaces: Controller<Marketplace> = manager.add<Marketplace>({
    name: NAME,
    ref: { apiVersion: API_VERSION, kind: 'Marketplace' },
    reconcile: (name, cache) =>
      reconcileMarketplace(
        {
          ...clients,
          planes,
          cached: (n) => cache.get(n),
          marketplaces: () => cache.values(),
          owned,
        },
        name,
      ),
  });
  manager.metrics.tenantConditions = () =>
    manager.ready
      ? [...marketplaces.informer.cache.values()].map((m) => ({
          name: m.metadata.name,
          conditions: m.status?.conditions ?? [],
        }))
      : undefined;
  manager.metrics.tenantConditionTypes = MARKETPLACE_CONDITIONS;
  return marketplaces;
}
