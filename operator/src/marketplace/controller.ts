// The Marketplace controller: one reconcile per tenant (reconcile.ts), its planes timed
// and counted per plane, and the tenants' conditions in the gorten_operator_marketplaces metric.
import { API_VERSION, type Marketplace } from '../api/types.js';
import type { Manager } from '../manager.js';
import type { Controller } from '../runtime/controller.js';
import { MARKETPLACE_CONDITIONS, reconcileMarketplace } from './reconcile.js';

const NAME = 'marketplace';

export function setup(manager: Manager): Controller<Marketplace> {
  const { clients } = manager;
  const planes = manager.metrics.planeObserver(NAME);
  const marketplaces = manager.add<Marketplace>({
    name: NAME,
    ref: { apiVersion: API_VERSION, kind: 'Marketplace' },
    reconcile: (name, cache) =>
      reconcileMarketplace(
        { ...clients, planes, cached: (n) => cache.get(n), marketplaces: () => cache.values() },
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
