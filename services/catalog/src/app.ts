// The catalog as the kit starts it: its environment, collections, routes, the outboxes
// of product events and low-stock notices, and the inventory_update consumer.
import type { ServiceDefinition } from '@gorten/kit';
import { catalogEnv, type CatalogEnv } from './config.js';
import type { CatalogDeps } from './deps.js';
import { applyProductEvent } from './inventory.js';
import { CatalogMetrics } from './metrics.js';
import { CATALOG_ROUTES } from './routes.js';
import { CATALOG_INDEXES, catalogStore } from './store.js';

export const catalogService: ServiceDefinition<CatalogEnv, CatalogDeps> = {
  info: {
    title: 'Gorten catalog',
    version: '0.1.0',
    description: 'Categories, products and stock of one marketplace.',
  },
  env: catalogEnv,
  indexes: CATALOG_INDEXES,
  routes: CATALOG_ROUTES,
  outboxCollections: ['products', 'inventory'],
  deps: ({ env, db, metrics, cache }) => ({
    env,
    cache,
    store: catalogStore(db),
    metrics: new CatalogMetrics(metrics.registry),
    now: () => new Date(),
  }),
  consumers: (deps) => [
    {
      name: 'catalog-inventory',
      queue: 'inventory_update',
      handle: (event) => applyProductEvent(deps, event),
    },
  ],
};
