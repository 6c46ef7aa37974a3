// Products: owned by one company, SKU unique within it, priced in the marketplace's
// currency in minor units. Only an active company's products are shown for sale, and only
// while it is active do its sellers change them (for-sale.ts). Every change is one conditional update on the product that
// also appends its event to the product's outbox, so the change and the event are
// stored together or not at all; the version guards against lost updates.
import {
  assertActsForCompany,
  conflict,
  isAdmin,
  isDuplicateKey,
  newId,
  notFound,
  outboxEntry,
  page,
  unprocessable,
  type OutboxEntry,
  type Principal,
} from '@gorten/kit';
import { parentMap, subtree } from './categories.js';
import type { CatalogDeps } from './deps.js';
import { activeCompanies, inactiveCompanies } from './for-sale.js';
import {
  assertTransition,
  productFilter,
  seesUnlisted,
  sortSpec,
  sortValue,
  type ProductQuery,
} from './product-rules.js';
import type { NewProduct, Product, ProductChange, ProductEvent } from './schemas.js';
import { productsChanged } from './cache-generations.js';
import type { Money, ProductDoc } from './store.js';

export function toProduct(doc: ProductDoc): Product {
  return {
    id: doc._id,
    companyId: doc.companyId,
    sku: doc.sku,
    name: doc.name,
    description: doc.description,
    categoryId: doc.categoryId,
    price: doc.price,
    stock: doc.stock,
    status: doc.status,
    lowStockThreshold: doc.lowStockThreshold,
    version: doc.version,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

/** The outbox entry reporting `doc` as it is now. */
export function productEventEntry(
  doc: ProductDoc,
  type: 'product.added' | 'product.updated',
): OutboxEntry {
  const data: ProductEvent = {
    productId: doc._id,
    companyId: doc.companyId,
    sku: doc.sku,
    name: doc.name,
    status: doc.status,
    price: doc.price,
    stock: doc.stock,
    lowStockThreshold: doc.lowStockThreshold,
    version: doc.version,
  };
  return outboxEntry('product_exchange', type, type, data);
}

function checkCurrency(deps: CatalogDeps, price: Money): void {
  if (price.currency !== deps.env.CURRENCY)
    throw unprocessable(`Prices in this marketplace are in ${deps.env.CURRENCY}.`);
}

async function checkCompanyActive(deps: CatalogDeps, companyId: string): Promise<void> {
  const company = await deps.store.companies.findOne({ _id: companyId });
  if (company?.status !== 'active') throw unprocessable('The company is not active here.');
}

async function checkCategory(deps: CatalogDeps, categoryId: string | null): Promise<void> {
  if (categoryId && !(await deps.store.categories.findOne({ _id: categoryId })))
    throw unprocessable('The category does not exist.');
}

export async function createProduct(
  deps: CatalogDeps,
  principal: Principal,
  input: NewProduct,
): Promise<Product> {
  const companyId = input.companyId ?? principal.companyId;
  if (!companyId) throw unprocessable('Name the company (admins) or sign in for one (sellers).');
  assertActsForCompany(principal, companyId);
  await checkCompanyActive(deps, companyId);
  checkCurrency(deps, input.price);
  await checkCategory(deps, input.categoryId);
  const now = deps.now();
  const doc: ProductDoc = {
    _id: newId('prd'),
    companyId,
    sku: input.sku,
    name: input.name,
    description: input.description,
    categoryId: input.categoryId,
    price: input.price,
    stock: input.stock,
    status: input.status,
    lowStockThreshold: input.lowStockThreshold ?? deps.env.LOW_STOCK_THRESHOLD,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  doc.outbox = [productEventEntry(doc, 'product.added')];
  try {
    await deps.store.products.insertOne(doc);
  } catch (err) {
    if (isDuplicateKey(err))
      throw conflict(`The company already has a product with SKU ${input.sku}.`);
    throw err;
  }
  await productsChanged(deps.cache, [doc._id]);
  return toProduct(doc);
}

/**
 * A product the caller may see: active ones of active companies for anyone, others for
 * their company and admins.
 */
export async function getProduct(
  deps: CatalogDeps,
  principal: Principal | undefined,
  id: string,
): Promise<Product> {
  const doc = await deps.store.products.findOne({ _id: id });
  if (!doc) throw notFound('No such product.');
  if (!seesUnlisted(principal, doc.companyId)) {
    const forSale =
      doc.status === 'active' &&
      (await activeCompanies(deps.store.companies, [doc.companyId])).has(doc.companyId);
    if (!forSale) throw notFound('No such product.');
  }
  return toProduct(doc);
}

export async function listProducts(
  deps: CatalogDeps,
  principal: Principal | undefined,
  query: ProductQuery & { category?: string },
): Promise<{ items: Product[]; nextCursor: string | null }> {
  const categoryIds = query.category ? subtree(await parentMap(deps), query.category) : undefined;
  const hidden = isAdmin(principal) ? [] : await inactiveCompanies(deps.store.companies);
  const filter = productFilter(query, principal, categoryIds, hidden);
  const docs = await deps.store.products
    .find(filter, { projection: { outbox: 0 } })
    .sort(sortSpec(query.sort))
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => sortValue(query.sort, d));
  return { items: result.items.map(toProduct), nextCursor: result.nextCursor };
}

const ATTEMPTS = 3;

export async function updateProduct(
  deps: CatalogDeps,
  principal: Principal,
  id: string,
  change: ProductChange,
): Promise<Product> {
  const { version, stockAdjustment, ...edits } = change;
  if (edits.price) checkCurrency(deps, edits.price);
  if (edits.categoryId !== undefined) await checkCategory(deps, edits.categoryId);
  // Read, check, write only if nobody wrote in between; a concurrent writer makes us
  // re-read and re-check rather than overwrite their change (an adjustment applies to
  // the figure re-read; a figure with its version is refused once it is stale).
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await deps.store.products.findOne({ _id: id }, { projection: { outbox: 0 } });
    if (!current || (current.status !== 'active' && !seesUnlisted(principal, current.companyId)))
      throw notFound('No such product.');
    assertActsForCompany(principal, current.companyId);
    // A suspended or removed company's sellers change nothing; an admin may (archive).
    if (!isAdmin(principal)) await checkCompanyActive(deps, current.companyId);
    if (version !== undefined && version !== current.version)
      throw conflict('The product changed since it was read; read it again.', {
        reason: 'version_mismatch',
        version: current.version,
      });
    if (change.status) assertTransition(current.status, change.status);
    const stock = stockAdjustment === undefined ? edits.stock : current.stock + stockAdjustment;
    if (stock !== undefined && stock < 0)
      throw conflict(`Only ${current.stock} in stock to take away.`, {
        reason: 'insufficient_stock',
        inStock: current.stock,
      });
    const next: ProductDoc = {
      ...current,
      ...edits,
      ...(stock === undefined ? {} : { stock }),
      version: current.version + 1,
      updatedAt: deps.now(),
    };
    // Reservations are the stock module's; the version check keeps them as they are.
    const {
      _id,
      createdAt: _created,
      companyId: _company,
      sku: _sku,
      reservations: _reservations,
      ...fields
    } = next;
    const written = await deps.store.products.updateOne(
      { _id, version: current.version },
      { $set: fields, $push: { outbox: productEventEntry(next, 'product.updated') } },
    );
    if (written.matchedCount === 1) {
      await productsChanged(deps.cache, [_id]);
      return toProduct(next);
    }
  }
  throw conflict('The product keeps changing; try again.');
}
