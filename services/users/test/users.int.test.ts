// The users service over HTTP on port 0, against the real FerretDB and RabbitMQ of the
// test environment: registration, the three grants, refresh rotation and reuse
// detection, revocation racing a refresh, throttling, profiles, user administration,
// who may do what, and how registrations share the password hashing.
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
import { revokeAllRefreshTokens } from '../src/accounts.js';
import { usersService } from '../src/app.js';
import type { UsersDeps } from '../src/deps.js';
import { grantToken, revokeRefreshToken, type TokenAnswer } from '../src/grants.js';
import { sweepExpired } from '../src/store.js';

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

const repeated = (value: number, times: number) => Array.from({ length: times }, () => value);
const unique = () => `u${randomUUID().slice(0, 8)}@example.com`;

async function registerBuyer(email = unique(), password = 'a long enough secret') {
  const answer = await call('POST', '/auth/register', { body: { email, password, name: 'Bea' } });
  expect(answer.status).toBe(202);
  const created = await tenant.db
    .collection<{ _id: string; email: string }>('users')
    .findOne({ email });
  return { email, password, id: created?._id ?? '' };
}

async function login(
  username: string,
  password: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return call<Tokens>('POST', '/auth/token', {
    body: { grant_type: 'password', username, password, ...extra },
    headers,
  });
}

