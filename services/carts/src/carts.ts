// Carts: add, change, remove — each checked against the catalog (the product is active,
// its company active, in the marketplace's currency, and has the stock) — and priced from
// the catalog when shown; checkout prices them again. Checkout locks the cart until its
// run is settled, so the cart it charges for is the cart it empties, and it is charged
// for once.
import { conflict, isDuplicateKey, unprocessable } from '@gorten/kit';
import { activeCompanies } from '@gorten/catalog/for-sale';
import type { ProductDoc } from '@gorten/catalog/store';
import type { Db } from 'mongodb';
import type { Cart, CartItemView } from './schemas.js';
import { cartsStore, type CartDoc, type CartLine, type CartsStore } from './store.js';

export interface CartModule {
  store: CartsStore;
  now: () => Date;
}

/** The carts module on the tenant's database: the carts service's and checkout's. */
export function createCartModule(db: Db): CartModule {
  return { store: cartsStore(db), now: () => new Date() };
}

export const MAX_LINES = 50;
export const MAX_QUANTITY = 99;

/** The cart's lines as the catalog prices them now (pure). */
export function priceCart(
  buyerId: string,
  lines: readonly CartLine[],
  products: ReadonlyMap<string, ProductDoc>,
  currency: string,
  locked: boolean,
): Cart {
  const items: CartItemView[] = lines.map((line) => {
    const product = products.get(line.productId);
    if (!product || product.status !== 'active' || product.price.currency !== currency)
      return {
        productId: line.productId,
        quantity: line.quantity,
        available: false,
        problem: 'unavailable',
      };
    const view = {
      productId: line.productId,
      companyId: product.companyId,
      sku: product.sku,
      name: product.name,
      unitPrice: product.price.amount,
      quantity: line.quantity,
      lineTotal: product.price.amount * line.quantity,
    };
    return product.stock >= line.quantity
      ? { ...view, available: true }
      : { ...view, available: false, problem: 'insufficient_stock', inStock: product.stock };
  });
  return {
    buyerId,
    items,
    currency,
    total: items.reduce((sum, i) => sum + (i.available ? (i.lineTotal ?? 0) : 0), 0),
    checkoutInProgress: locked,
  };
}

/**
 * The products of the lines, by id, as the catalog has them now — of companies that are
 * active: a suspended or removed company's products are missing, so nobody buys them.
 */
export async function productsOf(
  carts: CartModule,
  lines: readonly CartLine[],
): Promise<Map<string, ProductDoc>> {
  const docs = await carts.store.products
    .find(
      { _id: { $in: lines.map((l) => l.productId) } },
      { projection: { outbox: 0, reservations: 0 } },
    )
    .toArray();
  const selling = await activeCompanies(
    carts.store.companies,
    docs.map((d) => d.companyId),
  );
  return new Map(docs.filter((d) => selling.has(d.companyId)).map((d) => [d._id, d]));
}

function isLocked(cart: CartDoc | null): boolean {
  return cart?.lock !== null && cart?.lock !== undefined;
}

export async function getCart(carts: CartModule, buyerId: string, currency: string): Promise<Cart> {
  const cart = await carts.store.carts.findOne({ _id: buyerId });
  const lines = cart?.items ?? [];
  return priceCart(buyerId, lines, await productsOf(carts, lines), currency, isLocked(cart));
}

/** Writes the cart's new lines if nobody changed it meanwhile and no checkout holds it. */
async function writeLines(
  carts: CartModule,
  buyerId: string,
  change: (lines: CartLine[]) => CartLine[],
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = carts.now();
    const cart = await carts.store.carts.findOne({ _id: buyerId });
    if (isLocked(cart)) throw conflict('A checkout of this cart is in progress.');
    const items = change(cart?.items ?? []);
    if (!cart) {
      try {
        await carts.store.carts.insertOne({
          _id: buyerId,
          items,
          lock: null,
          version: 1,
          updatedAt: now,
        });
        return;
      } catch (err) {
        // Made meanwhile by another request: read it again. Anything else is a failure,
        // not a reason to answer "the cart keeps changing".
        if (!isDuplicateKey(err)) throw err;
        continue;
      }
    }
    const written = await carts.store.carts.updateOne(
      { _id: buyerId, version: cart.version },
      { $set: { items, updatedAt: now }, $inc: { version: 1 } },
    );
    if (written.matchedCount === 1) return;
  }
  throw conflict('The cart keeps changing; try again.');
}

export async function setItem(
  carts: CartModule,
  buyerId: string,
  productId: string,
  quantity: number,
  currency: string,
): Promise<Cart> {
  const product = (await productsOf(carts, [{ productId, quantity }])).get(productId);
  if (!product || product.status !== 'active' || product.price.currency !== currency)
    throw unprocessable('The product is not for sale.');
  if (product.stock < quantity)
    throw conflict(`Only ${product.stock} in stock.`, { inStock: product.stock });
  await writeLines(carts, buyerId, (lines) => {
    // A product already in the cart keeps its place; a new one goes last.
    if (lines.some((l) => l.productId === productId))
      return lines.map((l) => (l.productId === productId ? { productId, quantity } : l));
    if (lines.length >= MAX_LINES)
      throw unprocessable(`A cart holds at most ${MAX_LINES} products.`);
    return [...lines, { productId, quantity }];
  });
  return getCart(carts, buyerId, currency);
}

export async function removeItem(
  carts: CartModule,
  buyerId: string,
  productId: string,
  currency: string,
): Promise<Cart> {
  await writeLines(carts, buyerId, (lines) => lines.filter((l) => l.productId !== productId));
  return getCart(carts, buyerId, currency);
}

export async function clearCart(
  carts: CartModule,
  buyerId: string,
  currency: string,
): Promise<Cart> {
  await writeLines(carts, buyerId, () => []);
  return getCart(carts, buyerId, currency);
}

// ---- for checkout ------------------------------------------------------------------

/** The lines of the buyer's cart; none when the buyer has no cart. */
export async function cartLines(carts: CartModule, buyerId: string): Promise<CartLine[]> {
  return (await carts.store.carts.findOne({ _id: buyerId }))?.items ?? [];
}

/**
 * Locks the buyer's cart for `checkoutId` and returns its lines; the same checkout may
 * lock again (a retried step). Undefined when another checkout holds it. The lock has no
 * expiry: only its checkout ends it (emptyCart, unlockCart), once its run is settled.
 */
export async function lockCart(
  carts: CartModule,
  buyerId: string,
  checkoutId: string,
): Promise<CartLine[] | undefined> {
  const locked = await carts.store.carts.findOneAndUpdate(
    { _id: buyerId, $or: [{ lock: null }, { 'lock.checkoutId': checkoutId }] },
    { $set: { lock: { checkoutId } }, $inc: { version: 1 } },
    { returnDocument: 'after' },
  );
  return locked?.items;
}

export async function unlockCart(
  carts: CartModule,
  buyerId: string,
  checkoutId: string,
): Promise<void> {
  await carts.store.carts.updateOne(
    { _id: buyerId, 'lock.checkoutId': checkoutId },
    { $set: { lock: null, updatedAt: carts.now() }, $inc: { version: 1 } },
  );
}

/** The checkout succeeded: its cart is emptied (only if that checkout still holds it). */
export async function emptyCart(
  carts: CartModule,
  buyerId: string,
  checkoutId: string,
): Promise<void> {
  await carts.store.carts.updateOne(
    { _id: buyerId, 'lock.checkoutId': checkoutId },
    { $set: { items: [], lock: null, updatedAt: carts.now() }, $inc: { version: 1 } },
  );
}
