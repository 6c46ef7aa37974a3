// The catalog's read cache against real FerretDB and Redis, as a tenant's ACL user: hits
// and misses counted, anonymous reads cached and authenticated ones not, a confirmed price
// change never followed by the old price (readers hammering throughout), stock and category
// changes seen at once, hot entries refreshed ahead of their TTL, and Redis paused or
// stopped: reads from the database, /readyz up, the breaker open then closed again, and
// the outage logged without the URL's password.
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import {
  entryKey,
  generationKey,
  noOutbox,
  readEntry,
  startService,
  type RunningService,
} from '@gorten/kit';
import {
  client,
  startTestService,
  tenantRedisUser,
  TestTenant,
  type Call,
  type TenantRedisUser,
} from '@gorten/service-testing';
import { eventually, loadTestEnv, startRedis, type PrivateRedis } from '@gorten/testenv';
import { catalogService } from '../src/app.js';
import type { CatalogDeps } from '../src/deps.js';
import { createStockModule, releaseReservation, reserveStock } from '../src/stock.js';

interface Product {
  id: string;
  stock: number;
  version: number;
  price: { amount: number; currency: string };
}
interface Page {
  items: Product[];
  nextCursor: string | null;
}

const company = `co_${randomBytes(12).toString('hex')}`;
let tenant: TestTenant;
let redisUser: TenantRedisUser;
let service: RunningService<CatalogDeps>;
let call: Call;
let seller: string;
let admin: string;
let buyer: string;

async function startCatalog(redisUrl: string, prefix: string, env: Record<string, string> = {}) {
  return startTestService(catalogService, tenant, 'catalog', {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    ...env,
  });
}

beforeAll(async () => {
  tenant = await TestTenant.create('catalog-cache');
  await tenant.db.collection('companies').insertOne({
    _id: company as never,
    displayName: 'Cached company',
    contactEmail: 'x@example.com',
    status: 'active',
    managedBy: 'api',
  });
  redisUser = await tenantRedisUser(loadTestEnv().redis.url, 'catalog-cache');
  service = await startCatalog(redisUser.url, redisUser.prefix);
  call = client(service.url);
  seller = tenant.token({ sub: 'usr_s', roles: ['seller'], company });
  admin = tenant.token({ sub: 'usr_a', roles: ['admin'] });
  buyer = tenant.token({ sub: 'usr_b', roles: ['buyer'] });
});

afterAll(async () => {
  await service.close();
  await redisUser.remove();
  await tenant.destroy();
});

/** A sample of the service's /metrics (0 when absent). */
async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length, line.lastIndexOf('}') + 1);
    if (wanted.every((w) => labelText.includes(w))) return Number(line.split(' ').pop());
  }
  return 0;
}

const outcomes = async (url: string, cache: string) => ({
  hit: await metric(url, 'gorten_cache_requests_total', { cache, outcome: 'hit' }),
  miss: await metric(url, 'gorten_cache_requests_total', { cache, outcome: 'miss' }),
  error: await metric(url, 'gorten_cache_requests_total', { cache, outcome: 'error' }),
  bypass: await metric(url, 'gorten_cache_requests_total', { cache, outcome: 'bypass' }),
});

async function newProduct(on: Call, fields: Record<string, unknown> = {}): Promise<Product> {
  const answer = await on<Product>('POST', '/products', {
    token: seller,
    body: {
      sku: `SKU-${randomUUID().slice(0, 8)}`,
      name: 'Teapot',
      price: { amount: 1_000, currency: 'EUR' },
      stock: 10,
      status: 'active',
      ...fields,
    },
  });
  expect(answer.status).toBe(201);
  return answer.body;
}

async function setPrice(on: Call, id: string, amount: number): Promise<void> {
  const answer = await on('PATCH', `/products/${id}`, {
    token: seller,
    body: { price: { amount, currency: 'EUR' } },
  });
  expect(answer.status).toBe(200);
}

