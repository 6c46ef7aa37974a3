// The catalog's collections and indexes. Products carry their own outbox (product
// events); inventory records carry theirs (low-stock notifications).
import {
  SHARED_COLLECTIONS,
  type CollectionIndexes,
  type CompanyRecord,
  type WithOutbox,
} from '@gorten/kit';
import type { Collection, Db } from 'mongodb';

export interface CategoryDoc {
  _id: string;
  name: string;
  /** Unique in the tenant; the URL form of the name. */
  slug: string;
  parentId: string | null;
  description?: string;
  createdAt: Date;
  updatedAt: Date;
}

export const PRODUCT_STATUSES = ['draft', 'active', 'archived'] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

export interface Money {
  /** In minor units (cents): integers never round. */
  amount: number;
  currency: string;
}

/** Stock held for a checkout until it is committed or released (see stock.ts). */
export interface StockReservation {
  id: string;
  quantity: number;
  expiresAt: Date;
}

export interface ProductDoc extends WithOutbox {
  _id: string;
  companyId: string;
  /** Unique per company. */
  sku: string;
  name: string;
  description: string;
  categoryId: string | null;
  price: Money;
  stock: number;
  status: ProductStatus;
  lowStockThreshold: number;
  /** Stock taken by checkouts in progress; `stock` is what is left to sell. */
  reservations?: StockReservation[];
  /** Incremented by every change; events carry it so consumers can drop stale ones. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The inventory consumer's view of one product, from product events. */
export interface InventoryDoc extends WithOutbox {
  _id: string;
  companyId: string;
  sku: string;
  name: string;
  stock: number;
  threshold: number;
  status: ProductStatus;
  low: boolean;
  version: number;
  updatedAt: Date;
}

/** Stock figures per company, recomputed from its inventory records. */
export interface CompanyStockDoc {
  _id: string;
  products: number;
  units: number;
  lowStock: number;
  updatedAt: Date;
}

export interface CatalogStore {
  categories: Collection<CategoryDoc>;
  products: Collection<ProductDoc>;
  inventory: Collection<InventoryDoc>;
  companyStock: Collection<CompanyStockDoc>;
  companies: Collection<CompanyRecord>;
}

export function catalogStore(db: Db): CatalogStore {
  return {
    categories: db.collection('categories'),
    products: db.collection('products'),
    inventory: db.collection('inventory'),
    companyStock: db.collection('company_stock'),
    companies: db.collection(SHARED_COLLECTIONS.companies),
  };
}

export const CATALOG_INDEXES: CollectionIndexes[] = [
  {
    collection: 'categories',
    indexes: [
      { key: { slug: 1 }, name: 'slug_unique', unique: true },
      { key: { parentId: 1 }, name: 'parent' },
    ],
  },
  {
    collection: 'products',
    indexes: [
      { key: { companyId: 1, sku: 1 }, name: 'company_sku_unique', unique: true },
      { key: { status: 1, _id: -1 }, name: 'status_newest' },
      { key: { status: 1, 'price.amount': 1, _id: 1 }, name: 'status_price' },
      { key: { status: 1, name: 1, _id: 1 }, name: 'status_name' },
      { key: { categoryId: 1 }, name: 'category' },
      { key: { 'reservations.id': 1 }, name: 'reservation' },
      { key: { 'reservations.expiresAt': 1 }, name: 'reservation_expiry' },
    ],
  },
  { collection: 'inventory', indexes: [{ key: { companyId: 1, low: 1 }, name: 'company_low' }] },
];
