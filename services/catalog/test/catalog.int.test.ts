// The catalog over HTTP on port 0, against the real FerretDB and RabbitMQ: categories,
// products and who may touch them, listings, product events through the outbox (also
// across a broker outage), and the inventory_update consumer.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  newId,
  noCache,
  noOutbox,
  type EventEnvelope,
  type Outbox,
  type OutboxEntry,
  type RunningService,
} from '@gorten/kit';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Call,
} from '@gorten/service-testing';
import { eventually } from '@gorten/testenv';
import { catalogService } from '../src/app.js';
import type { CatalogDeps } from '../src/deps.js';
import {
  commitReservation,
  createStockModule,
  releaseReservation,
  reservationEntry,
  reserveStock,
} from '../src/stock.js';
import type { ProductDoc } from '../src/store.js';

let tenant: TestTenant;
let service: RunningService<CatalogDeps>;
let call: Call;
let productEvents: string;

const companyIds = () => `co_${randomBytes(12).toString('hex')}`;
const [coA, coB, coSuspended] = [companyIds(), companyIds(), companyIds()];
let admin: string;
let sellerA: string;
let sellerB: string;
let buyer: string;

interface Product {
  id: string;
  sku: string;
  status: string;
  stock: number;
  version: number;
  price: { amount: number; currency: string };
}
interface Page {
  items: Product[];
  nextCursor: string | null;
}