describe('what is cached', () => {
  test('an anonymous product read is a miss, then a hit with the same body; a token bypasses', async () => {
    const product = await newProduct(call);
    const before = await outcomes(service.url, 'product');
    const first = await call<Product>('GET', `/products/${product.id}`);
    const second = await call<Product>('GET', `/products/${product.id}`);
    expect(first.status).toBe(200);
    expect(second.headers.get('content-type')).toMatch(/^application\/json/);
    expect(second.body).toEqual(first.body);
    expect(second.body).toMatchObject({ id: product.id, price: product.price });
    const withToken = await call<Product>('GET', `/products/${product.id}`, { token: buyer });
    expect(withToken.body).toEqual(first.body);
    const after = await outcomes(service.url, 'product');
    expect(after.miss - before.miss).toBe(1);
    expect(after.hit - before.hit).toBe(1);
    expect(after.bypass - before.bypass).toBe(1);
    expect(after.error).toBe(0);
  });

  test('listing pages are cached per filter, sort and cursor; a listing with a token is read from the database', async () => {
    const own = `co_${randomBytes(12).toString('hex')}`;
    await tenant.db.collection('companies').insertOne({
      _id: own as never,
      displayName: 'Listed company',
      contactEmail: 'x@example.com',
      status: 'active',
      managedBy: 'api',
    });
    const ownSeller = tenant.token({ sub: 'usr_o', roles: ['seller'], company: own });
    for (const amount of [300, 100, 200])
      expect(
        (
          await call('POST', '/products', {
            token: ownSeller,
            body: {
              sku: `L-${amount}`,
              name: `Listed ${amount}`,
              price: { amount, currency: 'EUR' },
              status: 'active',
            },
          })
        ).status,
      ).toBe(201);
    const prices = (page: Page) => page.items.map((p) => p.price.amount);
    const list = (query: string, token?: string) =>
      call<Page>('GET', `/products?company=${own}&${query}`, { token });
    const before = await outcomes(service.url, 'listing');
    const byPrice = await list('sort=price&limit=2');
    expect(prices(byPrice.body)).toEqual([100, 200]);
    const byPriceDown = await list('sort=-price&limit=2');
    expect(prices(byPriceDown.body)).toEqual([300, 200]);
    const cheap = await list('sort=price&maxPrice=150');
    expect(prices(cheap.body)).toEqual([100]);
    const next = await list(`sort=price&limit=2&cursor=${byPrice.body.nextCursor ?? ''}`);
    expect(prices(next.body)).toEqual([300]);
    const middle = await outcomes(service.url, 'listing');
    expect(middle.miss - before.miss).toBe(4);
    // Each again: every one a hit, each with its own page.
    expect((await list('sort=price&limit=2')).body).toEqual(byPrice.body);
    expect((await list('sort=-price&limit=2')).body).toEqual(byPriceDown.body);
    expect((await list('sort=price&maxPrice=150')).body).toEqual(cheap.body);
    const again = await outcomes(service.url, 'listing');
    expect(again.hit - middle.hit).toBe(3);
    // A seller listing their own drafts, and a buyer, read the database.
    const drafts = await list('status=draft', ownSeller);
    expect(drafts.status).toBe(200);
    expect((await list('sort=price&limit=2', buyer)).body).toEqual(byPrice.body);
    const last = await outcomes(service.url, 'listing');
    expect(last.bypass - again.bypass).toBe(2);
    expect(last.hit).toBe(again.hit);
  });

  test('a cold key read at once on two replicas is filled once: one miss, every other read a hit', async () => {
    const twin = await startCatalog(redisUser.url, redisUser.prefix);
    try {
      const product = await newProduct(call);
      const [one, two] = [service.url, twin.url];
      const before = await Promise.all([one, two].map((url) => outcomes(url, 'product')));
      const reads = [one, two].flatMap((url) =>
        Array.from({ length: 20 }, () => client(url)<Product>('GET', `/products/${product.id}`)),
      );
      const answers = await Promise.all(reads);
      expect(answers.map((a) => a.body.price)).toEqual(answers.map(() => product.price));
      const after = await Promise.all([one, two].map((url) => outcomes(url, 'product')));
      const delta = (k: 'hit' | 'miss') =>
        after.reduce((sum, o, i) => sum + o[k] - (before[i]?.[k] ?? 0), 0);
      expect({ miss: delta('miss'), hit: delta('hit') }).toEqual({ miss: 1, hit: 39 });
    } finally {
      await twin.close();
    }
  });

  test('a hit is sent as the bytes the uncached route answers: same body, type and length, non-ASCII included', async () => {
    const uncached = await startTestService(catalogService, tenant, 'catalog');
    try {
      const own = await tenant.addCompany();
      const ownSeller = tenant.token({ sub: 'usr_u', roles: ['seller'], company: own });
      const created = await call<Product>('POST', '/products', {
        token: ownSeller,
        body: {
          sku: `U-${randomUUID().slice(0, 8)}`,
          name: 'Théière “Ōsaka” ☕ — 1:2',
          description: 'Ünïcödé, a colon: and "quotes"',
          price: { amount: 4_200, currency: 'EUR' },
          stock: 3,
          status: 'active',
        },
      });
      expect(created.status).toBe(201);
      const raw = async (url: string) => {
        const answer = await fetch(url);
        return {
          status: answer.status,
          type: answer.headers.get('content-type'),
          length: answer.headers.get('content-length'),
          body: Buffer.from(await answer.arrayBuffer()),
        };
      };
      for (const path of [`/products/${created.body.id}`, `/products?company=${own}&limit=5`]) {
        const before = await outcomes(service.url, path.includes('?') ? 'listing' : 'product');
        const miss = await raw(`${service.url}${path}`);
        const hit = await raw(`${service.url}${path}`);
        const after = await outcomes(service.url, path.includes('?') ? 'listing' : 'product');
        expect(after.hit - before.hit).toBe(1);
        const fromDatabase = await raw(`${uncached.url}${path}`);
        expect(fromDatabase.status).toBe(200);
        expect(fromDatabase.body.toString()).toContain('Ōsaka');
        for (const cached of [miss, hit]) {
          expect(cached.status).toBe(200);
          expect(cached.type).toBe(fromDatabase.type);
          expect(cached.length).toBe(fromDatabase.length);
          expect(cached.body.equals(fromDatabase.body)).toBe(true);
        }
      }
    } finally {
      await uncached.close();
    }
  });

  test('every key the catalog wrote is under its prefix, written by a user allowed no other', async () => {
    const keys = await redisUser.keys();
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith(redisUser.prefix))).toEqual([]);
    expect(keys.some((k) => k.startsWith(`${redisUser.prefix}gen:catalog:`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${redisUser.prefix}product:`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${redisUser.prefix}listing:`))).toBe(true);
    for (const cache of ['product', 'listing', 'categories'])
      expect((await outcomes(service.url, cache)).error).toBe(0);
  });
});

