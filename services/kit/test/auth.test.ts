// Token verification and guards over real HTTP, with tokens forged every way the issue lists.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import Router from '@koa/router';
import jsonwebtoken from 'jsonwebtoken';
import {
  assertActsForCompany,
  authenticate,
  createLogger,
  createServiceApp,
  principalOf,
  requireRole,
  serve,
  ServiceMetrics,
  type AuthState,
  type RequestState,
  type RunningServer,
} from '../src/index.js';

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};
const tenant = pair();
const otherTenant = pair();
const ISSUER = 'gorten/mp-acme';
const AUDIENCE = 'acme';

function token(
  claims: Record<string, unknown>,
  opts: { key?: string; issuer?: string; audience?: string; expiresIn?: number } = {},
): string {
  return jsonwebtoken.sign(claims, opts.key ?? tenant.privatePem, {
    algorithm: 'RS256',
    issuer: opts.issuer ?? ISSUER,
    audience: opts.audience ?? AUDIENCE,
    expiresIn: opts.expiresIn ?? 300,
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const router = new Router<RequestState & AuthState>();
const auth = authenticate({ publicKey: tenant.publicPem, issuer: ISSUER, audience: AUDIENCE });
router.get('/me', auth, (ctx) => {
  ctx.body = principalOf(ctx.state);
});
router.get('/admin', auth, requireRole('admin'), (ctx) => {
  ctx.body = { ok: true };
});
router.put('/companies/:id/products', auth, requireRole('seller', 'admin'), (ctx) => {
  assertActsForCompany(principalOf(ctx.state), String(ctx.params.id));
  ctx.status = 204;
});
router.get(
  '/products',
  authenticate({ publicKey: tenant.publicPem, issuer: ISSUER, audience: AUDIENCE, optional: true }),
  (ctx) => {
    ctx.body = { viewer: ctx.state.principal?.userId ?? 'anonymous' };
  },
);

const log = createLogger('test', 'silent');
let server: RunningServer;
let base: string;
beforeAll(async () => {
  const app = createServiceApp({
    log,
    metrics: new ServiceMetrics('auth-test'),
    corsOrigins: [],
    bodyLimitKb: 16,
    readiness: {},
    routers: [router],
  });
  server = await serve(app, { port: 0, log, shutdownTimeoutMs: 1_000 });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

const call = (path: string, bearer?: string, method = 'GET') =>
  fetch(`${base}${path}`, { method, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

test('a valid token yields the principal', async () => {
  const res = await call('/me', token({ sub: 'u1', roles: ['buyer'] }));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ userId: 'u1', roles: ['buyer'] });
});

const forged: [string, () => string][] = [
  ['no token', () => ''],
  ['an expired token', () => token({ sub: 'u1', roles: ['buyer'] }, { expiresIn: -10 })],
  [
    'alg none',
    () =>
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: 2_000_000_000 })}.`,
  ],
  [
    'HS256 signed with the public key',
    () => {
      const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'u1', roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: 2_000_000_000 })}`;
      return `${head}.${createHmac('sha256', tenant.publicPem).update(head).digest('base64url')}`;
    },
  ],
  [
    'another tenant’s key',
    () => token({ sub: 'u1', roles: ['admin'] }, { key: otherTenant.privatePem }),
  ],
  ['the wrong audience', () => token({ sub: 'u1', roles: ['admin'] }, { audience: 'globex' })],
  [
    'the wrong issuer',
    () => token({ sub: 'u1', roles: ['admin'] }, { issuer: 'gorten/mp-globex' }),
  ],
  ['claims without roles', () => token({ sub: 'u1' })],
];

test.each(forged)('%s is a 401 problem', async (_label, make) => {
  const value = make();
  const res = await call('/me', value || undefined);
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  expect(await res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
});

test('roles are enforced: a buyer is forbidden from admin routes', async () => {
  expect((await call('/admin', token({ sub: 'u1', roles: ['buyer'] }))).status).toBe(403);
  expect((await call('/admin', token({ sub: 'a1', roles: ['admin'] }))).status).toBe(200);
});

test('a seller acts only for the company in the token; admins for any', async () => {
  const seller = token({ sub: 's1', roles: ['seller'], company: 'co_1' });
  expect((await call('/companies/co_1/products', seller, 'PUT')).status).toBe(204);
  expect((await call('/companies/co_2/products', seller, 'PUT')).status).toBe(403);
  expect(
    (await call('/companies/co_2/products', token({ sub: 'a1', roles: ['admin'] }), 'PUT')).status,
  ).toBe(204);
});

test('optional authentication lets anonymous callers through, but never a bad token', async () => {
  expect(await (await call('/products')).json()).toEqual({ viewer: 'anonymous' });
  expect(await (await call('/products', token({ sub: 'u7', roles: ['buyer'] }))).json()).toEqual({
    viewer: 'u7',
  });
  expect(
    (await call('/products', token({ sub: 'u7', roles: ['buyer'] }, { expiresIn: -10 }))).status,
  ).toBe(401);
});
