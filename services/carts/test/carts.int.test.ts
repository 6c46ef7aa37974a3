// Carts over HTTP on port 0, against the real FerretDB: the buyer's own cart, checked
// against the catalog on every change and priced from it whenever shown; a cart that a
// checkout holds does not change. Products are seeded straight into the tenant's
// products collection, as the catalog writes them.
import { join } from 'node:path';
import { newId, type RunningService } from '@gorten/kit';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Call,
} from '@gorten/service-testing';
import type { ProductDoc, ProductStatus } from '@gorten/catalog/store';
import { cartsService } from '../src/app.js';
import { createCartModule, lockCart, unlockCart } from '../src/carts.js';
import type { CartsDeps } from '../src/deps.js';
import type { Cart } from '../src/schemas.js';
import type { CartDoc } from '../src/store.js';

let tenant: TestTenant;
let service: RunningService<CartsDeps>;
let call: Call;
let company: string;

beforeAll(async () => {
  tenant = await TestTenant.create('carts');
  company = await tenant.addCompany();
  service = await startTestService(cartsService, tenant, 'carts');
  call = client(service.url);
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

const products = () => tenant.db.collection<ProductDoc>('products');
const carts = () => tenant.db.collection<CartDoc>('carts');

interface ProductFields {
  companyId?: string;
  stock?: number;
  amount?: number;
  currency?: string;
  status?: ProductStatus;
}

async function product(fields: ProductFields = {}): Promise<string> {
  const id = newId('prd');
  const now = new Date();
  await products().insertOne({
    _id: id,
    companyId: fields.companyId ?? company,
    sku: `SKU-${id.slice(-8)}`,
    name: `Product ${id.slice(-4)}`,
    description: '',
    categoryId: null,
    price: { amount: fields.amount ?? 1_000, currency: fields.currency ?? 'EUR' },
    stock: fields.stock ?? 10,
    status: fields.status ?? 'active',
    lowStockThreshold: 0,
    version: 1,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

function buyer(): { id: string; token: string } {
  const id = newId('usr');
  return { id, token: tenant.token({ sub: id, roles: ['buyer'] }) };
}

const put = (token: string, productId: string, body: unknown) =>
  call<Cart>('PUT', `/carts/me/items/${productId}`, { token, body });
const remove = (token: string, productId: string) =>
  call<Cart>('DELETE', `/carts/me/items/${productId}`, { token });
const get = (token: string) => call<Cart>('GET', '/carts/me', { token });

describe('the buyer’s cart', () => {
  test('a product of a suspended or removed company cannot be carted (422) and shows unavailable; it is back once the company is active', async () => {
    const seller = await tenant.addCompany();
    const item = await product({ companyId: seller });
    const me = buyer();
    expect((await put(me.token, item, { quantity: 1 })).status).toBe(200);
    for (const status of ['suspended', 'removed'] as const) {
      await tenant.setCompanyStatus(seller, status);
      expect((await put(me.token, item, { quantity: 2 })).status).toBe(422);
      expect((await get(me.token)).body).toMatchObject({
        items: [{ productId: item, quantity: 1, available: false, problem: 'unavailable' }],
        total: 0,
      });
    }
    await tenant.setCompanyStatus(seller, 'active');
    expect((await put(me.token, item, { quantity: 2 })).body).toMatchObject({
      items: [{ productId: item, quantity: 2, available: true }],
    });
  });

  test('starts empty, takes products, changes quantities, drops and empties', async () => {
    const me = buyer();
    expect(await get(me.token)).toMatchObject({
      status: 200,
      body: { buyerId: me.id, items: [], currency: 'EUR', total: 0, checkoutInProgress: false },
    });

    const [kettle, mug] = [await product({ amount: 2_500 }), await product({ amount: 800 })];
    const added = await put(me.token, kettle, { quantity: 2 });
    expect(added.status).toBe(200);
    expect(added.body.items).toEqual([
      expect.objectContaining({
        productId: kettle,
        companyId: company,
        quantity: 2,
        unitPrice: 2_500,
        lineTotal: 5_000,
        available: true,
      }),
    ]);
    await put(me.token, mug, { quantity: 3 });
    // Changing a quantity sets it (not adds), and the line keeps its place.
    const changed = await put(me.token, kettle, { quantity: 1 });
    expect(changed.body.items.map((i) => [i.productId, i.quantity])).toEqual([
      [kettle, 1],
      [mug, 3],
    ]);
    expect(changed.body.total).toBe(2_500 + 3 * 800);
    expect(await get(me.token)).toMatchObject({ status: 200, body: changed.body });

    const dropped = await remove(me.token, kettle);
    expect(dropped.status).toBe(200);
    expect(dropped.body.items.map((i) => i.productId)).toEqual([mug]);
    expect(dropped.body.total).toBe(2_400);
    // Taking out what is not in the cart changes nothing.
    expect((await remove(me.token, kettle)).body).toEqual(dropped.body);

    const emptied = await call<Cart>('DELETE', '/carts/me', { token: me.token });
    expect(emptied).toMatchObject({ status: 200, body: { items: [], total: 0 } });
    expect((await carts().findOne({ _id: me.id }))?.items).toEqual([]);
  });

  test('each buyer has one cart of their own', async () => {
    const [a, b] = [buyer(), buyer()];
    const item = await product();
    await put(a.token, item, { quantity: 1 });
    await put(a.token, item, { quantity: 4 });
    expect((await get(b.token)).body.items).toEqual([]);
    expect(await carts().countDocuments({ _id: a.id })).toBe(1);
    expect((await carts().findOne({ _id: a.id }))?.items).toEqual([
      { productId: item, quantity: 4 },
    ]);
  });

  test('concurrent changes of one cart are never lost: each one answered 200 is in it', async () => {
    const me = buyer();
    const items = await Promise.all(Array.from({ length: 6 }, () => product()));
    const answers = await Promise.all(items.map((id) => put(me.token, id, { quantity: 1 })));
    expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    const accepted = items.filter((_id, i) => answers[i]?.status === 200);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    const stored = (await carts().findOne({ _id: me.id }))?.items.map((l) => l.productId);
    expect(stored?.sort()).toEqual(accepted.sort());
  });
});

describe('checked against the catalog on every change', () => {
  test('a product that is not for sale is refused with 422', async () => {
    const me = buyer();
    for (const status of ['draft', 'archived'] as const) {
      const answer = await put(me.token, await product({ status }), { quantity: 1 });
      expect(answer.status).toBe(422);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await put(me.token, newId('prd'), { quantity: 1 })).status).toBe(422);
    expect((await put(me.token, await product({ currency: 'USD' }), { quantity: 1 })).status).toBe(
      422,
    );
    expect((await get(me.token)).body.items).toEqual([]);
  });

  test('more than the stock is a 409 that says how many are in stock', async () => {
    const me = buyer();
    const scarce = await product({ stock: 3 });
    const answer = await put(me.token, scarce, { quantity: 4 });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ status: 409, inStock: 3 });
    expect((await put(me.token, scarce, { quantity: 3 })).status).toBe(200);
    const none = await product({ stock: 0 });
    expect((await put(me.token, none, { quantity: 1 })).body).toMatchObject({ inStock: 0 });
    expect((await get(me.token)).body.items.map((i) => [i.productId, i.quantity])).toEqual([
      [scarce, 3],
    ]);
  });

  test('a cart shows today’s prices and stock, not those of when the item was added', async () => {
    const me = buyer();
    const [cheap, scarce, retired] = [
      await product({ amount: 500 }),
      await product({ stock: 5 }),
      await product({ amount: 700 }),
    ];
    await put(me.token, cheap, { quantity: 2 });
    await put(me.token, scarce, { quantity: 4 });
    await put(me.token, retired, { quantity: 1 });
    expect((await get(me.token)).body.total).toBe(2 * 500 + 4 * 1_000 + 700);

    await products().updateOne({ _id: cheap }, { $set: { 'price.amount': 650 } });
    await products().updateOne({ _id: scarce }, { $set: { stock: 1 } });
    await products().updateOne({ _id: retired }, { $set: { status: 'archived' } });
    const cart = (await get(me.token)).body;
    expect(cart.items).toEqual([
      expect.objectContaining({
        productId: cheap,
        unitPrice: 650,
        lineTotal: 1_300,
        available: true,
      }),
      expect.objectContaining({
        productId: scarce,
        quantity: 4,
        available: false,
        problem: 'insufficient_stock',
        inStock: 1,
      }),
      { productId: retired, quantity: 1, available: false, problem: 'unavailable' },
    ]);
    expect(cart.total).toBe(1_300);
  });
});

describe('a cart a checkout holds', () => {
  async function lockedCart() {
    const me = buyer();
    const item = await product();
    await put(me.token, item, { quantity: 2 });
    const checkoutId = newId('chk');
    expect(await lockCart(createCartModule(tenant.db), me.id, checkoutId)).toHaveLength(1);
    return { me, item, checkoutId };
  }

  test('refuses every change with 409 and shows the checkout in progress', async () => {
    const { me, item } = await lockedCart();
    const other = await product();
    const refused = [
      await put(me.token, other, { quantity: 1 }),
      await put(me.token, item, { quantity: 5 }),
      await remove(me.token, item),
      await call('DELETE', '/carts/me', { token: me.token }),
    ];
    expect(refused.map((a) => a.status)).toEqual([409, 409, 409, 409]);
    const cart = await get(me.token);
    expect(cart.body).toMatchObject({ checkoutInProgress: true, total: 2_000 });
    expect(cart.body.items.map((i) => [i.productId, i.quantity])).toEqual([[item, 2]]);
  });

  test('a lock does not run out: another checkout is refused until its own frees the cart', async () => {
    const { me, item, checkoutId } = await lockedCart();
    const cartModule = createCartModule(tenant.db);
    expect(await lockCart(cartModule, me.id, newId('chk'))).toBeUndefined();
    expect(await lockCart(cartModule, me.id, checkoutId)).toHaveLength(1); // its own, again
    await unlockCart(cartModule, me.id, checkoutId);
    expect((await get(me.token)).body.checkoutInProgress).toBe(false);
    const changed = await put(me.token, item, { quantity: 5 });
    expect(changed.status).toBe(200);
    expect(changed.body.checkoutInProgress).toBe(false);
    expect((await carts().findOne({ _id: me.id }))?.lock).toBeNull();
  });
});

describe('refusals', () => {
  test.each([
    ['quantity 0', { quantity: 0 }],
    ['quantity 100', { quantity: 100 }],
    ['quantity 1.5', { quantity: 1.5 }],
    ['quantity as text', { quantity: '2' }],
    ['no quantity', {}],
    ['an unknown field', { quantity: 1, price: 1 }],
  ])('%s is a 400 naming the field', async (_why, body) => {
    const me = buyer();
    const item = await product();
    const answer = await put(me.token, item, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      status: 400,
      errors: [expect.objectContaining({ in: 'body' })],
    });
    expect((await get(me.token)).body.items).toEqual([]);
  });

  test('a product id that is not one, and operator-shaped keys, are 400', async () => {
    const me = buyer();
    for (const bad of [
      'abc',
      'prd_123',
      'usr_0123456789abcdef01234567',
      'prd_0123456789ABCDEF01234567',
    ]) {
      const answer = await put(me.token, bad, { quantity: 1 });
      expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
      expect(answer.body).toMatchObject({ errors: [{ in: 'params', path: 'productId' }] });
    }
    expect((await remove(me.token, 'nope')).status).toBe(400);
    const smuggled = await put(me.token, await product(), { quantity: { $gt: 0 } });
    expect(smuggled.status).toBe(400);
  });

  test('a cart holds at most 50 products; changing one of them still works', async () => {
    const me = buyer();
    const fifty = await Promise.all(Array.from({ length: 50 }, () => product()));
    for (const id of fifty) expect((await put(me.token, id, { quantity: 1 })).status).toBe(200);
    const full = await put(me.token, await product(), { quantity: 1 });
    expect(full.status).toBe(422);
    expect((full.body as unknown as { detail: string }).detail).toContain('50');
    const changed = await put(me.token, fifty[17]!, { quantity: 2 });
    expect(changed.status).toBe(200);
    expect(changed.body.items).toHaveLength(50);
    expect(changed.body.items[17]).toMatchObject({ productId: fifty[17], quantity: 2 });
  });

  test('only buyers have a cart: sellers and admins 403, anonymous 401', async () => {
    const item = await product();
    const seller = tenant.token({ sub: newId('usr'), roles: ['seller'], company });
    const admin = tenant.token({ sub: newId('usr'), roles: ['admin'] });
    for (const token of [seller, admin]) {
      expect((await get(token)).status).toBe(403);
      expect((await put(token, item, { quantity: 1 })).status).toBe(403);
      expect((await remove(token, item)).status).toBe(403);
      expect((await call('DELETE', '/carts/me', { token })).status).toBe(403);
    }
    expect((await call('GET', '/carts/me')).status).toBe(401);
    expect((await call('PUT', `/carts/me/items/${item}`, { body: { quantity: 1 } })).status).toBe(
      401,
    );
    expect((await call('DELETE', '/carts/me')).status).toBe(401);
  });

  test('forged and foreign tokens are 401 and change nothing', async () => {
    const me = buyer();
    const item = await product();
    for (const forged of forgedTokens(tenant, { sub: me.id, roles: ['buyer'] })) {
      const statuses = [
        (await get(forged.token)).status,
        (await put(forged.token, item, { quantity: 1 })).status,
        (await call('DELETE', '/carts/me', { token: forged.token })).status,
      ];
      expect({ why: forged.why, statuses }).toEqual({ why: forged.why, statuses: [401, 401, 401] });
    }
    expect(await carts().findOne({ _id: me.id })).toBeNull();
  });
});

test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
  await expectOpenApiUpToDate(cartsService, join(import.meta.dirname, '..'), call);
});