test('a hot entry is refreshed ahead of its TTL: its readers never meet it expired', async () => {
  const short = await startCatalog(redisUser.url, redisUser.prefix, { CACHE_TTL_SECONDS: '3' });
  try {
    const on = client(short.url);
    const product = await newProduct(on);
    const key = entryKey(
      redisUser.prefix,
      'product',
      [
        Number(
          await redisUser.get(generationKey(redisUser.prefix, `catalog:product:${product.id}`)),
        ),
      ],
      product.id,
    );
    await on('GET', `/products/${product.id}`);
    const filled = readEntry((await redisUser.get(key)) ?? '')?.filledAtMs ?? 0;
    expect(filled).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2_400)); // past 3/4 of the TTL
    await on('GET', `/products/${product.id}`); // a hit, which refreshes in the background
    await eventually({ what: 'the entry refreshed', timeoutMs: 10_000 }, async () =>
      (readEntry((await redisUser.get(key)) ?? '')?.filledAtMs ?? 0) > filled ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 800)); // past the first fill's TTL
    const before = await outcomes(short.url, 'product');
    expect((await on<Product>('GET', `/products/${product.id}`)).status).toBe(200);
    const after = await outcomes(short.url, 'product');
    expect(after.hit - before.hit).toBe(1);
    expect(after.miss).toBe(before.miss);
  } finally {
    await short.close();
  }
});

