// What the catalog's use cases work with; built once at start (app.ts).
import type { ReadCache } from '@gorten/kit';
import type { CatalogEnv } from './config.js';
import type { CatalogMetrics } from './metrics.js';
import type { CatalogStore } from './store.js';

export interface CatalogDeps {
  env: CatalogEnv;
  store: CatalogStore;
  metrics: CatalogMetrics;
  /** Reads for anonymous callers (read-cache.ts); off without REDIS_URL. */
  cache: ReadCache;
  now: () => Date;
}
