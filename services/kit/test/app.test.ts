// The service skeleton over real HTTP on port 0: problem+json errors, validation,
// security headers, CORS, body limits, metrics by route template, health and readiness,
// and which client address a request behind Kong has.
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import Router from '@koa/router';
import { BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import {
  MongoNetworkTimeoutError,
  MongoServerSelectionError,
  type TopologyDescription,
} from 'mongodb';
import { z } from 'zod';
import {
  conflict,
  createLogger,
  createServiceApp,
  serve,
  ServiceMetrics,
  validate,
  type RequestState,
  type RunningServer,
} from '../src/index.js';

const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const log = createLogger('test', 'info', sink);
const metrics = new ServiceMetrics('test');
let databaseUp = true;

const items = new Router<RequestState>();
const itemBody = z.strictObject({
  name: z.string().min(1).max(50),
  price: z.number().int().min(0),
});
items.post('/items', validate({ body: itemBody }), (ctx) => {
  ctx.status = 201;
  ctx.body = ctx.state.input.body;
});
items.get(
  '/items/:id',
  validate({ params: z.strictObject({ id: z.string().regex(/^[a-z0-9]{1,24}$/) }) }),
  (ctx) => {
    if (ctx.state.input.params.id === 'taken')
      throw conflict('That item is reserved.', { itemId: 'taken' });
    ctx.body = { id: ctx.state.input.params.id };
  },
);
items.get('/whoami', (ctx) => {
  ctx.body = { ip: ctx.ip };
});
items.get('/boom', () => {
  throw new Error('database password is hunter2');
});
// The driver's own error for a pool that had no connection free in time (not exported).
const { WaitQueueTimeoutError } = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  WaitQueueTimeoutError: new (message: string, address: string) => Error;
};
// What the database driver and a dependency policy throw when a dependency is away or
// overloaded: no server selected in time, no pooled connection in time, a socket timeout,
// a full bulkhead, a timeout.
const DEPENDENCY_FAILURES: Record<string, () => Error> = {
  'no-server': () =>
    new MongoServerSelectionError(
      'Server selection timed out after 5000 ms at mongodb://user:hunter2@db',
      {} as TopologyDescription,
    ),
  'pool-wait': () =>
    new WaitQueueTimeoutError('Timed out while checking out a connection from the pool', 'db'),
  'socket-timeout': () => new MongoNetworkTimeoutError('connection 3 to db:27017 timed out'),
  'bulkhead-full': () => new BulkheadRejectedError(32, 64),
  'timed-out': () => new TaskCancelledError('Operation timed out after 2000ms'),
};
items.get('/dependency/:failure', (ctx) => {
  const failure = DEPENDENCY_FAILURES[ctx.params.failure ?? ''];
  throw failure ? failure() : new Error('no such failure');
});
items.post(
  '/login',
  validate({ body: z.strictObject({ email: z.string(), password: z.string() }) }),
  (ctx) => {
    ctx.state.log.info({ body: ctx.state.input.body }, 'login attempt');
    ctx.status = 204;
  },
);

const app = createServiceApp({
  log,
  metrics,
  corsOrigins: ['https://shop.example.com'],
  bodyLimitKb: 1,
  readiness: {
    mongodb: () =>
      databaseUp ? Promise.resolve() : Promise.reject(new Error('connection refused')),
  },
  routers: [items],
});
let server: RunningServer;
let base: string;

beforeAll(async () => {
  server = await serve(app, { port: 0, log, shutdownTimeoutMs: 1_000 });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('valid input passes, typed', async () => {
  const res = await post('/items', { name: 'Kettle', price: 1999 });
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual({ name: 'Kettle', price: 1999 });
});

test('unknown fields and wrong types are a 400 problem listing each error', async () => {
  const res = await post('/items', { name: '', price: '12', isAdmin: true });
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await res.json()) as { title: string; errors: { in: string; path: string }[] };
  expect(problem.title).toBe('Bad Request');
  expect(problem.errors.map((e) => `${e.in}:${e.path}`).sort()).toEqual([
    'body:',
    'body:name',
    'body:price',
  ]);
});

test('operator-shaped keys are refused before any schema, in body and query', async () => {
  const body = await post('/items', { name: { $gt: '' }, price: 1 });
  expect(body.status).toBe(400);
  expect(((await body.json()) as { errors: { path: string }[] }).errors).toEqual([
    { path: 'body.name.$gt', message: 'operator-shaped key' },
  ]);
  const query = await fetch(`${base}/items/abc?filter[$ne]=x`);
  expect(query.status).toBe(400);
});

test('bad params, unknown routes and wrong methods answer problem+json', async () => {
  expect((await fetch(`${base}/items/NOT_VALID!`)).status).toBe(400);
  const missing = await fetch(`${base}/nowhere`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({
    status: 404,
    title: 'Not Found',
    instance: '/nowhere',
  });
  const method = await fetch(`${base}/items`, { method: 'DELETE' });
  expect(method.status).toBe(405);
  expect(method.headers.get('content-type')).toMatch(/problem\+json/);
});

test('the client address is the one Kong appended to X-Forwarded-For, not one the client wrote', async () => {
  const ipOf = async (headers: Record<string, string>) =>
    ((await (await fetch(`${base}/whoami`, { headers })).json()) as { ip: string }).ip;
  // Kong appends the address it sees to whatever X-Forwarded-For the client sent.
  expect(await ipOf({ 'x-forwarded-for': '10.9.9.9, 203.0.113.7' })).toBe('203.0.113.7');
  expect(await ipOf({ 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
  expect(await ipOf({})).toMatch(/127\.0\.0\.1$/);
});

describe('methods (RFC 9110 §9.1, §15.5.6, §15.6.2)', () => {
  // node:http, not fetch: fetch refuses to send TRACE (a forbidden method for browsers).
  const send = (method: string, path: string) =>
    new Promise<{ status: number; headers: Headers; json: () => Promise<unknown> }>(
      (resolve, reject) => {
        const req = request(`${base}${path}`, { method }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers))
              if (typeof value === 'string') headers.set(name, value);
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers,
              json: () => Promise.resolve(JSON.parse(text) as unknown),
            });
          });
        });
        req.on('error', reject);
        req.end();
      },
    );

  it('a method HTTP defines that the path does not allow is a 405 problem with Allow', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/items', 'POST'],
      ['PUT', '/items/abc', 'HEAD, GET'],
      ['POST', '/healthz', 'HEAD, GET'],
    ] as const) {
      const answer = await send(method, path);
      expect({ method, path, status: answer.status, allow: answer.headers.get('allow') }).toEqual({
        method,
        path,
        status: 405,
        allow,
      });
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await answer.json()).toMatchObject({ status: 405, title: 'Method Not Allowed' });
    }
  });

  it.each(['TRACE', 'QUERY'])(
    '%s, which no resource allows, is a 405 with Allow on a known path, 404 elsewhere',
    async (method) => {
      const known = await send(method, '/items/abc');
      expect(known.status).toBe(405);
      expect(known.headers.get('allow')).toBe('HEAD, GET');
      expect(await known.json()).toMatchObject({ status: 405, instance: '/items/abc' });
      const unknown = await send(method, '/nowhere');
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    },
  );

  it('a method the service implements for no resource is a 501 problem on any path', async () => {
    for (const path of ['/items', '/nowhere']) {
      const answer = await send('PROPFIND', path);
      expect({ path, status: answer.status }).toEqual({ path, status: 501 });
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.headers.get('allow')).toBeNull();
      expect(await answer.json()).toMatchObject({ status: 501, title: 'Not Implemented' });
    }
  });
});

