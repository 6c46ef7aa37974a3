// The chaos suite: many buyers check out, admins cancel and refund, on a few scarce
// products, while the checkout, orders and payments processes are SIGKILLed and restarted,
// RabbitMQ is restarted and FerretDB is frozen for 20-40 s, on a schedule drawn from a
// printed seed (GORTEN_CHAOS_SEED replays one). Once the load stops and the faults are
// healed, the history checker (history.ts) reads every collection, the provider's ledger,
// the mail relay and the dead-letter queues: money and stock must add up exactly.
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'amqplib';
import { cartsService } from '@gorten/carts';
import { catalogService } from '@gorten/catalog';
import { newId, operatorCompanyRecord, type RunningService } from '@gorten/kit';
import { notificationsService } from '@gorten/notifications';
import { TEST_CARDS } from '@gorten/payments/simulated-provider';
import { startTestService, TestTenant } from '@gorten/service-testing';
import { repoRoot, startDataPlane, type DataPlane } from '@gorten/testenv';
import { startMailCatcher, type MailCatcher } from '../../tools/start/src/mail.js';
import { violations, type History } from './history.js';
import { ServiceProcess } from './processes.js';
import { describeFault, faultSchedule, random, type ScheduledFault } from './schedule.js';

const SEED = Number(process.env.GORTEN_CHAOS_SEED ?? randomInt(2 ** 31));
const LOAD_MS = 120_000;
const SETTLE_MS = 90_000;
const BUYERS = 20;
const PRODUCTS = 4;
const STOCK = 10;
const COMPANY = `co_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
/** Short leases and a fast recovery loop, so that runs a kill interrupted settle soon. */
const CHECKOUT_SETTINGS = {
  PAYMENT_PROVIDER_TIMEOUT_MS: '2000',
  CHECKOUT_LEASE_MS: '8000',
  RECOVERY_INTERVAL_MS: '1000',
  LOG_LEVEL: 'warn',
};
/** 409s that are final: nothing left to sell. Others (a locked cart, a key in use) pass. */
const FINAL_CONFLICTS = new Set(['out_of_stock', 'unavailable']);
/**
 * Most buyers' cards work; one in five is declined, one in five answers too late on a
 * checkout's first attempt (compensated, then paid on a retry), so every path is taken.
 */
const cardOf = (buyer: number) => ({
  number: [TEST_CARDS.declined, TEST_CARDS.slowFirstAttempt][buyer % 5] ?? TEST_CARDS.success,
  expMonth: 12,
  expYear: 2031,
  cvc: '123',
});
/** Restocking keeps the products scarce but never gone for long. */
const RESTOCK = { below: 3, units: 4, everyMs: 2_000 };

let plane: DataPlane;
let tenant: TestTenant;
let mail: MailCatcher;
const mailDir = mkdtempSync(join(tmpdir(), 'gorten-chaos-mail-'));
const mailSubjects: string[] = [];
const inProcess: RunningService<unknown>[] = [];
const killable = new Map<'checkout' | 'orders' | 'payments', ServiceProcess>();
const productIds: string[] = [];
const buyers: Buyer[] = [];

interface Buyer {
  id: string;
  token: string;
  /** Its card, tokenized by the provider once (POST /payments/methods). */
  paymentMethod: string;
}

beforeAll(async () => {
  plane = await startDataPlane();
  tenant = await TestTenant.create('chaos', plane);
  mail = await startMailCatcher(
    mailDir,
    (_file, { subject }) => mailSubjects.push(subject),
    () => undefined, // a relay connection reset by a frozen sender is not a finding
  );
  await seed();
  const smtp = { SMTP_URL: `smtp://127.0.0.1:${mail.port}` };
  inProcess.push(
    await startTestService(catalogService, tenant, 'catalog'),
    await startTestService(cartsService, tenant, 'carts'),
    await startTestService(notificationsService, tenant, 'notifications', smtp),
  );
  for (const name of ['checkout', 'orders', 'payments'] as const) {
    const settings = name === 'checkout' ? CHECKOUT_SETTINGS : { LOG_LEVEL: 'warn' };
    killable.set(
      name,
      await ServiceProcess.start(name, tenant.serviceEnv(name, settings), plane.logDir),
    );
  }
  for (const [i, buyer] of buyers.entries()) {
    const method = await request(url('payments'), 'POST', '/payments/methods', {
      token: buyer.token,
      body: cardOf(i),
    });
    if (method?.status !== 201) throw new Error(`tokenizing a card: ${JSON.stringify(method)}`);
    buyer.paymentMethod = String(method.body.id);
  }
}, 240_000);

afterAll(async () => {
  // beforeAll may have failed part way: stop whatever it started.
  const started = plane as DataPlane | undefined;
  started?.resumeDatabase();
  for (const service of killable.values()) await service.stop().catch(() => undefined);
  for (const service of inProcess.reverse()) await service.close().catch(() => undefined);
  await (mail as MailCatcher | undefined)?.close();
  await (tenant as TestTenant | undefined)?.destroy().catch(() => undefined);
  await started?.stop();
  rmSync(mailDir, { recursive: true, force: true });
}, 120_000);

