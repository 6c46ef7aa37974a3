// What the catalog caches (kit/cache.ts) and what makes it stale. Cached, for anonymous
// callers only (a seller or an admin sees unlisted products; any caller with a token
// reads the database): a product by id, a listing page per query (filter, sort, cursor,
// limit) and the category list. A cached product holds its stock and version, so every
// write that changes a product bumps its generations — the catalog's routes and the
// stock module's reservations alike, wherever they run (checkout calls the stock module
// in its own process, with the same Redis and prefix): the stock and version a buyer
// reads are never older than the last confirmed change. A listing also depends on the
// category tree (a category filter takes the subtree), so category writes bump it too.
// A company suspended or reactivated (the companies service, the operator) changes what
// is for sale without a catalog write: that shows within the TTL (CACHE_TTL_SECONDS).
import type { Principal } from '@gorten/kit';
import { GENERATIONS } from './cache-generations.js';
import { listCategories } from './categories.js';
import type { CatalogDeps } from './deps.js';
import type { ProductQuery } from './product-rules.js';
import { getProduct, listProducts } from './products.js';

/** The product's JSON as an anonymous caller sees it (a 404 is not cached). */
export function productJson(
  deps: CatalogDeps,
  principal: Principal | undefined,
  id: string,
): Promise<string> {
  const read = async () => JSON.stringify(await getProduct(deps, principal, id));
  if (principal) return deps.cache.bypass('product', read);
  return deps.cache.read(
    { cache: 'product', generations: [GENERATIONS.product(id)], asked: id },
    read,
  );
}

export function listingJson(
  deps: CatalogDeps,
  principal: Principal | undefined,
  query: ProductQuery & { category?: string },
): Promise<string> {
  const read = async () => JSON.stringify(await listProducts(deps, principal, query));
  if (principal) return deps.cache.bypass('listing', read);
  return deps.cache.read(
    {
      cache: 'listing',
      generations: [GENERATIONS.listings, GENERATIONS.categories],
      asked: query,
    },
    read,
  );
}

export function categoriesJson(deps: CatalogDeps): Promise<string> {
  return deps.cache.read(
    { cache: 'categories', generations: [GENERATIONS.categories], asked: 'all' },
    async () => JSON.stringify({ items: await listCategories(deps) }),
  );
}
