// Every service of one tenant, in-process on 127.0.0.1 against the real FerretDB and
// RabbitMQ, with what makes their stateful endpoints answer something other than 404:
// an admin, a seller acting for a company, a buyer, an active product and a cart. Each is
// made through the APIs, as a client would, so the data is what the services write.
import { cartsService } from '@gorten/carts';
import { catalogService } from '@gorten/catalog';
import { checkoutService } from '@gorten/checkout';
import { companiesService } from '@gorten/companies';
import type { RunningService } from '@gorten/kit';
import { ordersService } from '@gorten/orders';
import { paymentsService } from '@gorten/payments';
import { client, startTestService, TestTenant, type Call } from '@gorten/service-testing';
import { usersService } from '@gorten/users';

/** The services that publish an API; notifications has no routes (events only). */
export const API_SERVICES = [
  'users',
  'companies',
  'catalog',
  'payments',
  'orders',
  'carts',
  'checkout',
] as const;
export type ApiService = (typeof API_SERVICES)[number];

export const IDENTITIES = ['anonymous', 'buyer', 'seller', 'admin'] as const;
export type Identity = (typeof IDENTITIES)[number];

export interface Stack {
  tenant: TestTenant;
  urls: Record<ApiService, string>;
  /** An access token per identity; none for anonymous. */
  tokens: Record<Identity, string | undefined>;
  seeded: { companyId: string; productId: string; buyerId: string; sellerId: string };
  close: () => Promise<void>;
}

/** Tokens outlive the whole fuzzing run (the tenant's default is 5 minutes). */
const LONG_LIVED = { expiresIn: 3_600 };
const ADMIN = { email: 'admin@example.com', password: 'an admin secret, long enough' };

/** `call`, asserting the status, so seeding stops at the first step that did not work. */
async function expectCall(
  call: Call,
  status: number,
  ...args: Parameters<Call>
): Promise<Record<string, unknown>> {
  const answer = await call(...args);
  if (answer.status !== status)
    throw new Error(
      `seeding: ${args[0]} ${args[1]} answered ${answer.status}, not ${status}: ${JSON.stringify(answer.body)}`,
    );
  return answer.body;
}

export interface StackOptions {
  /** The test tenant's label (its names begin with it). */
  label?: string;
  /** More environment for every service (e.g. where to send spans). */
  env?: Record<string, string>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const tenant = await TestTenant.create(options.label ?? 'contract');
  const env = options.env ?? {};
  const running: RunningService<unknown>[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(running.map((service) => service.close()));
    await tenant.destroy();
  };
  try {
    const start: Record<ApiService, () => Promise<RunningService<unknown>>> = {
      users: () =>
        startTestService(usersService, tenant, 'users', {
          ...env,
          JWT_PRIVATE_KEY: tenant.keys.privateKey,
          PASSWORD_SCRYPT_LOG2N: '12',
          BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
          BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
        }),
      companies: () => startTestService(companiesService, tenant, 'companies', env),
      catalog: () => startTestService(catalogService, tenant, 'catalog', env),
      payments: () => startTestService(paymentsService, tenant, 'payments', env),
      orders: () => startTestService(ordersService, tenant, 'orders', env),
      carts: () => startTestService(cartsService, tenant, 'carts', env),
      checkout: () => startTestService(checkoutService, tenant, 'checkout', env),
    };
    const urls = {} as Record<ApiService, string>;
    for (const name of API_SERVICES) {
      const service = await start[name]();
      running.push(service);
      urls[name] = service.url;
    }
    const users = client(urls.users);
    const admin = await users<{ access_token: string }>('POST', '/auth/token', {
      body: { grant_type: 'password', username: ADMIN.email, password: ADMIN.password },
    });
    const adminToken = admin.body.access_token;
    const adminMe = await expectCall(users, 200, 'GET', '/me', { token: adminToken });

    // Registration answers 202 alike for new and taken emails: the buyer signs in to learn its id.
    const buyerLogin = { email: 'buyer@example.com', password: 'a buyer secret' };
    await expectCall(users, 202, 'POST', '/auth/register', {
      body: { ...buyerLogin, name: 'Bea Buyer' },
    });
    const buyerToken = await expectCall(users, 200, 'POST', '/auth/token', {
      body: { grant_type: 'password', username: buyerLogin.email, password: buyerLogin.password },
    });
    const buyer = await expectCall(users, 200, 'GET', '/me', {
      token: buyerToken.access_token as string,
    });
    const seller = await expectCall(users, 201, 'POST', '/users', {
      token: adminToken,
      body: {
        email: 'seller@example.com',
        password: 'a seller secret',
        name: 'Sam Seller',
        roles: ['seller'],
      },
    });
    const company = await expectCall(client(urls.companies), 201, 'POST', '/companies', {
      token: adminToken,
      body: { displayName: 'Acme', contactEmail: 'sales@acme.example.com' },
    });
    const companyId = company.id as string;
    await expectCall(
      client(urls.companies),
      201,
      'PUT',
      `/companies/${companyId}/members/${String(seller.id)}`,
      { token: adminToken },
    );
    const tokens: Record<Identity, string | undefined> = {
      anonymous: undefined,
      admin: tenant.token({ sub: adminMe.id as string, roles: ['admin'] }, LONG_LIVED),
      buyer: tenant.token({ sub: buyer.id as string, roles: ['buyer'] }, LONG_LIVED),
      seller: tenant.token(
        { sub: seller.id as string, roles: ['seller'], company: companyId },
        LONG_LIVED,
      ),
    };
    const product = await expectCall(client(urls.catalog), 201, 'POST', '/products', {
      token: tokens.seller,
      body: {
        sku: 'ANVIL-1',
        name: 'Anvil',
        price: { amount: 4_999, currency: 'EUR' },
        stock: 1_000,
        status: 'active',
      },
    });
    const productId = product.id as string;
    // Carts read the catalog's products in the tenant database: the product sells at once.
    await expectCall(client(urls.carts), 200, 'PUT', `/carts/me/items/${productId}`, {
      token: tokens.buyer,
      body: { quantity: 2 },
    });
    return {
      tenant,
      urls,
      tokens,
      seeded: {
        companyId,
        productId,
        buyerId: buyer.id as string,
        sellerId: seller.id as string,
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