async function seed(): Promise<void> {
  await tenant.db.collection('companies').insertOne(
    operatorCompanyRecord({
      id: COMPANY,
      displayName: 'Chaos Goods',
      contactEmail: 'seller@chaos.example',
      status: 'active',
      publicKey: null,
    }) as never,
  );
  const now = new Date();
  for (let i = 0; i < PRODUCTS; i++) {
    const id = newId('prd');
    productIds.push(id);
    await tenant.db.collection('products').insertOne({
      _id: id as never,
      companyId: COMPANY,
      sku: `CHAOS-${i}`,
      name: `Scarce thing ${i}`,
      description: '',
      categoryId: null,
      price: { amount: 1_000 + i * 250, currency: 'EUR' },
      stock: STOCK,
      status: 'active',
      lowStockThreshold: 0,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
  }
  for (let i = 0; i < BUYERS; i++) {
    const id = newId('usr');
    await tenant.db.collection('users').insertOne({
      _id: id as never,
      email: `buyer${i}@chaos.example`,
      name: `Buyer ${i}`,
      roles: ['buyer'],
      status: 'active',
      createdAt: now,
    });
    const token = tenant.token({ sub: id, roles: ['buyer'] }, { expiresIn: 900 });
    buyers.push({ id, token, paymentMethod: '' });
  }
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** One HTTP call; a dead, frozen or restarting server is `undefined`, never a throw. */
async function request(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; key?: string } = {},
): Promise<Reply | undefined> {
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(opts.key ? { 'idempotency-key': opts.key } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Reply['body']) : {} };
  } catch {
    return undefined;
  }
}

const stats = { checkouts: 0, paid: 0, declined: 0, soldOut: 0, gaveUp: 0, refunds: 0, cancels: 0 };
const url = (name: 'checkout' | 'orders' | 'payments' | 'catalog' | 'carts'): string => {
  const child = killable.get(name as 'checkout');
  if (child) return child.url;
  const index = ['catalog', 'carts'].indexOf(name);
  return inProcess[index]!.url;
};

/**
 * A buyer as a careful app behaves: fill the cart, check out under one key, and on any
 * answer that settles nothing (no answer, 5xx, 409 in progress) send the same key again.
 */
async function shop(buyer: Buyer, next: () => number, until: number) {
  while (Date.now() < until) {
    const product = productIds[Math.floor(next() * productIds.length)]!;
    const put = await request(url('carts'), 'PUT', `/carts/me/items/${product}`, {
      token: buyer.token,
      body: { quantity: 1 + Math.floor(next() * 2) },
    });
    if (put?.status !== 200) {
      await sleep(500);
      continue;
    }
    stats.checkouts++;
    const key = randomUUID();
    const giveUp = Date.now() + 90_000;
    for (;;) {
      const answer = await request(url('checkout'), 'POST', '/checkout', {
        token: buyer.token,
        body: { paymentMethod: buyer.paymentMethod },
        key,
      });
      const final =
        answer &&
        (answer.status === 201 ||
          answer.status === 402 ||
          answer.status === 422 ||
          (answer.status === 409 && FINAL_CONFLICTS.has(String(answer.body.reason))));
      if (final) {
        if (answer.status === 201) stats.paid++;
        else if (answer.status === 402) stats.declined++;
        else stats.soldOut++;
        if (answer.status !== 201)
          await request(url('carts'), 'DELETE', '/carts/me', { token: buyer.token });
        break;
      }
      if (Date.now() > giveUp) {
        stats.gaveUp++;
        break;
      }
      await sleep(500 + next() * 1_500);
    }
  }
}

/** An admin who now and then cancels an order still waiting for its payment, or refunds a paid one. */
async function administer(next: () => number, until: number) {
  const admin = tenant.token({ sub: newId('usr'), roles: ['admin'] }, { expiresIn: 900 });
  while (Date.now() < until) {
    await sleep(1_500 + next() * 2_000);
    const status = next() < 0.5 ? 'awaiting_payment' : 'paid';
    const page = await request(url('orders'), 'GET', `/orders?status=${status}&limit=20`, {
      token: admin,
    });
    const items = (page?.status === 200 ? page.body.items : []) as { id: string }[];
    const order = items[Math.floor(next() * items.length)];
    if (!order) continue;
    if (status === 'awaiting_payment') {
      const cancelled = await request(url('orders'), 'POST', `/orders/${order.id}/status`, {
        token: admin,
        body: { to: 'cancelled', reason: 'chaos' },
      });
      if (cancelled?.status === 200) stats.cancels++;
    } else {
      const key = randomUUID();
      for (let attempt = 0; attempt < 20; attempt++) {
        const refunded = await request(url('orders'), 'POST', `/orders/${order.id}/refund`, {
          token: admin,
          body: { reason: 'chaos' },
          key,
        });
        if (refunded && refunded.status < 500 && refunded.status !== 409) {
          if (refunded.status === 200) stats.refunds++;
          break;
        }
        await sleep(1_000);
      }
    }
  }
}

