// What checkout's tests buy: products of one company and buyers with a filled cart,
// written straight into a test tenant's database (the catalog and carts services are not
// running in these tests).
import { randomUUID } from 'node:crypto';
import { newId } from '@gorten/kit';
import type { TestTenant } from '@gorten/service-testing';

/** The company whose products the tests buy. */
export const COMPANY = `co_${randomUUID().replaceAll('-', '').slice(0, 24)}`;

/** An active product of COMPANY with `stock` in stock, priced `amount` EUR minor units. */
export async function productIn(on: TestTenant, stock: number, amount = 1_000): Promise<string> {
  const id = newId('prd');
  const now = new Date();
  await on.db.collection('products').insertOne({
    _id: id as never,
    companyId: COMPANY,
    sku: `SKU-${id.slice(-8)}`,
    name: `Product ${id.slice(-4)}`,
    description: '',
    categoryId: null,
    price: { amount, currency: 'EUR' },
    stock,
    status: 'active',
    lowStockThreshold: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

/** A buyer whose cart holds `items` (product id → quantity), and their access token. */
export async function buyerIn(
  on: TestTenant,
  items: Record<string, number>,
): Promise<{ id: string; token: string }> {
  const id = newId('usr');
  await on.db.collection('carts').insertOne({
    _id: id as never,
    items: Object.entries(items).map(([productId, quantity]) => ({ productId, quantity })),
    lock: null,
    version: 1,
    updatedAt: new Date(),
  });
  return { id, token: on.token({ sub: id, roles: ['buyer'] }) };
}
