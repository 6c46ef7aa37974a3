// The generations of the catalog's cached reads (kit/cache.ts) and the writes that bump
// them, after the database write and before answering. A cached product holds its stock
// and version, so stock changes bump too: the stock module's, which checkout runs in its
// own process with the same Redis and prefix. Listings also depend on the category tree
// (a category filter takes the subtree), so category writes bump them.
import type { ReadCache } from '@gorten/kit';

export const GENERATIONS = {
  /** Every listing page: any product's change may move it in or out of a page. */
  listings: 'catalog:products',
  categories: 'catalog:categories',
  product: (id: string) => `catalog:product:${id}`,
} as const;

/** After a product write (a route's, or a stock change's): its reads and every listing. */
export function productsChanged(cache: ReadCache, ids: readonly string[]): Promise<void> {
  return cache.invalidate([GENERATIONS.listings, ...ids.map(GENERATIONS.product)]);
}

/** After a category write: the category list and every listing (category filters). */
export function categoriesChanged(cache: ReadCache): Promise<void> {
  return cache.invalidate([GENERATIONS.categories]);
}
