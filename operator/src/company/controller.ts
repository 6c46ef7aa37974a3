// The Company controller: one reconcile per Company (reconcile.ts). It reads Marketplaces
// from their controller's cache, and each Marketplace reconcile queues the Companies of
// that tenant: a Company waiting for its marketplace need not wait for its backoff.
import { API_VERSION, type Company, type Marketplace } from '../api/types.js';
import type { Manager } from '../manager.js';
import { tenantNames } from '../marketplace/names.js';
import type { Controller } from '../runtime/controller.js';
import { reconcileCompany } from './reconcile.js';

const NAME = 'company';

export function setup(
  manager: Manager,
  marketplaces: Controller<Marketplace>,
): Controller<Company> {
  const { clients } = manager;
  const marketplace = (name: string) => marketplaces.informer.cache.get(name);
  const planes = manager.metrics.planeObserver(NAME);
  const companies = manager.add<Company>({
    name: NAME,
    ref: { apiVersion: API_VERSION, kind: 'Company' },
    reconcile: (key, cache) =>
      reconcileCompany({ ...clients, planes, cached: (k) => cache.get(k), marketplace }, key),
  });
  companies.watches(marketplaces, (name) => companies.keysIn(tenantNames(name).namespace));
  return companies;
}