/**
 * The seller's warehouse: a product running low gets units added by one atomic $inc that
 * also counts them in the product itself (`restocked`), so a write whose outcome the test
 * never learns (its connection cut while the database was frozen) is still counted
 * exactly: `stockPutOnSale` reads what was applied, not what the test believes.
 */
async function restock(until: number): Promise<void> {
  const products = tenant.db.collection<{ _id: string; stock: number }>('products');
  while (Date.now() < until) {
    await sleep(RESTOCK.everyMs);
    for (const id of productIds) {
      await products
        .updateOne(
          { _id: id, stock: { $lt: RESTOCK.below } },
          { $inc: { stock: RESTOCK.units, restocked: RESTOCK.units, version: 1 } },
        )
        .catch(() => undefined); // the database is away: the next round tries again
    }
  }
}

/** Every unit of each product put on sale: at the start, and restocked since. */
async function stockPutOnSale(): Promise<Record<string, number>> {
  const products = await tenant.db
    .collection<{ _id: string; restocked?: number }>('products')
    .find({ _id: { $in: productIds } })
    .toArray();
  return Object.fromEntries(products.map((p) => [p._id, STOCK + (p.restocked ?? 0)]));
}

async function inject(schedule: ScheduledFault[], began: number): Promise<void> {
  for (const scheduled of schedule) {
    const wait = began + scheduled.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    const { fault } = scheduled;
    console.log(`chaos: ${describeFault(scheduled)}`);
    if (fault.kind === 'kill') {
      const service = killable.get(fault.service)!;
      await service.kill();
      await sleep(fault.downMs);
      await service.start();
    } else if (fault.kind === 'restart-broker') {
      await plane.restartBroker();
    } else {
      plane.pauseDatabase();
      await sleep(fault.pauseMs);
      plane.resumeDatabase();
    }
  }
}

async function deadLetterDepths(): Promise<Record<string, number>> {
  const topology = JSON.parse(
    readFileSync(join(repoRoot, 'rabbitmq', 'topology.json'), 'utf8'),
  ) as { queues: { name: string }[] };
  const depths: Record<string, number> = {};
  const model = await connect(tenant.amqpUrl);
  try {
    for (const { name } of topology.queues.filter((q) => q.name.endsWith('.dlq'))) {
      const channel = await model.createChannel();
      depths[name] = (await channel.checkQueue(name)).messageCount;
      await channel.close();
    }
  } finally {
    await model.close();
  }
  return depths;
}

async function history(stockIn: Record<string, number>): Promise<History> {
  const all = <T>(name: string) => tenant.db.collection(name).find({}).toArray() as Promise<T[]>;
  const requests = await Promise.all(
    ['checkout_requests', 'order_requests', 'payment_requests'].map(async (collection) =>
      (await all<{ _id: string; state: string }>(collection)).map((r) => ({ collection, ...r })),
    ),
  );
  return {
    stockIn,
    products: await all('products'),
    orders: await all('orders'),
    payments: await all('payments'),
    ledger: await all('simulated_provider_ledger'),
    checkouts: await all('checkouts'),
    carts: await all('carts'),
    requests: requests.flat(),
    shipments: await all('shipments'),
    mailSubjects: [...mailSubjects],
    deadLetters: await deadLetterDepths(),
  };
}

test('money and stock add up after kills, a broker restart and a frozen database', async () => {
  const schedule = faultSchedule(SEED, { durationMs: LOAD_MS - 20_000, gapMs: [8_000, 15_000] });
  console.log(
    `chaos: seed ${SEED} (replay with GORTEN_CHAOS_SEED=${SEED}); ${schedule.length} faults:\n` +
      schedule.map((s) => `  ${describeFault(s)}`).join('\n'),
  );
  const began = Date.now();
  const until = began + LOAD_MS;
  const next = random(SEED ^ 0x5eed);
  await Promise.all([
    ...buyers.map((buyer) => shop(buyer, next, until)),
    administer(next, until),
    restock(until),
    inject(schedule, began),
  ]);

  // Every fault is healed; now the platform must settle by itself.
  let found: string[];
  const settleBy = Date.now() + SETTLE_MS;
  do {
    await sleep(3_000);
    found = violations(await history(await stockPutOnSale()));
  } while (found.length > 0 && Date.now() < settleBy);

  console.log(
    `chaos: seed ${SEED}: ${stats.checkouts} checkouts attempted (${stats.paid} paid, ` +
      `${stats.declined} declined, ${stats.soldOut} sold out or empty, ${stats.gaveUp} given up), ` +
      `${stats.cancels} cancels, ${stats.refunds} refunds; ${schedule.length} faults injected; ` +
      `${found.length} violations` +
      (found.length > 0 ? `:\n  ${found.join('\n  ')}` : ''),
  );
  expect(stats.paid).toBeGreaterThan(0);
  expect(found).toEqual([]);
}, 330_000);