test('a thrown Problem keeps its status and extensions', async () => {
  const res = await fetch(`${base}/items/taken`);
  expect(res.status).toBe(409);
  expect(await res.json()).toEqual({
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'That item is reserved.',
    itemId: 'taken',
    instance: '/items/taken',
  });
});

test('an unexpected error is a generic 500 that reveals nothing, and is logged with the request id', async () => {
  const res = await fetch(`${base}/boom`, { headers: { 'x-request-id': 'req-42' } });
  expect(res.status).toBe(500);
  const text = await res.text();
  expect(text).not.toContain('hunter2');
  expect(JSON.parse(text)).toMatchObject({ title: 'Internal Server Error', status: 500 });
  expect(res.headers.get('x-request-id')).toBe('req-42');
  expect(logLines.find((l) => l.msg === 'unexpected error')).toMatchObject({
    requestId: 'req-42',
    level: 50,
  });
});

test.each(Object.keys(DEPENDENCY_FAILURES))(
  'a dependency away or overloaded (%s) is a 503 problem with Retry-After that reveals nothing, logged',
  async (failure) => {
    const requestId = `req-${failure}`;
    const res = await fetch(`${base}/dependency/${failure}`, {
      headers: { 'x-request-id': requestId },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toMatchObject({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      reason: 'dependency_unavailable',
    });
    expect(logLines.find((l) => l.requestId === requestId)).toMatchObject({
      level: 50,
      msg: 'dependency unavailable',
    });
  },
);

test('passwords and tokens are redacted from logs', async () => {
  await post(
    '/login',
    { email: 'a@example.com', password: 'hunter2' },
    { authorization: 'Bearer secret-token' },
  );
  const line = logLines.find((l) => l.msg === 'login attempt');
  expect(JSON.stringify(line)).not.toContain('hunter2');
  expect((line?.body as { password: string }).password).toBe('[redacted]');
});

test('bodies over the limit are a 413 problem; malformed JSON a 400', async () => {
  const big = await post('/items', { name: 'x'.repeat(2_000), price: 1 });
  expect(big.status).toBe(413);
  expect(await big.json()).toMatchObject({ status: 413, title: 'Content Too Large' });
  expect((await post('/items', '{"name": ')).status).toBe(400);
});

test.each(['/healthz', '/items/NOT_VALID!', '/boom'])(
  'every answer carries the security headers: %s',
  async (path) => {
    const res = await fetch(`${base}${path}`);
    expect(
      Object.fromEntries(
        [
          'x-content-type-options',
          'x-frame-options',
          'content-security-policy',
          'strict-transport-security',
        ].map((h) => [h, res.headers.get(h)]),
      ),
    ).toEqual({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
    });
  },
);

test('CORS answers only the listed origins, with credentials', async () => {
  const allowed = await fetch(`${base}/items/abc`, {
    headers: { origin: 'https://shop.example.com' },
  });
  expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
  expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
  const other = await fetch(`${base}/items/abc`, {
    headers: { origin: 'https://evil.example.com' },
  });
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});

test('request durations are labelled by route template, not by raw path', async () => {
  await fetch(`${base}/items/abc`);
  await fetch(`${base}/items/def`);
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_server_request_duration_seconds_count') &&
        l.includes('method="GET"') &&
        l.includes('route="/items/:id"') &&
        l.includes('status_code="200"'),
    );
  expect(Number(line?.split(' ').at(-1))).toBeGreaterThanOrEqual(2);
  expect(text).not.toContain('/items/abc');
  expect(text).toContain('process_cpu_seconds_total');
});

test('/readyz fails with the failing dependency while it is down; /healthz stays up', async () => {
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  databaseUp = false;
  const res = await fetch(`${base}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ failing: ['mongodb: connection refused'] });
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  databaseUp = true;
});
