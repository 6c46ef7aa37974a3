// priceCart: what a cart shows, from its lines and the catalog as it is now.
import type { ProductDoc } from '@gorten/catalog/store';
import { priceCart } from '../src/carts.js';

function product(id: string, fields: Partial<ProductDoc> = {}): ProductDoc {
  const at = new Date('2025-01-01T00:00:00Z');
  return {
    _id: id,
    companyId: 'co_aaaaaaaaaaaaaaaaaaaaaaaa',
    sku: `SKU-${id}`,
    name: `Product ${id}`,
    description: '',
    categoryId: null,
    price: { amount: 1_000, currency: 'EUR' },
    stock: 10,
    status: 'active',
    lowStockThreshold: 0,
    version: 1,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

const catalog = (...docs: ProductDoc[]) => new Map(docs.map((d) => [d._id, d]));

test('an empty cart costs nothing', () => {
  expect(priceCart('usr_1', [], new Map(), 'EUR', false)).toEqual({
    buyerId: 'usr_1',
    items: [],
    currency: 'EUR',
    total: 0,
    checkoutInProgress: false,
  });
});

test('available lines are priced from the catalog, in the order of the cart', () => {
  const cart = priceCart(
    'usr_1',
    [
      { productId: 'b', quantity: 2 },
      { productId: 'a', quantity: 3 },
    ],
    catalog(product('a', { price: { amount: 250, currency: 'EUR' } }), product('b')),
    'EUR',
    true,
  );
  expect(cart.items).toEqual([
    {
      productId: 'b',
      companyId: 'co_aaaaaaaaaaaaaaaaaaaaaaaa',
      sku: 'SKU-b',
      name: 'Product b',
      unitPrice: 1_000,
      quantity: 2,
      lineTotal: 2_000,
      available: true,
    },
    {
      productId: 'a',
      companyId: 'co_aaaaaaaaaaaaaaaaaaaaaaaa',
      sku: 'SKU-a',
      name: 'Product a',
      unitPrice: 250,
      quantity: 3,
      lineTotal: 750,
      available: true,
    },
  ]);
  expect(cart.total).toBe(2_750);
  expect(cart.checkoutInProgress).toBe(true);
});

test('stock exactly enough is available; one short is not, and says how many are left', () => {
  const cart = priceCart(
    'usr_1',
    [
      { productId: 'exact', quantity: 4 },
      { productId: 'short', quantity: 5 },
    ],
    catalog(product('exact', { stock: 4 }), product('short', { stock: 4 })),
    'EUR',
    false,
  );
  expect(cart.items[0]).toMatchObject({ available: true, lineTotal: 4_000 });
  expect(cart.items[0]).not.toHaveProperty('problem');
  expect(cart.items[1]).toMatchObject({
    available: false,
    problem: 'insufficient_stock',
    inStock: 4,
    unitPrice: 1_000,
    lineTotal: 5_000,
  });
  // Only what can be bought counts.
  expect(cart.total).toBe(4_000);
});

test.each([
  ['gone from the catalog', undefined],
  ['a draft', product('p', { status: 'draft' })],
  ['archived', product('p', { status: 'archived' })],
  ['priced in another currency', product('p', { price: { amount: 1_000, currency: 'USD' } })],
])('a product %s is unavailable and shows no price', (_why, doc) => {
  const cart = priceCart(
    'usr_1',
    [{ productId: 'p', quantity: 1 }],
    doc ? catalog(doc) : new Map(),
    'EUR',
    false,
  );
  expect(cart.items).toEqual([
    { productId: 'p', quantity: 1, available: false, problem: 'unavailable' },
  ]);
  expect(cart.total).toBe(0);
});