beforeAll(async () => {
  tenant = await TestTenant.create('catalog');
  await tenant.db.collection('companies').insertMany(
    [
      [coA, 'active'],
      [coB, 'active'],
      [coSuspended, 'suspended'],
    ].map(([id, status]) => ({
      _id: id as never,
      displayName: `Company ${id}`,
      contactEmail: 'x@example.com',
      status,
      managedBy: 'api',
    })),
  );
  productEvents = await tenant.tap('product_exchange');
  service = await startTestService(catalogService, tenant, 'catalog', { LOW_STOCK_THRESHOLD: '3' });
  call = client(service.url);
  admin = tenant.token({ sub: 'usr_admin', roles: ['admin'] });
  sellerA = tenant.token({ sub: 'usr_sa', roles: ['seller'], company: coA });
  sellerB = tenant.token({ sub: 'usr_sb', roles: ['seller'], company: coB });
  buyer = tenant.token({ sub: 'usr_b', roles: ['buyer'] });
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

const sku = () => `SKU-${randomUUID().slice(0, 8)}`;

async function newProduct(token: string, fields: Record<string, unknown> = {}) {
  const answer = await call<Product>('POST', '/products', {
    token,
    body: { sku: sku(), name: 'Kettle', price: { amount: 2_500, currency: 'EUR' }, ...fields },
  });
  expect(answer.status).toBe(201);
  return answer.body;
}

async function eventsFor(productId: string, count: number): Promise<EventEnvelope[]> {
  const seen: EventEnvelope[] = [];
  await eventually({ what: `${count} events of ${productId}`, timeoutMs: 20_000 }, async () => {
    for (const m of await tenant.drain(productEvents)) seen.push(m.body as EventEnvelope);
    return seen.filter((e) => (e.data as { productId: string }).productId === productId).length >=
      count
      ? true
      : undefined;
  });
  // Give a duplicate the chance to show up before counting.
  await new Promise((r) => setTimeout(r, 500));
  for (const m of await tenant.drain(productEvents)) seen.push(m.body as EventEnvelope);
  return seen.filter((e) => (e.data as { productId: string }).productId === productId);
}

describe('categories', () => {
  test('renaming a category to a slug another has is a 409, and the category keeps its own', async () => {
    const make = (slug: string) =>
      call<{ id: string; slug: string }>('POST', '/categories', {
        token: admin,
        body: { name: 'Cups', slug },
      });
    const first = await make(`cups-${sku().toLowerCase()}`);
    const second = await make(`mugs-${sku().toLowerCase()}`);
    // FerretDB reports this clash from findAndModify as an InternalError, not 11000.
    const rename = await call('PATCH', `/categories/${second.body.id}`, {
      token: admin,
      body: { slug: first.body.slug },
    });
    expect(rename.status).toBe(409);
    expect(rename.body).toMatchObject({ title: 'Conflict' });
    expect((await call('GET', `/categories/${second.body.id}`)).body).toMatchObject({
      slug: second.body.slug,
    });
  });

  test('admins build a tree; slugs are unique; cycles and unknown parents are refused', async () => {
    const make = (body: Record<string, unknown>) =>
      call<{ id: string }>('POST', '/categories', { token: admin, body });
    const root = await make({ name: 'Kitchen', slug: `kitchen-${sku().toLowerCase()}` });
    expect(root.status).toBe(201);
    const child = await make({
      name: 'Kettles',
      slug: `kettles-${sku().toLowerCase()}`,
      parentId: root.body.id,
    });
    expect(child.body).toMatchObject({ parentId: root.body.id });
    const grandchild = await make({
      name: 'Electric',
      slug: `electric-${sku().toLowerCase()}`,
      parentId: child.body.id,
    });

    const taken = await make({
      name: 'Again',
      slug: (await call('GET', `/categories/${root.body.id}`)).body.slug,
    });
    expect(taken.status).toBe(409);
    const orphan = await make({
      name: 'Orphan',
      slug: 'orphan',
      parentId: 'cat_000000000000000000000000',
    });
    expect(orphan.status).toBe(422);
    const cycle = await call('PATCH', `/categories/${root.body.id}`, {
      token: admin,
      body: { parentId: grandchild.body.id },
    });
    expect(cycle.status).toBe(422);
    const self = await call('PATCH', `/categories/${root.body.id}`, {
      token: admin,
      body: { parentId: root.body.id },
    });
    expect(self.status).toBe(422);
    expect((await call('DELETE', `/categories/${child.body.id}`, { token: admin })).status).toBe(
      409,
    );
    expect(
      (await call('DELETE', `/categories/${grandchild.body.id}`, { token: admin })).status,
    ).toBe(204);
    expect((await call('GET', `/categories/${grandchild.body.id}`)).status).toBe(404);
    const list = await call<{ items: { id: string }[] }>('GET', '/categories');
    expect(list.body.items.map((c) => c.id)).toEqual(
      expect.arrayContaining([root.body.id, child.body.id]),
    );
  });

  test('nesting stops at eight levels', async () => {
    let parentId: string | null = null;
    for (let depth = 1; depth <= 8; depth++) {
      const made: { status: number; body: { id: string } } = await call<{ id: string }>(
        'POST',
        '/categories',
        {
          token: admin,
          body: { name: `Level ${depth}`, slug: `level-${depth}-${sku().toLowerCase()}`, parentId },
        },
      );
      expect(made.status).toBe(201);
      parentId = made.body.id;
    }
    const ninth = await call('POST', '/categories', {
      token: admin,
      body: { name: 'Too deep', slug: `deep-${sku().toLowerCase()}`, parentId },
    });
    expect(ninth.status).toBe(422);
  });

  test('only admins change categories', async () => {
    const body = { name: 'Nope', slug: `nope-${sku().toLowerCase()}` };
    expect((await call('POST', '/categories', { body })).status).toBe(401);
    expect((await call('POST', '/categories', { token: buyer, body })).status).toBe(403);
    expect((await call('POST', '/categories', { token: sellerA, body })).status).toBe(403);
  });
});

describe('products', () => {
  test('a seller creates a draft for their company; only they and admins see it until it is active', async () => {
    const draft = await newProduct(sellerA);
    expect(draft).toMatchObject({ status: 'draft', version: 1, companyId: coA, stock: 0 });
    expect((await call('GET', `/products/${draft.id}`)).status).toBe(404);
    expect((await call('GET', `/products/${draft.id}`, { token: sellerB })).status).toBe(404);
    expect((await call('GET', `/products/${draft.id}`, { token: sellerA })).status).toBe(200);
    expect((await call('GET', `/products/${draft.id}`, { token: admin })).status).toBe(200);
    const active = await call<Product>('PATCH', `/products/${draft.id}`, {
      token: sellerA,
      body: { status: 'active', stock: 10, version: draft.version },
    });
    expect(active.body).toMatchObject({ status: 'active', stock: 10, version: 2 });
    expect((await call('GET', `/products/${draft.id}`)).status).toBe(200);
  });

  test('sellers act only for their own company; admins for any they name', async () => {
    const product = await newProduct(sellerA, { status: 'active' });
    const foreign = await call('PATCH', `/products/${product.id}`, {
      token: sellerB,
      body: { stock: 0, version: product.version },
    });
    expect(foreign.status).toBe(403);
    expect(
      (
        await call('POST', '/products', {
          token: sellerB,
          body: { companyId: coA, sku: sku(), name: 'x', price: { amount: 1, currency: 'EUR' } },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call('PATCH', `/products/${product.id}`, {
          token: buyer,
          body: { stock: 0, version: product.version },
        })
      ).status,
    ).toBe(403);
    expect(
      (await call('PATCH', `/products/${product.id}`, { body: { stock: 0, version: 1 } })).status,
    ).toBe(401);
    const noCompany = await call('POST', '/products', {
      token: admin,
      body: { sku: sku(), name: 'x', price: { amount: 1, currency: 'EUR' } },
    });
    expect(noCompany.status).toBe(422);
    const byAdmin = await newProduct(admin, { companyId: coB });
    expect(byAdmin).toMatchObject({ companyId: coB });
    expect((await call<Product>('GET', `/products/${product.id}`)).body.stock).toBe(0);
  });

  test('SKUs are unique per company, not across companies', async () => {
    const shared = sku();
    await newProduct(sellerA, { sku: shared });
    const again = await call('POST', '/products', {
      token: sellerA,
      body: { sku: shared, name: 'Twin', price: { amount: 1, currency: 'EUR' } },
    });
    expect(again.status).toBe(409);
    await newProduct(sellerB, { sku: shared });
  });

  test.each([
    ['another currency', { price: { amount: 100, currency: 'USD' } }, 422],
    ['a fractional price', { price: { amount: 9.99, currency: 'EUR' } }, 400],
    ['a negative stock', { stock: -1 }, 400],
    ['an unknown field', { featured: true }, 400],
    ['an operator-shaped key', { name: { $ne: null } }, 400],
    ['an unknown category', { categoryId: 'cat_000000000000000000000000' }, 422],
  ])('refuses %s', async (_why, fields, status) => {
    const answer = await call('POST', '/products', {
      token: sellerA,
      body: { sku: sku(), name: 'Bad', price: { amount: 1, currency: 'EUR' }, ...fields },
    });
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  test('a suspended company cannot list products', async () => {
    const token = tenant.token({ sub: 'usr_x', roles: ['seller'], company: coSuspended });
    const answer = await call('POST', '/products', {
      token,
      body: { sku: sku(), name: 'x', price: { amount: 1, currency: 'EUR' } },
    });
    expect(answer.status).toBe(422);
  });

  test('a suspended or removed company’s products leave the shop and its sellers cannot change them; back once it is active', async () => {
    const company = await tenant.addCompany();
    const seller = tenant.token({ sub: 'usr_s6', roles: ['seller'], company });
    const listed = await newProduct(seller, { status: 'active', stock: 4 });
    const shop = async () =>
      (await call<Page>('GET', `/products?company=${company}`)).body.items.map((p) => p.id);
    expect(await shop()).toEqual([listed.id]);
    for (const status of ['suspended', 'removed'] as const) {
      await tenant.setCompanyStatus(company, status);
      expect(await shop()).toEqual([]);
      expect((await call('GET', `/products/${listed.id}`, { token: buyer })).status).toBe(404);
      // Its sellers and admins still see it; only an admin changes it now.
      expect((await call('GET', `/products/${listed.id}`, { token: seller })).status).toBe(200);
      const change = await call('PATCH', `/products/${listed.id}`, {
        token: seller,
        body: { price: { amount: 1, currency: 'EUR' } },
      });
      expect(change.status).toBe(422);
    }
    const archived = await call<Product>('PATCH', `/products/${listed.id}`, {
      token: admin,
      body: { status: 'archived' },
    });
    expect(archived.body).toMatchObject({ status: 'archived' });
    await tenant.setCompanyStatus(company, 'active');
    await call('PATCH', `/products/${listed.id}`, { token: seller, body: { status: 'active' } });
    expect(await shop()).toEqual([listed.id]);
  });

  test('an illegal status change is a 409 with the reason, and changes nothing', async () => {
    const product = await newProduct(sellerA, { status: 'active' });
    const answer = await call('PATCH', `/products/${product.id}`, {
      token: sellerA,
      body: { status: 'draft', stock: 99, version: product.version },
    });
    expect(answer).toMatchObject({ status: 409, body: { from: 'active', to: 'draft' } });
    expect((await call<Product>('GET', `/products/${product.id}`)).body).toMatchObject({
      status: 'active',
      stock: 0,
      version: 1,
    });
  });

  test('every forged or foreign token is refused', async () => {
    for (const forged of forgedTokens(tenant, { sub: 'usr_x', roles: ['admin'] })) {
      const answer = await call('POST', '/products', {
        token: forged.token,
        body: { companyId: coA, sku: sku(), name: 'x', price: { amount: 1, currency: 'EUR' } },
      });
      expect({ why: forged.why, status: answer.status }).toEqual({ why: forged.why, status: 401 });
      // Even a public read refuses a bad token rather than ignoring it.
      expect((await call('GET', '/products', { token: forged.token })).status).toBe(401);
    }
  });
});

describe('stock changes while checkouts sell', () => {
  const stock = () => createStockModule(tenant.db, noOutbox, noCache);
  /** What a checkout does to the product: reserve `quantity`, then keep or give it back. */
  async function checkout(productId: string, quantity: number, end: 'paid' | 'open' = 'paid') {
    const reservation = newId('chk');
    const until = new Date(Date.now() + 60_000);
    expect(await reserveStock(stock(), productId, quantity, reservation, until)).toBe('reserved');
    if (end === 'paid') await commitReservation(stock(), productId, reservation);
    return reservation;
  }
  const read = async (id: string) => (await call<Product>('GET', `/products/${id}`)).body;
  const patch = (id: string, body: Record<string, unknown>) =>
    call<Product>('PATCH', `/products/${id}`, { token: sellerA, body });

  test('a reservation from the product as read just before is one update with its event; from a stale read, the usual way; the reservation as made is committed', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 10 });
    const products = tenant.db.collection<ProductDoc>('products');
    const announced: (OutboxEntry[] | undefined)[] = [];
    const outbox: Outbox = { announce: (_c, _id, written) => announced.push(written) };
    const recording = createStockModule(tenant.db, outbox, noCache);
    const until = new Date(Date.now() + 60_000);
    const figures = async () => {
      const doc = await products.findOne({ _id: product.id });
      const pending = (doc?.outbox ?? [])
        .filter((e) => e.routingKey === 'product.updated')
        .map((e) => e.event.data as ProductDoc);
      return { stock: doc?.stock, version: doc?.version, pending: pending.map((d) => d.stock) };
    };
    // As read: one update takes the stock and writes the product.updated of what it left.
    const seen = (await products.findOne({ _id: product.id })) ?? undefined;
    const first = newId('chk');
    expect(await reserveStock(recording, product.id, 3, first, until, seen)).toBe('reserved');
    expect(await figures()).toEqual({ stock: 7, version: 2, pending: [7] });
    const updates = (written?: OutboxEntry[]) =>
      (written ?? []).filter((e) => e.routingKey === 'product.updated');
    expect(updates(announced.at(-1)).map((e) => (e.event.data as ProductDoc).stock)).toEqual([7]);
    // Read before that change: the update does not apply, the usual way reserves, and the
    // pending event is replaced by one with the newer figures.
    const second = newId('chk');
    expect(await reserveStock(recording, product.id, 2, second, until, seen)).toBe('reserved');
    expect(await figures()).toEqual({ stock: 5, version: 3, pending: [5] });
    // The reservation as made is committed in one update; one not as made, by reading it.
    expect(
      await commitReservation(recording, product.id, first, reservationEntry(first, 3, until)),
    ).toBe(true);
    const otherwise = reservationEntry(second, 2, new Date(until.getTime() + 1));
    expect(await commitReservation(recording, product.id, second, otherwise)).toBe(true);
    const after = await products.findOne({ _id: product.id });
    expect({ stock: after?.stock, reservations: after?.reservations }).toEqual({
      stock: 5,
      reservations: [],
    });
    expect(await commitReservation(recording, product.id, first)).toBe(false);
  });

  test('a reservation asked again takes nothing twice, also beside other reservations of the product', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 10 });
    const until = new Date(Date.now() + 60_000);
    const [first, second] = [newId('chk'), newId('chk')];
    expect(await reserveStock(stock(), product.id, 3, first, until)).toBe('reserved');
    expect(await reserveStock(stock(), product.id, 2, second, until)).toBe('reserved');
    for (const again of [second, first])
      expect(await reserveStock(stock(), product.id, 2, again, until)).toBe('already_reserved');
    const doc = await tenant.db.collection<ProductDoc>('products').findOne({ _id: product.id });
    expect({ stock: doc?.stock, reservations: doc?.reservations?.map((r) => r.id) }).toEqual({
      stock: 5,
      reservations: [first, second],
    });
  });

  test('a stock figure from a stale read is a 409 and changes nothing; from a fresh read it is written', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 10 });
    const seen = await read(product.id);
    await checkout(product.id, 3); // 7 left, which the seller has not seen
    const stale = await patch(product.id, { stock: 15, version: seen.version });
    const now = await read(product.id);
    expect(stale).toMatchObject({
      status: 409,
      body: { reason: 'version_mismatch', version: now.version },
    });
    expect(now.stock).toBe(7);
    const fresh = await patch(product.id, { stock: now.stock + 5, version: now.version });
    expect(fresh.body).toMatchObject({ stock: 12, version: now.version + 1 });
  });

  test('an absolute stock needs the version it was read at (400); stockAdjustment adds to what is there, reservations included', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 10 });
    const blind = await patch(product.id, { stock: 15 });
    expect(blind.status).toBe(400);
    expect(blind.body).toMatchObject({ errors: [{ in: 'body', path: 'version' }] });
    const both = await patch(product.id, { stock: 15, stockAdjustment: 5, version: 1 });
    expect(both.status).toBe(400);

    await checkout(product.id, 3); // sold: 7 left
    const open = await checkout(product.id, 2, 'open'); // reserved: 5 left for now
    expect((await patch(product.id, { stockAdjustment: 5 })).body).toMatchObject({ stock: 10 });
    // The open checkout fails: its 2 come back on top of the 5 received.
    await releaseReservation(stock(), product.id, open);
    expect((await read(product.id)).stock).toBe(12);
    const tooMany = await patch(product.id, { stockAdjustment: -13 });
    expect(tooMany).toMatchObject({
      status: 409,
      body: { reason: 'insufficient_stock', inStock: 12 },
    });
    expect((await patch(product.id, { stockAdjustment: -12 })).body).toMatchObject({ stock: 0 });
  });
});

