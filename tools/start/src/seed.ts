// The demo tenant's first data, made through its public API as its users would: a buyer,
// a seller acting for the example company, a category and a few products. Every step
// accepts "already there", so a second start changes nothing.
export interface DemoAccount {
  role: 'admin' | 'seller' | 'buyer';
  email: string;
  password: string;
}

export interface SeedInput {
  baseUrl: string;
  admin: DemoAccount;
  companyId: string;
  currency: string;
  emailDomain: string;
}

/** Local demo passwords: this stack listens on loopback only and is not for real data. */
export function demoAccounts(input: Pick<SeedInput, 'admin' | 'emailDomain'>): DemoAccount[] {
  return [
    input.admin,
    { role: 'seller', email: `seller@${input.emailDomain}`, password: 'demo-seller-password' },
    { role: 'buyer', email: `buyer@${input.emailDomain}`, password: 'demo-buyer-password' },
  ];
}

export const DEMO_PRODUCTS = [
  { sku: 'HAMMER-16', name: 'Claw hammer, 16 oz', amount: 1_990, stock: 40 },
  { sku: 'SCREWDRIVER-SET', name: 'Screwdriver set, 8 pieces', amount: 2_490, stock: 25 },
  { sku: 'TAPE-5M', name: 'Measuring tape, 5 m', amount: 890, stock: 60 },
  { sku: 'DRILL-18V', name: 'Cordless drill, 18 V', amount: 8_900, stock: 8 },
  { sku: 'GLOVES-L', name: 'Work gloves, size L', amount: 650, stock: 3 },
] as const;

class ApiError extends Error {
  override name = 'ApiError';
}

async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; accept?: number[] } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await answer.text();
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (!(options.accept ?? [200, 201]).includes(answer.status))
    throw new ApiError(
      `${method} ${path} answered ${answer.status}: ${typeof body.detail === 'string' ? body.detail : text}`,
    );
  return { status: answer.status, body };
}

export async function signIn(baseUrl: string, account: DemoAccount): Promise<string> {
  const { body } = await api(baseUrl, 'POST', '/auth/token', {
    body: { grant_type: 'password', username: account.email, password: account.password },
  });
  return String(body.access_token);
}

async function userIdOf(baseUrl: string, adminToken: string, email: string): Promise<string> {
  const { body } = await api(baseUrl, 'GET', `/users?email=${encodeURIComponent(email)}`, {
    token: adminToken,
  });
  const id = (body.items as { id: string }[])[0]?.id;
  if (!id) throw new ApiError(`no user ${email}, although creating it answered 409`);
  return id;
}

async function categoryIdOf(baseUrl: string, slug: string): Promise<string> {
  const { body } = await api(baseUrl, 'GET', '/categories');
  const id = (body.items as { id: string; slug: string }[]).find((c) => c.slug === slug)?.id;
  if (!id) throw new ApiError(`no category ${slug}, although creating it answered 409`);
  return id;
}

/** Makes whatever of the demo data is missing; returns the accounts to print. */
export async function seedDemo(input: SeedInput): Promise<DemoAccount[]> {
  const { baseUrl } = input;
  const accounts = demoAccounts(input);
  const [, seller, buyer] = accounts as [DemoAccount, DemoAccount, DemoAccount];
  const admin = await signIn(baseUrl, input.admin);

  await api(baseUrl, 'POST', '/auth/register', {
    // 202 whether the buyer is new or already there (registration does not tell).
    body: { email: buyer.email, password: buyer.password, name: 'Demo Buyer' },
    accept: [202],
  });

  const created = await api(baseUrl, 'POST', '/users', {
    token: admin,
    body: {
      email: seller.email,
      password: seller.password,
      name: 'Demo Seller',
      roles: ['seller'],
    },
    accept: [201, 409],
  });
  const sellerId =
    created.status === 201 ? String(created.body.id) : await userIdOf(baseUrl, admin, seller.email);
  await api(baseUrl, 'PUT', `/companies/${input.companyId}/members/${sellerId}`, {
    token: admin,
    accept: [200, 201, 204],
  });

  const category = await api(baseUrl, 'POST', '/categories', {
    token: admin,
    body: { name: 'Tools', slug: 'tools', description: 'Hand and power tools' },
    accept: [201, 409],
  });
  const categoryId =
    category.status === 201 ? String(category.body.id) : await categoryIdOf(baseUrl, 'tools');

  const sellerToken = await signIn(baseUrl, seller);
  for (const product of DEMO_PRODUCTS) {
    await api(baseUrl, 'POST', '/products', {
      token: sellerToken,
      body: {
        sku: product.sku,
        name: product.name,
        categoryId,
        price: { amount: product.amount, currency: input.currency },
        stock: product.stock,
        status: 'active',
      },
      accept: [201, 409],
    });
  }
  return accounts;
}
