// The carts service's collection: one cart per buyer (its _id is the buyer's id), so
// "one active cart per buyer" holds by construction. It reads the catalog's products and
// the companies selling them.
import { SHARED_COLLECTIONS, type CollectionIndexes, type CompanyRecord } from '@gorten/kit';
import type { ProductDoc } from '@gorten/catalog/store';
import type { Collection, Db } from 'mongodb';

export interface CartLine {
  productId: string;
  quantity: number;
}

export interface CartDoc {
  /** The buyer's user id. */
  _id: string;
  items: CartLine[];
  /**
   * Held by a checkout until its run is settled (emptied when it completes, unlocked when
   * it is undone), with no expiry: a run that may still charge for this cart keeps it, so
   * the cart is neither changed under it nor bought a second time.
   */
  lock: { checkoutId: string } | null;
  version: number;
  updatedAt: Date;
}

export interface CartsStore {
  carts: Collection<CartDoc>;
  products: Collection<ProductDoc>;
  companies: Collection<CompanyRecord>;
}

export function cartsStore(db: Db): CartsStore {
  return {
    carts: db.collection('carts'),
    products: db.collection('products'),
    companies: db.collection(SHARED_COLLECTIONS.companies),
  };
}

export const CARTS_INDEXES: CollectionIndexes[] = [];
