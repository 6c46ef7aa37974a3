// What the catalog's use cases work with; built once at start (app.ts).
import type { CatalogEnv } from './config.js';
import type { CatalogStore } from './store.js';

export interface CatalogDeps {
  env: CatalogEnv;
  store: CatalogStore;
  now: () => Date;
}