/** What Kong sends on: the client's own X-Forwarded-For, then the address Kong saw. */
const viaKong = (seenByKong: string, claimedByClient = '10.0.0.1') => ({
  'x-forwarded-for': `${claimedByClient}, ${seenByKong}`,
});

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
  test('creates a buyer who can sign in, and queues one welcome event', async () => {
    const email = unique();
    const answer = await call('POST', '/auth/register', {
      body: { email: email.toUpperCase(), password: 'a long enough secret', name: 'Bea' },
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('location')).toBeNull();
    const tokens = (await login(email, 'a long enough secret')).body;
    const me = await call('GET', '/me', { token: tokens.access_token });
    expect(me.body).toMatchObject({ email, name: 'Bea', roles: ['buyer'], status: 'active' });
    expect(JSON.stringify(me.body)).not.toMatch(/scrypt|password/i);
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
      body: { type: 'user.registered', data: { userId: me.body.id, email, name: 'Bea' } },
    });
    // Delivered and removed from the outbox: nothing more follows.
    await eventually({ what: 'an empty outbox', timeoutMs: 10_000 }, async () =>
      (
        await tenant.db
          .collection<{ _id: string; outbox?: unknown[] }>('users')
          .findOne({ _id: me.body.id as string })
      )?.outbox?.length === 0
        ? true
        : undefined,
    );
    expect(await tenant.drain('email_notifications')).toEqual([]);
  });

  test('answers a taken email (whatever its case) exactly like a new one, and changes nothing', async () => {
    const owner = await registerBuyer();
    const fresh = await call('POST', '/auth/register', {
      body: { email: unique(), password: 'another fine secret', name: 'Eve' },
    });
    const taken = await call('POST', '/auth/register', {
      body: { email: owner.email.toUpperCase(), password: 'another fine secret', name: 'Eve' },
    });
    expect(taken.status).toBe(fresh.status);
    expect(taken.body).toEqual(fresh.body);
    expect(taken.headers.get('location')).toBe(fresh.headers.get('location'));
    expect((await login(owner.email, owner.password)).status).toBe(200);
    expect((await login(owner.email, 'another fine secret')).status).toBe(400);
    const users = tenant.db.collection('users');
    expect(await users.countDocuments({ email: owner.email })).toBe(1);
    expect(await users.countDocuments({ name: 'Eve', email: owner.email })).toBe(0);
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

  test('counts failures per address Kong saw, whatever address the client claims before it', async () => {
    const limit = service.deps.env.LOGIN_MAX_FAILURES_PER_ADDRESS;
    const statuses: number[] = [];
    for (let i = 0; i < limit + 10; i++) {
      const spoofed = `10.1.${Math.floor(i / 256)}.${i % 256}`;
      statuses.push(
        (await login(unique(), 'not the password', {}, viaKong('198.51.100.1', spoofed))).status,
      );
    }
    expect(statuses.slice(0, limit)).toEqual(repeated(400, limit));
    expect(statuses.slice(limit)).toEqual(repeated(429, 10));
  });

  test('a burst of parallel guesses for one email gets no more tries than the limit, and loses no count', async () => {
    const buyer = await registerBuyer();
    const limit = service.deps.env.LOGIN_MAX_FAILURES;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => login(buyer.email, 'guess', {}, viaKong('198.51.100.2'))),
    );
    const statuses = answers.map((a) => a.status).sort((a, b) => a - b);
    expect(statuses).toEqual([...repeated(400, limit), ...repeated(429, 20 - limit)]);
    expect((await login(buyer.email, buyer.password)).status).toBe(429);
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

  test('guessing the current password on a password change is throttled like a login', async () => {
    const buyer = await registerBuyer();
    const tokens = (await login(buyer.email, buyer.password)).body;
    const limit = service.deps.env.LOGIN_MAX_FAILURES;
    const change = (currentPassword: string) =>
      call('PUT', '/me/password', {
        token: tokens.access_token,
        body: { currentPassword, newPassword: 'a brand new secret' },
      });
    const guesses = await Promise.all(Array.from({ length: 20 }, () => change('a guess')));
    expect(guesses.map((g) => g.status).sort((a, b) => a - b)).toEqual([
      ...repeated(422, limit),
      ...repeated(429, 20 - limit),
    ]);
    const blocked = await change(buyer.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
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

describe('a revocation while a refresh is in flight', () => {
  // An exchange marks the presented token used, reads the user (slow on FerretDB), then
  // stores the new token. These hold it just after that read, revoke, then let it go on.
  function holdNextReadOfUser(userId: string) {
    const users = service.deps.store.users;
    const read = users.findOne.bind(users) as (...args: unknown[]) => Promise<unknown>;
    const restore = () => Reflect.deleteProperty(users, 'findOne');
    let reached!: () => void;
    let release!: () => void;
    const isReached = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    users.findOne = (async (...args: unknown[]) => {
      const doc = await read(...args);
      if ((args[0] as { _id?: unknown } | undefined)?._id === userId) {
        restore();
        reached();
        await released;
      }
      return doc;
    }) as typeof users.findOne;
    return { reached: isReached, release, restore };
  }

  async function refreshOutrunBy(
    revoke: (buyer: { id: string; email: string }, tokens: Tokens) => Promise<void>,
  ) {
    const buyer = await registerBuyer();
    const tokens = (await login(buyer.email, buyer.password)).body;
    const hold = holdNextReadOfUser(buyer.id);
    try {
      const inFlight = grantToken(
        service.deps,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' },
        '127.0.0.1',
      ).then(
        (answer: TokenAnswer) => answer,
        (err: unknown) => err as { status: number; extensions: Record<string, unknown> },
      );
      await hold.reached;
      await revoke(buyer, tokens);
      hold.release();
      return { buyer, outcome: await inFlight };
    } finally {
      hold.restore();
    }
  }

  /** The exchange in flight is refused, or the refresh token it gave is already dead. */
  async function expectNoLiveRefreshToken(
    outcome: TokenAnswer | { status: number; extensions: Record<string, unknown> },
  ) {
    if (!('refresh_token' in outcome)) {
      expect(outcome).toMatchObject({ status: 400, extensions: { error: 'invalid_grant' } });
      return;
    }
    const next = await call('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: outcome.refresh_token },
    });
    expect(next.status).toBe(400);
    expect(next.body).toMatchObject({ error: 'invalid_grant' });
  }

  test('sign-out: the token the exchange stores afterwards is dead too', async () => {
    const { outcome } = await refreshOutrunBy((_buyer, tokens) =>
      revokeRefreshToken(service.deps, tokens.refresh_token ?? ''),
    );
    await expectNoLiveRefreshToken(outcome);
  });

  test('reuse of the same token meanwhile: the family dies, the exchange in flight included', async () => {
    const { outcome } = await refreshOutrunBy(async (_buyer, tokens) => {
      const reuse = await call('POST', '/auth/token', {
        body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      });
      expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
    });
    await expectNoLiveRefreshToken(outcome);
  });

  test('revoking all of the user’s tokens (role change, disabling) reaches the exchange in flight', async () => {
    const { buyer, outcome } = await refreshOutrunBy((buyer) =>
      revokeAllRefreshTokens(service.deps, buyer.id),
    );
    await expectNoLiveRefreshToken(outcome);
    // A sign-in afterwards starts a session like any other.
    const fresh = (await login(buyer.email, buyer.password)).body;
    const rotated = await call('POST', '/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: fresh.refresh_token },
    });
    expect(rotated.status).toBe(200);
  });

  test('a password change reaches the exchange in flight', async () => {
    const { outcome } = await refreshOutrunBy(async (_buyer, tokens) => {
      const changed = await call('PUT', '/me/password', {
        token: tokens.access_token,
        body: { currentPassword: 'a long enough secret', newPassword: 'a brand new secret' },
      });
      expect(changed.status).toBe(204);
    });
    await expectNoLiveRefreshToken(outcome);
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

    test('a used assertion is remembered while it would still verify (exp plus the clock tolerance)', async () => {
      const co = await company('active', pair.publicKey);
      const signed = assertion(co, { expiresIn: 60 });
      expect((await exchange(signed)).status).toBe(200);
      const { exp, jti } = jwt.decode(signed, { json: true }) as { exp: number; jti: string };
      // The periodic sweep runs a moment after exp, while the assertion still verifies.
      await sweepExpired(service.deps.store, new Date((exp + 4) * 1000));
      expect((await exchange(signed)).status).toBe(401);
      await sweepExpired(service.deps.store, new Date((exp + 6) * 1000));
      const record = { _id: `${co}:${jti}` as never };
      expect(await tenant.db.collection('used_assertions').countDocuments(record)).toBe(0);
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

describe('password hashing capacity', () => {
  test('a flood of registrations does not turn sign-ins away', async () => {
    // A second instance at a higher cost, so each derivation takes long enough for the
    // flood to fill the queue. The derivation limits are the process's, shared with `service`.
    const buyer = await registerBuyer();
    const slow = await startTestService(usersService, tenant, 'users', {
      JWT_PRIVATE_KEY: tenant.keys.privateKey,
      PASSWORD_SCRYPT_LOG2N: '15',
    });
    const slowCall = client(slow.url);
    let flooding = true;
    const flood = Array.from({ length: 120 }, async () => {
      const statuses: number[] = [];
      while (flooding) {
        const answer = await slowCall('POST', '/auth/register', {
          body: { email: unique(), password: 'a long enough secret', name: 'Flo' },
        });
        statuses.push(answer.status);
        if (answer.status === 503) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return statuses;
    });
    const signIns: number[] = [];
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (let i = 0; i < 5; i++) {
        const answer = await slowCall('POST', '/auth/token', {
          body: { grant_type: 'password', username: buyer.email, password: buyer.password },
        });
        signIns.push(answer.status);
      }
    } finally {
      flooding = false;
      await Promise.all(flood);
      await slow.close();
    }
    expect(signIns).toEqual([200, 200, 200, 200, 200]);
    const registrations = (await Promise.all(flood)).flat();
    expect(registrations).toContain(503);
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
