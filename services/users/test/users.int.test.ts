// The users service over HTTP on port 0, against the real FerretDB and RabbitMQ of the
// test environment: registration, the three grants, refresh rotation and reuse
// detection, throttling, profiles, user administration, and who may do what.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { eventually } from '@gorten/testenv';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Call,
} from '@gorten/service-testing';
import { type RunningService } from '@gorten/kit';
import jwt from 'jsonwebtoken';
import { usersService } from '../src/app.js';
import type { UsersDeps } from '../src/deps.js';

let tenant: TestTenant;
let service: RunningService<UsersDeps>;
let call: Call;
const ADMIN = { email: 'root@example.com', password: 'correct horse battery' };

interface Tokens {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
}

beforeAll(async () => {
  tenant = await TestTenant.create('users');
  const signing = tenant.keys.privateKey;
  service = await startTestService(usersService, tenant, 'users', {
    JWT_PRIVATE_KEY: signing,
    PASSWORD_SCRYPT_LOG2N: '12',
    LOGIN_MAX_FAILURES: '3',
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
  });
  call = client(service.url);
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

const unique = () => `u${randomUUID().slice(0, 8)}@example.com`;

async function registerBuyer(email = unique(), password = 'a long enough secret') {
  const answer = await call('POST', '/auth/register', { body: { email, password, name: 'Bea' } });
  expect(answer.status).toBe(201);
  return { email, password, id: answer.body.id as string };
}

async function login(username: string, password: string, extra: Record<string, unknown> = {}) {
  return call<Tokens>('POST', '/auth/token', {
    body: { grant_type: 'password', username, password, ...extra },
  });
}

async function adminToken(): Promise<string> {
  const answer = await login(ADMIN.email, ADMIN.password);
  expect(answer.status).toBe(200);
  return answer.body.access_token;
}

function claimsOf(token: string): jwt.JwtPayload {
  return jwt.verify(token, tenant.keys.publicKey, {
    algorithms: ['RS256'],
    issuer: tenant.issuer,
    audience: tenant.name,
  }) as jwt.JwtPayload;
}

describe('registration', () => {
  test('creates a buyer, never answers the password hash, and queues one welcome event', async () => {
    const email = unique();
    const answer = await call('POST', '/auth/register', {
      body: { email: email.toUpperCase(), password: 'a long enough secret', name: 'Bea' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ email, name: 'Bea', roles: ['buyer'], status: 'active' });
    expect(answer.headers.get('location')).toBe(`/users/${String(answer.body.id)}`);
    expect(JSON.stringify(answer.body)).not.toMatch(/scrypt|password/i);
    const events = await eventually({ what: 'the welcome event', timeoutMs: 15_000 }, async () => {
      const drained = await tenant.drain('email_notifications');
      const mine = drained.filter(
        (m) => (m.body as { data: { email: string } }).data.email === email,
      );
      return mine.length > 0 ? mine : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      routingKey: 'user.registered',
      body: { type: 'user.registered', data: { userId: answer.body.id, email, name: 'Bea' } },
    });
    // Delivered and removed from the outbox: nothing more follows.
    await eventually({ what: 'an empty outbox', timeoutMs: 10_000 }, async () =>
      (
        await tenant.db
          .collection<{ _id: string; outbox?: unknown[] }>('users')
          .findOne({ _id: answer.body.id as string })
      )?.outbox?.length === 0
        ? true
        : undefined,
    );
    expect(await tenant.drain('email_notifications')).toEqual([]);
  });

  test('refuses a taken email, whatever its case', async () => {
    const { email } = await registerBuyer();
    const again = await call('POST', '/auth/register', {
      body: { email: email.toUpperCase(), password: 'another fine secret', name: 'Eve' },
    });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
  });

  test.each([
    ['a role smuggled in (mass assignment)', { roles: ['admin'] }],
    ['a short password', { password: 'short' }],
    ['a wrong type', { name: 42 }],
    ['an operator instead of an email', { email: { $gt: '' } }],
  ])('refuses %s with a 400 naming the field', async (_why, override) => {
    const answer = await call('POST', '/auth/register', {
      body: { email: unique(), password: 'a long enough secret', name: 'Mal', ...override },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(await tenant.db.collection('users').countDocuments({ name: 'Mal' })).toBe(0);
  });

  test('refuses malformed JSON (400) and an oversized body (413)', async () => {
    expect((await call('POST', '/auth/register', { rawBody: '{"email":' })).status).toBe(400);
    const huge = await call('POST', '/auth/register', {
      body: { email: unique(), password: 'x'.repeat(2_000_000), name: 'Big' },
    });
    expect(huge.status).toBe(413);
  });
});

describe('password grant', () => {
  test('issues an RS256 access token for the tenant and a refresh token', async () => {
    const buyer = await registerBuyer();
    const answer = await login(buyer.email, buyer.password);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(answer.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(claimsOf(answer.body.access_token)).toMatchObject({ sub: buyer.id, roles: ['buyer'] });
    const me = await call('GET', '/me', { token: answer.body.access_token });
    expect(me).toMatchObject({ status: 200, body: { id: buyer.id, email: buyer.email } });
  });

  test('answers a wrong password and an unknown email alike', async () => {
    const buyer = await registerBuyer();
    const wrong = await login(buyer.email, 'not the password');
    const unknown = await login(unique(), 'not the password');
    expect(wrong.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(wrong.body).toEqual({ ...unknown.body });
    expect(wrong.body).toMatchObject({ error: 'invalid_grant' });
  });

  test('throttles an email after repeated failures, even for the right password', async () => {
    const buyer = await registerBuyer();
    for (let i = 0; i < 3; i++) expect((await login(buyer.email, 'guess')).status).toBe(400);
    const blocked = await login(buyer.email, buyer.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another account from the same address is not locked out by it.
    const other = await registerBuyer();
    expect((await login(other.email, other.password)).status).toBe(200);
  });

  test('a disabled user cannot sign in', async () => {
    const buyer = await registerBuyer();
    const admin = await adminToken();
    const disabled = await call('PATCH', `/users/${buyer.id}`, {
      token: admin,
      body: { status: 'disabled' },
    });
    expect(disabled.status).toBe(200);
    expect((await login(buyer.email, buyer.password)).status).toBe(400);
  });
});

describe('refresh tokens', () => {
  test('rotate: each is good once, and the new pair works', async () => {
    const buyer = await registerBuyer();
    const first = (await login(buyer.email, buyer.password)).body;
    const second = await call<Tokens>('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: first.refresh_token },
    });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(claimsOf(second.body.access_token).sub).toBe(buyer.id);
  });

  test('reuse of a rotated token revokes the whole family', async () => {
    const buyer = await registerBuyer();
    const first = (await login(buyer.email, buyer.password)).body;
    const refresh = (token?: string) =>
      call<Tokens>('POST', '/auth/token', {
        body: { grant_type: 'refresh_token', refresh_token: token },
      });
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    // The stolen first token comes back: refused, and the legitimate second one dies too.
    const reuse = await refresh(first.refresh_token);
    expect(reuse.status).toBe(400);
    expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(second.body.refresh_token)).status).toBe(400);
    // A separate sign-in is a separate family and unaffected.
    const other = (await login(buyer.email, buyer.password)).body;
    expect((await refresh(other.refresh_token)).status).toBe(200);
  });

  test('revocation (sign out) ends the family', async () => {
    const buyer = await registerBuyer();
    const tokens = (await login(buyer.email, buyer.password)).body;
    expect(
      (await call('POST', '/auth/revoke', { body: { token: tokens.refresh_token } })).status,
    ).toBe(204);
    const after = await call('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
    });
    expect(after.status).toBe(400);
    expect((await call('POST', '/auth/revoke', { body: { token: 'x'.repeat(43) } })).status).toBe(
      204,
    );
  });

  test('a password change signs out every session', async () => {
    const buyer = await registerBuyer();
    const tokens = (await login(buyer.email, buyer.password)).body;
    const wrong = await call('PUT', '/me/password', {
      token: tokens.access_token,
      body: { currentPassword: 'nope', newPassword: 'a brand new secret' },
    });
    expect(wrong.status).toBe(422);
    const changed = await call('PUT', '/me/password', {
      token: tokens.access_token,
      body: { currentPassword: buyer.password, newPassword: 'a brand new secret' },
    });
    expect(changed.status).toBe(204);
    const refresh = await call('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
    });
    expect(refresh.status).toBe(400);
    expect((await login(buyer.email, 'a brand new secret')).status).toBe(200);
  });
});

describe('sellers and companies', () => {
  async function company(status: 'active' | 'suspended' = 'active', publicKey?: string) {
    const id = `co_${randomUUID().replaceAll('-', '')}`;
    await tenant.db.collection('companies').insertOne({
      _id: id as never,
      displayName: 'Co',
      contactEmail: 'co@example.com',
      status,
      managedBy: 'api',
      credential: publicKey ? { keyId: id, algorithm: 'RS256', publicKey } : null,
    });
    return id;
  }

  async function seller(...companies: string[]) {
    const admin = await adminToken();
    const email = unique();
    const created = await call('POST', '/users', {
      token: admin,
      body: { email, password: 'seller secret 123', name: 'Sam', roles: ['seller'] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (const companyId of companies) {
      await tenant.db.collection('company_members').insertOne({
        _id: `${companyId}:${id}` as never,
        companyId,
        userId: id,
        addedAt: new Date(),
        addedBy: 'test',
      });
    }
    return { email, password: 'seller secret 123', id };
  }

  test('a seller of one company gets it in the token', async () => {
    const co = await company();
    const sam = await seller(co);
    const answer = await login(sam.email, sam.password);
    expect(claimsOf(answer.body.access_token)).toMatchObject({
      sub: sam.id,
      roles: ['seller'],
      company: co,
    });
  });

  test('a seller of several must name one, and only one of theirs', async () => {
    const [a, b, stranger] = [await company(), await company(), await company()];
    const sam = await seller(a, b);
    const ambiguous = await login(sam.email, sam.password);
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body).toMatchObject({ companies: [a, b].sort() });
    expect(
      claimsOf((await login(sam.email, sam.password, { company: b })).body.access_token),
    ).toMatchObject({ company: b });
    expect((await login(sam.email, sam.password, { company: stranger })).status).toBe(403);
  });

  test('a suspended company is not put in a token', async () => {
    const co = await company('suspended');
    const sam = await seller(co);
    const claims = claimsOf((await login(sam.email, sam.password)).body.access_token);
    expect(claims.company).toBeUndefined();
  });

  describe('client credentials', () => {
    const pair = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const assertion = (companyId: string, options: jwt.SignOptions = {}, key = pair.privateKey) =>
      jwt.sign({}, key, {
        algorithm: 'RS256',
        issuer: companyId,
        subject: companyId,
        audience: tenant.name,
        expiresIn: 120,
        jwtid: randomUUID(),
        ...options,
      });
    const exchange = (clientAssertion: string) =>
      call<Tokens>('POST', '/auth/token', {
        body: {
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        },
      });

    test('a signed assertion buys a seller token for the company, once', async () => {
      const co = await company('active', pair.publicKey);
      const signed = assertion(co);
      const answer = await exchange(signed);
      expect(answer.status).toBe(200);
      expect(answer.body.refresh_token).toBeUndefined();
      expect(claimsOf(answer.body.access_token)).toMatchObject({
        sub: co,
        roles: ['seller'],
        company: co,
      });
      const replay = await exchange(signed);
      expect(replay.status).toBe(401);
      expect(replay.body).toMatchObject({ error: 'invalid_client' });
    });

    test('is refused for a foreign key, a long-lived assertion, a wrong audience, a suspended company', async () => {
      const co = await company('active', pair.publicKey);
      const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
      expect((await exchange(assertion(co, {}, foreign))).status).toBe(401);
      expect((await exchange(assertion(co, { expiresIn: 3_600 }))).status).toBe(401);
      expect((await exchange(assertion(co, { audience: 'elsewhere' }))).status).toBe(401);
      const suspended = await company('suspended', pair.publicKey);
      expect((await exchange(assertion(suspended))).status).toBe(401);
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({ iss: co, sub: co, aud: tenant.name }),
      ).toString('base64url')}.`;
      expect((await exchange(unsigned)).status).toBe(401);
    });
  });
});

describe('user administration and who may do what', () => {
  test('admins list, filter and page through users', async () => {
    const admin = await adminToken();
    for (let i = 0; i < 3; i++) await registerBuyer();
    const first = await call<{ items: { id: string }[]; nextCursor: string | null }>(
      'GET',
      '/users?role=buyer&limit=2',
      { token: admin },
    );
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    const second = await call<{ items: { id: string }[] }>(
      'GET',
      `/users?role=buyer&limit=2&cursor=${first.body.nextCursor ?? ''}`,
      { token: admin },
    );
    const ids = [...first.body.items, ...second.body.items].map((u) => u.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await call('GET', '/users?cursor=bm9wZQ', { token: admin })).status).toBe(422);
    expect((await call('GET', '/users?role[$ne]=x', { token: admin })).status).toBe(400);
  });

  test('a role change signs the user out of refresh', async () => {
    const admin = await adminToken();
    const buyer = await registerBuyer();
    const tokens = (await login(buyer.email, buyer.password)).body;
    const promoted = await call('PATCH', `/users/${buyer.id}`, {
      token: admin,
      body: { roles: ['buyer', 'seller'] },
    });
    expect(promoted.body).toMatchObject({ roles: ['buyer', 'seller'] });
    const refresh = await call('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
    });
    expect(refresh.status).toBe(400);
  });

  test('an admin cannot disable or demote themselves', async () => {
    const admin = await adminToken();
    const me = await call('GET', '/me', { token: admin });
    const answer = await call('PATCH', `/users/${String(me.body.id)}`, {
      token: admin,
      body: { status: 'disabled' },
    });
    expect(answer.status).toBe(409);
  });

  test('buyers and sellers may not manage users; anonymous callers are asked to sign in', async () => {
    const buyer = await registerBuyer();
    const token = (await login(buyer.email, buyer.password)).body.access_token;
    expect((await call('GET', '/users', { token })).status).toBe(403);
    const seller = tenant.token({ sub: 'usr_x', roles: ['seller'], company: 'co_1' });
    expect(
      (await call('PATCH', `/users/${buyer.id}`, { token: seller, body: { roles: ['admin'] } }))
        .status,
    ).toBe(403);
    expect((await call('GET', '/users')).status).toBe(401);
    expect((await call('GET', '/me')).status).toBe(401);
  });

  test.each(['GET /me', 'GET /users'])('%s refuses every forged or foreign token', async (what) => {
    const [method, path] = what.split(' ') as [string, string];
    for (const forged of forgedTokens(tenant, { sub: 'usr_x', roles: ['admin'] })) {
      const answer = await call(method, path, { token: forged.token });
      expect({ why: forged.why, status: answer.status }).toEqual({ why: forged.why, status: 401 });
    }
  });
});

describe('the service', () => {
  test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
    await expectOpenApiUpToDate(usersService, join(import.meta.dirname, '..'), call);
  });

  test('the first admin is created once from its configuration', async () => {
    expect(await tenant.db.collection('users').countDocuments({ email: ADMIN.email })).toBe(1);
    const claims = claimsOf(await adminToken());
    expect(claims.roles).toEqual(['admin']);
  });
});
