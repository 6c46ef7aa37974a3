// The catalog's rules as pure functions: which status changes are allowed, who sees
// which products, and how a listing query becomes a MongoDB filter and sort.
import {
  afterCursor,
  conflict,
  forbidden,
  isAdmin,
  isSellerOf,
  unprocessable,
  type Principal,
} from '@gorten/kit';
import type { ProductDoc, ProductStatus } from './store.js';

/** draft → active | archived; active → archived; archived → active (relisted). */
const TRANSITIONS: Record<ProductStatus, readonly ProductStatus[]> = {
  draft: ['active', 'archived'],
  active: ['archived'],
  archived: ['active'],
};

export function assertTransition(from: ProductStatus, to: ProductStatus): void {
  if (from === to || TRANSITIONS[from].includes(to)) return;
  throw conflict(`A product cannot go from ${from} to ${to}.`, { from, to });
}

/** May this caller see products of `companyId` that are not active? */
export function seesUnlisted(principal: Principal | undefined, companyId: string): boolean {
  return isAdmin(principal) || isSellerOf(principal, companyId);
}

export const PRODUCT_SORTS = ['newest', 'price', '-price', 'name'] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

const SORT_FIELDS: Record<ProductSort, { field: string; direction: 1 | -1 }> = {
  newest: { field: '_id', direction: -1 },
  price: { field: 'price.amount', direction: 1 },
  '-price': { field: 'price.amount', direction: -1 },
  name: { field: 'name', direction: 1 },
};

export function sortSpec(sort: ProductSort): Record<string, 1 | -1> {
  const { field, direction } = SORT_FIELDS[sort];
  return field === '_id' ? { _id: direction } : { [field]: direction, _id: direction };
}

export function sortValue(sort: ProductSort, doc: ProductDoc): string | number {
  const { field } = SORT_FIELDS[sort];
  return field === 'price.amount' ? doc.price.amount : field === 'name' ? doc.name : doc._id;
}

export interface ProductQuery {
  limit: number;
  cursor?: string;
  sort: ProductSort;
  company?: string;
  status?: ProductStatus;
  q?: string;
  minPrice?: number;
  maxPrice?: number;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The filter for a listing. Anyone sees active products of active companies; a status
 * other than active may be asked for only by admins, or by a seller about their own
 * company, and only they see the products of `inactiveCompanies` (suspended, removed).
 * `categoryIds` is the asked-for category with its descendants.
 */
export function productFilter(
  query: ProductQuery,
  principal: Principal | undefined,
  categoryIds: string[] | undefined,
  inactiveCompanies: readonly string[] = [],
): Record<string, unknown> {
  const status = query.status ?? 'active';
  if (status !== 'active') {
    const allowed =
      isAdmin(principal) || (query.company !== undefined && seesUnlisted(principal, query.company));
    if (!allowed)
      throw forbidden('Only admins, and sellers for their own company, list unlisted products.');
  }
  if (
    query.minPrice !== undefined &&
    query.maxPrice !== undefined &&
    query.minPrice > query.maxPrice
  )
    throw unprocessable('minPrice must not exceed maxPrice.');
  const price: Record<string, number> = {};
  if (query.minPrice !== undefined) price.$gte = query.minPrice;
  if (query.maxPrice !== undefined) price.$lte = query.maxPrice;
  const { field, direction } = SORT_FIELDS[query.sort];
  const hidden = inactiveCompanies.filter((c) => !seesUnlisted(principal, c));
  const conditions: Record<string, unknown>[] = [
    { status },
    ...(query.company ? [{ companyId: query.company }] : []),
    ...(hidden.length > 0 ? [{ companyId: { $nin: hidden } }] : []),
    ...(categoryIds ? [{ categoryId: { $in: categoryIds } }] : []),
    ...(query.q ? [{ name: { $regex: escapeRegex(query.q), $options: 'i' } }] : []),
    ...(Object.keys(price).length > 0 ? [{ 'price.amount': price }] : []),
  ];
  const after = afterCursor(field, direction, query.cursor);
  if (Object.keys(after).length > 0) conditions.push(after);
  return conditions.length === 1 ? (conditions[0] ?? {}) : { $and: conditions };
}