describe('invalidation', () => {
  test('after a price change is answered, no read returns the old price, with readers hammering throughout', async () => {
    const product = await newProduct(call, { price: { amount: 10_000, currency: 'EUR' } });
    const listing = `/products?company=${company}&sort=newest&limit=100`;
    const confirmed: { at: number; amount: number }[] = [{ at: 0, amount: 10_000 }];
    const stale: string[] = [];
    let writing = true;
    const reader = async (path: string, priceOf: (body: unknown) => number | undefined) => {
      while (writing) {
        const startedAt = performance.now();
        // The newest price confirmed before this read began: the least it may return.
        const floor = confirmed.filter((c) => c.at < startedAt).pop()?.amount ?? 0;
        const answer = await call('GET', path);
        const amount = priceOf(answer.body);
        if (answer.status !== 200 || amount === undefined || amount < floor)
          stale.push(`${path}: ${answer.status} ${amount} after ${floor} was confirmed`);
      }
    };
    const ofProduct = (body: unknown) => (body as Partial<Product>).price?.amount;
    const inListing = (body: unknown) =>
      (body as Partial<Page>).items?.find((p) => p.id === product.id)?.price.amount;
    const before = await outcomes(service.url, 'product');
    const readers = [
      ...Array.from({ length: 6 }, () => reader(`/products/${product.id}`, ofProduct)),
      ...Array.from({ length: 3 }, () => reader(listing, inListing)),
    ];
    try {
      for (let amount = 10_001; amount <= 10_040; amount++) {
        await setPrice(call, product.id, amount);
        confirmed.push({ at: performance.now(), amount });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      writing = false;
      await Promise.all(readers);
    }
    expect(stale).toEqual([]);
    const after = await outcomes(service.url, 'product');
    // The readers were served from the cache, not only from the database.
    expect(after.hit - before.hit).toBeGreaterThan(0);
    expect((await call<Product>('GET', `/products/${product.id}`)).body.price.amount).toBe(10_040);
  });

  test('a generation Redis loses (evicted or expired) never brings back an entry read under an older one', async () => {
    const product = await newProduct(call);
    const generation = generationKey(redisUser.prefix, `catalog:product:${product.id}`);
    const price = async () =>
      (await call<Product>('GET', `/products/${product.id}`)).body.price.amount;
    // The generation expires (a product read for a day and never written), then is read.
    await redisUser.drop(generation);
    expect(await price()).toBe(1_000);
    expect(await price()).toBe(1_000);
    await setPrice(call, product.id, 2_000);
    expect(await price()).toBe(2_000);
    // Gone again while the entry read before the price change is still within its TTL.
    await redisUser.drop(generation);
    expect(await price()).toBe(2_000);
    expect(await price()).toBe(2_000);
  });

  test('a stock reservation (checkout’s, through the stock module) shows in the next read', async () => {
    const product = await newProduct(call, { stock: 5 });
    expect((await call<Product>('GET', `/products/${product.id}`)).body.stock).toBe(5);
    expect((await call<Product>('GET', `/products/${product.id}`)).body.stock).toBe(5); // a hit
    const stock = createStockModule(tenant.db, noOutbox, service.deps.cache);
    const reservation = `chk_${randomUUID()}`;
    const expires = new Date(Date.now() + 60_000);
    expect(await reserveStock(stock, product.id, 2, reservation, expires)).toBe('reserved');
    const reserved = (await call<Product>('GET', `/products/${product.id}`)).body;
    expect(reserved.stock).toBe(3);
    expect(reserved.version).toBe(product.version + 1);
    expect(await releaseReservation(stock, product.id, reservation)).toBe(true);
    expect((await call<Product>('GET', `/products/${product.id}`)).body.stock).toBe(5);
  });

  test('a category created, renamed or deleted shows in the next category list and listing', async () => {
    const names = async () =>
      (await call<{ items: { id: string; name: string }[] }>('GET', '/categories')).body.items.map(
        (c) => c.name,
      );
    await names(); // filled
    const made = await call<{ id: string }>('POST', '/categories', {
      token: admin,
      body: { name: 'Cached shelves', slug: `shelves-${randomUUID().slice(0, 8)}` },
    });
    expect(made.status).toBe(201);
    expect(await names()).toContain('Cached shelves');
    expect(await names()).toContain('Cached shelves'); // a hit, still right
    const child = await call<{ id: string }>('POST', '/categories', {
      token: admin,
      body: { name: 'Cached racks', slug: `racks-${randomUUID().slice(0, 8)}` },
    });
    const racked = await newProduct(call, { categoryId: child.body.id });
    const inShelves = async () =>
      (
        await call<Page>('GET', `/products?category=${made.body.id}&company=${company}`)
      ).body.items.map((p) => p.id);
    expect(await inShelves()).toEqual([]);
    expect(await inShelves()).toEqual([]); // a hit
    // Moving racks under shelves puts its product in the shelves listing at once.
    const moved = await call('PATCH', `/categories/${child.body.id}`, {
      token: admin,
      body: { parentId: made.body.id },
    });
    expect(moved.status).toBe(200);
    expect(await inShelves()).toEqual([racked.id]);
    const renamed = await call('PATCH', `/categories/${made.body.id}`, {
      token: admin,
      body: { name: 'Cached cupboards' },
    });
    expect(renamed.status).toBe(200);
    expect(await names()).toContain('Cached cupboards');
    expect(await names()).not.toContain('Cached shelves');
    await call('PATCH', `/products/${racked.id}`, { token: seller, body: { categoryId: null } });
    expect((await call('DELETE', `/categories/${child.body.id}`, { token: admin })).status).toBe(
      204,
    );
    expect(await names()).not.toContain('Cached racks');
  });
});

describe('Redis away', () => {
  let redis: PrivateRedis;
  let away: RunningService<CatalogDeps>;
  let on: Call;
  const prefix = 'mp-catalog-away:';
  let logs = '';

  beforeAll(async () => {
    redis = await startRedis();
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const env = tenant.serviceEnv('catalog', {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    });
    away = await startService(catalogService, env, {
      checkResponses: true,
      logDestination: destination,
    });
    on = client(away.url);
  });

  afterAll(async () => {
    // beforeAll may have failed before it started them; the private Redis goes either way.
    try {
      await (away as RunningService<CatalogDeps> | undefined)?.close();
    } finally {
      await (redis as PrivateRedis | undefined)?.stop();
    }
  });

  const circuit = () => metric(away.url, 'dependency_circuit_state', { dependency: 'redis' });
  const ready = async () => (await fetch(`${away.url}/readyz`)).status;

  test('paused: reads answer from the database, /readyz stays 200, the breaker opens; resumed: it closes, the change made meanwhile is read, caching resumes', async () => {
    const product = await newProduct(on, { price: { amount: 500, currency: 'EUR' } });
    await on('GET', `/products/${product.id}`);
    await eventually({ what: 'a cached read', timeoutMs: 10_000 }, async () => {
      await on('GET', `/products/${product.id}`);
      return (await outcomes(away.url, 'product')).hit > 0 ? true : undefined;
    });
    redis.pause();
    try {
      for (let i = 0; i < 8; i++) {
        const answer = await on<Product>('GET', `/products/${product.id}`);
        expect(answer.status).toBe(200);
        expect(answer.body.price.amount).toBe(500);
      }
      expect(await ready()).toBe(200);
      expect(await circuit()).toBe(1);
      const failed = await outcomes(away.url, 'product');
      expect(failed.error).toBeGreaterThan(0);
      expect(failed.bypass).toBeGreaterThan(0);
      // A change while Redis is frozen: its bump fails, and is kept.
      await setPrice(on, product.id, 600);
      expect((await on<Product>('GET', `/products/${product.id}`)).body.price.amount).toBe(600);
    } finally {
      redis.resume();
    }
    await eventually({ what: 'the redis breaker closed again', timeoutMs: 20_000 }, async () => {
      await on('GET', `/products/${product.id}`);
      return (await circuit()) === 0 ? true : undefined;
    });
    // The bump kept from the outage landed: the entry cached at 500 is never read again.
    const resumed = await outcomes(away.url, 'product');
    await eventually({ what: 'caching again', timeoutMs: 10_000 }, async () => {
      const answer = await on<Product>('GET', `/products/${product.id}`);
      expect(answer.body.price.amount).toBe(600);
      return (await outcomes(away.url, 'product')).hit > resumed.hit ? true : undefined;
    });
    expect((await on<Product>('GET', `/products/${product.id}`)).body.price.amount).toBe(600);
  });

  test('stopped: reads and writes answer from the database, /readyz stays 200, the breaker opens', async () => {
    const product = await newProduct(on);
    await redis.stop();
    for (let i = 0; i < 8; i++)
      expect((await on<Product>('GET', `/products/${product.id}`)).status).toBe(200);
    expect((await on<Page>('GET', `/products?company=${company}`)).status).toBe(200);
    expect((await on('GET', '/categories')).status).toBe(200);
    await setPrice(on, product.id, 700);
    expect((await on<Product>('GET', `/products/${product.id}`)).body.price.amount).toBe(700);
    expect(await ready()).toBe(200);
    expect(await circuit()).toBe(1);
    // The outage is logged by Redis's address, never with the password in its URL.
    expect(logs).toContain('Redis unavailable');
    expect(logs).toContain(redis.address);
    expect(logs).not.toContain(redis.password);
  });
});