describe('listing', () => {
  let categoryId: string;
  let subcategoryId: string;
  const tag = randomUUID().slice(0, 6);

  beforeAll(async () => {
    categoryId = (
      await call<{ id: string }>('POST', '/categories', {
        token: admin,
        body: { name: 'Tea', slug: `tea-${tag}` },
      })
    ).body.id;
    subcategoryId = (
      await call<{ id: string }>('POST', '/categories', {
        token: admin,
        body: { name: 'Green tea', slug: `green-tea-${tag}`, parentId: categoryId },
      })
    ).body.id;
    const prices = [500, 1500, 1500, 900, 3000, 120, 2200];
    for (const [i, amount] of prices.entries()) {
      await newProduct(i % 2 ? sellerA : sellerB, {
        name: `Tea ${tag} ${i}`,
        status: 'active',
        price: { amount, currency: 'EUR' },
        categoryId: i < 4 ? subcategoryId : categoryId,
      });
    }
    await newProduct(sellerA, { name: `Tea ${tag} draft`, categoryId });
  });

  async function all(query: string): Promise<Product[]> {
    const items: Product[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Page } = await call<Page>(
        'GET',
        `/products?${query}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      items.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    return items;
  }

  test('pages through a category and its subcategories by price, ties by id, no duplicates', async () => {
    const items = await all(`category=${categoryId}&sort=price`);
    expect(items.map((p) => p.price.amount)).toEqual([120, 500, 900, 1500, 1500, 2200, 3000]);
    expect(new Set(items.map((p) => p.id)).size).toBe(7);
    const descending = await all(`category=${categoryId}&sort=-price`);
    expect(descending.map((p) => p.id)).toEqual(items.map((p) => p.id).reverse());
    expect(await all(`category=${subcategoryId}`)).toHaveLength(4);
  });

  test('filters by name, price range and company', async () => {
    expect(await all(`q=TEA+${tag}&minPrice=900&maxPrice=2200`)).toHaveLength(4);
    expect((await all(`q=${tag}&company=${coA}`)).every((p) => p.sku.startsWith('SKU-'))).toBe(
      true,
    );
    expect(await all(`q=${tag}&company=${coA}`)).toHaveLength(3);
  });

  test('drafts are listed only for their company’s sellers and admins', async () => {
    expect((await call('GET', `/products?status=draft&company=${coA}`)).status).toBe(403);
    const mine = await call<Page>('GET', `/products?status=draft&company=${coA}&q=${tag}`, {
      token: sellerA,
    });
    expect(mine.body.items.map((p) => p.status)).toEqual(['draft']);
    expect(
      (await call('GET', `/products?status=draft&company=${coA}`, { token: sellerB })).status,
    ).toBe(403);
  });

  test('refuses queries that break the schema (400) and those no schema can judge (422)', async () => {
    for (const [query, status] of [
      ['limit=1000', 400],
      ['sort=random', 400],
      ['company[$ne]=x', 400],
      ['extra=1', 400],
      // Each field is valid alone, so the published schema lets these through.
      ['minPrice=9&maxPrice=1', 422],
      ['cursor=abc', 422],
    ] as const) {
      expect({ query, status: (await call('GET', `/products?${query}`)).status }).toEqual({
        query,
        status,
      });
    }
  });
});

describe('events and inventory', () => {
  test('a change publishes exactly one event, and the inventory consumer follows it', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 10 });
    await call('PATCH', `/products/${product.id}`, {
      token: sellerA,
      body: { stock: 8, version: product.version },
    });
    const events = await eventsFor(product.id, 2);
    expect(events.map((e) => e.type)).toEqual(['product.added', 'product.updated']);
    expect(events[1]?.data).toMatchObject({ stock: 8, version: 2, companyId: coA });
    await eventually({ what: 'inventory record', timeoutMs: 15_000 }, async () =>
      (await tenant.db.collection('inventory').findOne({ _id: product.id as never }))?.version === 2
        ? true
        : undefined,
    );
  });

  test('the outbox delivers every event exactly once after the broker comes back', async () => {
    const restore = await tenant.cutOffBroker();
    try {
      // Cut off as the service sees it: its publisher lost its connection and gets no new one
      // (the broker may close the last connections a moment after the cut). Its readiness
      // must name the broker: on a loaded machine the database check may time out too.
      await eventually(
        { what: 'catalog not ready without its broker', timeoutMs: 30_000 },
        async () => {
          const answer = await call<{ failing?: string[] }>('GET', '/readyz');
          // "rabbitmq: <why>" (refused, or a connect that does not finish in time).
          return answer.body.failing?.some((f) => f.startsWith('rabbitmq:')) ? true : undefined;
        },
      );
      const product = await newProduct(sellerB, { status: 'active', stock: 50 });
      await new Promise((r) => setTimeout(r, 1_000));
      const stored = await tenant.db
        .collection<{ _id: string; outbox?: unknown[] }>('products')
        .findOne({ _id: product.id });
      expect(stored?.outbox).toHaveLength(1); // kept while the broker is unreachable
      await restore();
      const events = await eventsFor(product.id, 1);
      expect(events.map((e) => e.type)).toEqual(['product.added']);
      // The consumer reconnected too: the inventory follows.
      await eventually({ what: 'inventory after the outage', timeoutMs: 30_000 }, async () =>
        (await tenant.db.collection('inventory').findOne({ _id: product.id as never }))
          ? true
          : undefined,
      );
    } finally {
      await restore().catch(() => undefined);
    }
  });

  test('while the broker is away a product keeps at most one pending product.updated; the latest goes out after', async () => {
    const product = await newProduct(sellerA, { status: 'active', stock: 40 });
    await eventsFor(product.id, 1); // product.added is out before the cut
    // Checkout's part of a purchase, as checkout runs it: reservations, and some released.
    const stock = createStockModule(tenant.db, service.relay, service.deps.cache);
    const products = tenant.db.collection<ProductDoc>('products');
    const pendingUpdates = async () =>
      ((await products.findOne({ _id: product.id }))?.outbox ?? []).filter(
        (e) => e.routingKey === 'product.updated',
      );
    const restore = await tenant.cutOffBroker();
    try {
      for (let i = 0; i < 12; i++) {
        const reservation = `res_${i}_${randomUUID()}`;
        const expires = new Date(Date.now() + 60_000);
        expect(await reserveStock(stock, product.id, 2, reservation, expires)).toBe('reserved');
        if (i % 3 === 0)
          expect(await releaseReservation(stock, product.id, reservation)).toBe(true);
        expect((await pendingUpdates()).length).toBeLessThanOrEqual(1);
      }
      const [pending] = await pendingUpdates();
      const latest = await products.findOne({ _id: product.id });
      expect(pending?.event.data).toMatchObject({ stock: latest?.stock, version: latest?.version });
      await restore();
      // The latest figure goes out. A publish the cut interrupted may have reached the
      // broker unconfirmed and go out too: at least once, older, dropped by its version.
      const events: { version: number }[] = [];
      await eventually({ what: 'the latest product.updated', timeoutMs: 20_000 }, async () => {
        events.push(...(await eventsFor(product.id, 1)).map((e) => e.data as { version: number }));
        return events.at(-1)?.version === latest?.version ? true : undefined;
      });
      expect(events.at(-1)).toMatchObject({ stock: 40 - 12 * 2 + 4 * 2, version: latest?.version });
      for (const e of events.slice(0, -1)) expect(e.version).toBeLessThan(latest?.version ?? 0);
      expect(await pendingUpdates()).toEqual([]);
    } finally {
      await restore().catch(() => undefined);
    }
  });

  test('company figures and one low-stock notice, however often an event is delivered', async () => {
    const company = companyIds();
    await tenant.db.collection('companies').insertOne({
      _id: company as never,
      displayName: 'Figures Ltd',
      contactEmail: 'f@example.com',
      status: 'active',
      managedBy: 'api',
    });
    const seller = tenant.token({ sub: 'usr_f', roles: ['seller'], company });
    const a = await newProduct(seller, { status: 'active', stock: 10 });
    await newProduct(seller, { status: 'active', stock: 7 });
    const low = await call<Product>('PATCH', `/products/${a.id}`, {
      token: seller,
      body: { stock: 2, version: a.version },
    });
    expect(low.status).toBe(200);
    const figures = await eventually({ what: 'company figures', timeoutMs: 20_000 }, async () => {
      const answer = await call<{ units: number; lowStock: number; products: number }>(
        'GET',
        `/inventory/companies/${company}`,
        { token: seller },
      );
      return answer.body.units === 9 && answer.body.lowStock === 1 ? answer.body : undefined;
    });
    expect(figures).toMatchObject({
      products: 2,
      units: 9,
      lowStock: 1,
      lowStockProducts: [{ productId: a.id, stock: 2, threshold: 3 }],
    });

    // The same event again (a redelivery) and an older one out of order: nothing changes.
    const updated = (await eventsFor(a.id, 2)).find((e) => e.type === 'product.updated');
    expect(updated).toBeDefined();
    const stale = {
      ...updated!,
      id: randomUUID(),
      data: { ...(updated!.data as object), stock: 100, version: 1 },
    };
    await tenant.publish(
      'product_exchange',
      'product.updated',
      Buffer.from(JSON.stringify(updated)),
      updated!.id,
    );
    await tenant.publish(
      'product_exchange',
      'product.updated',
      Buffer.from(JSON.stringify(stale)),
      stale.id,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await call('GET', `/inventory/companies/${company}`, { token: seller });
    expect(after.body).toMatchObject({ units: 9, lowStock: 1 });
    const notices = (await tenant.drain('email_notifications')).filter(
      (m) => (m.body as { data: { companyId?: string } }).data.companyId === company,
    );
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      routingKey: 'inventory.low_stock',
      body: { type: 'inventory.low_stock', data: { productId: a.id, stock: 2, threshold: 3 } },
    });
    expect((await call('GET', `/inventory/companies/${company}`, { token: sellerA })).status).toBe(
      403,
    );
  });

  test('a poison message and an event that breaks its contract go to the dead-letter queue', async () => {
    await tenant.publish(
      'product_exchange',
      'product.updated',
      Buffer.from('not json'),
      'poison-1',
    );
    const broken = {
      id: randomUUID(),
      type: 'product.updated',
      occurredAt: new Date().toISOString(),
      data: { productId: 42 },
    };
    await tenant.publish(
      'product_exchange',
      'product.updated',
      Buffer.from(JSON.stringify(broken)),
      broken.id,
    );
    const dead = await eventually({ what: 'both in the DLQ', timeoutMs: 20_000 }, async () => {
      const messages = await tenant.drain('inventory_update.dlq');
      return messages.length > 0 ? messages : undefined;
    });
    const more = await eventually({ what: 'the second', timeoutMs: 20_000 }, async () => {
      const rest = dead.length >= 2 ? [] : await tenant.drain('inventory_update.dlq');
      return dead.length + rest.length >= 2 ? rest : undefined;
    });
    expect(dead.length + more.length).toBe(2);
  });
});

test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
  await expectOpenApiUpToDate(catalogService, join(import.meta.dirname, '..'), call);
});
