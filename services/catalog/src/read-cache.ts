// What the catalog caches (kit/cache.ts), for anonymous callers only — a token may see
// unlisted products, so it reads the database: a product by id, a listing page per query
// (filter, sort, cursor, limit) and the category list. cache-generations.ts says what each
// depends on and which writes bump it. A company suspended or reactivated (the companies
// service, the operator) is no catalog write: that shows within the TTL (CACHE_TTL_SECONDS).
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
