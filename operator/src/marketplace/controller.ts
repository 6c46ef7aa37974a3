// The Marketplace controller: one reconcile per tenant (reconcile.ts), and the tenants'
// conditions in the gorten_operator_marketplaces metric.
import { API_VERSION, type Marketplace } from '../api/types.js';
import type { Manager } from '../manager.js';
import type { Controller } from '../runtime/controller.js';
import { reconcileMarketplace } from './reconcile.js';

export function setup(manager: Manager): Controller<Marketplace> {
  const { clients } = manager;
  const marketplaces = manager.add<Marketplace>({
    name: 'marketplace',
    ref: { apiVersion: API_VERSION, kind: 'Marketplace' },
    reconcile: (name, cache) =>
      reconcileMarketplace(
        { ...clients, cached: (n) => cache.get(n), marketplaces: () => cache.values() },
        name,
      ),
  });
  manager.metrics.tenantConditions = () =>
    [...marketplaces.informer.cache.values()].map((m) => m.status?.conditions ?? []);
  return marketplaces;
}
