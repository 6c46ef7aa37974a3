// What checkout's tests buy: products of an active company, and buyers with a filled cart
// and a payment method of their own, written straight into a test tenant's database (the
// catalog, carts and payments services are not running in these tests; the method is
// made by payments' own code, as POST /payments/methods makes it).
import { Registry } from 'prom-client';
import { DependencyMetrics, newId } from '@gorten/kit';
import type { TestTenant } from '@gorten/service-testing';
import { createPaymentModule } from '@gorten/payments/module';
import { createPaymentMethod } from '@gorten/payments/payments';
import type { CardDetails } from '@gorten/payments/provider';
import { TEST_CARDS } from '@gorten/payments/simulated-provider';

export const CARDS = {
  ok: { number: TEST_CARDS.success, expMonth: 12, expYear: 2031, cvc: '123' },
  declined: { number: TEST_CARDS.declined, expMonth: 12, expYear: 2031, cvc: '123' },
  slow: { number: TEST_CARDS.slowFirstAttempt, expMonth: 12, expYear: 2031, cvc: '123' },
} satisfies Record<string, CardDetails>;

const companies = new WeakMap<TestTenant, Promise<string>>();

/** The active company of `on` whose products the tests buy (one per tenant, made once). */
export function companyIn(on: TestTenant): Promise<string> {
  let company = companies.get(on);
  if (!company) {
    company = on.addCompany();
    companies.set(on, company);
  }
  return company;
}

/**
 * An active product with `stock` in stock, priced `amount` EUR minor units, of `companyId`
 * (by default the tenant's `companyIn`).
 */
export async function productIn(
  on: TestTenant,
  stock: number,
  amount = 1_000,
  companyId?: string,
): Promise<string> {
  const id = newId('prd');
  const now = new Date();
  await on.db.collection('products').insertOne({
    _id: id as never,
    companyId: companyId ?? (await companyIn(on)),
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

export interface Buyer {
  id: string;
  token: string;
  /** A payment method of theirs (for the 4242… card unless asked otherwise). */
  paymentMethod: string;
  on: TestTenant;
}

/** A payment method of `buyer`'s for `card`, as POST /payments/methods makes it. */
export async function methodFor(
  buyer: { id: string; on: TestTenant },
  card: CardDetails = CARDS.ok,
): Promise<string> {
  const payments = createPaymentModule(
    buyer.on.db,
    {
      PAYMENT_PROVIDER: 'simulated',
      PAYMENT_PROVIDER_TIMEOUT_MS: 10_000,
      SIMULATED_PROVIDER_DELAY_MS: 0,
    },
    new DependencyMetrics(new Registry()),
  );
  return (await createPaymentMethod(payments, buyer.id, card)).id;
}

/** A buyer whose cart holds `items` (product id → quantity), with a method for `card`. */
export async function buyerIn(
  on: TestTenant,
  items: Record<string, number>,
  card: CardDetails = CARDS.ok,
): Promise<Buyer> {
  const id = newId('usr');
  await on.db.collection('carts').insertOne({
    _id: id as never,
    items: Object.entries(items).map(([productId, quantity]) => ({ productId, quantity })),
    lock: null,
    version: 1,
    updatedAt: new Date(),
  });
  return {
    id,
    token: on.token({ sub: id, roles: ['buyer'] }),
    paymentMethod: await methodFor({ id, on }, card),
    on,
  };
}
